// The model interface: a prognostic model declares its variables, grid and lead-time step,
// and rolls out a batch of members from an initial state, yielding the state at lead time
// 0, dt, 2·dt, … . At checkpoint level 2 it saves its full current state at each write
// boundary; restored from a row, its rollout continues with the *next* state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/value.hpp"

namespace stormrun {
class Checkpoint;
}

namespace stormrun::model {

/// A rollout of a batch: state() is the state at lead time step()·dt.
class Rollout {
 public:
  virtual ~Rollout() = default;
  virtual std::int64_t step() const = 0;
  /// Host copy of the current state (copied from the device when running on CUDA).
  virtual const FieldBatch& state() = 0;
  /// Advances one lead-time step (all sub-steps).
  virtual void advance() = 0;
};

/// A prognostic model (Persistence, shallow water, …).
class PrognosticModel {
 public:
  virtual ~PrognosticModel() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> variables() const = 0;
  virtual Grid grid() const = 0;
  /// Lead-time step between yielded states.
  virtual Duration step() const = 0;
  /// Binds the model's level-2 state to `checkpoint` (call before the session opens).
  virtual void bind_checkpoint(Checkpoint& checkpoint) = 0;
  /// Checks, before anything is written, that `initial` (lead-time-0 fields, all finite)
  /// can be rolled out: std::invalid_argument naming the option or value at fault otherwise
  /// (e.g. swe: --substeps below the CFL limit, a layer depth that is not positive). The
  /// run calls it for every unit at start; the default accepts every state.
  virtual void check_initial(const FieldBatch& initial) const { (void)initial; }
  /// Rolls out `initial` (lead time 0) for the work units named in `units` (one per
  /// member). When the bound state was restored for these units, the rollout starts from
  /// the saved step and its first state() is the *next* one.
  virtual std::unique_ptr<Rollout> rollout(const FieldBatch& initial,
                                           const std::vector<std::string>& units) = 0;
  /// Makes the next rollout() for exactly these `units` start from `fields` (the state at
  /// lead-time step `step`, already yielded by an earlier run) and yield step + 1 first, as
  /// if restored from the bound checkpoint row. The run driver restores units from any
  /// rank's commit this way (elastic restart).
  virtual void resume_with(std::vector<std::string> units, std::int64_t step,
                           FieldBatch fields) = 0;
};

}  // namespace stormrun::model
