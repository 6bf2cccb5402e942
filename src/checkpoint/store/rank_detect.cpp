// Who this process is in the job (rank, world size), rank directory names, warnings sink.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "stormrun/runtime/log.hpp"
#include "stormrun/store.hpp"

namespace stormrun {

std::string rank_dir_name(int rank) {
  if (rank < 0) throw StoreError("rank " + std::to_string(rank) + " is negative");
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank_%06d", rank);
  return buf;
}

WarningSink stderr_warnings(int rank) {
  return [rank](const std::string& message) { runtime::log_warning(rank, message); };
}

namespace {

/// The value of an environment variable that must be a non-negative int; nullopt when
/// unset (or empty); StoreError naming the variable and value when it is not a number.
std::optional<int> env_int(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  long long v = 0;
  for (const char* p = value; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9' || v > 1000000000LL) {
      throw StoreError(std::string("environment variable ") + name + "='" + value +
                       "' is not a non-negative integer; fix or unset it");
    }
    v = v * 10 + (*p - '0');
  }
  if (v > 1000000000LL) {
    throw StoreError(std::string("environment variable ") + name + "='" + value +
                     "' is out of range");
  }
  return static_cast<int>(v);
}

struct EnvSource {
  const char* rank_var;
  std::vector<const char*> size_vars;  ///< first one set wins
};

RankInfo from_env(const EnvSource& src, int rank) {
  std::optional<int> size;
  const char* size_var = nullptr;
  for (const char* var : src.size_vars) {
    if ((size = env_int(var))) {
      size_var = var;
      break;
    }
  }
  if (!size) {
    // A batch step without srun has SLURM_PROCID=0 and maybe no task count: a job of one.
    if (rank == 0) return RankInfo{0, 1, src.rank_var};
    std::string vars;
    for (const char* v : src.size_vars)
      vars += (vars.empty() ? "" : " or ") + std::string(v);
    throw StoreError(std::string(src.rank_var) + "=" + std::to_string(rank) +
                     " is set but the world size is not (" + vars +
                     "); set it, or launch with mpirun/srun");
  }
  if (*size < 1) {
    throw StoreError(std::string("environment variable ") + size_var + "='" +
                     std::getenv(size_var) + "' must be at least 1");
  }
  if (rank >= *size) {
    throw StoreError(std::string(src.rank_var) + "=" + std::to_string(rank) + " is not below " +
                     size_var + "=" + std::to_string(*size) +
                     "; the launcher environment is inconsistent");
  }
  return RankInfo{rank, *size, src.rank_var};
}

}  // namespace

RankInfo detect_rank() {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    RankInfo info;
    MPI_Comm_rank(MPI_COMM_WORLD, &info.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &info.world_size);
    info.source = "MPI";
    return info;
  }
  // Global ranks only, in the order the launchers are trusted: Open MPI's own, PMIx (srun
  // --mpi=pmix), SLURM, then torchrun-style. A local rank says nothing about the world.
  const EnvSource sources[] = {
      {"OMPI_COMM_WORLD_RANK", {"OMPI_COMM_WORLD_SIZE"}},
      {"PMIX_RANK", {"SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"}},
      {"SLURM_PROCID", {"SLURM_NTASKS", "SLURM_NPROCS"}},
      {"RANK", {"WORLD_SIZE"}},
  };
  for (const auto& src : sources) {
    if (const auto rank = env_int(src.rank_var)) return from_env(src, *rank);
  }
  for (const char* local : {"LOCAL_RANK", "SLURM_LOCALID"}) {
    if (const auto r = env_int(local); r && *r > 0) {
      throw StoreError(std::string(local) + "=" + std::to_string(*r) +
                       " is set but no global rank is (OMPI_COMM_WORLD_RANK, PMIX_RANK, "
                       "SLURM_PROCID or RANK): ranks would share one checkpoint directory; "
                       "launch with mpirun/srun or set RANK and WORLD_SIZE");
    }
  }
  return RankInfo{0, 1, "default"};
}

}  // namespace stormrun
