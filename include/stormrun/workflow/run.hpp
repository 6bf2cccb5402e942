// `stormrun run`: the run driver of DESIGN.md §2. Collective over the runtime's ranks.
//
//   coordinator: rank dirs summarised (spread over ranks) → rank 0 checks the fingerprint
//                and builds the RestartPlan → broadcast
//   output:      created (atomically, collectively) or reopened and checked
//   migration:   on resume, every rank commits a row holding all it now owns (completed
//                units, the level-2 fields of its unfinished ones); then old rank dirs of a
//                larger world are pruned
//   rounds:      each rank runs its batches; ranks advance in lockstep per lead-time step:
//                model step → diagnostics → collective output writes → statistics →
//                (output flushed FIRST when any rank commits) → checkpoint write
//   stop:        --stop-after-steps K or SIGTERM/SIGUSR1 → output flush, checkpoint flush,
//                exit 75
#pragma once

#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

/// Runs or resumes `config`. Returns the exit code agreed by all ranks: 0 finished, 2 a
/// configuration that cannot run on this many ranks (nothing written), 3 the store or the
/// output belongs to another run or is unusable (nothing changed), 75 stopped early with a
/// durable checkpoint. Other failures abort the job (MPI_Abort, exit 1) after printing the error.
int run(const RunConfig& config, runtime::Runtime& runtime);

}  // namespace stormrun::workflow
