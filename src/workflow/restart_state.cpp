// The run's restart state (restart_state.hpp): the rows a rank commits, what they hold, and
// how their fields move between ranks and into the model.
#include "restart_state.hpp"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/log.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;

RestartState::RestartState(Checkpoint& checkpoint, const CommitGroup& group, int level,
                           const std::vector<WorkUnit>& units, std::vector<std::int64_t> owned,
                           const RestartPlan& plan, FieldShape shape, std::int64_t nsteps,
                           std::string fingerprint_hash)
    : checkpoint_(checkpoint),
      group_(group),
      store_(level >= 0),
      keep_fields_(level >= 2),
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
  for (std::size_t i = 0; i < units_.size(); ++i)
    unit_index_.emplace(units_[i].name, std::int64_t(i));
  for (const int member : group_.members())
    for (std::int64_t index : owned_units(std::int64_t(units_.size()), member, group_.world_size()))
      group_owned_.insert(index);
}

void RestartState::migrate(const runtime::Runtime& rt, const fs::path& root) {
  if (!store_) return;
  if (!plan_.resumed) {
    // Nothing to carry over, but a larger world killed while it opened its rank dirs may
    // have left some without a commit: they are not this run's (verify would call them
    // damaged once it has finished).
    prune_old_rank_dirs(rt, root);
    return;
  }
  // What this rank's migration row holds, so that no unit's progress is lost however the
  // job is killed between the ranks' migration commits (each one replaces its dir's newest
  // row, which the ledger reads):
  //  - every finished unit of the run (its record costs a line);
  //  - every unfinished unit it now owns, with its fields;
  //  - every unfinished unit whose fields are in this rank's own dir but which another rank
  //    now owns ("carried"): until that owner's migration commit is durable, this row is
  //    where its fields live. They are dropped after the barrier below.
  // In a shared commit group the committer's row holds all of that for every member (each
  // member reads the fields of the units it owns and hands them over); the committer carries
  // the units of its own dir that no member owns. A member's own old dir is not written.
  const std::set<std::int64_t> owned(owned_.begin(), owned_.end());
  std::set<std::int64_t> carried;
  std::vector<UnitSource> wanted;
  std::vector<std::int64_t> wanted_index;
  for (const UnitPlan& p : plan_.units) {
    const WorkUnit& unit = units_.at(std::size_t(p.index));
    if (p.first_step > nsteps_) {
      if (group_.committer()) note_progress(p.index, nsteps_);
      continue;
    }
    if (!p.source) continue;
    const bool mine = owned.contains(p.index);
    if (!mine) {
      if (!group_.committer() || p.source->rank != rt.rank() || group_owned_.contains(p.index))
        continue;
      carried.insert(p.index);
    }
    note_progress(p.index, p.first_step - 1);
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
    share_notes("");  // collective over a shared group; nothing can fail in it now
    if (group_.committer())
      checkpoint_.session().flush(
          {{"fingerprint", fingerprint_hash_}, {"completed_units", completed_list()}});
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
  // The rank dirs this run keeps: its committers' (every rank's with their own rows).
  const std::vector<std::string> committers = rt.gather(group_.committer() ? "1" : "0");
  runtime::Outcome outcome;
  if (rt.rank() == 0) {
    std::set<int> keep;
    for (std::size_t r = 0; r < committers.size(); ++r)
      if (committers[r] == "1") keep.insert(int(r));
    try {
      for (const fs::path& dir : prune_rank_dirs(root, keep))
        rt.info("stormrun: pruned " + dir.string() +
                (plan_.resumed ? " (a rank dir of an earlier layout; its units are now "
                                 "recorded by their new owners)"
                               : " (a rank dir of an earlier layout, without a commit)"));
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

bool RestartState::writes_row(bool active) const {
  if (!group_.shared()) return active;
  const bool any = group_.any(active);  // collective over the group
  return group_.committer() && any;
}

bool RestartState::will_flush() const {
  return group_.committer() && checkpoint_.session().will_flush();
}

void RestartState::write(std::int64_t t, Duration lead_time, const std::vector<LiveUnit>& running,
                         bool row, bool share) {
  std::string error;
  try {
    note(t, running);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (share && group_.shared()) {
    const std::string learnt = share_notes(error);
    if (error.empty()) error = learnt;
  }
  if (!error.empty()) throw std::runtime_error(error);
  if (!row) return;
  checkpoint_.session().write({{"fingerprint", fingerprint_hash_},
                               {"step", t},
                               {"lead_time", lead_time},
                               {"completed_units", completed_list()}});
}

void RestartState::share() {
  if (!group_.shared()) return;
  const std::string error = share_notes("");
  if (!error.empty()) throw std::runtime_error(error);
}

void RestartState::flush() {
  if (group_.committer()) checkpoint_.session().flush();
}

void RestartState::note(std::int64_t t, const std::vector<LiveUnit>& running) {
  for (const LiveUnit& unit : running) {
    note_progress(unit.index, t);
    if (t == nsteps_) completed_.insert(unit.index);
  }
  record_fields(running);
}

void RestartState::note_progress(std::int64_t index, std::int64_t step) {
  if (group_.committer())
    checkpoint_.session().record_unit(units_.at(std::size_t(index)).name, step);
  else
    progress_[index] = step;
}

std::string RestartState::share_notes(const std::string& error) {
  if (!group_.shared()) return "";
  const std::size_t block = shape_.variables.size() * std::size_t(shape_.grid.points());
  UnitStates& record = **record_;
  if (!group_.committer()) {
    // What this member noted: its progress, its finished units, its fields' units and steps;
    // the fields themselves follow as values.
    nlohmann::json progress = nlohmann::json::array();
    for (const auto& [index, step] : progress_)
      progress.push_back({index, step});
    std::vector<std::int64_t> fields_of;
    for (const std::string& name : record.units)
      fields_of.push_back(unit_index_.at(name));
    const nlohmann::json header = {
        {"error", error},       {"rank", group_.world_rank()}, {"host", runtime::host_name()},
        {"progress", progress}, {"completed", completed_},     {"units", fields_of},
        {"steps", record.steps}};
    std::vector<double> unused;
    group_.gather(
        header.dump(),
        keep_fields_ ? std::span<const double>(record.fields.data) : std::span<const double>(), {},
        unused);
    return "";
  }
  std::string errors;
  Session& session = checkpoint_.session();
  const auto place = [&](const std::vector<std::string>& headers) {
    remote_units_.clear();
    remote_steps_.clear();
    remote_completed_.clear();
    std::vector<std::size_t> at(headers.size(), 0);
    std::vector<std::size_t> counts(headers.size(), 0);
    for (std::size_t i = 1; i < headers.size(); ++i) {
      const nlohmann::json h = nlohmann::json::parse(headers[i]);
      const std::string failed = h.at("error").get<std::string>();
      if (!failed.empty()) {
        errors += (errors.empty() ? "" : "; ") +
                  runtime::rank_tag(h.at("rank").get<int>(), h.at("host").get<std::string>()) +
                  ": " + failed;
      }
      for (const auto& entry : h.at("progress"))
        session.record_unit(units_.at(entry.at(0).get<std::size_t>()).name,
                            entry.at(1).get<std::int64_t>());
      for (const auto& index : h.at("completed"))
        remote_completed_.insert(index.get<std::int64_t>());
      const auto fields_of = h.at("units").get<std::vector<std::int64_t>>();
      const auto steps = h.at("steps").get<std::vector<std::int64_t>>();
      remote_units_.insert(remote_units_.end(), fields_of.begin(), fields_of.end());
      remote_steps_.insert(remote_steps_.end(), steps.begin(), steps.end());
      counts[i] = fields_of.size();
    }
    if (!keep_fields_) return at;
    // This rank's own units first, then each member's, in group order.
    std::size_t offset = own_count_ * block;
    for (std::size_t i = 1; i < headers.size(); ++i) {
      at[i] = offset;
      offset += counts[i] * block;
    }
    record.fields.data.resize(offset);
    record.units.resize(own_count_);
    record.steps.resize(own_count_);
    for (std::size_t k = 0; k < remote_units_.size(); ++k) {
      record.units.push_back(units_.at(std::size_t(remote_units_[k])).name);
      record.steps.push_back(remote_steps_[k]);
    }
    record.fields.shape = {std::int64_t(record.units.size()), std::int64_t(shape_.variables.size()),
                           shape_.grid.nlat, shape_.grid.nlon};
    return at;
  };
  group_.gather("{}", {}, place, record.fields.data);
  return errors;
}

// The level-2 record: the fields of every unfinished unit this rank holds, parked or
// running, in unit order (then, on the committer of a shared group, the other members').
void RestartState::record_fields(const std::vector<LiveUnit>& running) {
  if (!keep_fields_) return;
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
  std::vector<double>& data = record.fields.data;
  // The other members' fields stay behind this rank's (moved only when its count changes).
  const std::size_t remote_values = remote_units_.size() * block;
  std::vector<double> moved;
  if (entries.size() != own_count_ && remote_values > 0)
    moved.assign(data.end() - std::ptrdiff_t(remote_values), data.end());
  data.resize(entries.size() * block + remote_values);
  record.model = shape_.model;
  record.variables = shape_.variables;
  record.units.clear();
  record.steps.clear();
  std::size_t at = 0;
  for (const auto& [index, entry] : entries) {
    record.units.push_back(units_.at(std::size_t(index)).name);
    record.steps.push_back(entry.step);
    std::copy(entry.fields.begin(), entry.fields.end(), data.begin() + std::ptrdiff_t(at));
    at += block;
  }
  if (!moved.empty()) std::copy(moved.begin(), moved.end(), data.begin() + std::ptrdiff_t(at));
  own_count_ = entries.size();
  for (std::size_t k = 0; k < remote_units_.size(); ++k) {
    record.units.push_back(units_.at(std::size_t(remote_units_[k])).name);
    record.steps.push_back(remote_steps_[k]);
  }
  record.fields.shape = {std::int64_t(record.units.size()), std::int64_t(shape_.variables.size()),
                         shape_.grid.nlat, shape_.grid.nlon};
}

Value RestartState::completed_list() const {
  std::set<std::int64_t> all = completed_;
  all.insert(remote_completed_.begin(), remote_completed_.end());
  Value::List names;
  for (std::int64_t index : all)
    names.emplace_back(units_.at(std::size_t(index)).name);
  return Value(std::move(names));
}

}  // namespace stormrun::workflow
