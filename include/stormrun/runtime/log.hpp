// One message format for every rank and every room (DESIGN.md §7: "the rank and host that
// saw it"):  stormrun[rank 3@node07]: warning: <message>
//            stormrun[rank 3@node07]: note: <message>
//            stormrun[rank 3@node07]: error: <message>
// Local (no MPI) and header-only: usable before MPI starts, from the checkpoint library
// (which does not link the runtime), and from any rank.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <iostream>
#include <string>

namespace stormrun::runtime {

/// This machine's host name (gethostname), "?" when it cannot be read. Cached.
inline const std::string& host_name() {
  static const std::string name = [] {
    char buffer[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return std::string("?");
    return std::string(buffer);
  }();
  return name;
}

/// "stormrun[rank R@HOST]" of rank `rank` on `host` (another rank's, in a report).
inline std::string rank_tag(int rank, const std::string& host) {
  return "stormrun[rank " + std::to_string(rank) + "@" + host + "]";
}

/// "stormrun[rank R@HOST]" of this process, on this host.
inline std::string rank_tag(int rank) {
  return rank_tag(rank, host_name());
}

/// Writes `text` to stderr in as few write(2) calls as the kernel allows — one for up to
/// PIPE_BUF bytes on a pipe — so that the lines of ranks sharing one stderr (mpirun, srun)
/// never interleave mid-line. Whatever C++ stream output is pending goes first.
inline void write_stderr(const std::string& text) {
  std::cerr.flush();
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr is gone: nothing else to tell
    p += n;
    left -= std::size_t(n);
  }
}

/// stderr line "stormrun[rank R@HOST]: warning: <message>", one write.
inline void log_warning(int rank, const std::string& message) {
  write_stderr(rank_tag(rank) + ": warning: " + message + "\n");
}

/// stderr line "stormrun[rank R@HOST]: note: <message>", one write: a fact the user should
/// know that is not a problem (e.g. the model runs on the CPU).
inline void log_note(int rank, const std::string& message) {
  write_stderr(rank_tag(rank) + ": note: " + message + "\n");
}

/// stderr line "stormrun[rank R@HOST]: error: <message>", one write.
inline void log_error(int rank, const std::string& message) {
  write_stderr(rank_tag(rank) + ": error: " + message + "\n");
}

}  // namespace stormrun::runtime
