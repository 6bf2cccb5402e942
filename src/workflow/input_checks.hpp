// Phase "inputs" of a run (DESIGN.md §2): everything that can be known before the first file
// is written is checked then, so that a bad command ends with exit 2 and nothing created —
// never with a store and an output that the corrected command must then be refused over.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "run_start.hpp"

namespace stormrun::workflow::run_detail {

/// A size the run needs, against what the machine has (bytes).
struct SizeEstimate {
  double output_bytes = 0;            ///< the output file (its datasets are allocated at creation)
  double rank_bytes = 0;              ///< one rank's resident set, an upper estimate
  std::int64_t resident_members = 0;  ///< the members of one rank's batch
};

/// Local. What `config` needs on a world of `world_size` ranks: the output file's bytes and
/// the largest resident set of one rank (the batch's model state and its working copies,
/// the resident members of statistics, the per-unit bookkeeping). Cheap: no unit is listed.
SizeEstimate estimate_sizes(const RunConfig& config, int world_size);

/// Local. The memory one rank may use on this node: MemAvailable (/proc/meminfo), or the
/// cgroup's limit when lower, divided among `ranks_on_node`; nullopt when neither is known.
std::optional<double> memory_per_rank(int ranks_on_node);

/// Collective over rt (phase "inputs"), before the store or the output is touched:
///  - sizes: a rank's estimated resident set against memory_per_rank(); on rank 0 the
///    output file against the free space of its directory when the file is to be created;
///  - the initial states: every unit's lead-time-0 fields (the units shared out over the
///    ranks, one at a time) are finite and pass the model's check_initial (sub-steps
///    against the CFL limit, positive depth, ...).
/// A problem on any rank ends every rank with exit 2, the rank that saw it naming the
/// option, the value and the estimate; nothing is created.
void check_inputs(const RunConfig& config, const StartContext& context, const runtime::Runtime& rt);

}  // namespace stormrun::workflow::run_detail
