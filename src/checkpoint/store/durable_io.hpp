// Internal parts of the durable-write helpers: hashing while writing, streaming hash of a
// file, and an atomic replace that reports its steps (for fault injection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct XXH3_state_s;  // xxhash.h's XXH3_state_t

namespace stormrun::store_detail {

struct HashStateDeleter {
  void operator()(XXH3_state_s* s) const;
};
/// A streaming XXH3-64 state, reset and ready.
using HashState = std::unique_ptr<XXH3_state_s, HashStateDeleter>;
/// StoreError when it cannot be allocated.
HashState new_hash_state();

/// 16 lower-case hex digits of an XXH3-64 digest.
std::string hex64(std::uint64_t value);

/// Writes all of `bytes` to `fd`, calls `after_write`, then makes the file durable (fsync)
/// while hashing the bytes on this thread; returns their XXH3-64 (hex). One write pass and
/// one fsync, as a plain durable write, with the hash hidden behind the fsync.
/// `label` names the fsync for the test-only STORMRUN_TEST_SKIP_FSYNC (fsync_skipped).
std::string write_sync_hashed(int fd, std::span<const std::byte> bytes,
                              const std::filesystem::path& path,
                              const std::function<void()>& after_write, const char* label);
/// The same for the concatenation of `parts`, written one after the other (no joined copy).
std::string write_sync_hashed(int fd, std::span<const std::span<const std::byte>> parts,
                              const std::filesystem::path& path,
                              const std::function<void()>& after_write, const char* label);

/// XXH3-64 (hex) of everything readable from `fd`, streamed in large chunks; `bytes_read`
/// receives how many bytes it saw.
std::string hash_fd(int fd, const std::filesystem::path& path, std::uint64_t& bytes_read);

/// fsyncs every path (files or directories) side by side and waits for all: the file
/// system then commits them together (one journal commit instead of one each). StoreError
/// naming the first path that failed.
void fsync_together(const std::vector<std::filesystem::path>& paths);

/// A path to fsync and the label of that fsync (see fsync_skipped).
struct LabeledPath {
  std::filesystem::path path;
  const char* label;
};
/// fsync_together, each fsync under its own label.
void fsync_together_labeled(const std::vector<LabeledPath>& paths);

/// The labels of the fsyncs of a commit (docs/checkpoint-format.md, "Commit order"), each
/// one needed for durability (tests/powerloss proves it for each):
inline constexpr const char* kFsyncCommitFile = "commit-file";         ///< each staged file
inline constexpr const char* kFsyncManifest = "commit-manifest";       ///< manifest.json
inline constexpr const char* kFsyncSubdirs = "commit-subdirs";         ///< staging sub-dirs
inline constexpr const char* kFsyncStaging = "commit-staging";         ///< the staging dir
inline constexpr const char* kFsyncCommitsDir = "commit-commits-dir";  ///< commits/ (the rename)
/// A pack commit (CommitLayout::Pack) has two: the pack file, then commits/.
inline constexpr const char* kFsyncPack = "commit-pack";
/// And outside a commit: a directory a store creates, fsynced into its parent (ROOT,
/// rank dir, commits/), and the content of a LOCK (or output lock) before its link.
inline constexpr const char* kFsyncStoreDirs = "store-dirs";
inline constexpr const char* kFsyncLockFile = "lock-file";
/// The run's output (OutputFile::flush_deferred: this rank's fsync of the output file
/// before the commit claiming its step is published, with asynchronous commits).
inline constexpr const char* kFsyncOutputDeferred = "output-deferred";
/// Every label above, in commit order.
const std::vector<std::string>& fsync_labels();

/// Test-only (tests/powerloss): true when STORMRUN_TEST_SKIP_FSYNC (read once) names
/// `label` (comma-separated list): that fsync is then left out, to prove that the
/// power-loss matrix fails without it. A label that names no fsync ends the process with
/// exit 2 and a message. Unset (always, outside tests): false.
bool fsync_skipped(const char* label);

/// Test-only (tests/powerloss): when STORMRUN_TEST_POWERLOSS_MARKS is set, tells the
/// power-loss shim where the store is (an access(2) of a path the shim recognises and
/// records in its log); no effect otherwise.
void powerloss_mark(const std::string& text);

enum class ReplaceStep { TmpWritten, Renamed, DirSynced };

/// The two halves of replace_file_durable, for callers that fsync the tmp file together
/// with other files: write `content` to a new unique ".tmp_<name>.<pid>.<hex>" beside
/// `path` (not fsynced yet); then rename it over `path` and fsync the directory.
std::filesystem::path write_tmp_beside(const std::filesystem::path& path, std::string_view content);
void publish_tmp(const std::filesystem::path& tmp, const std::filesystem::path& path,
                 const std::function<void(ReplaceStep)>& after);

/// replace_file_durable that calls `after(step)` after each step: write + fsync a unique
/// ".tmp_" file beside `path`, rename it over `path`, fsync the directory.
void replace_file_durable_steps(const std::filesystem::path& path, std::string_view content,
                                const std::function<void(ReplaceStep)>& after);

}  // namespace stormrun::store_detail
