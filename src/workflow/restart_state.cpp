// The run's restart state (restart_state.hpp): the rows a rank commits, what they hold, and
// how their fields move between ranks and into the model.
#include "restart_state.hpp"

#include <algorithm>
#include <stdexcept>

#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/agreement.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;

RestartState::RestartState(Checkpoint& checkpoint, const std::vector<WorkUnit>& units,
                           std::vector<std::int64_t> owned, const RestartPlan& plan,
                           FieldShape shape, std::int64_t nsteps, std::string fingerprint_hash)
    : checkpoint_(checkpoint),
      units_(units),
      owned_(std::move(owned)),
      plan_(plan),
      shape_(std::move(shape)),
      nsteps_(nsteps),
      fingerprint_hash_(std::move(fingerprint_hash)) {
  record_.emplace(checkpoint_.bind(UnitStates{}, /*min_level=*/2));
  checkpoint_.new_session();
  for (std::int64_t index : owned_)
    if (plan_.units.at(std::size_t(index)).first_step > nsteps_) completed_.insert(index);
}

void RestartState::migrate(const runtime::Runtime& rt, const fs::path& root) {
  if (!checkpoint_.enabled()) return;
  if (!plan_.resumed) {
    // Nothing to carry over, but a larger world killed while it opened its rank dirs may
    // have left some without a commit: they are not this run's (verify would call them
    // damaged once it has finished).
    prune_old_rank_dirs(rt, root);
    return;
  }
  Session& session = checkpoint_.session();
  // What this rank's migration row holds, so that no unit's progress is lost however the
  // job is killed between the ranks' migration commits (each one replaces its dir's newest
  // row, which the ledger reads):
  //  - every finished unit of the run (its record costs a line);
  //  - every unfinished unit it now owns, with its fields;
  //  - every unfinished unit whose fields are in this rank's own dir but which another rank
  //    now owns ("carried"): until that owner's migration commit is durable, this row is
  //    where its fields live. They are dropped after the barrier below.
  const std::set<std::int64_t> owned(owned_.begin(), owned_.end());
  std::set<std::int64_t> carried;
  std::vector<UnitSource> wanted;
  std::vector<std::int64_t> wanted_index;
  for (const UnitPlan& p : plan_.units) {
    const WorkUnit& unit = units_.at(std::size_t(p.index));
    if (p.first_step > nsteps_) {
      session.record_unit(unit.name, nsteps_);
      continue;
    }
    if (!p.source) continue;
    const bool mine = owned.contains(p.index);
    if (!mine && p.source->rank != rt.rank()) continue;
    if (!mine) carried.insert(p.index);
    session.record_unit(unit.name, p.first_step - 1);
    wanted.push_back({unit.name, *p.source});
    wanted_index.push_back(p.index);
  }

  // A commit that turns out unreadable on one rank stops every rank (exit 3), named by the
  // rank that read it, before anyone commits.
  runtime::Outcome outcome;
  try {
    const model::FieldBatch loaded =
        load_states(wanted, shape_.model, shape_.variables, shape_.grid);
    const std::size_t block = shape_.variables.size() * std::size_t(shape_.grid.points());
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      const auto begin = loaded.data.begin() + std::ptrdiff_t(i * block);
      parked_.emplace(
          wanted_index[i],
          Parked{wanted[i].source.step, std::vector<double>(begin, begin + std::ptrdiff_t(block))});
    }
    record_fields({});
  } catch (const RestartMismatch& e) {
    outcome = {kExitMismatch, e.what()};
  } catch (const StoreError& e) {
    outcome = {kExitMismatch, e.what()};
  }
  if (!outcome.failed()) outcome = runtime::injected_fault("migration", rt.rank(), kExitMismatch);
  // No rank commits before every rank has read its sources: a commit's retention may remove
  // an old row of its own dir that another rank is still reading.
  runtime::agree_or_throw(rt.comm(), "migration", outcome);
  try {
    session.flush({{"fingerprint", fingerprint_hash_}, {"completed_units", completed_list()}});
  } catch (const std::exception& e) {
    outcome = {kExitFailure, std::string("migration commit: ") + e.what()};
  }
  if (!outcome.failed())
    outcome = runtime::injected_fault("migration-commit", rt.rank(), kExitFailure);
  runtime::agree_or_throw(rt.comm(), "migration", outcome);  // every migration row is durable
  for (std::int64_t index : carried)
    parked_.erase(index);  // the owner's row holds them now; the next record drops them
  prune_old_rank_dirs(rt, root);
}

