// The level-2 state every prognostic model saves: its current fields inside a rollout, so
// that a restored rollout continues with the *next* state (earth2studio-checkpointing.md,
// "Workflows"). A model owns one RolloutCheckpoint:
//
//   void bind_checkpoint(Checkpoint& c) override { ckpt_.bind(c, name()); }
//   rollout(initial, units):
//     if (auto r = ckpt_.restored(units, initial))
//       start from r->fields at step r->step, then advance once: first state() is step + 1
//     else start from `initial` at step 0
//   Rollout::state(): ...; ckpt_.save(units_, step_, host_); return host_;
//
// The state is bound with min_level 2 (level 0/1 checkpoints save no fields). Its identity
// is "stormrun.model.RolloutState": one model per checkpoint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"
#include "stormrun/model/model.hpp"
#include "stormrun/state.hpp"
#include "stormrun/value.hpp"

namespace stormrun::model {

/// What is saved: the rollout of one batch at one step.
struct RolloutState {
  std::string model;                   ///< PrognosticModel::name() that saved it
  std::vector<std::string> units;      ///< work units of the batch, one per member
  std::vector<std::string> variables;  ///< FieldBatch::variables
  std::int64_t step = -1;              ///< lead-time step of `fields`; -1: nothing saved
  Array<double> fields;                ///< shape [member, variable, nlat, nlon]
};

}  // namespace stormrun::model

STORMRUN_STATE(stormrun::model::RolloutState, "stormrun.model.RolloutState", model, units,
               variables, step, fields)

namespace stormrun::model {

/// The state a rollout restarts from: fields at lead-time step `step`.
struct RestoredRollout {
  std::int64_t step = 0;
  FieldBatch fields;
};

/// A model's handle on its level-2 RolloutState. Unbound (or bound to a disabled or
/// level < 2 checkpoint) it restores nothing and saves nothing. Move-only.
class RolloutCheckpoint {
 public:
  RolloutCheckpoint() = default;
  RolloutCheckpoint(RolloutCheckpoint&&) noexcept = default;
  RolloutCheckpoint& operator=(RolloutCheckpoint&&) noexcept = default;

  /// Binds RolloutState to `checkpoint` with min_level 2, for the model named `model`.
  /// Call before the session opens (a late restore is filled in, with the checkpoint's
  /// warning). Rebinding replaces the previous binding.
  void bind(Checkpoint& checkpoint, std::string model);
  bool bound() const { return binding_.has_value(); }
  /// True when save() copies fields: bound, and the checkpoint's level is >= 2.
  bool enabled() const;

  /// The saved rollout when the bound state was loaded from the selected row for exactly
  /// these `units` (same order) and nothing was saved through this handle since; else
  /// nullopt (a new run, another batch, level < 2). CheckpointError naming the checkpoint
  /// and the mismatch when the units match but the model name, variables, grid or member
  /// count differ from `initial` (the store belongs to another configuration).
  std::optional<RestoredRollout> restored(const std::vector<std::string>& units,
                                          const FieldBatch& initial) const;

  /// Records `fields` as the state of `units` at `step`, when enabled(). It copies at every
  /// call rather than only when the next write() commits: an explicit flush() (preemption,
  /// end of run) may commit at any write boundary, and the row's state must then be the
  /// state of its last write. Call it before Session::write() of that step.
  void save(const std::vector<std::string>& units, std::int64_t step, const FieldBatch& fields);

  /// Makes the next restored() for exactly these `units` return `state`, whatever the bound
  /// row holds (also when unbound or below level 2). The run driver's restart plan restores
  /// units from any rank's commit of any earlier layout this way (workflow/ledger.hpp); the
  /// bound row restores only this rank's own batch. Cleared by save() and by the next
  /// resume_with().
  void resume_with(std::vector<std::string> units, RestoredRollout state);

 private:
  struct PendingResume {
    std::vector<std::string> units;
    RestoredRollout state;
  };
  std::optional<PendingResume> pending_;
  std::optional<StateBinding<RolloutState>> binding_;
  std::string model_;
  bool saved_since_bind_ = false;
};

}  // namespace stormrun::model
