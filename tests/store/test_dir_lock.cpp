// DirLock: one job per store root; ranks of that job share; stale locks are recovered.
#include <doctest/doctest.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <thread>

#include "checkpoint/store/posix_file.hpp"
#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;
namespace fs = std::filesystem;

namespace {

/// A job identity from SLURM variables only (the MPI ones cleared).
struct JobEnv : ScopedEnv {
  explicit JobEnv(std::optional<std::string> slurm_job, std::optional<std::string> restart = {}) {
    for (const char* name :
         {"PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid", "OMPI_MCA_ess_base_jobid", "SLURM_JOBID"}) {
      set(name, std::nullopt);
    }
    set("SLURM_JOB_ID", slurm_job);
    set("SLURM_RESTART_COUNT", restart);
  }
};

std::string hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

void write_lock(const fs::path& root, const std::string& host, long long pid,
                const std::string& job, long long restart) {
  fs::create_directories(root);
  write_file(root / "LOCK", nlohmann::json{{"format_version", 1},
                                           {"host", host},
                                           {"pid", pid},
                                           {"job", job},
                                           {"restart_count", restart},
                                           {"started_at", "2024-01-01T00:00:00Z"},
                                           {"token", "feedfacefeedface"}}
                                .dump());
}

}  // namespace

TEST_CASE("acquire writes the holder into LOCK and release removes it") {
  TempDir tmp;
  JobEnv env("4242", "1");
  Warnings w;
  DirLock lock = DirLock::acquire(tmp.path(), w.sink());
  const auto holder = nlohmann::json::parse(read_file(tmp.path() / "LOCK"));
  CHECK(holder["host"] == hostname());
  CHECK(holder["pid"] == ::getpid());
  CHECK(holder["job"] == "slurm:4242");
  CHECK(holder["restart_count"] == 1);
  CHECK(holder["started_at"].get<std::string>().size() == 20);
  lock.release();
  CHECK_FALSE(fs::exists(tmp.path() / "LOCK"));
  CHECK(w.messages.empty());
  // Only the LOCK file itself remains between acquisitions: no tmp litter.
  CHECK(fs::is_empty(tmp.path()));
}

TEST_CASE("another job is refused with a message naming the holder") {
  TempDir tmp;
  JobEnv env("1001");
  DirLock lock = DirLock::acquire(tmp.path(), quiet());
  const fs::path message_file = tmp.path() / "message.txt";
  const int code = run_in_child([&] {
    JobEnv other("2002");
    try {
      DirLock::acquire(tmp.path(), quiet());
    } catch (const LockError& e) {
      write_file(message_file, e.what());
      ::_exit(0);
    }
    ::_exit(3);
  });
  CHECK(code == 0);
  const std::string message = read_file(message_file);
  CHECK(message.find("is locked by host " + hostname()) != std::string::npos);
  CHECK(message.find("pid " + std::to_string(::getpid())) != std::string::npos);
  CHECK(message.find("SLURM job 1001") != std::string::npos);
  CHECK(message.find("remove " + (tmp.path() / "LOCK").string()) != std::string::npos);
  CHECK(fs::exists(tmp.path() / "LOCK"));
}

TEST_CASE("ranks of the same job share the lock; only the creator releases it") {
  TempDir tmp;
  JobEnv env("1001", "0");
  DirLock lock = DirLock::acquire(tmp.path(), quiet());
  const std::string before = read_file(tmp.path() / "LOCK");
  const int code = run_in_child([&] {
    DirLock shared = DirLock::acquire(tmp.path(), quiet());
    shared.release();  // not the creator: must leave LOCK in place
  });
  CHECK(code == 0);
  CHECK(read_file(tmp.path() / "LOCK") == before);
  lock.release();
  CHECK_FALSE(fs::exists(tmp.path() / "LOCK"));
}

TEST_CASE("a lock left by a dead process on this host is recovered with a warning") {
  TempDir tmp;
  JobEnv env(std::nullopt);
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  write_lock(tmp.path(), hostname(), dead, "pid:" + std::to_string(dead), 0);
  Warnings w;
  DirLock lock = DirLock::acquire(tmp.path(), w.sink());
  CHECK(w.any_contains("no longer exists"));
  CHECK(w.any_contains("pid " + std::to_string(dead)));
  CHECK(nlohmann::json::parse(read_file(tmp.path() / "LOCK"))["pid"] == ::getpid());
  lock.release();
  CHECK_FALSE(fs::exists(tmp.path() / "LOCK"));
}

