#include "store/durable_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <future>
#include <memory>
#include <system_error>
#include <vector>

#include "store/posix_file.hpp"
#include "stormrun/store.hpp"

namespace stormrun {

namespace fs = std::filesystem;
using store_detail::Fd;

namespace store_detail {

namespace {

// Read size of hash_fd.
constexpr std::size_t kChunk = std::size_t{4} << 20;
// Below this size the fsync is not worth a thread: hash, then fsync.
constexpr std::size_t kOverlapMin = std::size_t{1} << 20;

}  // namespace

void HashStateDeleter::operator()(XXH3_state_s* s) const {
  XXH3_freeState(s);
}

HashState new_hash_state() {
  HashState state(XXH3_createState());
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) {
    throw StoreError("cannot allocate an XXH3 hash state (out of memory)");
  }
  return state;
}

std::string hex64(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string write_sync_hashed(int fd, std::span<const std::byte> bytes, const fs::path& path,
                              const std::function<void()>& after_write, const char* label) {
  const std::span<const std::byte> parts[] = {bytes};
  return write_sync_hashed(fd, parts, path, after_write, label);
}

std::string write_sync_hashed(int fd, std::span<const std::span<const std::byte>> parts,
                              const fs::path& path, const std::function<void()>& after_write,
                              const char* label) {
  const bool skip = fsync_skipped(label);
  std::size_t total = 0;
  for (const auto part : parts) {
    write_all(fd, part, path);  // large writes, exactly as a plain write of the bytes
    total += part.size();
  }
  if (after_write) after_write();
  // The fsync waits on the disk and the hash works on the CPU, so they run side by side:
  // hashing costs nothing as long as the disk is slower than XXH3 (always, in practice).
  std::future<int> synced;
  if (total >= kOverlapMin && !skip) {
    try {
      synced = std::async(std::launch::async, [fd] { return ::fsync(fd) == 0 ? 0 : errno; });
    } catch (const std::system_error&) {
      // No thread to be had: fsync after hashing below.
    }
  }
  // One-shot for a single part; streamed over several parts (the same digest as one-shot
  // over their concatenation, by XXH3's definition).
  std::uint64_t digest = 0;
  if (parts.size() == 1) {
    digest = XXH3_64bits(parts[0].data(), parts[0].size());
  } else {
    HashState state = new_hash_state();
    for (const auto part : parts)
      XXH3_64bits_update(state.get(), part.data(), part.size());
    digest = XXH3_64bits_digest(state.get());
  }
  const int err = synced.valid() ? synced.get() : (skip || ::fsync(fd) == 0 ? 0 : errno);
  if (err != 0) throw_errno("cannot fsync", path, err);
  return hex64(digest);
}

std::string hash_fd(int fd, const fs::path& path, std::uint64_t& bytes_read) {
  HashState state = new_hash_state();
  // Sized to the file (+1 to see its end in one read), at most 4 chunks: a commit's many
  // small files (manifest, inline states) must not each clear a 16 MiB buffer.
  struct stat st {};
  const std::size_t want =
      ::fstat(fd, &st) == 0 && st.st_size >= 0 ? std::size_t(st.st_size) + 1 : 4 * kChunk;
  std::vector<std::byte> buf(std::clamp<std::size_t>(want, 4096, 4 * kChunk));
  bytes_read = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path, errno);
    }
    if (n == 0) break;
    XXH3_64bits_update(state.get(), buf.data(), static_cast<std::size_t>(n));
    bytes_read += static_cast<std::uint64_t>(n);
  }
  return hex64(XXH3_64bits_digest(state.get()));
}

void fsync_together(const std::vector<fs::path>& paths) {
  std::vector<LabeledPath> labeled;
  labeled.reserve(paths.size());
  for (const auto& p : paths)
    labeled.push_back({p, nullptr});
  fsync_together_labeled(labeled);
}

void fsync_together_labeled(const std::vector<LabeledPath>& labeled) {
  std::vector<fs::path> paths;
  for (const auto& l : labeled) {
    if (!fsync_skipped(l.label)) paths.push_back(l.path);
  }
  std::vector<Fd> fds;
  fds.reserve(paths.size());
  for (const auto& p : paths)
    fds.push_back(open_checked(p, O_RDONLY));
  std::vector<std::future<int>> pending;
  std::vector<int> errors(paths.size(), 0);
  for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
    try {
      pending.push_back(std::async(std::launch::async,
                                   [fd = fds[i].get()] { return ::fsync(fd) == 0 ? 0 : errno; }));
    } catch (const std::system_error&) {
      errors[i] = ::fsync(fds[i].get()) == 0 ? 0 : errno;  // no thread: do it here
      pending.emplace_back();
    }
  }
  if (!fds.empty()) errors.back() = ::fsync(fds.back().get()) == 0 ? 0 : errno;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].valid()) errors[i] = pending[i].get();
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (errors[i] != 0) throw_errno("cannot fsync", paths[i], errors[i]);
  }
  for (std::size_t i = 0; i < paths.size(); ++i)
    fds[i].close(paths[i]);
}

fs::path write_tmp_beside(const fs::path& path, std::string_view content) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // Unique per writer, so two processes replacing the same file never share a tmp file;
  // ".tmp_" so that RankStore's reconcile removes it when a crash leaves it behind.
  fs::path tmp = dir / (".tmp_" + path.filename().string() + "." + std::to_string(::getpid()) +
                        "." + random_hex(8));
  try {
    Fd fd = open_checked(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    write_all(fd.get(), std::as_bytes(std::span(content.data(), content.size())), tmp);
    fd.close(tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  return tmp;
}

void publish_tmp(const fs::path& tmp, const fs::path& path,
                 const std::function<void(ReplaceStep)>& after) {
  try {
    rename_checked(tmp, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (after) after(ReplaceStep::Renamed);
  fsync_dir(path.has_parent_path() ? path.parent_path() : fs::path("."));
  if (after) after(ReplaceStep::DirSynced);
}

void replace_file_durable_steps(const fs::path& path, std::string_view content,
                                const std::function<void(ReplaceStep)>& after) {
  const fs::path tmp = write_tmp_beside(path, content);
  try {
    fsync_together({tmp});
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (after) after(ReplaceStep::TmpWritten);
  publish_tmp(tmp, path, after);
}

}  // namespace store_detail

void write_file_durable(const fs::path& path, std::span<const std::byte> bytes) {
  Fd fd = store_detail::open_checked(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  store_detail::write_all(fd.get(), bytes, path);
  store_detail::fsync_checked(fd.get(), path);
  fd.close(path);
}

void replace_file_durable(const fs::path& path, std::string_view content) {
  store_detail::replace_file_durable_steps(path, content, {});
}

void fsync_dir(const fs::path& dir) {
  Fd fd = store_detail::open_checked(dir, O_RDONLY | O_DIRECTORY);
  store_detail::fsync_checked(fd.get(), dir);
  fd.close(dir);
}

std::string xxh3_hex(std::span<const std::byte> bytes) {
  return store_detail::hex64(XXH3_64bits(bytes.data(), bytes.size()));
}

}  // namespace stormrun
