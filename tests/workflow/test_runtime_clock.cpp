// The job's end time (runtime/walltime.hpp), the helper-program runner the wall-time clock and
// the LOCK's SLURM check use (bits/subprocess.hpp), and the auto hang bound (watchdog.hpp).
#include <doctest/doctest.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "stormrun/bits/subprocess.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/runtime/walltime.hpp"
#include "stormrun/runtime/watchdog.hpp"

using namespace stormrun;

TEST_CASE("parse_slurm_time_left reads every form of squeue's %L") {
  CHECK(runtime::parse_slurm_time_left("45") == 45.0);
  CHECK(runtime::parse_slurm_time_left("12:34") == 12 * 60 + 34.0);
  CHECK(runtime::parse_slurm_time_left("1:02:03\n") == 3723.0);
  CHECK(runtime::parse_slurm_time_left("2-03:04:05") == 2 * 86400 + 3 * 3600 + 4 * 60 + 5.0);
  CHECK(runtime::parse_slurm_time_left("2-03:04") == 2 * 86400 + 3 * 3600 + 4 * 60.0);
  CHECK(runtime::parse_slurm_time_left("1-05") == 86400 + 5 * 3600.0);
  for (const char* none : {"UNLIMITED", "NOT_SET", "INVALID", "", "1:2:3:4", "-1", "a:b"}) {
    CAPTURE(std::string(none));
    CHECK_FALSE(runtime::parse_slurm_time_left(none));
  }
}

TEST_CASE("run_program captures stdout, stderr and the status, and kills what overruns") {
  const auto done = detail::run_program({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10);
  REQUIRE(done);
  CHECK(done->status == 3);
  CHECK(done->out == "out\n");
  CHECK(done->err == "err\n");
  CHECK_FALSE(detail::run_captured({"sh", "-c", "exit 3"}, 10));
  CHECK(detail::run_captured({"sh", "-c", "echo fine"}, 10) == std::string("fine\n"));
  CHECK_FALSE(detail::run_program({"stormrun-no-such-program"}, 10));

  const auto start = std::chrono::steady_clock::now();
  const auto slow = detail::run_program({"sleep", "30"}, 0.5);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(slow);
  CHECK(slow->status == -1);  // killed
  CHECK(took < 10);
}

TEST_CASE("JobEndTime: --end-time as given, SLURM's end kept when squeue cannot answer") {
  std::vector<std::string> warnings;
  const auto warn = [&](const std::string& w) { warnings.push_back(w); };
  {
    runtime::JobEndTime given(1796180000.0, warn);
    CHECK(given.end() == 1796180000.0);
    CHECK(given.source() == "--end-time");
  }
  CHECK(warnings.empty());

  ::unsetenv("SLURM_JOB_ID");
  {
    runtime::JobEndTime none(std::nullopt, warn);
    CHECK_FALSE(none.end());
  }
  // A job id SLURM cannot answer for (no controller here, or no such job): the end from the
  // environment stands, and the warning says so once.
  ::setenv("SLURM_JOB_ID", "987654321", 1);
  ::setenv("SLURM_JOB_END_TIME", "2000000000", 1);
  ::setenv("SLURM_CONF", "/nonexistent/slurm.conf", 1);
  {
    runtime::JobEndTime slurm(std::nullopt, warn);
    CHECK(slurm.source() == "SLURM job 987654321");
    CHECK(slurm.end() == 2000000000.0);
  }
  ::unsetenv("SLURM_JOB_ID");
  ::unsetenv("SLURM_JOB_END_TIME");
  ::unsetenv("SLURM_CONF");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("cannot read the time left of SLURM job 987654321") == 0);
  CHECK(warnings[0].find("keeps SLURM_JOB_END_TIME") != std::string::npos);
}

TEST_CASE("the auto hang bound: ten measured step+commit times, never below the floor") {
  CHECK(runtime::auto_hang_timeout(0.1, 0.05) == runtime::kHangFloorSeconds);
  CHECK(runtime::auto_hang_timeout(20, 5) == 250.0);
  CHECK(runtime::kHangStartupSeconds > runtime::kHangFloorSeconds);
}

// Only with glibc's own allocator: the sanitizers bring theirs (clang-14 defines no
// __SANITIZE_ADDRESS__, hence __has_feature).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define STORMRUN_SANITIZER_MALLOC 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && \
    !defined(STORMRUN_SANITIZER_MALLOC) && defined(__GLIBC__)
namespace {

/// In a forked child (the setting is process-wide): `user_choice` set or not, calls
/// share_one_malloc_arena(), lets 4 threads allocate, and exits with glibc's arena count.
int arenas_after_sharing(bool user_choice) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (user_choice)
      ::setenv("MALLOC_ARENA_MAX", "8", 1);  // glibc read it at start: only our call sees it
    else
      ::unsetenv("MALLOC_ARENA_MAX");
    ::unsetenv("GLIBC_TUNABLES");
    runtime::share_one_malloc_arena();
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([] {
        std::vector<char> block(64 << 10, 'x');
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      });
    for (auto& t : threads)
      t.join();
    char* text = nullptr;
    std::size_t size = 0;
    FILE* out = ::open_memstream(&text, &size);
    ::malloc_info(0, out);
    std::fclose(out);
    int heaps = 0;
    for (const char* at = text; (at = std::strstr(at, "<heap nr=")) != nullptr; ++at)
      ++heaps;
    ::_exit(heaps);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("share_one_malloc_arena: every thread allocates from one arena, unless the user chose") {
  CHECK(arenas_after_sharing(false) == 1);
  // The control: without the call (the user's MALLOC_ARENA_MAX is left alone) the threads
  // have arenas of their own.
  CHECK(arenas_after_sharing(true) > 1);
}
#endif
