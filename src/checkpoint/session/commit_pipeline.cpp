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
// With CheckpointOptions::gated_publish a captured commit is written (files fsynced) but not
// published — no manifest, rename or catalog — until release_commits() says that what it
// claims is durable elsewhere (the run's output through its step, agreed by every rank). The
// next capture then waits only until the waiting commit's files are written (it reuses their
// buffers: still one copy of the state) and queues behind it; the background thread runs
// commits in order, so the new one starts once the one before is published. A commit never
// released is abandoned (its staging removed, nothing published) when the session closes or
// the checkpoint is destroyed.
//
// The background thread is one long-lived thread per checkpoint (BackgroundWorker), started
// by the first asynchronous commit and stopped by the checkpoint's destructor.
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint_core.hpp"
#include "stormrun/bits/background_worker.hpp"

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

}  // namespace

struct CheckpointCore::InFlight {
  std::int64_t write_count = 0;
  CommitLayout layout = CommitLayout::Directory;
  Manifest manifest;
  MemoryBlobs blobs;
  RetentionPolicy retention;
  bool buffers_taken = false;  // the caller's thread only: blobs' buffers moved to the next

  // Shared with the background thread, under `mutex`.
  enum class Gate { Open, Closed, Abandoned };
  std::mutex mutex;
  std::condition_variable changed;
  Gate gate = Gate::Open;      // Closed: written, but not published until released
  bool files_written = false;  // the blobs are on disk (or the job failed): buffers free
  bool done = false;
  // Written by the background thread before `done`; read after it.
  std::optional<CatalogRow> row;
  std::exception_ptr error;
  bool abandoned = false;  // never published: the gate was abandoned
  double seconds = 0;

  /// The background thread. Notifies under the lock: once `done` is set the caller's thread
  /// may destroy the job, so the background thread touches nothing of it after this.
  void set(bool InFlight::*flag) {
    const std::lock_guard lock(mutex);
    this->*flag = true;
    changed.notify_all();
  }
  void await(bool InFlight::*flag) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return this->*flag; });
  }
  bool is(bool InFlight::*flag) {
    const std::lock_guard lock(mutex);
    return this->*flag;
  }
  /// The background thread: whether to publish (false: abandoned).
  bool pass_gate() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return gate != Gate::Closed; });
    return gate == Gate::Open;
  }
  /// Opens (or abandons) a closed gate; true if it was closed.
  bool open(Gate to) {
    {
      const std::lock_guard lock(mutex);
      if (gate != Gate::Closed) return false;
      gate = to;
    }
    changed.notify_all();
    return true;
  }
  bool closed() {
    const std::lock_guard lock(mutex);
    return gate == Gate::Closed;
  }
};

CheckpointCore::~CheckpointCore() {
  // A captured commit nobody released claims what was never shown durable: never published.
  abandon_unreleased();
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
  const RetentionPolicy retention{options_.mode, options_.history_size};
  if (!options_.async_commits) {
    rethrow_pending();  // an earlier failure is this call's error
    const auto started = std::chrono::steady_clock::now();
    StagedCommit staged = store_->stage(write_count_, layout_for(last_commit_bytes_));
    Manifest manifest = pending_manifest();
    encode_states(staged, manifest);
    last_commit_bytes_ = files_bytes(staged.files());
    committed(store_->commit(std::move(staged), std::move(manifest), retention),
              seconds_since(started));
  } else {
    make_room();
    auto job = std::make_shared<InFlight>();
    job->write_count = write_count_;
    job->manifest = pending_manifest();
    job->retention = retention;
    job->gate = options_.gated_publish ? InFlight::Gate::Closed : InFlight::Gate::Open;
    job->blobs.reuse(std::move(spare_buffers_));
    spare_buffers_.clear();
    encode_states(job->blobs, job->manifest);  // the copy: the caller may change its states now
    std::uint64_t bytes = 0;
    for (const MemoryBlobs::Blob& blob : job->blobs.blobs())
      bytes += blob.bytes.size();
    job->layout = layout_for(bytes);
    last_commit_bytes_ = bytes;
    RankStore* const store = &*store_;
    if (!worker_) worker_ = std::make_shared<BackgroundWorker>();
    // A plain pointer: inflight_ owns the job until it is done, so that the job (and an
    // exception it keeps, which the caller's thread rethrows) is destroyed on that thread.
    InFlight* const raw = job.get();
    worker_->run([job = raw, store] {
      const auto started = std::chrono::steady_clock::now();
      double at_gate = 0;  // waiting for the release is not the commit's cost
      try {
        StagedCommit staged = store->stage(job->write_count, job->layout);
        for (MemoryBlobs::Blob& blob : job->blobs.blobs()) {
          staged.put(blob.relpath, blob.bytes);
        }
        job->set(&InFlight::files_written);  // the caller may reuse the buffers now
        const auto gate = std::chrono::steady_clock::now();
        const bool publish = job->pass_gate();
        at_gate = seconds_since(gate);
        if (publish)
          job->row = store->commit(std::move(staged), std::move(job->manifest), job->retention);
        else
          job->abandoned = true;  // `staged` removes its staging dir: nothing was published
      } catch (...) {
        job->error = std::current_exception();
      }
      job->seconds = seconds_since(started) - at_gate;
      job->set(&InFlight::files_written);
      job->set(&InFlight::done);
    });
    inflight_.push_back(std::move(job));
  }
  dirty_ = false;
  // States of the selected row not yet delivered are not offered any more: retention may
  // have removed that row, and states bound from now on belong to this run.
  restored_.reset();
}

