// The forecast of one start of `stormrun run`, after its output is open (run.cpp calls it).
#pragma once

#include <cstdint>
#include <string>

#include "run_start.hpp"
#include "stormrun/io/output.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow::run_detail {

/// How the forecast of this start ended.
struct ForecastResult {
  int code = 0;             ///< kExitOk, or kExitStoppedEarly after a stop
  std::string stop_reason;  ///< "signal 15", "--stop-after-steps 3", ...
  std::int64_t steps = 0;   ///< lead-time steps computed in this start
  /// kExitDiverged: the step whose state was not finite, and the message naming the member,
  /// variable and step (the same on every rank).
  std::int64_t diverged_step = -1;
  std::string divergence;
  /// The slowest lead-time step and commit of this start on rank 0, seconds (0: none).
  double slowest_step_s = 0;
  double slowest_commit_s = 0;
};

/// Collective over rt and `output`: this rank's checkpoint (phase "checkpoint"), the model
/// and initial states (phase "model"), the migration of restart state (phase "migration"),
/// then every round of batches, in lockstep with every other rank. A stop (signal or
/// --stop-after-steps) is agreed at a step boundary, after every rank's row is durable. A
/// non-finite value in a state or diagnostic about to be written ends the run on every rank
/// with kExitDiverged before anything of that step is written or committed. A failure on
/// some ranks only (phase "step": the model, an output write or flush, a checkpoint commit)
/// is agreed before the next collective: runtime::AgreedFailure on every rank, with the
/// output still open (the caller closes it, collectively, on the way out).
ForecastResult forecast(const RunConfig& config, runtime::Runtime& rt, const StartContext& context,
                        const Decision& decision, io::OutputFile& output);

}  // namespace stormrun::workflow::run_detail
