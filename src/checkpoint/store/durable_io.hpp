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

namespace stormrun::store_detail {

/// 16 lower-case hex digits of an XXH3-64 digest.
std::string hex64(std::uint64_t value);

/// Writes all of `bytes` to `fd` and returns their XXH3-64 (hex) in one pass: each chunk is
/// hashed while it is hot in cache and then written, so the bytes are read from memory once.
std::string write_hashed(int fd, std::span<const std::byte> bytes,
                         const std::filesystem::path& path);

/// XXH3-64 (hex) of everything readable from `fd`, streamed in large chunks; `bytes_read`
/// receives how many bytes it saw.
std::string hash_fd(int fd, const std::filesystem::path& path, std::uint64_t& bytes_read);

enum class ReplaceStep { TmpWritten, Renamed, DirSynced };

/// replace_file_durable that calls `after(step)` after each step: write + fsync a unique
/// ".tmp_" file beside `path`, rename it over `path`, fsync the directory.
void replace_file_durable_steps(const std::filesystem::path& path, std::string_view content,
                                const std::function<void(ReplaceStep)>& after);

}  // namespace stormrun::store_detail