void CheckpointCore::make_room() {
  if (!options_.gated_publish) {
    rethrow_pending();  // at most one in flight; an earlier failure is this call's error
    return;
  }
  // Gated: the newest commit may still wait for its release; only its buffers are needed.
  // Every older one must have been released, or it would never finish.
  for (std::size_t i = 0; i + 1 < inflight_.size(); ++i)
    if (inflight_[i]->closed())
      throw CheckpointError("checkpoint '" + options_.name + "': the commit of write " +
                            std::to_string(inflight_[i]->write_count) +
                            " was never released (release_commits()) before write " +
                            std::to_string(write_count_) + " committed");
  if (!inflight_.empty()) {
    InFlight& newest = *inflight_.back();
    newest.await(&InFlight::files_written);
    spare_buffers_ = newest.blobs.release_buffers();
    newest.buffers_taken = true;
  }
  reap();
  if (pending_error_) std::rethrow_exception(std::exchange(pending_error_, nullptr));
}

void CheckpointCore::reap() noexcept {
  while (!inflight_.empty() && inflight_.front()->is(&InFlight::done)) {
    const std::shared_ptr<InFlight> job = std::move(inflight_.front());
    inflight_.erase(inflight_.begin());
    const bool newest = inflight_.empty();
    // Kept for the next capture: at most one copy of the states stays allocated.
    if (!job->buffers_taken) spare_buffers_ = job->blobs.release_buffers();
    if (job->error || job->abandoned) {
      // The row was not committed: what it held is pending again (the next flush commits it,
      // with whatever was written since), unless a newer capture holds it already.
      if (job->error && !pending_error_) {
        pending_error_ = job->error;
        pending_error_write_ = job->write_count;
      }
      if (newest) dirty_ = true;
      commit_seconds_ = job->seconds;
      continue;
    }
    committed(*job->row, job->seconds);
  }
}

void CheckpointCore::settle() noexcept {
  // Waits for every commit up to the first one still waiting for its release.
  for (const std::shared_ptr<InFlight>& job : inflight_) {
    if (job->closed()) break;
    job->await(&InFlight::done);
  }
  reap();
}

void CheckpointCore::release_commits() noexcept {
  for (const std::shared_ptr<InFlight>& job : inflight_)
    job->open(InFlight::Gate::Open);
}

void CheckpointCore::abandon_unreleased() noexcept {
  bool any = false;
  for (const std::shared_ptr<InFlight>& job : inflight_)
    any = job->open(InFlight::Gate::Abandoned) || any;
  if (any)
    warn("checkpoint '" + options_.name +
         "': a captured commit was never released and is not published; the newest durable "
         "row is the one before it");
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
  reap();
  if (pending_error_) std::rethrow_exception(std::exchange(pending_error_, nullptr));
}

void CheckpointCore::wait() {
  release_commits();  // the caller says what they claim is durable
  rethrow_pending();
}

}  // namespace stormrun::detail
