// The run's runtime (DESIGN.md §2): who this process is in the MPI job, which device it
// computes on (one GPU per rank, chosen by the rank's index on its node; the CPU reference
// when no GPU is usable, said once by rank 0), an NCCL communicator beside MPI when on GPUs,
// the collectives the run driver needs, and rank-prefixed messages.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"

namespace stormrun::runtime {

/// Process-wide, before any thread starts: every thread allocates from glibc's one main
/// malloc arena (M_ARENA_MAX 1) unless the user chose (MALLOC_ARENA_MAX, or arena_max in
/// GLIBC_TUNABLES). A run's threads (commit, watchdog, fsync helpers, MPI's) allocate
/// little and rarely, but each one's own arena keeps its high-water mark: the commit
/// thread's alone was 0.01 of the state at 256x512x4 (P8, docs/performance.md).
void share_one_malloc_arena();

/// MPI_Init_thread on construction unless MPI is already initialised; MPI_Finalize on
/// destruction when it initialised it.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owns_ = false;
};

/// Throws std::runtime_error "<what> failed: <MPI's error string>" unless code is MPI_SUCCESS.
void check_mpi(int code, const char* what);

/// The CPUs this thread may run on (sched_getaffinity: the launcher's binding, the job's
/// cgroup); 0 when it cannot be read.
int allowed_cpu_count();

class NcclGather;  // nccl_gather.cpp; only when built with NCCL and running on GPUs

class Runtime {
 public:
  /// Collective over `comm`. Finds the node-local rank (MPI_COMM_TYPE_SHARED), resolves
  /// `device` (Auto: CUDA when a GPU is usable; rank r then uses GPU local_rank % count),
  /// and on CUDA with NCCL built in creates an NCCL communicator. When any rank cannot
  /// honour --device cuda or select its GPU, every rank throws AgreedFailure (exit 2) after
  /// that rank's message is printed (agreement.hpp, phase "device").
  Runtime(MPI_Comm comm, model::DeviceChoice device, bool quiet);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  /// The ranks of this job on this node (MPI_COMM_TYPE_SHARED).
  int local_size() const { return local_size_; }
  model::Backend backend() const { return backend_; }
  /// The device choice to hand to models: Cpu or Cuda (never Auto).
  model::DeviceChoice device_choice() const;
  bool quiet() const { return quiet_; }
  /// "cpu" or "cuda:N (NCCL)" etc., for the start banner.
  std::string device_text() const;

  /// stderr line "stormrun[rank R@HOST]: warning: <message>" (log.hpp). Local, any rank.
  void warn(const std::string& message) const;
  /// stdout line from rank 0 only, unless quiet. Local (the other ranks print nothing).
  void info(const std::string& message) const;

  // ---- collectives over comm(): every rank calls them, in the same order ---------------
  std::int64_t min(std::int64_t value) const;
  std::int64_t max(std::int64_t value) const;
  std::int64_t sum(std::int64_t value) const;
  bool any(bool value) const;
  /// Rank 0's `text` on every rank.
  std::string broadcast(const std::string& text) const;
  /// Every rank's `text`, in rank order, on rank 0 (empty vector on the others).
  std::vector<std::string> gather(const std::string& text) const;
  /// Every rank's `values`, concatenated in rank order, on rank 0 (empty elsewhere). On
  /// CUDA with NCCL the transfer goes through NCCL, else MPI_Gatherv; the result is the
  /// same bytes either way.
  std::vector<double> gather_values(std::span<const double> values) const;
  void barrier() const;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int device_id_ = -1;
  model::Backend backend_ = model::Backend::Cpu;
  bool quiet_ = false;
  std::unique_ptr<NcclGather> nccl_;
};

}  // namespace stormrun::runtime
