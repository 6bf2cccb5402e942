// Loading the level-2 fields a resumed unit starts from, out of the commit the plan names.
#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

#include "checkpoint/store/commit_check.hpp"
#include "ledger_detail.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += (out.empty() ? "" : ",") + item;
  return out;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

model::FieldBatch load_states(const StateSource& source, const std::vector<std::string>& units,
                              const std::string& model, const std::vector<std::string>& variables,
                              const model::Grid& grid) {
  // Read-only: the manifest is validated here and every file is re-verified as get() reads
  // it, so only the files of this record are hashed (not the whole commit).
  VerifiedCommit commit(source.commit_dir,
                        store_detail::read_manifest(source.commit_dir, source.rank));
  const std::string where =
      "checkpoint commit " + source.commit_dir.string() + ", state '" + source.state_id + "'";
  if (!source.commit_id.empty() && commit.manifest().commit_id != source.commit_id) {
    throw RestartMismatch(where + ": the restart plan names commit " + source.commit_id +
                          ", the directory holds " + commit.manifest().commit_id);
  }
  const detail::StateRecordView record = detail::read_state_record(commit, source.state_id);

  if (record.model != model) {
    throw RestartMismatch(where + " holds fields of model '" + record.model + "', this run uses '" +
                          model + "'");
  }
  if (record.variables != variables) {
    throw RestartMismatch(where + " holds variables " + join(record.variables) +
                          ", this run expects " + join(variables));
  }
  const std::vector<std::int64_t> expected_shape = {
      std::int64_t(record.units.size()), std::int64_t(variables.size()), grid.nlat, grid.nlon};
  if (record.fields.shape != expected_shape) {
    throw RestartMismatch(where + " holds fields of shape " + shape_text(record.fields.shape) +
                          ", this run expects " + shape_text(expected_shape) +
                          " ([unit, variable, nlat, nlon] on the " + std::to_string(grid.nlat) +
                          "x" + std::to_string(grid.nlon) + " grid)");
  }
  const std::size_t block = variables.size() * std::size_t(grid.points());
  if (record.fields.data.size() != record.units.size() * block) {
    throw RestartMismatch(where + " holds " + std::to_string(record.fields.data.size()) +
                          " values for shape " + shape_text(record.fields.shape));
  }

  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < record.units.size(); ++i)
    position.emplace(record.units[i], i);

  model::FieldBatch batch(grid, variables, std::int64_t(units.size()));
  for (std::size_t u = 0; u < units.size(); ++u) {
    const auto it = position.find(units[u]);
    if (it == position.end()) {
      throw RestartMismatch(where + " does not hold unit " + units[u] + " (it holds " +
                            join(record.units) + ")");
    }
    if (record.steps[it->second] != source.step) {
      throw RestartMismatch(where + " holds unit " + units[u] + " at step " +
                            std::to_string(record.steps[it->second]) +
                            ", the restart plan expects step " + std::to_string(source.step));
    }
    std::memcpy(batch.data.data() + u * block, record.fields.data.data() + it->second * block,
                block * sizeof(double));
  }
  return batch;
}

model::FieldBatch load_batch_states(const Batch& batch, const RestartPlan& plan,
                                    const std::vector<WorkUnit>& units, const std::string& model,
                                    const std::vector<std::string>& variables,
                                    const model::Grid& grid) {
  std::map<std::int64_t, const UnitPlan*> plan_of;
  for (const UnitPlan& unit : plan.units)
    plan_of.emplace(unit.index, &unit);
  std::map<std::int64_t, const WorkUnit*> unit_of;
  for (const WorkUnit& unit : units)
    unit_of.emplace(unit.index, &unit);

  // Units of one batch may come from several commits (rows of different old ranks) or
  // records (RolloutState, ParkedStates): one load per (commit, record).
  struct Group {
    const StateSource* source = nullptr;
    std::vector<std::string> names;
    std::vector<std::size_t> slots;  ///< positions in the batch
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (std::size_t slot = 0; slot < batch.units.size(); ++slot) {
    const std::int64_t index = batch.units[slot];
    const auto p = plan_of.find(index);
    const auto u = unit_of.find(index);
    if (p == plan_of.end() || u == unit_of.end() || !p->second->source) {
      throw std::invalid_argument("load_batch_states: unit index " + std::to_string(index) +
                                  " has no state to resume from in the restart plan");
    }
    const StateSource& source = *p->second->source;
    if (source.step + 1 != batch.first_step) {
      throw std::invalid_argument("load_batch_states: unit " + u->second->name +
                                  " resumes after step " + std::to_string(source.step) +
                                  ", the batch starts at step " + std::to_string(batch.first_step));
    }
    Group& group = groups[{source.commit_dir.string(), source.state_id}];
    group.source = &source;
    group.names.push_back(u->second->name);
    group.slots.push_back(slot);
  }

  model::FieldBatch out(grid, variables, std::int64_t(batch.units.size()));
  const std::size_t block = variables.size() * std::size_t(grid.points());
  for (const auto& [key, group] : groups) {
    const model::FieldBatch loaded =
        load_states(*group.source, group.names, model, variables, grid);
    for (std::size_t i = 0; i < group.slots.size(); ++i) {
      std::memcpy(out.data.data() + group.slots[i] * block, loaded.data.data() + i * block,
                  block * sizeof(double));
    }
  }
  return out;
}

}  // namespace stormrun::workflow
