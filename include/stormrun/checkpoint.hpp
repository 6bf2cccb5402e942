// The checkpoint API: a named catalog of restart points (rows) of one run, sessions that
// write and flush them, and typed component state bound to them. See
// docs/checkpoint-api.md for examples. Every call here is local to the calling rank (no
// MPI communication); each rank writes its own directory ROOT/rank_NNNNNN.
//
//   stormrun::Checkpoint ckpt({.name = "forecast", .path = "/scratch/ckpt"});
//   auto noise = ckpt.bind(GaussianState{.seed = 7}, /*min_level=*/1);
//   stormrun::SessionScope scope(ckpt);            // newest row if any, else a new one
//   for (int step = scope->write_count(); step < n; ++step) {
//     ...                                          // advance, write output
//     scope->write({{"lead_time", step * dt}});    // commits every flush_interval writes
//   }
//   scope->flush();
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>

#include "stormrun/state.hpp"
#include "stormrun/store.hpp"
#include "stormrun/value.hpp"

namespace stormrun {

namespace detail {
class CheckpointCore;  // src/checkpoint/session/checkpoint_core.hpp
class BoundStateBase;  // bits/checkpoint_impl.hpp
template <CheckpointState T>
class BoundState;
}  // namespace detail

/// Invalid options, bad positions, state collisions; the message names the option/value.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointOptions {
  /// Run name, [A-Za-z0-9._-]+; recorded in every manifest.
  std::string name{};
  /// Store root. Empty: $STORMRUN_CHECKPOINT_ROOT/<name>, else
  /// ${XDG_CACHE_HOME:-$HOME/.cache}/stormrun/checkpoints/<name>.
  std::filesystem::path path{};
  CheckpointMode mode = CheckpointMode::Append;
  /// Commit every N writes; std::nullopt commits only on flush(). Must be >= 1.
  std::optional<std::int64_t> flush_interval = 1;
  /// Rows kept per label set in append mode (0 = unlimited). Ignored in overwrite mode.
  int history_size = 3;
  /// 0: progress and metadata only; 1: + state to restart a work unit (e.g. RNG keys);
  /// 2: + full state to resume inside a rollout (e.g. model fields).
  int level = 2;
  /// Default: detect_rank() (MPI, then the launcher's environment).
  std::optional<int> rank{};
  std::optional<int> world_size{};
  /// Where restored arrays are staged: "cpu" or "cuda" / "cuda:N".
  std::string staging_device = "cpu";
  /// Labels of the rows this checkpoint writes; retention and select are per label set.
  Labels labels{};
  /// Warning sink; default stderr_warnings(rank).
  WarningSink warn{};
  /// Whether skipping a damaged newest row is reported on `warn`. A caller that has
  /// reported every damaged commit already (the run driver's coordinator does, once per
  /// job, for every rank dir) turns it off so that no warning prints twice.
  bool report_skipped_rows = true;
  /// Asynchronous commits: a write() that commits captures the bound states (one copy of
  /// their bytes) and returns; the commit itself (files, checksums, fsyncs, rename, catalog,
  /// retention) runs on a background thread while the caller goes on. At most one commit is
  /// in flight: the next committing write(), flush(), catalog reads, select() and
  /// close_session() wait for it first. Its error is thrown, with the original message,
  /// from the next write(), flush() or wait(); close_session() and the destructor report
  /// it on `warn`. flush() and wait() return only when the commit is durable. false: every
  /// commit happens inside the call that triggers it (and nothing is copied).
  bool async_commits = true;
  /// With async_commits: a captured commit is written and its files made durable on the
  /// background thread, but it is published (manifest, rename into commits/, catalog) only
  /// after Checkpoint::release_commits() — for a caller whose commits claim something that
  /// becomes durable elsewhere, later (the run driver: its output through the commit's
  /// step, once every rank has agreed that its fsync of the output succeeded). The next
  /// committing write() waits only until the waiting commit's files are written (it reuses
  /// their buffers), and its commit runs after that one's publication. flush() and wait()
  /// release every captured commit themselves; close_session() and the destructor abandon
  /// one never released (its staging is removed; warned on `warn`). A commit still waiting
  /// when the next one commits must be the newest: a CheckpointError otherwise.
  bool gated_publish = false;
  /// A commit whose files hold fewer bytes than this is written as one pack file (checkpoint
  /// format 3, docs/checkpoint-format.md "Pack commits": two fsyncs, where a directory costs
  /// one per file and directory); a larger one as a directory of files. 0: never pack. An
  /// asynchronous commit knows its size when it is captured; a synchronous one writes while
  /// it encodes, so it goes by the size of this checkpoint's previous commit.
  std::uint64_t pack_below_bytes = kDefaultPackBelowBytes;

