// Who commits whose checkpoint rows (--checkpoint-layout, docs/performance.md). With the
// rank layout every rank commits its own rows in its own rank dir. With the node layout the
// ranks of one node form a commit group: its lowest rank (the committer) commits one row for
// all of them in its rank dir, so a commit costs the file system's metadata server one set
// of creates, renames and fsyncs per node instead of one per rank.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

class CommitGroup {
 public:
  /// Collective over rt.comm(). The node layout groups the ranks of a node
  /// (MPI_COMM_TYPE_SHARED); the test hook STORMRUN_TEST_RANKS_PER_NODE=K groups ranks
  /// r / K instead, so that one machine can stand for several nodes.
  CommitGroup(const runtime::Runtime& rt, CheckpointLayout layout);
  /// Rank `rank` of `world_size` committing its own rows (the rank layout; no MPI).
  CommitGroup(int rank, int world_size)
      : world_rank_(rank), world_size_(world_size), members_{rank} {}
  ~CommitGroup();
  CommitGroup(const CommitGroup&) = delete;
  CommitGroup& operator=(const CommitGroup&) = delete;

  /// Whether the ranks share a committer (the node layout).
  bool shared() const { return comm_ != MPI_COMM_NULL; }
  /// Whether this rank commits (its group's lowest rank; every rank in the rank layout).
  bool committer() const { return group_rank_ == 0; }
  /// World ranks of the group, ascending; members()[0] is the committer.
  const std::vector<int>& members() const { return members_; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }

  // ---- collectives over the group (every member calls them; trivial when !shared()) ----
  bool any(bool value) const;
  /// Every member's `header` and `values`, in group order, on the committer (empty on the
  /// others). The values of member i land in `into` at offset `at[i]` (the committer sizes
  /// `into` from the headers first, through `place`, which gets every header and returns
  /// each member's offset). No size limit (sent in pieces).
  void gather(const std::string& header, std::span<const double> values,
              const std::function<std::vector<std::size_t>(const std::vector<std::string>&)>& place,
              std::vector<double>& into) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int group_rank_ = 0;
  int world_rank_ = 0;
  int world_size_ = 1;
  std::vector<int> members_;
};

}  // namespace stormrun::workflow
