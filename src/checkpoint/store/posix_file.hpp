// Thin, checked wrappers over the POSIX file calls the store needs. Every failure becomes a
// StoreError naming the call, the path and strerror, so callers never test errno themselves.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stormrun::store_detail {

/// Owns one file descriptor; closes it on destruction (errors ignored there: use close()).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  /// Closes and checks the result (a failed close can report a lost write on NFS).
  void close(const std::filesystem::path& path);

 private:
  int fd_ = -1;
};

/// Throws StoreError "<what> <path>: <strerror(err)>".
[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path, int err);

Fd open_checked(const std::filesystem::path& path, int flags, mode_t mode = 0644);
void write_all(int fd, std::span<const std::byte> bytes, const std::filesystem::path& path);
void fsync_checked(int fd, const std::filesystem::path& path);
/// Reads exactly `size` bytes (the caller has fstat'ed the file).
std::vector<std::byte> read_exactly(int fd, std::size_t size, const std::filesystem::path& path);
/// Reads a whole (small) file; StoreError when it cannot be opened or read.
std::string read_text_file(const std::filesystem::path& path);
/// rename(2), checked.
void rename_checked(const std::filesystem::path& from, const std::filesystem::path& to);
/// Creates `dir` when missing (parents too) and fsyncs the parent of every directory it
/// created, so that a new directory survives a crash; true when it created something.
bool create_directories_durable(const std::filesystem::path& dir);
/// Removes a file or directory tree; returns the error text instead of throwing.
std::string remove_all_quietly(const std::filesystem::path& path);

/// Result of opening a file of a commit without following symlinks.
struct BeneathFile {
  Fd fd;
  std::uint64_t size = 0;
  std::string error;  ///< empty on success, else why it cannot be used
};

/// Opens `relpath` (already validated by relpath_error) for reading strictly inside `dir`:
/// no component may be a symlink (also `dir` itself) and the target must be a regular
/// file. Never throws for a bad file; reports it in `error`.
BeneathFile open_file_beneath(const std::filesystem::path& dir, std::string_view relpath);

/// Why `relpath` is not a safe relative path inside a commit dir ("" when it is): empty,
/// absolute, a "." / ".." / empty component, a backslash or NUL, or the reserved
/// "manifest.json".
std::string relpath_error(std::string_view relpath);

/// Random lower-case hex digits from the OS entropy source (commit ids, tmp names).
std::string random_hex(std::size_t digits);

/// Current UTC time as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (sorts lexicographically).
std::string utc_now_iso_micros();
/// Microseconds since the epoch of a utc_now_iso_micros() string; false when malformed.
bool parse_iso_micros(std::string_view text, long long& micros);
std::string format_iso_micros(long long micros);

}  // namespace stormrun::store_detail
