// The checkpoint store on disk (DESIGN.md §3, docs/checkpoint-format.md): per-rank
// directories of atomically committed, checksummed commits and their catalog. This is the
// format layer; the session API in checkpoint.hpp is built on it. All calls are local
// (no MPI communication).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/codec.hpp"

namespace stormrun {

/// A store operation failed; the message names the path and what to do.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Another job holds the store's LOCK; the message names host, pid and SLURM job id.
class LockError : public StoreError {
 public:
  using StoreError::StoreError;
};

enum class CheckpointMode { Overwrite, Append };
std::string to_string(CheckpointMode mode);
CheckpointMode parse_checkpoint_mode(const std::string& text);  // StoreError naming the value

/// Format version written into every manifest and catalog (docs/checkpoint-format.md,
/// "Format versions"): 2 adds each manifest's own checksum, 3 commits that are one pack
/// file (CommitLayout::Pack). Readers accept
/// kOldestCheckpointFormatVersion..kCheckpointFormatVersion and refuse anything newer.
inline constexpr int kCheckpointFormatVersion = 3;
inline constexpr int kOldestCheckpointFormatVersion = 1;
/// The first format whose commits may be packs.
inline constexpr int kPackFormatVersion = 3;

/// How a commit lies in commits/ (docs/checkpoint-format.md): a directory of files
/// (commits/<id>/manifest.json, ...), or one file commits/<id> that packs them (format 3;
/// two fsyncs a commit instead of one per file and directory: for small commits).
enum class CommitLayout { Directory, Pack };
/// The size below which a checkpoint packs its commits (CheckpointOptions::pack_below_bytes):
/// below it a commit's cost is its fsyncs; above it, its bytes (P2 of docs/performance.md).
inline constexpr std::uint64_t kDefaultPackBelowBytes = std::uint64_t{1} << 20;

struct FileRecord {
  std::uint64_t bytes = 0;
  std::string xxh3;  ///< XXH3-64 of the content, 16 lower-case hex digits
  bool operator==(const FileRecord&) const = default;
};

struct StateRecord {
  std::string path;  ///< relative to the commit directory (JSON of the state's fields)
  std::string schema_hash;
  bool operator==(const StateRecord&) const = default;
};

using Labels = std::map<std::string, std::string>;

/// manifest.json of one commit.
struct Manifest {
  int format_version = kCheckpointFormatVersion;
  std::string name;
  std::string commit_id;
  CheckpointMode mode = CheckpointMode::Append;
  int rank = 0;
  int world_size = 1;
  Labels labels;
  nlohmann::json metadata = nlohmann::json::object();  ///< encoded with encode_metadata
  std::int64_t write_count = 0;
  std::string saved_at;  ///< UTC ISO 8601, set by RankStore::commit
  std::map<std::string, StateRecord> states;
  std::map<std::string, std::int64_t> units;  ///< work unit → completed step
  std::map<std::string, FileRecord> files;    ///< every file of the commit but the manifest

  /// The manifest as written, with "checksum": the XXH3-64 (16 hex digits) of the compact
  /// JSON text (keys sorted, no spaces) of every other field.
  nlohmann::json to_json() const;
  /// Parses and validates (types, version, relative paths that stay inside the commit);
  /// StoreError naming `where` otherwise.
  static Manifest from_json(const nlohmann::json& json, const std::filesystem::path& where);
};

/// One row of a rank's catalog.json (the manifest without its file list).
struct CatalogRow {
  std::string commit_id;
  Labels labels;
  nlohmann::json metadata = nlohmann::json::object();
  std::int64_t write_count = 0;
  std::string saved_at;
  int rank = 0;
  int world_size = 1;
  std::vector<std::string> state_ids;
  std::map<std::string, std::int64_t> units;
};

/// One problem found while verifying: the file at fault and what is wrong with it.
struct Problem {
  std::filesystem::path path;
  std::string what;
};

/// Retention after a commit: overwrite keeps the newest row per label set; append keeps
/// the newest `history_size` rows per label set (0 = unlimited).
struct RetentionPolicy {
  CheckpointMode mode = CheckpointMode::Append;
  int history_size = 0;
};

/// Receives warnings (damaged rows skipped, commits re-added, stale staging removed).
using WarningSink = std::function<void(const std::string&)>;
/// Default sink: runtime::log_warning ("stormrun[rank N@HOST]: warning: ..." on stderr).
WarningSink stderr_warnings(int rank);

/// Name of a rank's directory: "rank_000012".
std::string rank_dir_name(int rank);

/// A staging directory being filled with the files of one commit. Removed on destruction
/// unless committed. Files are written, fsynced and checksummed as they are put.
class StagedCommit : public BlobSink {
 public:
  StagedCommit(StagedCommit&&) noexcept;
  StagedCommit& operator=(StagedCommit&&) noexcept;
  ~StagedCommit() override;

