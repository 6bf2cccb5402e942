// detect_rank() from the launchers' environment variables (MPI itself: mpi_store_main.cpp).
#include <doctest/doctest.h>

#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;

namespace {

/// Clears every variable detect_rank reads, then sets `vars`.
struct LauncherEnv : ScopedEnv {
  LauncherEnv(std::initializer_list<std::pair<const char*, std::string>> vars) {
    for (const char* name :
         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "SLURM_NTASKS",
          "SLURM_NPROCS", "SLURM_PROCID", "RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_LOCALID"}) {
      set(name, std::nullopt);
    }
    for (const auto& [k, v] : vars)
      set(k, v);
  }
};

void check_rank(std::initializer_list<std::pair<const char*, std::string>> vars, int rank, int size,
                const std::string& source) {
  LauncherEnv env(vars);
  const RankInfo info = detect_rank();
  CHECK(info.rank == rank);
  CHECK(info.world_size == size);
  CHECK(info.source == source);
}

void check_rejected(std::initializer_list<std::pair<const char*, std::string>> vars,
                    const std::vector<std::string>& named) {
  LauncherEnv env(vars);
  try {
    detect_rank();
    FAIL("detect_rank accepted a malformed environment");
  } catch (const StoreError& e) {
    for (const auto& n : named)
      CHECK_MESSAGE(std::string(e.what()).find(n) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("detect_rank reads each launcher's variables") {
  check_rank({}, 0, 1, "default");
  check_rank({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"}}, 2, 4,
             "OMPI_COMM_WORLD_RANK");
  check_rank({{"PMIX_RANK", "1"}, {"SLURM_NTASKS", "3"}}, 1, 3, "PMIX_RANK");
  check_rank({{"PMIX_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "6"}}, 5, 6, "PMIX_RANK");
  check_rank({{"SLURM_PROCID", "7"}, {"SLURM_NTASKS", "8"}}, 7, 8, "SLURM_PROCID");
  check_rank({{"SLURM_PROCID", "1"}, {"SLURM_NPROCS", "2"}}, 1, 2, "SLURM_PROCID");
  check_rank({{"RANK", "1"}, {"WORLD_SIZE", "2"}}, 1, 2, "RANK");
  // A batch step without srun: SLURM_PROCID=0 and no task count is a job of one.
  check_rank({{"SLURM_PROCID", "0"}}, 0, 1, "SLURM_PROCID");
}

TEST_CASE("detect_rank prefers the MPI launcher's variables over generic ones") {
  check_rank({{"OMPI_COMM_WORLD_RANK", "3"},
              {"OMPI_COMM_WORLD_SIZE", "4"},
              {"RANK", "0"},
              {"WORLD_SIZE", "1"},
              {"SLURM_PROCID", "0"},
              {"SLURM_NTASKS", "1"}},
             3, 4, "OMPI_COMM_WORLD_RANK");
  check_rank({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}}, 2,
             4, "SLURM_PROCID");
}

TEST_CASE("detect_rank never trusts a local rank alone") {
  check_rank({{"LOCAL_RANK", "1"}, {"RANK", "5"}, {"WORLD_SIZE", "8"}}, 5, 8, "RANK");
  check_rank({{"SLURM_LOCALID", "0"}}, 0, 1, "default");
  check_rejected({{"LOCAL_RANK", "1"}}, {"LOCAL_RANK=1"});
  check_rejected({{"SLURM_LOCALID", "3"}}, {"SLURM_LOCALID=3"});
}

TEST_CASE("detect_rank rejects malformed values, naming the variable and value") {
  check_rejected({{"RANK", "abc"}, {"WORLD_SIZE", "2"}}, {"RANK", "abc"});
  check_rejected({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, {"RANK", "-1"});
  check_rejected({{"RANK", "1"}, {"WORLD_SIZE", "two"}}, {"WORLD_SIZE", "two"});
  check_rejected({{"RANK", "4"}, {"WORLD_SIZE", "4"}}, {"RANK=4", "WORLD_SIZE=4"});
  check_rejected({{"RANK", "0"}, {"WORLD_SIZE", "0"}}, {"WORLD_SIZE", "0"});
  check_rejected({{"OMPI_COMM_WORLD_RANK", "2"}},
                 {"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE"});
  check_rejected({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "4"}},
                 {"SLURM_PROCID=9", "SLURM_NTASKS=4"});
  check_rejected({{"PMIX_RANK", "x1"}, {"SLURM_NTASKS", "4"}}, {"PMIX_RANK", "x1"});
  check_rejected({{"RANK", "99999999999999"}, {"WORLD_SIZE", "2"}}, {"RANK"});
}
