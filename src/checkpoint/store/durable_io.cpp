#include "store/durable_io.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <vector>

#include "store/posix_file.hpp"
#include "stormrun/store.hpp"

namespace stormrun {

namespace fs = std::filesystem;
using store_detail::Fd;

namespace store_detail {

namespace {

// 1 MiB: large enough that syscall overhead vanishes, small enough that a chunk is still
// in L2 cache when write(2) copies it after the hash has touched it.
constexpr std::size_t kChunk = std::size_t{1} << 20;

struct StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};
using HashState = std::unique_ptr<XXH3_state_t, StateDeleter>;

HashState new_hash_state() {
  HashState state(XXH3_createState());
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) {
    throw StoreError("cannot allocate an XXH3 hash state (out of memory)");
  }
  return state;
}

}  // namespace

std::string hex64(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string write_hashed(int fd, std::span<const std::byte> bytes, const fs::path& path) {
  HashState state = new_hash_state();
  for (std::size_t off = 0; off < bytes.size(); off += kChunk) {
    const auto chunk = bytes.subspan(off, std::min(kChunk, bytes.size() - off));
    XXH3_64bits_update(state.get(), chunk.data(), chunk.size());
    write_all(fd, chunk, path);
  }
  return hex64(XXH3_64bits_digest(state.get()));
}

std::string hash_fd(int fd, const fs::path& path, std::uint64_t& bytes_read) {
  HashState state = new_hash_state();
  std::vector<std::byte> buf(4 * kChunk);
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

void replace_file_durable_steps(const fs::path& path, std::string_view content,
                                const std::function<void(ReplaceStep)>& after) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // Unique per writer, so two processes replacing the same file never share a tmp file;
  // ".tmp_" so that RankStore's reconcile removes it when a crash leaves it behind.
  const fs::path tmp = dir / (".tmp_" + path.filename().string() + "." +
                              std::to_string(::getpid()) + "." + random_hex(8));
  try {
    Fd fd = open_checked(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    write_all(fd.get(), std::as_bytes(std::span(content.data(), content.size())), tmp);
    fsync_checked(fd.get(), tmp);
    fd.close(tmp);
    if (after) after(ReplaceStep::TmpWritten);
    rename_checked(tmp, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (after) after(ReplaceStep::Renamed);
  fsync_dir(dir);
  if (after) after(ReplaceStep::DirSynced);
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