TEST_CASE("a lock of an earlier run of the same requeued SLURM job is recovered") {
  TempDir tmp;
  write_lock(tmp.path(), "node-elsewhere", 12345, "slurm:77", 0);
  JobEnv env("77", "1");
  Warnings w;
  DirLock lock = DirLock::acquire(tmp.path(), w.sink());
  CHECK(w.any_contains("restart 0"));
  CHECK(nlohmann::json::parse(read_file(tmp.path() / "LOCK"))["restart_count"] == 1);
}

TEST_CASE("a live-looking lock of another job on another host is refused") {
  TempDir tmp;
  write_lock(tmp.path(), "node-elsewhere", 12345, "slurm:55", 2);
  JobEnv env("66");
  CHECK_THROWS_WITH_AS(DirLock::acquire(tmp.path(), quiet()),
                       doctest::Contains("host node-elsewhere pid 12345 (SLURM job 55, restart 2) "
                                         "since 2024-01-01T00:00:00Z"),
                       LockError);
  // A later restart of that job is not ours to take either.
  JobEnv earlier("55", "1");
  CHECK_THROWS_AS(DirLock::acquire(tmp.path(), quiet()), LockError);
}

TEST_CASE("an unreadable LOCK is an error naming it; a replaced LOCK is not released") {
  TempDir tmp;
  write_file(tmp.path() / "LOCK", "garbage");
  JobEnv env("1");
  CHECK_THROWS_WITH_AS(DirLock::acquire(tmp.path(), quiet()),
                       doctest::Contains((tmp.path() / "LOCK").string().c_str()), LockError);
  fs::remove(tmp.path() / "LOCK");

  DirLock lock = DirLock::acquire(tmp.path(), quiet());
  write_lock(tmp.path(), "node-elsewhere", 1, "slurm:2", 0);  // someone took it over
  lock.release();
  CHECK(fs::exists(tmp.path() / "LOCK"));
}

TEST_CASE("an output's lock file: another job is refused naming the output; release removes it") {
  TempDir tmp;
  JobEnv env("1001");
  const fs::path output = tmp.path() / "forecast.h5";
  const fs::path lock_file = tmp.path() / "forecast.h5.lock";
  std::optional<DirLock> lock(DirLock::acquire_file(lock_file, output, quiet()));
  CHECK(fs::exists(lock_file));
  const fs::path message_file = tmp.path() / "message.txt";
  const int code = run_in_child([&] {
    JobEnv other("2002");
    try {
      DirLock::acquire_file(lock_file, output, quiet());
    } catch (const LockError& e) {
      write_file(message_file, e.what());
      ::_exit(0);
    }
    ::_exit(3);
  });
  CHECK(code == 0);
  const std::string message = read_file(message_file);
  CHECK(message.find("output " + output.string() + " is in use by another run: host " + hostname() +
                     " pid " + std::to_string(::getpid()) + " (SLURM job 1001)") !=
        std::string::npos);
  CHECK(message.find("give another --output") != std::string::npos);
  CHECK(message.find("remove " + lock_file.string()) != std::string::npos);
  lock.reset();
  CHECK_FALSE(fs::exists(lock_file));
  fs::remove(message_file);
  CHECK(fs::is_empty(tmp.path()));  // no tmp litter beside the output
}

TEST_CASE(
    "random_hex: hex names of the asked length, new on every call, in threads and in "
    "a forked child") {
  using store_detail::random_hex;
  const std::string a = random_hex(16), b = random_hex(16);
  CHECK(a.size() == 16);
  CHECK(random_hex(5).size() == 5);
  CHECK(random_hex(0).empty());
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  std::string in_thread;
  std::thread([&] { in_thread = random_hex(16); }).join();
  CHECK(in_thread != a);
  CHECK(in_thread != b);
  // The child's copy of the parent's generator must not repeat the parent's next name (a
  // forked process, e.g. a launcher helper, shares the directories).
  TempDir tmp;
  const fs::path child_name = tmp.path() / "child";
  REQUIRE(run_in_child([&] { std::ofstream(child_name) << random_hex(16); }) == 0);
  std::string from_child;
  std::ifstream(child_name) >> from_child;
  CHECK(from_child.size() == 16);
  CHECK(from_child != random_hex(16));
}
