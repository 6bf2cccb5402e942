// The exit codes of every stormrun command (DESIGN.md §7), in one place: the run driver, the
// subcommands, the job scripts' documentation and the tests all mean these numbers.
#pragma once

namespace stormrun {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,   ///< any other failure (verify: problems found)
  kExitUsage = 2,     ///< usage or configuration error; nothing written
  kExitMismatch = 3,  ///< store or output does not match this run, or is unusable
  kExitDiverged = 4,  ///< the model diverged (a NaN/Inf field); the store keeps the last good step
  kExitNoProgress = 5,     ///< the last --max-no-progress runs committed nothing new: do not rerun
  kExitStoppedEarly = 75,  ///< stopped with a durable checkpoint: submit the same command again
  kExitHung = 76           ///< the hang watchdog ended the job (a rank stuck or lost): run it again
};

}  // namespace stormrun