void RestartState::prune_old_rank_dirs(const runtime::Runtime& rt, const fs::path& root) {
  runtime::Outcome outcome;
  if (rt.rank() == 0) {
    try {
      for (const fs::path& dir : prune_rank_dirs(root, rt.size()))
        rt.info("stormrun: pruned " + dir.string() +
                (plan_.resumed ? " (a larger earlier world's rank dir; its units are now "
                                 "recorded by their new owners)"
                               : " (a larger earlier world's rank dir without a commit)"));
    } catch (const std::exception& e) {
      outcome = {kExitFailure, "pruning old rank dirs of " + root.string() + ": " + e.what()};
    }
  }
  runtime::agree_or_throw(rt.comm(), "migration", outcome);
}

model::FieldBatch RestartState::take_parked(const Batch& batch) {
  model::FieldBatch saved(shape_.grid, shape_.variables, std::int64_t(batch.units.size()));
  const std::size_t block = shape_.variables.size() * std::size_t(shape_.grid.points());
  for (std::size_t i = 0; i < batch.units.size(); ++i) {
    const auto it = parked_.find(batch.units[i]);
    if (it == parked_.end() || it->second.step != batch.first_step - 1)
      throw std::logic_error("restart state: unit " + units_.at(std::size_t(batch.units[i])).name +
                             " has no parked fields at step " +
                             std::to_string(batch.first_step - 1));
    std::copy(it->second.fields.begin(), it->second.fields.end(),
              saved.data.begin() + std::ptrdiff_t(i * block));
    parked_.erase(it);
  }
  return saved;
}

bool RestartState::will_flush() const {
  return checkpoint_.session().will_flush();
}

void RestartState::write(std::int64_t t, Duration lead_time, const std::vector<LiveUnit>& running) {
  Session& session = checkpoint_.session();
  for (const LiveUnit& unit : running) {
    session.record_unit(units_.at(std::size_t(unit.index)).name, t);
    if (t == nsteps_) completed_.insert(unit.index);
  }
  record_fields(running);
  session.write({{"fingerprint", fingerprint_hash_},
                 {"step", t},
                 {"lead_time", lead_time},
                 {"completed_units", completed_list()}});
}

void RestartState::flush() {
  checkpoint_.session().flush();
}

// The level-2 record: the fields of every unfinished unit this rank holds, parked or
// running, in unit order.
void RestartState::record_fields(const std::vector<LiveUnit>& running) {
  if (!record_->enabled()) return;
  struct Entry {
    std::int64_t step;
    std::span<const double> fields;
  };
  std::map<std::int64_t, Entry> entries;
  for (const auto& [index, parked] : parked_)
    entries.emplace(index, Entry{parked.step, parked.fields});
  for (const LiveUnit& unit : running)
    if (!completed_.contains(unit.index))
      entries.emplace(unit.index, Entry{unit.step, unit.fields});

  const std::size_t block = shape_.variables.size() * std::size_t(shape_.grid.points());
  UnitStates& record = **record_;
  record.model = shape_.model;
  record.variables = shape_.variables;
  record.units.clear();
  record.steps.clear();
  record.fields.data.clear();
  record.fields.data.reserve(entries.size() * block);
  for (const auto& [index, entry] : entries) {
    record.units.push_back(units_.at(std::size_t(index)).name);
    record.steps.push_back(entry.step);
    record.fields.data.insert(record.fields.data.end(), entry.fields.begin(), entry.fields.end());
  }
  record.fields.shape = {std::int64_t(entries.size()), std::int64_t(shape_.variables.size()),
                         shape_.grid.nlat, shape_.grid.nlon};
}

Value RestartState::completed_list() const {
  Value::List names;
  for (std::int64_t index : completed_)
    names.emplace_back(units_.at(std::size_t(index)).name);
  return Value(std::move(names));
}

}  // namespace stormrun::workflow
