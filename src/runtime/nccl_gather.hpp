// Gather of doubles to rank 0 through NCCL, beside MPI, when every rank runs on a GPU
// (runtime.hpp). Without NCCL in the build, create() returns nullptr and MPI is used.
#pragma once

#include <mpi.h>

#include <memory>
#include <span>
#include <vector>

namespace stormrun::runtime {

class NcclGather {
 public:
  /// Collective over `comm`: an NCCL communicator of the same ranks (unique id from rank
  /// 0 over MPI; a failure to make it throws on every rank). nullptr when this build has
  /// no NCCL. A failure of ncclCommInitRank on one rank is not agreed: NCCL's own bootstrap
  /// then holds the others (its timeout, or the job's, ends them).
  static std::unique_ptr<NcclGather> create(MPI_Comm comm, int rank, int size);
  virtual ~NcclGather() = default;
  /// Collective: every rank's `values` (counts[r] of them on rank r), concatenated in rank
  /// order, on rank 0; grouped ncclSend/ncclRecv through device buffers.
  virtual std::vector<double> gather(std::span<const double> values,
                                     const std::vector<int>& counts) = 0;
};

}  // namespace stormrun::runtime
