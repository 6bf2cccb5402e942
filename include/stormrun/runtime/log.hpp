// One message format for every rank and every room (DESIGN.md §7: "the rank and host that
// saw it"):  stormrun[rank 3@node07]: warning: <message>
//            stormrun[rank 3@node07]: note: <message>
//            stormrun[rank 3@node07]: error: <message>
// Local (no MPI) and header-only: usable before MPI starts, from the checkpoint library
// (which does not link the runtime), and from any rank.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
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

/// The wall clock, seconds since 1970 (for messages and deadlines; durations use a steady
/// clock).
inline double wall_clock_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// "2026-12-02T03:12:02.1Z": a wall-clock instant (seconds since 1970) in UTC to a tenth of
/// a second, for messages.
inline std::string utc_tenths(double seconds) {
  const auto whole = static_cast<std::time_t>(std::floor(seconds));
  std::tm tm = {};
  ::gmtime_r(&whole, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                std::min(9, int((seconds - double(whole)) * 10)));
  return text;
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
