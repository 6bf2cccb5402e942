// Internal parts of the durable-write helpers: hashing while writing, streaming hash of a
// file, and an atomic replace that reports its steps (for fault injection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stormrun::store_detail {

/// 16 lower-case hex digits of an XXH3-64 digest.
std::string hex64(std::uint64_t value);

/// Writes all of `bytes` to `fd`, calls `after_write`, then makes the file durable (fsync)
/// while hashing the bytes on this thread; returns their XXH3-64 (hex). One write pass and
/// one fsync, as a plain durable write, with the hash hidden behind the fsync.
std::string write_sync_hashed(int fd, std::span<const std::byte> bytes,
                              const std::filesystem::path& path,
                              const std::function<void()>& after_write);
/// The same for the concatenation of `parts`, written one after the other (no joined copy).
std::string write_sync_hashed(int fd, std::span<const std::span<const std::byte>> parts,
                              const std::filesystem::path& path,
                              const std::function<void()>& after_write);

/// XXH3-64 (hex) of everything readable from `fd`, streamed in large chunks; `bytes_read`
/// receives how many bytes it saw.
std::string hash_fd(int fd, const std::filesystem::path& path, std::uint64_t& bytes_read);

/// fsyncs every path (files or directories) side by side and waits for all: the file
/// system then commits them together (one journal commit instead of one each). StoreError
/// naming the first path that failed.
void fsync_together(const std::vector<std::filesystem::path>& paths);

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
