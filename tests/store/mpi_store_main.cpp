// Under mpirun: detect_rank() comes from MPI, every rank commits into its own rank_NNNNNN
// directory of one shared root, and all ranks of the job share its DirLock.
#include <mpi.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "stormrun/store.hpp"
#include "support/mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace stormrun;

// Under -DSTORMRUN_SANITIZE=ON: Open MPI's dlopen'd components keep allocations past
// MPI_Finalize (unloaded by then, so no suppression can name them). Leak checking stays on
// for the store through the unit tests; here it is off. Address/UB checks stay on.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}

namespace {

int failures = 0;

void expect(bool ok, const std::string& what, int rank) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  }
}

void run_check(const fs::path& root, int rank, int size) {
  const RankInfo info = detect_rank();
  expect(info.source == "MPI", "detect_rank source is " + info.source, rank);
  expect(info.rank == rank && info.world_size == size, "detect_rank disagrees with MPI", rank);

  DirLock lock = DirLock::acquire(root, stderr_warnings(rank));  // shared by all ranks
  MPI_Barrier(MPI_COMM_WORLD);

  RankStore store(root, info.rank, stderr_warnings(rank));
  StagedCommit staged = store.stage(1);
  const std::string payload = "rank " + std::to_string(rank);
  staged.put("states/x.json", std::as_bytes(std::span(payload.data(), payload.size())));
  Manifest m;
  m.name = "mpi";
  m.rank = info.rank;
  m.world_size = info.world_size;
  m.write_count = 1;
  store.commit(std::move(staged), m, {CheckpointMode::Overwrite, 0});
  MPI_Barrier(MPI_COMM_WORLD);

  if (rank == 0) {
    for (int r = 0; r < size; ++r) {
      RankStore other(root, r, stderr_warnings(rank));
      expect(other.rows().size() == 1, rank_dir_name(r) + " has one row", rank);
      if (!other.rows().empty()) {
        const auto bytes = other.open_commit(other.rows()[0].commit_id).get("states/x.json");
        expect(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) ==
                   "rank " + std::to_string(r),
               rank_dir_name(r) + " holds its own rank's state", rank);
      }
    }
    expect(fs::exists(root / "LOCK"), "LOCK held while the job runs", rank);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  lock.release();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) expect(!fs::exists(root / "LOCK"), "LOCK released by its creator", rank);
}

}  // namespace

int main(int argc, char** argv) {
  return stormrun_test_support::run_mpi_test(argc, argv, "store",
                                             [](stormrun_test_support::MpiCheck& check) {
                                               run_check(check.dir, check.rank, check.size);
                                               check.failures += failures;
                                             });
}
