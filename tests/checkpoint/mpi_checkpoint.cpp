// MPI test of per-rank checkpoint directories: every rank writes rows (its rank in the
// metadata, a bound state) into ROOT/rank_NNNNNN, then reopens the store and reads its
// own rows back; all rank directories exist and every manifest names its rank and the
// world size. Rank detection comes from MPI itself (no rank given in the options).
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_test_support.hpp"
#include "checkpoint/store/commit_check.hpp"
#include "support/mpi_harness.hpp"

using namespace stormrun;
namespace fs = std::filesystem;

namespace {

constexpr int kRows = 3;

int failures = 0;

void expect(bool ok, const std::string& what, int rank) {
  if (ok) return;
  ++failures;
  std::cerr << "[rank " << rank << "] FAILED: " << what << "\n";
}

void run_check(const fs::path& root, int rank, int size) {
  CheckpointOptions options;
  options.name = "mpi-test";
  options.path = root;
  options.history_size = 0;
  options.warn = [](const std::string&) {};  // selects below refill a bound state (warning)
  std::vector<std::string> written;
  {
    Checkpoint checkpoint(options);
    expect(checkpoint.options().rank == rank, "rank detected from MPI", rank);
    expect(checkpoint.options().world_size == size, "world size detected from MPI", rank);
    auto noise = checkpoint.bind(NoiseState{.seed = std::uint64_t(100 + rank)}, 1);
    Session& session = checkpoint.new_session();
    for (int i = 1; i <= kRows; ++i) {
      noise->step = 10 * rank + i;
      session.write({{"rank", rank}, {"row", i}});
      written.push_back(session.commit_id());
    }
  }
  // Every rank's directory is complete before anyone looks at the others.
  MPI_Barrier(MPI_COMM_WORLD);

  Checkpoint checkpoint(options);
  const auto rows = checkpoint.catalog();
  expect(static_cast<int>(rows.size()) == kRows, "rows read back", rank);
  for (int i = 0; i < kRows && i < static_cast<int>(rows.size()); ++i) {
    const CatalogRow& row = rows[static_cast<std::size_t>(i)];
    expect(row.commit_id == written[static_cast<std::size_t>(i)], "commit id of row", rank);
    expect(row.rank == rank && row.world_size == size, "rank and world size in the row", rank);
    const Metadata metadata = decode_metadata(row.metadata, "row");
    expect(metadata.at("rank") == Value(rank), "rank in the metadata", rank);
    expect(metadata.at("row") == Value(i + 1), "row in the metadata", rank);
  }
  for (int i = 0; i < kRows; ++i) {
    auto noise = checkpoint.bind(NoiseState{}, 1);
    Session& session = checkpoint.select(i);
    expect(noise.loaded(), "state loaded from row", rank);
    expect(noise->seed == std::uint64_t(100 + rank), "state seed of this rank", rank);
    expect(noise->step == 10 * rank + i + 1, "state step of the row", rank);
    expect(session.write_count() == i + 1, "write count of the row", rank);
    checkpoint.close_session();
  }
  for (int other = 0; other < size; ++other) {
    const fs::path dir = root / rank_dir_name(other);
    expect(fs::is_directory(dir), "directory " + dir.string() + " exists", rank);
    if (!fs::is_directory(dir / "commits")) continue;
    for (const auto& entry : fs::directory_iterator(dir / "commits")) {
      // A pack (these commits are small) or a directory: the manifest read either way, its
      // rank checked against the directory's (read_manifest throws when they differ).
      expect(entry.is_regular_file(), "small commit " + entry.path().string() + " is a pack", rank);
      try {
        const Manifest manifest = store_detail::read_manifest(entry.path(), other);
        expect(manifest.world_size == size, "world size in " + entry.path().string(), rank);
      } catch (const StoreError& e) {
        expect(false, e.what(), rank);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  return stormrun_test_support::run_mpi_test(argc, argv, "checkpoint",
                                             [](stormrun_test_support::MpiCheck& check) {
                                               run_check(check.dir, check.rank, check.size);
                                               check.failures += failures;
                                             });
}
