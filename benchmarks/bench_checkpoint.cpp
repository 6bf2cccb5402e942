// Checkpoint commit cost against the disk's own speed, measured in the same run:
//  1. for S = 1 KiB … 256 MiB: a commit of S bytes of bound state (Checkpoint::bind +
//     Session::write with flush_interval 1) against a raw write + fsync of the same S bytes
//     into the same directory; prints both rates and their ratio (target at 256 MiB: ≥ 0.90);
//  2. the rate of small commits (metadata only) per second.
// A commit is timed until it is durable: with asynchronous commits (CheckpointOptions::
// async_commits, when this build has them) write() returns once the state is captured and
// Checkpoint::wait() until the commit is durable; the "write() ms" column is the caller-
// visible part (the median write() alone), the rates count write() + wait().
// usage: bench_checkpoint [DIR] [--max-mib N] [--repeats R]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"

struct BenchState {
  stormrun::Array<std::uint8_t> payload;
};
STORMRUN_STATE(BenchState, "stormrun.bench.BenchState", payload)

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The baseline: what any program pays to make S bytes durable in one file.
double raw_write_fsync(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) throw std::runtime_error("write " + path.string() + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) throw std::runtime_error("fsync " + path.string());
  ::close(fd);
  const double elapsed = seconds_since(start);
  fs::remove(path);
  return elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string human(std::size_t bytes) {
  char text[32];
  if (bytes >= (1u << 20))
    std::snprintf(text, sizeof text, "%zu MiB", bytes >> 20);
  else
    std::snprintf(text, sizeof text, "%zu KiB", bytes >> 10);
  return text;
}

/// Waits for the commit in flight, where this build's Checkpoint commits asynchronously.
template <class C>
void wait_durable(C& ckpt) {
  if constexpr (requires { ckpt.wait(); }) ckpt.wait();
}

template <class O>
constexpr bool has_async_option() {
  return requires(O o) {
    o.async_commits;
  };
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path() / ("stormrun-bench-" + std::to_string(::getpid()));
  std::size_t max_mib = 256;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--max-mib" && i + 1 < argc)
      max_mib = std::stoul(argv[++i]);
    else if (arg == "--repeats" && i + 1 < argc)
      repeats = std::stoi(argv[++i]);
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: bench_checkpoint [DIR] [--max-mib N] [--repeats R]\n");
      return 0;
    } else
      dir = arg;
  }
  fs::create_directories(dir);
  std::printf("checkpoint commit vs raw write+fsync, in %s (median of %d)\n", dir.c_str(), repeats);
  std::printf("commits: %s\n", has_async_option<stormrun::CheckpointOptions>()
                                   ? "asynchronous (the default)"
                                   : "synchronous (this build has no asynchronous commits)");
  std::printf("%10s %14s %14s %8s %12s\n", "state", "raw MB/s", "commit MB/s", "ratio",
              "write() ms");

  {
    stormrun::Checkpoint ckpt({.name = "bench",
                               .path = dir / "store",
                               .mode = stormrun::CheckpointMode::Overwrite,
                               .warn = [](const std::string&) {}});
    auto state = ckpt.bind(BenchState{}, 0);
    stormrun::SessionScope scope(ckpt);
    for (std::size_t size = 1024; size <= max_mib << 20; size *= 4) {
      std::vector<std::uint8_t> bytes(size);
      for (std::size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<std::uint8_t>(i * 2654435761u >> 13);
      state->payload = {{static_cast<std::int64_t>(size)}, bytes};
      std::vector<double> raw, commit, caller;
      for (int r = 0; r < repeats; ++r) {
        raw.push_back(raw_write_fsync(dir / "raw.bin", bytes));
        const auto start = Clock::now();
        scope->write({{"repeat", r}});
        caller.push_back(seconds_since(start));
        wait_durable(ckpt);
        commit.push_back(seconds_since(start));
      }
      const double raw_rate = double(size) / median(raw) / 1e6;
      const double commit_rate = double(size) / median(commit) / 1e6;
      std::printf("%10s %14.1f %14.1f %8.3f %12.4f\n", human(size).c_str(), raw_rate, commit_rate,
                  commit_rate / raw_rate, 1e3 * median(caller));
      if (size == (max_mib << 20)) break;
    }
  }

  {
    stormrun::Checkpoint ckpt({.name = "bench-small",
                               .path = dir / "small",
                               .mode = stormrun::CheckpointMode::Overwrite,
                               .warn = [](const std::string&) {}});
    stormrun::SessionScope scope(ckpt);
    const int n = 200;
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i)
      scope->write({{"lead_time", stormrun::Duration(i)}});
    wait_durable(ckpt);
    const double elapsed = seconds_since(start);
    const auto raw_start = Clock::now();
    std::vector<std::uint8_t> tiny(512, 7);
    for (int i = 0; i < n; ++i)
      raw_write_fsync(dir / "tiny.bin", tiny);
    const double raw_elapsed = seconds_since(raw_start);
    std::printf("small commits: %.1f commits/s (raw 512-byte write+fsync: %.1f /s, ratio %.3f)\n",
                n / elapsed, n / raw_elapsed, raw_elapsed / elapsed);
  }
  fs::remove_all(dir);
  return 0;
}
