// The state behind a Checkpoint: resolved options, the LOCK, this rank's store, the active
// session and the registry of bound states. Heap-allocated by Checkpoint so that Session&
// and StateBinding handles keep a stable pointer to it when the Checkpoint is moved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"

namespace stormrun::detail {

class BackgroundWorker;

/// Options with the defaults filled in: absolute path, rank, world size, warning sink.
CheckpointOptions resolve_options(CheckpointOptions options);
/// The documented default store root for `name` (CheckpointOptions::path).
std::filesystem::path default_checkpoint_root(const std::string& name);

class CheckpointCore {
 public:
  /// An enabled checkpoint: validates and resolves `options`, locks and opens the store.
  explicit CheckpointCore(CheckpointOptions options);
  /// The no-op checkpoint.
  static std::unique_ptr<CheckpointCore> make_disabled();
  ~CheckpointCore();
  CheckpointCore(const CheckpointCore&) = delete;
  CheckpointCore& operator=(const CheckpointCore&) = delete;

  bool enabled() const { return store_.has_value(); }
  const CheckpointOptions& options() const { return options_; }
  const std::filesystem::path& rank_dir() const;
  /// Waits for a commit in flight (its error stays pending for write/flush/wait).
  std::vector<CatalogRow> catalog();
  void refresh();
  /// Releases the commits captured so far (gated_publish), waits for them and rethrows
  /// an error.
  void wait();
  /// Lets every captured commit be published (CheckpointOptions::gated_publish).
  void release_commits() noexcept;
  double last_commit_seconds() const { return commit_seconds_; }

  // Session activation.
  Session& select(std::int64_t position);
  Session& new_session();
  Session& open_latest();
  Session& session();
  bool has_session() const { return active_; }
  void close_session();

  // Session operations (Session forwards here).
  bool exists() {
    settle();
    return exists_;
  }
  const std::string& commit_id() {
    settle();
    return commit_id_;
  }
  const Metadata& metadata() const { return metadata_; }
  std::optional<Duration> lead_time() const;
  std::int64_t write_count() const { return write_count_; }
  const std::map<std::string, std::int64_t>& units() const { return units_; }
  bool will_flush() const;
  void write(const Metadata& metadata);
  void flush(const Metadata& metadata);
  void record_unit(const std::string& unit, std::int64_t step);

  // Bound states.
  void bind(const std::shared_ptr<BoundStateBase>& state);
  void unbind(BoundStateBase& state) noexcept;
  bool state_enabled(const BoundStateBase& state) const;

  /// Throws CheckpointError unless a session is active (`what` names the call).
  void require_session(const char* what) const;

 private:
  CheckpointCore() = default;  // disabled

  /// The verified commit of a row with its decoded metadata.
  struct LoadedRow {
    CatalogRow row;
    std::optional<VerifiedCommit> commit;
    Metadata metadata;
  };
  LoadedRow load_row(const CatalogRow& row) const;
  /// Decodes the saved state of `state` from `commit` into its staging copy after checking
  /// the schema hash (SchemaError before the record is touched).
  void stage_state(BoundStateBase& state, VerifiedCommit& commit) const;
  void activate(LoadedRow loaded);
  void deactivate();
  /// Commits the pending row (stage, encode states, manifest, RankStore::commit): here, or
  /// captured and handed to the background thread (options_.async_commits).
  void commit();
  /// The manifest of the pending row, without states and files.
  Manifest pending_manifest() const;
  /// Encodes every enabled bound state through `sink` into `manifest.states`.
  void encode_states(BlobSink& sink, Manifest& manifest) const;
  /// A commit finished: the session now names `row`.
  void committed(const CatalogRow& row, double seconds);
  /// The layout of a commit of `bytes` (options_.pack_below_bytes).
  CommitLayout layout_for(std::uint64_t bytes) const;
  /// Joins the commits in flight up to the first one not released (gated_publish): success
  /// updates the session, an error is kept in pending_error_. Never throws.
  void settle() noexcept;
  /// Applies the commits that have finished, oldest first, without waiting.
  void reap() noexcept;
  /// Before an asynchronous capture: waits for the commit in flight (gated: only for its
  /// files, whose buffers the capture reuses) and rethrows an earlier failure.
  void make_room();
  /// Closed gates become abandoned: those commits are never published (warned).
  void abandon_unreleased() noexcept;
  /// settle(), then rethrows (and clears) pending_error_.
  void rethrow_pending();
  /// Reports (on the warning sink) and clears pending_error_: where no caller can be thrown
  /// at (close_session, the destructor). `how` is added after "failed".
  void report_pending_error(const std::string& how) noexcept;
  /// Throws the error of a commit in flight that has already failed, without blocking.
  void surface_finished();
  void warn(const std::string& message) const;

  struct InFlight;
  /// Commits handed to the background thread and not applied yet, oldest first: one, or
  /// with gated_publish two (one written and waiting for its release, the next captured).
  std::vector<std::shared_ptr<InFlight>> inflight_;  // complete only in commit_pipeline.cpp
  /// The background thread of asynchronous commits, started by the first one.
  std::shared_ptr<BackgroundWorker> worker_;  // shared_ptr: complete only in commit_pipeline.cpp
  // The last asynchronous commit's capture buffers, reused by the next capture.
  std::vector<std::vector<std::byte>> spare_buffers_;
  /// Bytes of the files of this checkpoint's previous commit: a synchronous commit streams
  /// its states into the store, so its layout is chosen from the commit before it. Before
  /// the first commit the size is unknown, and taken as large (a directory): a large state
  /// never goes into a pack, a small one costs one directory commit.
  std::uint64_t last_commit_bytes_ = std::numeric_limits<std::uint64_t>::max();
  std::exception_ptr pending_error_;
  std::int64_t pending_error_write_ = 0;
  double commit_seconds_ = 0;

  CheckpointOptions options_;
  std::optional<DirLock> lock_;
  std::optional<RankStore> store_;
  std::map<std::string, BoundStateBase*> bound_;  // identity → registered state

  Session session_{this};
  bool active_ = false;
  bool exists_ = false;
  bool dirty_ = false;  // writes, metadata or units not committed yet
  std::string commit_id_;
  Metadata metadata_;
  std::int64_t write_count_ = 0;
  std::map<std::string, std::int64_t> units_;
  // The selected row while its saved states may still be delivered to late bindings:
  // each identity is delivered once, and none after this session's first commit (the
  // row may then be pruned, and later bindings belong to this run).
  std::optional<VerifiedCommit> restored_;
  std::set<std::string> undelivered_;
};

}  // namespace stormrun::detail
