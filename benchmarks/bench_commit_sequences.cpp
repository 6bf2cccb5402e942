// What the commit's file layout costs, before any stormrun code: four ways to make a small
// commit durable, each against a raw create + write + fsync of the same bytes, alternated in
// the same run (P3 of issue 12: small durable commits >= 0.5 of raw). Plain POSIX calls
// only, so the figures show the ceiling of each layout on this file system:
//   dir-sequential  the format-2 commit directory (DESIGN.md §3, docs/checkpoint-format.md):
//                   mkdir states/<state>, 5 files (3 arrays, the state's JSON, the
//                   manifest), each fsynced in turn, then the 3 directories, rename into
//                   place, fsync the parent: 9 fsyncs one after another;
//   dir-concurrent  the same files, their 8 fsyncs issued at once by a pool of threads (one
//                   journal commit where the file system batches them), rename, fsync the
//                   parent: 2 rounds;
//   pack            one file holding all the bytes: write to a .tmp name, fsync, rename,
//                   fsync the parent: 2 fsyncs, the ordering the format relies on;
//   pack-concurrent one file written under its final name, its fsync and the parent's at
//                   once: 1 round (safe only when a reader detects a torn file by checksum).
// usage: bench_commit_sequences [DIR] [--bytes N] [--repeats R]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

int open_or_fail(const fs::path& path, int flags, mode_t mode = 0644) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) fail("open", path);
  return fd;
}

void write_all(int fd, const std::vector<char>& bytes, const fs::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) fail("write", path);
    done += static_cast<std::size_t>(n);
  }
}

void fsync_or_fail(int fd, const fs::path& path) {
  if (::fsync(fd) != 0) fail("fsync", path);
}

void fsync_dir(const fs::path& dir) {
  const int fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
  fsync_or_fail(fd, dir);
  ::close(fd);
}

/// Threads that fsync a batch of descriptors at once; run() returns when all are done.
class FsyncPool {
 public:
  explicit FsyncPool(std::size_t threads) {
    for (std::size_t k = 0; k < threads; ++k)
      workers_.emplace_back([this] { work(); });
  }
  FsyncPool(const FsyncPool&) = delete;
  FsyncPool& operator=(const FsyncPool&) = delete;
  ~FsyncPool() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_)
      worker.join();
  }
  void run(const std::vector<int>& fds) {
    std::unique_lock lock(mutex_);
    queue_ = fds;
    next_ = 0;
    pending_ = fds.size();
    failed_ = false;
    wake_.notify_all();
    done_.wait(lock, [this] { return pending_ == 0; });
    if (failed_) throw std::runtime_error("fsync failed in the pool");
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || next_ < queue_.size(); });
      if (stop_) return;
      const int fd = queue_[next_++];
      lock.unlock();
      const bool ok = ::fsync(fd) == 0;
      lock.lock();
      failed_ = failed_ || !ok;
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<int> queue_;
  std::size_t next_ = 0, pending_ = 0;
  bool failed_ = false, stop_ = false;
};

double raw(const fs::path& dir, int i, const std::vector<char>& bytes) {
  const fs::path path = dir / ("raw_" + std::to_string(i));
  const auto start = Clock::now();
  const int fd = open_or_fail(path, O_WRONLY | O_CREAT | O_TRUNC);
  write_all(fd, bytes, path);
  fsync_or_fail(fd, path);
  ::close(fd);
  const double elapsed = seconds_since(start);
  fs::remove(path);
  return elapsed;
}

enum class Layout { DirSequential, DirConcurrent, Pack, PackConcurrent };

const char* name(Layout layout) {
  switch (layout) {
    case Layout::DirSequential:
      return "dir-sequential";
    case Layout::DirConcurrent:
      return "dir-concurrent";
    case Layout::Pack:
      return "pack";
    case Layout::PackConcurrent:
      return "pack-concurrent";
  }
  return "?";
}

