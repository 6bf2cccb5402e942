// The job's end time (runtime/walltime.hpp), the helper-program runner the wall-time clock and
// the LOCK's SLURM check use (bits/subprocess.hpp), and the auto hang bound (watchdog.hpp).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "stormrun/bits/subprocess.hpp"
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
