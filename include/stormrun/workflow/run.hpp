// `stormrun run`: the run driver of DESIGN.md §2. Collective over the runtime's ranks.
// Each start-up phase is agreed by every rank (runtime/agreement.hpp): a failure that one
// rank sees ends every rank with the same exit code, the failing rank's message naming its
// rank and host. Before run(), src/app/cmd_run.cpp has agreed on the options, the paths and
// the device (Runtime). Then:
//
//   options:     the fingerprint (once per rank per start) and the world-size rules
//   store:       LOCK; rank dirs summarised (spread over ranks) → rank 0 checks the
//                fingerprint and builds the RestartPlan → broadcast (run_start.hpp)
//   output:      created (atomically, collectively) or reopened and checked
//   checkpoint:  every rank opens its rank dir
//   model:       the model (registry), initial states, diagnostics, restart state
//   migration:   on resume, every rank commits a row holding all it now owns (completed
//                units, the level-2 fields of its unfinished ones); then old rank dirs of a
//                larger world are pruned (restart_state.hpp)
//   rounds:      each rank runs its batches; ranks advance in lockstep per lead-time step:
//                model step → diagnostics → collective output writes → statistics →
//                (output flushed FIRST when any rank commits) → checkpoint write
//                (forecast.hpp)
//   stop:        --stop-after-steps K or SIGTERM/SIGUSR1 → output flush, checkpoint flush,
//                exit 75
//   finish:      the output closed (collectively, explicitly), the global catalog updated
#pragma once

#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

/// Collective over runtime.comm(). Runs or resumes `config`. Returns the exit code agreed by
/// all ranks: 0 finished, 75 stopped early with a durable checkpoint. A failure agreed by all
/// ranks (2: a configuration that cannot run on this many ranks, nothing written; 3: the
/// store or the output belongs to another run or is unusable, nothing changed; 1: another
/// start-up or shut-down failure) is reported and thrown as runtime::AgreedFailure on every
/// rank. A failure one rank sees inside the step loop aborts the job (MPI_Abort, exit 1)
/// after that rank prints it.
int run(const RunConfig& config, runtime::Runtime& runtime);

}  // namespace stormrun::workflow