/// One commit of `bytes` in all (split over the directory layout's 5 files, or one file).
double commit(const fs::path& dir, int i, Layout layout, const std::vector<char>& bytes,
              FsyncPool& pool) {
  const std::string id = "commit_" + std::to_string(i);
  const fs::path final_path = dir / id;
  const auto start = Clock::now();
  if (layout == Layout::Pack || layout == Layout::PackConcurrent) {
    const bool concurrent = layout == Layout::PackConcurrent;
    const fs::path path = concurrent ? final_path : dir / (".tmp_" + id);
    const int fd = open_or_fail(path, O_WRONLY | O_CREAT | O_EXCL);
    write_all(fd, bytes, path);
    if (concurrent) {
      const int dfd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
      pool.run({fd, dfd});
      ::close(dfd);
    } else {
      fsync_or_fail(fd, path);
      if (::rename(path.c_str(), final_path.c_str()) != 0) fail("rename", path);
      fsync_dir(dir);
    }
    ::close(fd);
  } else {
    const fs::path staging = dir / (".tmp_" + id);
    fs::create_directories(staging / "states" / "state");
    const char* names[] = {"states/state/h.npy", "states/state/u.npy", "states/state/v.npy",
                           "states/state.json", "manifest.json"};
    const std::vector<char> part(bytes.begin(), bytes.begin() + bytes.size() / 5);
    std::vector<int> fds;
    for (const char* file : names) {
      const fs::path path = staging / file;
      fds.push_back(open_or_fail(path, O_WRONLY | O_CREAT | O_EXCL));
      write_all(fds.back(), part, path);
      if (layout == Layout::DirSequential) fsync_or_fail(fds.back(), path);
    }
    for (const fs::path& sub : {staging / "states" / "state", staging / "states", staging})
      fds.push_back(open_or_fail(sub, O_RDONLY | O_DIRECTORY));
    if (layout == Layout::DirSequential)
      for (std::size_t k = 5; k < fds.size(); ++k)
        fsync_or_fail(fds[k], staging);
    else
      pool.run(fds);
    if (::rename(staging.c_str(), final_path.c_str()) != 0) fail("rename", staging);
    fsync_dir(dir);
    for (const int fd : fds)
      ::close(fd);
  }
  const double elapsed = seconds_since(start);
  fs::remove_all(final_path);
  return elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  fs::path dir = fs::temp_directory_path() / ("stormrun-seq-" + std::to_string(::getpid()));
  std::size_t size = 1024;
  int repeats = 60;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--bytes" && i + 1 < argc)
      size = std::stoul(argv[++i]);
    else if (arg == "--repeats" && i + 1 < argc)
      repeats = std::stoi(argv[++i]);
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: bench_commit_sequences [DIR] [--bytes N] [--repeats R]\n");
      return 0;
    } else
      dir = arg;
  }
  if (size < 5 || repeats < 1) throw std::runtime_error("--bytes must be >= 5, --repeats >= 1");
  fs::create_directories(dir);
  std::vector<char> bytes(size);
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<char>(i * 2654435761u >> 13);
  FsyncPool pool(8);
  std::printf("small commit layouts vs raw create+write+fsync of %zu bytes, in %s (median of %d)\n",
              size, dir.c_str(), repeats);
  std::printf("%16s %10s %10s %8s\n", "layout", "raw ms", "commit ms", "ratio");
  for (const Layout layout :
       {Layout::DirSequential, Layout::DirConcurrent, Layout::Pack, Layout::PackConcurrent}) {
    std::vector<double> raws, commits;
    for (int i = 0; i < repeats; ++i) {
      raws.push_back(raw(dir, i, bytes));
      commits.push_back(commit(dir, i, layout, bytes, pool));
    }
    const double r = median(raws), c = median(commits);
    std::printf("%16s %10.3f %10.3f %8.3f\n", name(layout), 1e3 * r, 1e3 * c, r / c);
  }
  fs::remove_all(dir);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_commit_sequences: error: %s\n", e.what());
  return 1;
}