  const std::string& commit_id() const;
  const std::filesystem::path& dir() const;
  /// Writes `bytes` to `relpath` inside the staging dir, fsyncs it and records its size and
  /// XXH3 (StoreError when the path is absolute, contains "..", or is already used);
  /// returns relpath.
  std::string put(std::string_view relpath, std::span<const std::byte> bytes) override;
  /// put() of the concatenation of `parts`, written and hashed part by part (no joined copy).
  std::string put_parts(std::string_view relpath,
                        std::span<const std::span<const std::byte>> parts) override;
  const std::map<std::string, FileRecord>& files() const;

 private:
  friend class RankStore;
  struct Impl;
  explicit StagedCommit(std::unique_ptr<Impl> impl);
  Impl& live() const;  ///< StoreError after a move or commit
  std::unique_ptr<Impl> impl_;
};

/// A commit whose manifest parsed and whose files all matched their size and checksum when
/// it was opened; get() re-checks each file it returns.
class VerifiedCommit : public BlobSource {
 public:
  VerifiedCommit(std::filesystem::path dir, Manifest manifest);
  const Manifest& manifest() const { return manifest_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::vector<std::byte> get(std::string_view relpath) override;

 private:
  std::filesystem::path dir_;
  Manifest manifest_;
};

/// One rank's directory ROOT/rank_NNNNNN: its commits and catalog.
class RankStore {
 public:
  /// Opens (creating if needed) ROOT/rank_NNNNNN and reconciles it: reads catalog.json, or
  /// rebuilds it from the commits' manifests when missing or unparseable; re-adds complete
  /// commits the catalog does not list (never deletes them); drops rows whose commit
  /// directory is gone; removes stale .tmp_* staging dirs. Each repair is a warning.
  RankStore(std::filesystem::path root, int rank, WarningSink warn);

  const std::filesystem::path& dir() const;
  int rank() const;
  /// Rows, oldest first: by saved_at (strictly increasing within a rank dir, so this is
  /// commit order even when write_count restarts, e.g. per ensemble batch), then write_count.
  const std::vector<CatalogRow>& rows() const;
  /// Re-reads the catalog from disk (with the repairs above).
  void refresh();

  /// New staging dir "commits/.tmp_<commit_id>" for a commit at `write_count` (with
  /// CommitLayout::Pack a staging file of that name, the pack being written); commit ids are
  /// "commit_<8-digit write_count>_<12 random hex>".
  StagedCommit stage(std::int64_t write_count, CommitLayout layout = CommitLayout::Directory);
  /// Seals `staged`: fills manifest.commit_id/files/saved_at/format_version (StoreError when
  /// manifest.write_count or manifest.rank disagree with the staged commit / this store), writes
  /// manifest.json, fsyncs it and the staging dir, renames it to commits/<id>, fsyncs
  /// commits/ (the commit is durable); only then applies `retention` (old commits renamed
  /// to .tmp_delete_* in the rank dir), and replaces catalog.json (tmp + rename, no fsync: it is an
  /// index that reconcile rebuilds) with the new row added and the old ones dropped in one
  /// rename; the old dirs are removed by a background thread. On a
  /// failure before the rename, nothing visible changes and the staging dir is removed.
  /// A pack is sealed the same way with two fsyncs: the pack file (its members, the
  /// manifest last, the index and footer), then commits/ after the rename.
  /// Returns the new row.
  CatalogRow commit(StagedCommit staged, Manifest manifest, const RetentionPolicy& retention);

