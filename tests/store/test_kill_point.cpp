// The test-only kill point (include/stormrun/test_kill.hpp): STORMRUN_TEST_KILL_AT is read
// once per process, so each case runs in a child that sets it before the first call (this
// executable's own process never calls a point).
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>

#include "checkpoint/store/durable_io.hpp"
#include "store_test_util.hpp"
#include "stormrun/test_kill.hpp"

using namespace stormrun;
using stormrun::test::run_in_child;

namespace {

/// The child's exit status (128 + signal when killed) after `calls` arrivals at `point`
/// with STORMRUN_TEST_KILL_AT=`spec` (OMPI_COMM_WORLD_RANK=`rank`); 0 when it survived.
int arrive(const char* spec, const char* point, int calls, const char* rank = "0") {
  return run_in_child([&] {
    ::setenv("STORMRUN_TEST_KILL_AT", spec, 1);
    ::setenv("OMPI_COMM_WORLD_RANK", rank, 1);
    ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    for (int i = 0; i < calls; ++i) {
      test_kill_point("output-after-write");  // another point: never counted
      test_kill_point(point);
    }
  });
}

}  // namespace

TEST_CASE("a kill point raises SIGKILL on the named rank at the n-th arrival, not before") {
  CHECK(arrive("commit-renamed:0:3", "commit-renamed", 2) == 0);
  CHECK(arrive("commit-renamed:0:3", "commit-renamed", 3) == 128 + SIGKILL);
  CHECK(arrive("commit-renamed:2:1", "commit-renamed", 5, "1") == 0);
  CHECK(arrive("commit-renamed:2:1", "commit-renamed", 1, "2") == 128 + SIGKILL);
  CHECK(arrive("output-before-flush:*:2", "output-before-flush", 2, "3") == 128 + SIGKILL);
  CHECK(arrive("output-before-flush:*:2", "commit-renamed", 9, "3") == 0);
}

TEST_CASE("unset, no point is armed, and a malformed value ends the process with exit 2") {
  CHECK(run_in_child([] {
          ::unsetenv("STORMRUN_TEST_KILL_AT");
          if (test_kill_armed()) std::_Exit(9);
          test_kill_point("commit-renamed");
        }) == 0);
  for (const char* spec : {"commit-nowhere:0:1", "commit-renamed:0", "commit-renamed:x:1",
                           "commit-renamed:0:0", "commit-renamed:0:-1"})
    CHECK_MESSAGE(arrive(spec, "commit-renamed", 1) == 2, spec);
}

// The test-only fsync skips of the power-loss matrix (store/durable_io.hpp): read once per
// process too.
TEST_CASE("STORMRUN_TEST_SKIP_FSYNC skips only the labels it names, and an unknown one exits 2") {
  using stormrun::store_detail::fsync_labels;
  using stormrun::store_detail::fsync_skipped;
  CHECK(run_in_child([] {
          ::unsetenv("STORMRUN_TEST_SKIP_FSYNC");
          for (const auto& label : fsync_labels())
            if (fsync_skipped(label.c_str())) std::_Exit(9);
        }) == 0);
  CHECK(run_in_child([] {
          ::setenv("STORMRUN_TEST_SKIP_FSYNC", "commit-manifest,lock-file", 1);
          if (!fsync_skipped("commit-manifest") || !fsync_skipped("lock-file")) std::_Exit(9);
          if (fsync_skipped("commit-file") || fsync_skipped(nullptr)) std::_Exit(10);
        }) == 0);
  for (const char* spec : {"commit-nothing", "commit-file,", "commit-file,,lock-file"}) {
    CHECK_MESSAGE(run_in_child([spec] {
                    ::setenv("STORMRUN_TEST_SKIP_FSYNC", spec, 1);
                    (void)fsync_skipped("commit-file");
                  }) == 2,
                  spec);
  }
}
