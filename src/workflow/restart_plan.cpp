// The restart plan: what the union of the rank dirs' newest valid rows says about each
// unit, checked against this run (DESIGN.md §4).
#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

namespace {

/// The most any row says about one unit.
struct UnitProgress {
  std::int64_t step = -1;             ///< highest completed step; -1: no progress
  std::optional<StateSource> source;  ///< fields at exactly that step, when a row holds them
};

void check_row(const RowSummary& row, const std::map<std::string, std::size_t>& known,
               const std::string& fingerprint_hash) {
  if (!row.fingerprint.empty() && row.fingerprint != fingerprint_hash) {
    throw RestartMismatch("checkpoint commit " + row.commit_dir.string() +
                          " was written by a run with fingerprint " + row.fingerprint +
                          ", this run's is " + fingerprint_hash +
                          ": the settings that decide the output differ; use the settings of "
                          "that run, or another checkpoint dir and output");
  }
  const auto check_unit = [&](const std::string& unit) {
    if (!known.contains(unit)) {
      throw RestartMismatch("checkpoint commit " + row.commit_dir.string() + " records work unit " +
                            unit +
                            ", which this run does not have (other start times or ensemble "
                            "size); use the settings of that run, or another checkpoint dir");
    }
  };
  for (const auto& [unit, step] : row.units)
    check_unit(unit);
  for (const auto& [unit, source] : row.states)
    check_unit(unit);
}

}  // namespace

RestartPlan make_restart_plan(const std::vector<WorkUnit>& units,
                              const std::vector<DirSummary>& dirs, int level, std::int64_t nsteps,
                              const std::string& fingerprint_hash) {
  std::map<std::string, std::size_t> position;  // unit name → position in `units`
  for (std::size_t i = 0; i < units.size(); ++i)
    position.emplace(units[i].name, i);

  RestartPlan plan;
  std::vector<UnitProgress> progress(units.size());
  for (const DirSummary& dir : dirs) {
    plan.warnings.insert(plan.warnings.end(), dir.warnings.begin(), dir.warnings.end());
    if (!dir.row) continue;
    const RowSummary& row = *dir.row;
    check_row(row, position, fingerprint_hash);
    for (const auto& [name, step] : row.units) {
      if (step < 0) continue;
      UnitProgress& p = progress[position.at(name)];
      if (step > p.step) {
        p.step = step;
        p.source.reset();
      }
      if (step == p.step && !p.source) {
        // Dirs come in rank order, so when several rows hold the same step the first wins.
        const auto it = row.states.find(name);
        if (it != row.states.end() && it->second.step == step) p.source = it->second;
      }
    }
  }

  for (std::size_t i = 0; i < units.size(); ++i) {
    const WorkUnit& unit = units[i];
    const UnitProgress& p = progress[i];
    UnitPlan unit_plan;
    unit_plan.index = unit.index;
    if (p.step >= 0) plan.resumed = true;
    if (p.step < 0) {
      unit_plan.first_step = 0;
    } else if (p.step >= nsteps) {
      unit_plan.first_step = nsteps + 1;
    } else if (level >= 2 && p.source) {
      unit_plan.first_step = p.step + 1;
      unit_plan.source = p.source;
    } else {
      unit_plan.first_step = 0;
      const std::string why =
          level < 2 ? "checkpoint level " + std::to_string(level) + " keeps no model state"
                    : "no valid checkpoint row holds its model state at that step";
      plan.warnings.push_back("unit " + unit.name + " had completed step " +
                              std::to_string(p.step) + " but " + why + ": it reruns from step 0");
    }
    plan.units.push_back(std::move(unit_plan));
  }
  std::stable_sort(plan.units.begin(), plan.units.end(),
                   [](const UnitPlan& a, const UnitPlan& b) { return a.index < b.index; });
  return plan;
}

std::size_t check_plan_against_output(
    RestartPlan& plan, const std::vector<WorkUnit>& units,
    const std::function<std::int64_t(const WorkUnit&)>& written_prefix,
    const std::function<std::vector<RowSummary>()>& older_rows, int level, std::int64_t nsteps,
    const std::string& fingerprint_hash) {
  std::optional<std::vector<RowSummary>> history;
  std::size_t changed = 0;
  for (UnitPlan& unit_plan : plan.units) {
    if (unit_plan.first_step == 0) continue;  // nothing trusted: it reruns anyway
    const WorkUnit& unit = units.at(std::size_t(unit_plan.index));
    const std::int64_t claimed = std::min(unit_plan.first_step - 1, nsteps);
    const std::int64_t written = written_prefix(unit);
    if (claimed <= written) continue;
    ++changed;
    // The newest older row holding the unit's fields at a step the output has.
    std::optional<StateSource> source;
    if (level >= 2) {
      if (!history) history = older_rows();
      for (const RowSummary& row : *history) {
        if (!row.fingerprint.empty() && row.fingerprint != fingerprint_hash) continue;
        const auto it = row.states.find(unit.name);
        if (it == row.states.end() || it->second.step > written || it->second.step >= nsteps)
          continue;
        if (!source || it->second.step > source->step) source = it->second;
      }
    }
    const std::string lacks =
        "the checkpoint claims steps 0.." + std::to_string(claimed) + " of unit " + unit.name +
        " but the output holds " +
        (written < 0 ? std::string("none of them") : "only 0.." + std::to_string(written)) +
        " (an output older than its checkpoint, e.g. restored from a copy)";
    if (source) {
      unit_plan.first_step = source->step + 1;
      unit_plan.source = source;
      plan.warnings.push_back(lacks + ": it resumes after step " + std::to_string(source->step) +
                              " from the older commit " + source->commit_dir.string());
    } else {
      unit_plan.first_step = 0;
      unit_plan.source.reset();
      plan.warnings.push_back(lacks +
                              ": no older commit holds its state at a step the output has, " +
                              "so it reruns from step 0");
    }
  }
  return changed;
}

}  // namespace stormrun::workflow
