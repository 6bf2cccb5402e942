#include "store/posix_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <iterator>
#include <random>
#include <system_error>

#include "store/durable_io.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/store.hpp"
#include "stormrun/value.hpp"

namespace stormrun::store_detail {

namespace fs = std::filesystem;

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

void Fd::close(const fs::path& path) {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  // Linux releases the descriptor even when close fails; never retry it.
  if (::close(fd) != 0 && errno != EINTR) throw_errno("close", path, errno);
}

void throw_errno(std::string_view what, const fs::path& path, int err) {
  throw StoreError(std::string(what) + " " + path.string() + ": " +
                   stormrun::text::errno_text(err));
}

Fd open_checked(const fs::path& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno("cannot open", path, errno);
  return Fd(fd);
}

void write_all(int fd, std::span<const std::byte> bytes, const fs::path& path) {
  const std::byte* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void fsync_checked(int fd, const fs::path& path) {
  if (::fsync(fd) != 0) throw_errno("cannot fsync", path, errno);
}

std::vector<std::byte> read_exactly(int fd, std::size_t size, const fs::path& path) {
  std::vector<std::byte> out(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, out.data() + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path, errno);
    }
    if (n == 0) {
      throw StoreError("cannot read " + path.string() + ": file shrank to " + std::to_string(done) +
                       " bytes while reading (expected " + std::to_string(size) + ")");
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

std::string read_text_file(const fs::path& path) {
  Fd fd = open_checked(path, O_RDONLY);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

void rename_checked(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    throw StoreError("cannot rename " + from.string() + " to " + to.string() + ": " +
                     stormrun::text::errno_text(err));
  }
}

bool create_directories_durable(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw StoreError(dir.string() + " exists but is not a directory; move it away");
    }
    return false;
  }
  if (errno != ENOENT) throw_errno("cannot stat", dir, errno);
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  if (!parent.empty() && parent != dir) create_directories_durable(parent);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw_errno("cannot create directory", dir, errno);
  }
  if (!store_detail::fsync_skipped(store_detail::kFsyncStoreDirs)) {
    fsync_dir(parent.empty() ? fs::path(".") : parent);
  }
  return true;
}

std::string remove_all_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  return ec ? ec.message() : std::string();
}

namespace {

std::string open_error_text(int err, bool final_component) {
  switch (err) {
    case ENOENT:
      return "missing";
    case ELOOP:
      return "is a symbolic link (not allowed inside a commit)";
    case ENOTDIR:
      return final_component ? "a parent is not a directory"
                             : "a path component is a symbolic link or not a directory";
    default:
      return std::string("cannot open: ") + stormrun::text::errno_text(err);
  }
}

int openat_retry(int dirfd, const char* name, int flags) {
  int fd;
  do {
    fd = ::openat(dirfd, name, flags | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

BeneathFile open_file_beneath(const fs::path& dir, std::string_view relpath) {
  BeneathFile out;
  Fd cur(openat_retry(AT_FDCWD, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  if (!cur.valid()) {
    out.error = errno == ENOENT ? "commit directory is missing"
                                : "commit directory: " + open_error_text(errno, false);
    return out;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = relpath.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string part(relpath.substr(start, last ? std::string_view::npos : slash - start));
    // O_NOFOLLOW on every component: a symlink anywhere is refused, so the resolved file
    // can never lie outside the commit directory. O_NONBLOCK keeps a FIFO from hanging us.
    const int flags =
        last ? (O_RDONLY | O_NOFOLLOW | O_NONBLOCK) : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    Fd next(openat_retry(cur.get(), part.c_str(), flags));
    if (!next.valid()) {
      out.error = open_error_text(errno, last);
      return out;
    }
    if (last) {
      struct stat st {};
      if (::fstat(next.get(), &st) != 0) {
        out.error = std::string("cannot stat: ") + stormrun::text::errno_text(errno);
        return out;
      }
      if (!S_ISREG(st.st_mode)) {
        out.error = "is not a regular file";
        return out;
      }
      out.size = static_cast<std::uint64_t>(st.st_size);
      out.fd = std::move(next);
      return out;
    }
    cur = std::move(next);
    start = slash + 1;
  }
}

std::string relpath_error(std::string_view relpath) {
  if (relpath.empty()) return "is empty";
  if (relpath.front() == '/') return "is absolute (must be relative to the commit directory)";
  if (relpath.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (relpath.find('\\') != std::string_view::npos) return "contains a backslash";
  if (relpath == "manifest.json") return "is reserved for the commit's manifest";
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = relpath.find('/', start);
    const std::string_view part = relpath.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) return "has an empty path component";
    if (part == "..") return "contains '..' (escapes the commit directory)";
    if (part == ".") return "contains a '.' component";
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
  }
}

std::string random_hex(std::size_t digits) {
  // One generator per thread, seeded from the OS once (a std::random_device per call was
  // about 2 % of a small commit's time in the profile) and again in a forked child, whose
  // copy of the state would otherwise repeat the parent's names.
  struct Generator {
    pid_t pid = -1;
    std::mt19937_64 engine;
  };
  thread_local Generator g;
  if (g.pid != ::getpid()) {
    std::random_device rd;
    const auto t = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    const unsigned words[] = {rd(), rd(), unsigned(::getpid()), unsigned(t), unsigned(t >> 32)};
    std::seed_seq seed(std::begin(words), std::end(words));
    g.engine.seed(seed);
    g.pid = ::getpid();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    std::uint64_t v = g.engine();
    for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4)
      out.push_back(kHex[v & 15U]);
  }
  return out;
}

std::string format_iso_micros(long long micros) {
  long long secs = micros / 1000000;
  long long frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  return format_utc_seconds(secs, frac * 1000, 6);
}

std::string utc_now_iso_micros() {
  const auto now = std::chrono::system_clock::now();
  const long long micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  return format_iso_micros(micros);
}

bool parse_iso_micros(std::string_view text, long long& micros) {
  // Exactly the form written by format_iso_micros.
  if (text.size() != 27 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[26] != 'Z') {
    return false;
  }
  auto num = [&](std::size_t pos, std::size_t len, long long& v) {
    v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    return true;
  };
  long long y, mo, d, h, mi, s, f;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, s) || !num(20, 6, f)) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(y - 1900);
  tm.tm_mon = static_cast<int>(mo - 1);
  tm.tm_mday = static_cast<int>(d);
  tm.tm_hour = static_cast<int>(h);
  tm.tm_min = static_cast<int>(mi);
  tm.tm_sec = static_cast<int>(s);
  const std::time_t t = ::timegm(&tm);
  micros = static_cast<long long>(t) * 1000000 + f;
  return true;
}

}  // namespace stormrun::store_detail
