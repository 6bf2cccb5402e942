// Throughput of a store commit against a raw write + fsync of the same bytes (the issue's
// goal: a 256 MiB commit reaches >= 0.90 of raw). Not a test: run it by hand,
//   bench_store_commit [DIR] [MiB] [repeats]
// DIR should be on the file system the checkpoints will use (default: $TMPDIR or /tmp).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "stormrun/store.hpp"

namespace fs = std::filesystem;
using namespace stormrun;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A new file per repeat; the previous one is deleted after the timing, as retention deletes
// the previous commit after the new one is durable. Both sides thus write into memory that
// a deletion has just freed, which matters on VMs where fresh guest pages are slow to
// touch the first time.
double raw_write_fsync(const fs::path& dir, int repeat, const std::vector<std::byte>& bytes) {
  const fs::path path = dir / ("raw_" + std::to_string(repeat) + ".bin");
  const auto t0 = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path.string());
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) throw std::runtime_error("write " + path.string());
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw std::runtime_error("fsync " + path.string());
  const double seconds = seconds_since(t0);
  fs::remove(dir / ("raw_" + std::to_string(repeat - 1) + ".bin"));
  return seconds;
}

double store_commit(RankStore& store, std::int64_t write_count,
                    const std::vector<std::byte>& bytes) {
  const auto t0 = Clock::now();
  StagedCommit staged = store.stage(write_count);
  staged.put("states/bench.State/h.npy", bytes);
  Manifest m;
  m.name = "bench";
  m.write_count = write_count;
  store.commit(std::move(staged), std::move(m), {CheckpointMode::Overwrite, 0});
  const double seconds = seconds_since(t0);
  store.refresh();  // waits for the background removal of the previous commit
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path base = argc > 1 ? fs::path(argv[1]) : fs::path(tmp && *tmp ? tmp : "/tmp");
  const std::size_t mib = argc > 2 ? std::stoul(argv[2]) : 256;
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 5;
  const fs::path dir = base / ("stormrun_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);

  std::vector<std::byte> bytes(mib << 20);
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;  // incompressible, non-zero content
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    for (std::size_t j = 0; j < 8 && i + j < bytes.size(); ++j)
      bytes[i + j] = std::byte(x >> (8 * j));
  }

  std::vector<double> raw;
  std::vector<double> commit;
  {
    RankStore store(dir / "store", 0, stderr_warnings(0));
    for (int i = 1; i <= repeats; ++i) {  // interleaved, alternating which goes first
      if (i % 2 == 0) raw.push_back(raw_write_fsync(dir, i, bytes));
      commit.push_back(store_commit(store, i, bytes));
      if (i % 2 == 1) raw.push_back(raw_write_fsync(dir, i, bytes));
    }
  }  // waits for the removal of the commits retention dropped
  std::sort(raw.begin(), raw.end());
  std::sort(commit.begin(), commit.end());
  const double gib = static_cast<double>(bytes.size()) / (1024.0 * 1024.0 * 1024.0);
  const double raw_med = raw[raw.size() / 2];
  const double commit_med = commit[commit.size() / 2];
  std::printf("%zu MiB x %d in %s\n", mib, repeats, dir.c_str());
  std::printf("raw write+fsync : median %.3f s  %.2f GiB/s\n", raw_med, gib / raw_med);
  std::printf("store commit    : median %.3f s  %.2f GiB/s\n", commit_med, gib / commit_med);
  std::printf("commit / raw throughput: %.3f (goal >= 0.90)\n", raw_med / commit_med);
  fs::remove_all(dir);
  return 0;
}
