// CheckpointCore's commits: synchronous (inside the write() or flush() that triggers them) or
// asynchronous (CheckpointOptions::async_commits, the default).
//
// An asynchronous commit is captured on the caller's thread — the manifest, and every bound
// state encoded into memory, which is the one copy of the state it costs — and handed to a
// background thread that does everything the synchronous commit does: stage the files
// (written, fsynced, checksummed), seal the manifest, rename into commits/, apply retention,
// replace the catalog. The caller goes on at once. At most one commit is in flight: the next
// one, flush(), wait(), catalog reads, select() and close_session() wait for it first
// (settle()). Only the background thread touches the store while a commit is in flight, and
// it touches nothing else, so waiting for it is the only synchronisation needed. Its error is
// kept (pending_error_) and rethrown, unchanged, from the next write(), flush() or wait().
//
// The background thread is one long-lived thread per checkpoint (CommitWorker), started by
// the first asynchronous commit and stopped by the checkpoint's destructor: a new thread
// per commit cost ≈ 0.1 ms of clone, signal masks and stack set-up on every small commit's
// own path (docs/performance.md, "Pack commits: what P3 reached").
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "checkpoint_core.hpp"

namespace stormrun::detail {
namespace {

std::string states_dir(const std::string& identity) {
  return "states/" + identity + "/";
}

std::string states_json(const std::string& identity) {
  return "states/" + identity + ".json";
}

std::span<const std::byte> as_bytes(const std::string& text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::uint64_t files_bytes(const std::map<std::string, FileRecord>& files) {
  std::uint64_t bytes = 0;
  for (const auto& [path, record] : files)
    bytes += record.bytes;
  return bytes;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The files of a captured commit, held in memory until the background thread writes them.
class MemoryBlobs final : public BlobSink {
 public:
  struct Blob {
    std::string relpath;
    std::vector<std::byte> bytes;
  };

  std::string put(std::string_view relpath, std::span<const std::byte> bytes) override {
    const std::span<const std::byte> parts[] = {bytes};
    return add(relpath, parts);
  }
  std::string put_parts(std::string_view relpath,
                        std::span<const std::span<const std::byte>> parts) override {
    return add(relpath, parts);
  }
  std::vector<Blob>& blobs() { return blobs_; }
  /// Buffers of an earlier commit, in blob order, to copy into: their pages are mapped
  /// already (a fresh large allocation costs a page fault per 4 KiB on first touch, more
  /// than the copy itself; measured 4 ms/MiB on the build VM).
  void reuse(std::vector<std::vector<std::byte>> buffers) { spare_ = std::move(buffers); }
  /// The blobs' buffers, emptied but with their capacity, for the next commit's reuse().
  std::vector<std::vector<std::byte>> release_buffers() {
    std::vector<std::vector<std::byte>> buffers;
    buffers.reserve(blobs_.size());
    for (Blob& blob : blobs_) {
      blob.bytes.clear();
      buffers.push_back(std::move(blob.bytes));
    }
    blobs_.clear();
    return buffers;
  }

 private:
  std::string add(std::string_view relpath, std::span<const std::span<const std::byte>> parts) {
    std::string path(relpath);
    // StagedCommit::put checks the path again when the blob is written; a second use of one
    // path is an encoder bug that must fail here, at the write() that caused it.
    if (!used_.insert(path).second)
      throw StoreError("commit capture: " + path + " is written twice in one commit");
    std::size_t size = 0;
    for (const auto& part : parts)
      size += part.size();
    Blob blob{std::move(path), {}};
    if (blobs_.size() < spare_.size()) blob.bytes = std::move(spare_[blobs_.size()]);
    blob.bytes.clear();
    blob.bytes.reserve(size);
    for (const auto& part : parts)
      blob.bytes.insert(blob.bytes.end(), part.begin(), part.end());
    blobs_.push_back(std::move(blob));
    return blobs_.back().relpath;
  }
  std::vector<Blob> blobs_;
  std::vector<std::vector<std::byte>> spare_;
  std::set<std::string> used_;
};

/// Blocks the signals a run stops on in the calling thread while it lives, so that a thread
/// started inside inherits the mask: signals keep going to the main thread, whose handlers
/// and interrupted calls the run is written around.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGQUIT, SIGALRM, SIGCONT})
      sigaddset(&set, signal);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

}  // namespace

/// The checkpoint's background thread: runs one job at a time, handed over by run() and
/// waited for by wait(). Its signals are blocked (SignalsBlocked at its start).
class CheckpointCore::CommitWorker {
 public:
  CommitWorker() {
    const SignalsBlocked blocked;
    thread_ = std::thread([this] { loop(); });
  }
  ~CommitWorker() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  CommitWorker(const CommitWorker&) = delete;
  CommitWorker& operator=(const CommitWorker&) = delete;

  /// Hands `job` to the thread; the thread must be idle (the caller waited for the last).
  void run(std::function<void()> job) {
    {
      const std::lock_guard lock(mutex_);
      job_ = std::move(job);
      busy_ = true;
    }
    wake_.notify_one();
  }
  /// Returns once the job handed over last has finished.
  void wait() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return !busy_; });
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || job_; });
      if (!job_) return;  // stopping, and nothing left to do
      const std::function<void()> job = std::exchange(job_, nullptr);
      lock.unlock();
      job();  // never throws: the job keeps its own error
      lock.lock();
      busy_ = false;
      idle_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::function<void()> job_;  // handed over, not started yet
  bool busy_ = false;          // a job is handed over and not finished
  bool stopping_ = false;
  std::thread thread_;
};