  /// CheckpointError naming the first invalid option and its value.
  void validate() const;
};

class Checkpoint;

/// One catalog row: an existing committed row (selected) or a new pending one.
class Session {
 public:
  /// True when this row is committed in the catalog (waits for a commit in flight).
  bool exists() const;
  /// The row's commit id; empty for a new row that has not been committed yet (waits for
  /// a commit in flight).
  const std::string& commit_id() const;
  /// Metadata of the row, merged with what pending writes added.
  const Metadata& metadata() const;
  /// metadata()["lead_time"] when it holds a Duration.
  std::optional<Duration> lead_time() const;
  /// Number of write() calls recorded in this row (restored from the selected row).
  std::int64_t write_count() const;
  /// Completed step per work unit recorded with this row.
  const std::map<std::string, std::int64_t>& units() const;
  /// Whether the next write() will commit.
  bool will_flush() const;

  /// Marks a safe restart boundary: write_count += 1, merges `metadata` into the pending
  /// row, commits when write_count % flush_interval == 0 (asynchronously by default, see
  /// CheckpointOptions::async_commits). If that commit throws — or the asynchronous commit
  /// before it failed, whose error is rethrown here — the write count, metadata and units of
  /// this write are rolled back and the error is rethrown.
  void write(const Metadata& metadata = {});
  /// Commits the pending row now and returns when it is durable. With nothing pending and
  /// `metadata` empty it only waits for a commit in flight (rethrowing its error).
  void flush(const Metadata& metadata = {});
  /// Records that `unit` completed `step` (committed with the next commit).
  void record_unit(const std::string& unit, std::int64_t step);

 private:
  friend class detail::CheckpointCore;
  // The session's data lives in the checkpoint's heap-allocated core, so that a Session&
  // stays valid when the Checkpoint object itself is moved.
  explicit Session(detail::CheckpointCore* core) : core_(core) {}
  detail::CheckpointCore* core_;
};

/// Handle to a component's bound state. Move-only; unbinds on destruction. The record is
/// owned by the checkpoint and read/written through the handle; when the active session
/// restores a row holding this state, the record is filled from it.
template <CheckpointState T>
class StateBinding {
 public:
  StateBinding(StateBinding&& other) noexcept;
  StateBinding& operator=(StateBinding&& other) noexcept;
  StateBinding(const StateBinding&) = delete;
  StateBinding& operator=(const StateBinding&) = delete;
  ~StateBinding();

  T& operator*();
  T* operator->();
  const T& operator*() const;
  const T* operator->() const;

  // Read-only checkpoint properties.
  bool enabled() const;  ///< false on a disabled checkpoint or below min_level
  int level() const;     ///< the checkpoint's level
  bool loaded() const;   ///< filled from the selected row
  const Metadata& metadata() const;
  std::optional<Duration> lead_time() const;
  const std::string& staging_device() const;
  std::int64_t write_count() const;
  bool will_flush() const;

