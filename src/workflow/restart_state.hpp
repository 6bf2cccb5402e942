// The run's restart state (DESIGN.md §3-§4), in one room: what a rank's checkpoint rows say
// about its work units — their completed steps, the finished ones, and at level 2 the fields
// of every unfinished unit it holds (one UnitStates record, ledger.hpp) — and the two ways
// that state moves: migration after a restart on another layout, and hand-over of a resumed
// batch's fields to the model. The ledger (rank_summary.cpp, state_loading.cpp) reads
// exactly what this room writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/ledger.hpp"

#include "commit_group.hpp"

namespace stormrun::workflow {

/// What the fields of a unit look like in this run.
struct FieldShape {
  std::string model;  ///< PrognosticModel::name()
  std::vector<std::string> variables;
  model::Grid grid;
};

/// A unit of the running batches at the current step: its fields live in the model.
struct LiveUnit {
  std::int64_t index = 0;
  std::int64_t step = 0;
  std::span<const double> fields;  ///< [variable][lat][lon]
};

class RestartState {
 public:
  /// Binds the UnitStates record to `checkpoint` (level 2 only) and opens a new session.
  /// `owned`: this rank's unit indices; `plan`: the agreed restart plan; `group`: who
  /// commits this rank's rows (a rank that is not its group's committer has a disabled
  /// `checkpoint` and hands its rows to the committer); `level`: the run's checkpoint level,
  /// or -1 without a checkpoint. Local.
  RestartState(Checkpoint& checkpoint, const CommitGroup& group, int level,
               const std::vector<WorkUnit>& units, std::vector<std::int64_t> owned,
               const RestartPlan& plan, FieldShape shape, std::int64_t nsteps,
               std::string fingerprint_hash);
  RestartState(const RestartState&) = delete;
  RestartState& operator=(const RestartState&) = delete;

  /// Collective over `rt`; does nothing (on every rank) without a checkpoint, and when the
  /// run is not resumed only prunes (below). After a restart this rank commits one row holding
  /// everything it now owns — every finished unit, and the fields of its unfinished ones, read from
  /// whichever rank's commit holds them — and also the units whose fields are in its own dir but
  /// that another rank now owns, until every rank's row is durable. Then rank 0 prunes the rank
  /// dirs of a larger earlier world under `root` (rt.info names each).
  void migrate(const runtime::Runtime& rt, const std::filesystem::path& root);

  /// Local. The fields a resumed batch (first_step > 0) starts from, in its unit order, at
  /// step first_step - 1; they leave the parked set (the record then takes them from the
  /// running batch).
  model::FieldBatch take_parked(const Batch& batch);

  /// Collective over the commit group. Whether this rank writes a row at this step, given
  /// whether it runs units (`active`): with its own rows, when it is active; in a shared
  /// group, the committer when any member is active, the others never.
  bool writes_row(bool active) const;
  /// Whether this rank's rows go through a shared commit group (the node layout): then every
  /// member calls write() at every step, running units or not.
  bool shares() const { return group_.shared(); }
  /// Local. Whether the next write() commits (false on a rank that is not a committer).
  bool will_flush() const;
  /// Step `t` is noted for the `running` units: their progress, the finished ones, the
  /// level-2 fields of every unfinished unit held. With `share` (the same on every member;
  /// only in a shared group) the members then hand what they noted to the committer,
  /// collectively over the group. Then, with `row`, Session::write (which commits when the
  /// flush interval says so). Local otherwise: this rank's store. A member's failure to
  /// note is thrown on it and, named, on the committer.
  void write(std::int64_t t, Duration lead_time, const std::vector<LiveUnit>& running, bool row,
             bool share);
  /// Collective over the commit group (nothing in a rank's own group): the members hand
  /// what they noted last to the committer, so that the next flush() commits it.
  void share();
  /// Local. Commits the pending row now (a stop, the end of the run) and waits until it
  /// is durable. In a shared group only the committer has a row; share() first.
  void flush();
  /// Local: lets the commits captured so far be published (Checkpoint::release_commits):
  /// once every rank has agreed that the output they claim is durable.
  void release_commits() { checkpoint_.release_commits(); }
  /// Seconds the newest finished commit took (Checkpoint::last_commit_seconds).
  double last_commit_seconds() const { return checkpoint_.last_commit_seconds(); }

  bool is_completed(std::int64_t index) const { return completed_.contains(index); }
  std::int64_t completed_count() const { return std::int64_t(completed_.size()); }

 private:
  // Collective: rank 0 prunes the rank dirs >= the world size under `root`; agreed.
  void prune_old_rank_dirs(const runtime::Runtime& rt, const std::filesystem::path& root);

  void note(std::int64_t t, const std::vector<LiveUnit>& running);
  void note_progress(std::int64_t index, std::int64_t step);
  void record_fields(const std::vector<LiveUnit>& running);
  // Collective over a shared group: the members' notes (and `error`, a failure to note) to
  // the committer, which merges them into its row; returns the errors the committer learnt
  // (each naming its rank and host; "" on the other members and without errors).
  std::string share_notes(const std::string& error);
  Value completed_list() const;

  // A resumed unit's fields while its batch has not started yet.
  struct Parked {
    std::int64_t step = 0;
    std::vector<double> fields;  // [variable][lat][lon]
  };

  Checkpoint& checkpoint_;
  const CommitGroup& group_;
  bool store_ = false;        // the run keeps a checkpoint (this rank commits or hands over)
  bool keep_fields_ = false;  // level 2: the rows hold the unfinished units' fields
  const std::vector<WorkUnit>& units_;
  std::vector<std::int64_t> owned_;
  const RestartPlan& plan_;
  FieldShape shape_;
  std::int64_t nsteps_;
  std::string fingerprint_hash_;
  std::optional<StateBinding<UnitStates>> record_;
  std::map<std::int64_t, Parked> parked_;
  std::set<std::int64_t> completed_;
  // A member that is not a committer: its units' progress (the committer's is its session's).
  std::map<std::int64_t, std::int64_t> progress_;
  // The committer of a shared group: what the other members handed over last. The record's
  // fields are this rank's own units first (own_count_ of them), then these.
  std::vector<std::int64_t> remote_units_, remote_steps_;
  std::set<std::int64_t> remote_completed_;
  std::size_t own_count_ = 0;
  std::set<std::int64_t> group_owned_;
  std::map<std::string, std::int64_t> unit_index_;  // the units every member of the group owns
};

}  // namespace stormrun::workflow
