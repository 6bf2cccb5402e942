// Runtime: MPI context, device per local rank, rank-prefixed messages, collectives.
#include "stormrun/runtime/runtime.hpp"

#include <malloc.h>
#include <sched.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "nccl_gather.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/log.hpp"

#ifdef STORMRUN_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace stormrun::runtime {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(text, length));
}

void share_one_malloc_arena() {
#ifdef __GLIBC__
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr ||
      (tunables != nullptr && std::strstr(tunables, "arena_max") != nullptr))
    return;
  // Process-wide and MT-Unsafe by glibc: called once, before MPI or any thread starts.
  mallopt(M_ARENA_MAX, 1);  // NOLINT(concurrency-mt-unsafe)
#endif
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (initialised) return;
  int provided = 0;
  check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  owns_ = true;
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
}

int allowed_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

Runtime::Runtime(MPI_Comm comm, model::DeviceChoice device, bool quiet)
    : comm_(comm), quiet_(quiet) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);

  // Every rank resolves its own device; a rank that cannot honour --device cuda (or its
  // GPU) makes the whole run fail, agreed by every rank (agreement.hpp) and reported by
  // the rank that saw it.
  const int gpus = model::cuda_device_count();
  Outcome outcome = injected_fault("device", rank_, kExitUsage);
  if (!outcome.failed() && device == model::DeviceChoice::Cuda &&
      (!model::built_with_cuda() || gpus == 0)) {
    try {
      model::resolve_backend(device);
    } catch (const std::exception& e) {
      outcome = {kExitUsage, e.what()};
    }
  }
  backend_ =
      (device != model::DeviceChoice::Cpu && gpus > 0) ? model::Backend::Cuda : model::Backend::Cpu;
#ifdef STORMRUN_HAVE_CUDA
  if (!outcome.failed() && backend_ == model::Backend::Cuda) {
    device_id_ = local_rank_ % gpus;
    if (cudaSetDevice(device_id_) != cudaSuccess)
      outcome = {kExitUsage, "--device: cudaSetDevice(" + std::to_string(device_id_) +
                                 ") failed; check CUDA_VISIBLE_DEVICES and the GPUs of this node"};
  }
#endif
  agree_or_throw(comm_, "device", outcome);
  const bool all_cuda = !any(backend_ != model::Backend::Cuda);
  if (device == model::DeviceChoice::Auto && backend_ == model::Backend::Cpu && rank_ == 0)
    log_note(rank_, std::string(model::built_with_cuda() ? "no usable CUDA device found"
                                                         : "built without CUDA") +
                        "; running the model on the CPU");
  // NCCL's communicator: created collectively; a failure on one rank is agreed before any
  // rank uses it.
  outcome = {};
  if (all_cuda) {
    try {
      nccl_ = NcclGather::create(comm_, rank_, size_);
    } catch (const std::exception& e) {
      outcome = {kExitFailure, std::string("NCCL: ") + e.what()};
    }
  }
  agree_or_throw(comm_, "device", outcome);
}

Runtime::~Runtime() = default;

model::DeviceChoice Runtime::device_choice() const {
  return backend_ == model::Backend::Cuda ? model::DeviceChoice::Cuda : model::DeviceChoice::Cpu;
}

std::string Runtime::device_text() const {
  if (backend_ == model::Backend::Cpu) return "cpu";
  return "cuda:" + std::to_string(device_id_) + (nccl_ ? " with NCCL" : "");
}

void Runtime::warn(const std::string& message) const {
  log_warning(rank_, message);
}

void Runtime::info(const std::string& message) const {
  if (rank_ != 0 || quiet_) return;
  std::cout << message << std::endl;
}

std::int64_t Runtime::min(std::int64_t value) const {
  std::int64_t out = 0;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_MIN, comm_), "MPI_Allreduce");
  return out;
}

std::int64_t Runtime::max(std::int64_t value) const {
  std::int64_t out = 0;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_MAX, comm_), "MPI_Allreduce");
  return out;
}

std::int64_t Runtime::sum(std::int64_t value) const {
  std::int64_t out = 0;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Allreduce");
  return out;
}

bool Runtime::any(bool value) const {
  return max(value ? 1 : 0) != 0;
}

void Runtime::barrier() const {
  check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
}

std::string Runtime::broadcast(const std::string& text) const {
  std::int64_t length = static_cast<std::int64_t>(text.size());
  check_mpi(MPI_Bcast(&length, 1, MPI_INT64_T, 0, comm_), "MPI_Bcast");
  if (length > INT_MAX) throw std::runtime_error("broadcast of more than 2 GiB");
  std::string out = rank_ == 0 ? text : std::string(static_cast<std::size_t>(length), '\0');
  check_mpi(MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, 0, comm_), "MPI_Bcast");
  return out;
}

std::vector<std::string> Runtime::gather(const std::string& text) const {
  if (text.size() > INT_MAX) throw std::runtime_error("gather of more than 2 GiB");
  const int length = static_cast<int>(text.size());
  std::vector<int> lengths(rank_ == 0 ? size_ : 0);
  check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, comm_), "MPI_Gather");
  std::vector<int> offsets(lengths.size());
  std::int64_t total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += lengths[r];
  }
  if (total > INT_MAX) throw std::runtime_error("gather of more than 2 GiB");
  std::string all(static_cast<std::size_t>(total), '\0');
  check_mpi(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                        MPI_CHAR, 0, comm_),
            "MPI_Gatherv");
  std::vector<std::string> out;
  for (std::size_t r = 0; r < lengths.size(); ++r)
    out.push_back(
        all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r])));
  return out;
}

std::vector<double> Runtime::gather_values(std::span<const double> values) const {
  if (values.size() > INT_MAX) throw std::runtime_error("gather of more than 2^31 values");
  const int count = static_cast<int>(values.size());
  std::vector<int> counts(size_);
  check_mpi(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_), "MPI_Allgather");
  std::vector<int> offsets(counts.size());
  std::int64_t total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += counts[r];
  }
  if (total > INT_MAX) throw std::runtime_error("gather of more than 2^31 values");
  if (nccl_) return nccl_->gather(values, counts);
  std::vector<double> out(rank_ == 0 ? static_cast<std::size_t>(total) : 0);
  check_mpi(MPI_Gatherv(values.data(), count, MPI_DOUBLE, out.data(), counts.data(), offsets.data(),
                        MPI_DOUBLE, 0, comm_),
            "MPI_Gatherv");
  return out;
}

}  // namespace stormrun::runtime
