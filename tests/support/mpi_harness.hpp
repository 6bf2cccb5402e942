// The frame of an MPI test program (Debian's doctest has no MPI support): MPI set up, a
// temporary directory made by rank 0 and shared with every rank, checks counted per rank,
// an exception counted as a failure, the failures agreed over ranks, the directory removed,
// one summary line from rank 0, and the exit code.
//
//   int main(int argc, char** argv) {
//     return stormrun_test_support::run_mpi_test(argc, argv, "store", [](MpiCheck& check) {
//       check.expect(..., "what must hold");               // check.dir, check.rank, check.size
//     });
//   }
#pragma once

#include <mpi.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

namespace stormrun_test_support {

struct MpiCheck {
  std::filesystem::path dir;  ///< shared by every rank, removed at the end
  int rank = 0;
  int size = 1;
  int failures = 0;

  /// Counts a failure (and names it on stderr with the rank) when `ok` is false.
  void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    std::cerr << "[rank " << rank << "] FAILED: " << what << std::endl;
  }
};

/// Rank 0 creates a unique directory named after `name`; every rank gets its path.
inline std::filesystem::path shared_temp_dir(const std::string& name, int rank) {
  std::vector<char> path(4096, '\0');
  if (rank == 0) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("stormrun-mpi-" + name + "-XXXXXX")).string();
    if (!mkdtemp(pattern.data())) MPI_Abort(MPI_COMM_WORLD, 2);
    pattern.copy(path.data(), path.size() - 1);
  }
  MPI_Bcast(path.data(), static_cast<int>(path.size()), MPI_CHAR, 0, MPI_COMM_WORLD);
  return std::filesystem::path(path.data());
}

inline int run_mpi_test(int argc, char** argv, const std::string& name,
                        const std::function<void(MpiCheck&)>& body) {
  MPI_Init(&argc, &argv);
  MpiCheck check;
  MPI_Comm_rank(MPI_COMM_WORLD, &check.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &check.size);
  check.dir = shared_temp_dir(name, check.rank);
  try {
    body(check);
  } catch (const std::exception& e) {
    ++check.failures;
    std::cerr << "[rank " << check.rank << "] exception: " << e.what() << std::endl;
  }
  int total = 0;
  MPI_Allreduce(&check.failures, &total, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  if (check.rank == 0) {
    std::error_code ec;
    std::filesystem::remove_all(check.dir, ec);
    std::cout << name << " MPI test on " << check.size
              << " ranks: " << (total == 0 ? "passed" : "FAILED") << std::endl;
  }
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}

}  // namespace stormrun_test_support