struct CheckpointCore::InFlight {
  std::int64_t write_count = 0;
  CommitLayout layout = CommitLayout::Directory;
  Manifest manifest;
  MemoryBlobs blobs;
  RetentionPolicy retention;
  // Written by the background thread only; read after CommitWorker::wait().
  std::optional<CatalogRow> row;
  std::exception_ptr error;
  double seconds = 0;
  std::atomic<bool> done{false};
};

CheckpointCore::~CheckpointCore() {
  settle();
  report_pending_error(" and was never waited for");
  // Handles that outlive the checkpoint keep their record and read as disabled.
  for (auto& [identity, state] : bound_)
    state->core_ = nullptr;
}

Manifest CheckpointCore::pending_manifest() const {
  Manifest manifest;
  manifest.name = options_.name;
  manifest.mode = options_.mode;
  manifest.rank = *options_.rank;
  manifest.world_size = *options_.world_size;
  manifest.labels = options_.labels;
  manifest.metadata = encode_metadata(metadata_);
  manifest.write_count = write_count_;
  manifest.units = units_;
  return manifest;
}

void CheckpointCore::encode_states(BlobSink& sink, Manifest& manifest) const {
  for (const auto& [identity, state] : bound_) {
    if (!state_enabled(*state)) continue;  // level gating: below min_level nothing is saved
    const nlohmann::json json = encode_value(state->save(), &sink, states_dir(identity));
    const std::string path = sink.put(states_json(identity), as_bytes(json.dump()));
    manifest.states[identity] = StateRecord{path, state->schema_hash()};
  }
}

CommitLayout CheckpointCore::layout_for(std::uint64_t bytes) const {
  return bytes < options_.pack_below_bytes ? CommitLayout::Pack : CommitLayout::Directory;
}

void CheckpointCore::committed(const CatalogRow& row, double seconds) {
  exists_ = true;
  commit_id_ = row.commit_id;
  commit_seconds_ = seconds;
}

void CheckpointCore::commit() {
  rethrow_pending();  // at most one in flight; an earlier failure is this call's error
  const RetentionPolicy retention{options_.mode, options_.history_size};
  if (!options_.async_commits) {
    const auto started = std::chrono::steady_clock::now();
    StagedCommit staged = store_->stage(write_count_, layout_for(last_commit_bytes_));
    Manifest manifest = pending_manifest();
    encode_states(staged, manifest);
    last_commit_bytes_ = files_bytes(staged.files());
    committed(store_->commit(std::move(staged), std::move(manifest), retention),
              seconds_since(started));
  } else {
    auto job = std::make_shared<InFlight>();
    job->write_count = write_count_;
    job->manifest = pending_manifest();
    job->retention = retention;
    job->blobs.reuse(std::move(spare_buffers_));
    encode_states(job->blobs, job->manifest);  // the copy: the caller may change its states now
    std::uint64_t bytes = 0;
    for (const MemoryBlobs::Blob& blob : job->blobs.blobs())
      bytes += blob.bytes.size();
    job->layout = layout_for(bytes);
    last_commit_bytes_ = bytes;
    InFlight* const raw = job.get();
    RankStore* const store = &*store_;
    if (!worker_) worker_ = std::make_shared<CommitWorker>();
    worker_->run([raw, store] {
      const auto started = std::chrono::steady_clock::now();
      try {
        StagedCommit staged = store->stage(raw->write_count, raw->layout);
        for (MemoryBlobs::Blob& blob : raw->blobs.blobs()) {
          staged.put(blob.relpath, blob.bytes);
        }
        raw->row = store->commit(std::move(staged), std::move(raw->manifest), raw->retention);
      } catch (...) {
        raw->error = std::current_exception();
      }
      raw->seconds = seconds_since(started);
      raw->done.store(true, std::memory_order_release);
    });
    inflight_ = std::move(job);
  }
  dirty_ = false;
  // States of the selected row not yet delivered are not offered any more: retention may
  // have removed that row, and states bound from now on belong to this run.
  restored_.reset();
}

void CheckpointCore::settle() noexcept {
  if (!inflight_) return;
  const std::shared_ptr<InFlight> job = std::move(inflight_);
  worker_->wait();
  // Kept for the next capture: at most one copy of the states stays allocated.
  spare_buffers_ = job->blobs.release_buffers();
  if (job->error) {
    // The row was not committed: what it held is pending again (the next flush commits it,
    // with whatever was written since).
    if (!pending_error_) {
      pending_error_ = job->error;
      pending_error_write_ = job->write_count;
    }
    dirty_ = true;
    commit_seconds_ = job->seconds;
    return;
  }
  committed(*job->row, job->seconds);
}

void CheckpointCore::rethrow_pending() {
  settle();
  if (!pending_error_) return;
  std::exception_ptr error = std::exchange(pending_error_, nullptr);
  std::rethrow_exception(error);
}

void CheckpointCore::report_pending_error(const std::string& how) noexcept {
  if (!pending_error_) return;
  try {
    std::rethrow_exception(std::exchange(pending_error_, nullptr));
  } catch (const std::exception& e) {
    warn("the asynchronous commit of write " + std::to_string(pending_error_write_) +
         " of checkpoint '" + options_.name + "' failed" + how + ": " + e.what() +
         "; the newest durable row is the one before it");
  } catch (...) {
  }
}

void CheckpointCore::surface_finished() {
  if (pending_error_ || (inflight_ && inflight_->done.load(std::memory_order_acquire)))
    rethrow_pending();
}

void CheckpointCore::wait() {
  rethrow_pending();
}

}  // namespace stormrun::detail