  /// Opens a commit, verifying the manifest and every file; StoreError listing the
  /// problems otherwise.
  VerifiedCommit open_commit(const std::string& commit_id) const;
  /// All problems of one commit (empty when it is valid).
  std::vector<Problem> verify(const std::string& commit_id) const;
  /// Removes a commit and its row (used by retention and by callers that prune).
  void remove(const std::string& commit_id);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Steps of the commit sequence, for fault-injection tests: when the environment variable
/// STORMRUN_FAULT_INJECT names a step ("files_synced", ...), the process _exit(86)s right
/// after that step.
enum class CommitStep {
  FilesWritten,       // "files_written"
  FilesSynced,        // "files_synced"
  ManifestWritten,    // "manifest_written"
  StagingSynced,      // "staging_synced"
  Renamed,            // "renamed"
  CommitsDirSynced,   // "commits_synced": the new commit is durable
  RetentionRenamed,   // "retention_renamed": old commits renamed to .tmp_delete_*
  CatalogTmpWritten,  // "catalog_tmp_written"
  CatalogRenamed,     // "catalog_renamed"
  CatalogDirSynced,   // "catalog_synced"
  RetentionDone,      // "retention_done": old dirs' removal handed to a thread
};
std::string to_string(CommitStep step);
/// Every step, in the order the commit takes them.
std::vector<CommitStep> all_commit_steps();

/// Who this process is in the job: from MPI when it is initialised, else from
/// OMPI_COMM_WORLD_RANK/SIZE, PMIX_RANK + SLURM_NTASKS, SLURM_PROCID/SLURM_NTASKS,
/// RANK/WORLD_SIZE (never a local rank alone); else rank 0 of 1.
struct RankInfo {
  int rank = 0;
  int world_size = 1;
  std::string source;  ///< where it came from ("MPI", "OMPI_COMM_WORLD_RANK", ...)
};
RankInfo detect_rank();

/// The advisory LOCK file of a store root, held by one job (all its ranks). Acquired by
/// creating ROOT/LOCK atomically with the holder's host, pid, job identity (SLURM job id +
/// restart count, else the MPI job namespace, else the pid) and time. Ranks of the same
/// job share it; another live job is refused with LockError naming the holder; a lock left
/// by a dead process on this host, or by an earlier run of the same requeued SLURM job, is
/// recovered with a warning. Released (file removed) by the process that created it.
class DirLock {
 public:
  static DirLock acquire(const std::filesystem::path& root, const WarningSink& warn);
  /// The same lock as a file `lock` (its directory must exist) guarding the file `guarded`
  /// (a run's output: `<output>.lock`, so that no other job creates, replaces or appends to
  /// an output while a run writes it). Refused with LockError naming `guarded`, the holder
  /// and what to do.
  static DirLock acquire_file(const std::filesystem::path& lock,
                              const std::filesystem::path& guarded, const WarningSink& warn);
  DirLock(DirLock&&) noexcept;
  DirLock& operator=(DirLock&&) noexcept;
  ~DirLock();
  void release();

 private:
  DirLock() = default;
  static DirLock acquire_at(const std::filesystem::path& lock,
                            const std::function<std::string(const std::string&)>& refusal,
                            const WarningSink& warn);
  std::filesystem::path path_;
  bool owner_ = false;
  std::string token_;  ///< the random token written into the LOCK this process created
};

/// Low-level durable file helpers shared by the store, the coordinator and the output.
void write_file_durable(const std::filesystem::path& path, std::span<const std::byte> bytes);
void replace_file_durable(const std::filesystem::path& path, std::string_view content);
void fsync_dir(const std::filesystem::path& dir);
std::string xxh3_hex(std::span<const std::byte> bytes);

}  // namespace stormrun
