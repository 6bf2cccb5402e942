// NCCL gather (nccl_gather.hpp). Compiled everywhere; the NCCL part only when the build
// found NCCL (STORMRUN_HAVE_NCCL), and it runs only when every rank is on a GPU.
#include "nccl_gather.hpp"

#include <stdexcept>
#include <string>

#ifdef STORMRUN_HAVE_NCCL
#include <nccl.h>

#include "model/device_buffer.hpp"
#endif

namespace stormrun::runtime {

#ifdef STORMRUN_HAVE_NCCL
namespace {

using model::cuda_check;
using model::DeviceBuffer;

void check_nccl(ncclResult_t result, const char* what) {
  if (result != ncclSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + ncclGetErrorString(result));
}

class NcclGatherImpl final : public NcclGather {
 public:
  NcclGatherImpl(MPI_Comm comm, int rank, int size) : rank_(rank), size_(size) {
    // Rank 0's unique id travels with whether it could make one, so that a failure there
    // is every rank's (each throws) instead of rank 0 leaving the others in the broadcast.
    struct {
      ncclUniqueId id;
      int result;
    } shared{};
    if (rank == 0) shared.result = static_cast<int>(ncclGetUniqueId(&shared.id));
    MPI_Bcast(&shared, sizeof(shared), MPI_BYTE, 0, comm);
    check_nccl(static_cast<ncclResult_t>(shared.result), "ncclGetUniqueId (rank 0)");
    check_nccl(ncclCommInitRank(&comm_, size, shared.id, rank), "ncclCommInitRank");
    try {
      cuda_check(cudaStreamCreate(&stream_), "cudaStreamCreate");
    } catch (...) {
      ncclCommDestroy(comm_);
      throw;
    }
  }
  ~NcclGatherImpl() override {
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

  std::vector<double> gather(std::span<const double> values,
                             const std::vector<int>& counts) override {
    std::size_t total = 0;
    for (int c : counts)
      total += static_cast<std::size_t>(c);
    send_.reserve(values.size());
    if (!values.empty())
      cuda_check(cudaMemcpyAsync(send_.get(), values.data(), values.size_bytes(),
                                 cudaMemcpyHostToDevice, stream_),
                 "cudaMemcpyAsync");
    if (rank_ == 0) recv_.reserve(total);
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    if (!values.empty())
      check_nccl(ncclSend(send_.get(), values.size(), ncclDouble, 0, comm_, stream_), "ncclSend");
    if (rank_ == 0) {
      std::size_t offset = 0;
      for (int r = 0; r < size_; ++r) {
        if (counts[static_cast<std::size_t>(r)] > 0)
          check_nccl(ncclRecv(recv_.get() + offset, static_cast<std::size_t>(counts[r]), ncclDouble,
                              r, comm_, stream_),
                     "ncclRecv");
        offset += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      }
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
    std::vector<double> out(rank_ == 0 ? total : 0);
    if (rank_ == 0 && total > 0)
      cuda_check(cudaMemcpyAsync(out.data(), recv_.get(), total * sizeof(double),
                                 cudaMemcpyDeviceToHost, stream_),
                 "cudaMemcpyAsync");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    return out;
  }

 private:
  int rank_;
  int size_;
  ncclComm_t comm_{};
  cudaStream_t stream_{};
  // Grown to the largest gather seen (allocated once per size, not per step).
  DeviceBuffer<double> send_;
  DeviceBuffer<double> recv_;
};

}  // namespace

std::unique_ptr<NcclGather> NcclGather::create(MPI_Comm comm, int rank, int size) {
  return std::make_unique<NcclGatherImpl>(comm, rank, size);
}
#else
std::unique_ptr<NcclGather> NcclGather::create(MPI_Comm, int, int) {
  return nullptr;
}
#endif

}  // namespace stormrun::runtime