 private:
  friend class Checkpoint;
  explicit StateBinding(std::shared_ptr<detail::BoundState<T>> state) : state_(std::move(state)) {}
  detail::BoundState<T>& state() const;  // CheckpointError on a moved-from handle
  void release() noexcept;
  // Shared with the checkpoint's registry: the record outlives whichever of the two goes
  // first (a handle that outlives its checkpoint reads as disabled).
  std::shared_ptr<detail::BoundState<T>> state_;
};

/// A named checkpoint of this rank: its catalog, the active session and bound states.
class Checkpoint {
 public:
  /// Validates `options`, resolves rank/world size, takes the store's LOCK, opens
  /// ROOT/rank_NNNNNN and reconciles its catalog. CheckpointError / LockError / StoreError.
  explicit Checkpoint(CheckpointOptions options);
  /// A disabled checkpoint (the no-op): same interface, writes nothing, catalog empty.
  static Checkpoint disabled();
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  bool enabled() const;
  const CheckpointOptions& options() const;
  int level() const;
  const std::filesystem::path& root() const;  ///< empty when disabled
  const std::filesystem::path& rank_dir() const;

  /// This rank's rows with this checkpoint's labels, oldest first.
  std::vector<CatalogRow> catalog() const;
  /// Re-reads the catalog from disk.
  void refresh();

  /// Activates the row at `position` in catalog() (negative counts from the end: -1 is the
  /// newest). Restores bound states from it; CheckpointError "position P out of range for
  /// N rows" otherwise. A damaged row is skipped for the newest valid older one (with a
  /// warning) when position is -1; otherwise it is an error.
  Session& select(std::int64_t position);
  /// Activates a new, empty row.
  Session& new_session();
  /// What `with checkpoint:` does: the newest valid row if any, else a new session.
  Session& open_latest();
  /// The active session; CheckpointError when none is active.
  Session& session();
  bool has_session() const;
  /// Deactivates the active session without committing (a commit in flight is waited for;
  /// its error, if any, is reported on the warning sink).
  void close_session();
  /// Waits until the asynchronous commit in flight, if any, is durable; rethrows its error
  /// (StoreError etc., with the original message). Does nothing with synchronous commits.
  void wait();
  /// CheckpointOptions::gated_publish: lets every commit captured so far be published. Does
  /// nothing otherwise.
  void release_commits();
  /// Seconds the newest finished commit took (on the background thread when asynchronous:
  /// what a synchronous commit of the same row would cost), 0 before the first.
  double last_commit_seconds() const;

  /// Binds a state record (identity StateTraits<T>::name) that is saved with each commit
  /// when level() >= min_level, and restored from the selected row. Binding before a
  /// session buffers it until one is activated; if that session restores an existing row
  /// the record is filled late, with a warning. A second binding of the same identity is
  /// a CheckpointError.
  template <CheckpointState T>
  StateBinding<T> bind(T initial = T{}, int min_level = 2);

 private:
  explicit Checkpoint(std::unique_ptr<detail::CheckpointCore> core);
  detail::CheckpointCore& core() const;  // CheckpointError on a moved-from checkpoint
  void bind_erased(const std::shared_ptr<detail::BoundStateBase>& state);
  // Heap-allocated so that sessions and bindings keep a stable pointer across moves.
  std::unique_ptr<detail::CheckpointCore> core_;
};

/// RAII scope of an active session (Python's `with checkpoint:`): activates the newest
/// valid row (or `position`), deactivates on destruction. It never commits implicitly:
/// call flush() before leaving the scope.
class SessionScope {
 public:
  explicit SessionScope(Checkpoint& checkpoint);
  SessionScope(Checkpoint& checkpoint, std::int64_t position);
  ~SessionScope();
  SessionScope(const SessionScope&) = delete;
  SessionScope& operator=(const SessionScope&) = delete;

  Session& session() { return *session_; }
  Session* operator->() { return session_; }

 private:
  Checkpoint* checkpoint_;
  Session* session_;
};

}  // namespace stormrun

#include "stormrun/bits/checkpoint_impl.hpp"
