/* I/O-error injection: an LD_PRELOAD shim that makes one chosen call of one kind fail with a
 * chosen errno, on the files under one root whose path contains a chosen text, in one
 * chosen rank (tests/ioerror/ioerror.py drives it; docs/checkpoint-format.md, "Injected I/O
 * errors").
 *
 *   STORMRUN_IOERR_ROOT=DIR     only paths under DIR count (absolute)
 *   STORMRUN_IOERR_MATCH=TEXT   ... and whose path contains TEXT (e.g. "/commits/", ".h5")
 *   STORMRUN_IOERR_OP=OP        write (write, pwrite, writev, pwritev), fsync (fsync,
 *                               fdatasync), rename (rename, renameat, renameat2; the source
 *                               or the target matches) or close
 *   STORMRUN_IOERR_ERRNO=E      EIO, ENOSPC or EDQUOT
 *   STORMRUN_IOERR_AT=N         the N-th matching call of this process fails (1-based), once:
 *                               the calls after it succeed again, as a disk that reported a
 *                               lost write and goes on would; 0: none fails, they are counted
 *   STORMRUN_IOERR_RANK=R       only in the process whose OMPI_COMM_WORLD_RANK (or PMIX_RANK)
 *                               is R (default: every process)
 *   STORMRUN_IOERR_COUNT=FILE   at exit, append "<rank> <matching calls> <failed>" to FILE
 *
 * A failed write, fsync, rename or close does not reach the file system at all (the data
 * of a failed write is not written; a failed close still closes the descriptor, as Linux
 * does). The file descriptor's path is read from /proc/self/fd. Only for tests.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_NONE, OP_WRITE, OP_FSYNC, OP_RENAME, OP_CLOSE };

static int g_op = OP_NONE;
static int g_errno;
static long long g_at;
static char g_root[PATH_MAX];
static size_t g_root_len;
static char g_match[PATH_MAX];
static char g_count_file[PATH_MAX];
static int g_rank = -1;
static atomic_llong g_calls;
static atomic_int g_failed;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void setup(void) {
  const char* op = getenv("STORMRUN_IOERR_OP");
  const char* root = getenv("STORMRUN_IOERR_ROOT");
  if (!op || !root || !*root) return;
  if (strcmp(op, "write") == 0)
    g_op = OP_WRITE;
  else if (strcmp(op, "fsync") == 0)
    g_op = OP_FSYNC;
  else if (strcmp(op, "rename") == 0)
    g_op = OP_RENAME;
  else if (strcmp(op, "close") == 0)
    g_op = OP_CLOSE;
  else {
    fprintf(stderr, "ioerror_shim: STORMRUN_IOERR_OP '%s' is not write, fsync, rename or close\n",
            op);
    abort();
  }
  const char* err = getenv("STORMRUN_IOERR_ERRNO");
  if (!err || strcmp(err, "EIO") == 0)
    g_errno = EIO;
  else if (strcmp(err, "ENOSPC") == 0)
    g_errno = ENOSPC;
  else if (strcmp(err, "EDQUOT") == 0)
    g_errno = EDQUOT;
  else {
    fprintf(stderr, "ioerror_shim: STORMRUN_IOERR_ERRNO '%s' is not EIO, ENOSPC or EDQUOT\n", err);
    abort();
  }
  const char* rank = getenv("STORMRUN_IOERR_RANK");
  if (rank && *rank) {
    const char* mine = getenv("OMPI_COMM_WORLD_RANK");
    if (!mine) mine = getenv("PMIX_RANK");
    if (!mine) mine = "0";  // a plain process: MPI singleton, rank 0
    if (atoi(mine) != atoi(rank)) {
      g_op = OP_NONE;
      return;
    }
    g_rank = atoi(rank);
  } else {
    const char* mine = getenv("OMPI_COMM_WORLD_RANK");
    g_rank = mine ? atoi(mine) : 0;
  }
  const char* at = getenv("STORMRUN_IOERR_AT");
  g_at = at ? atoll(at) : 0;
  snprintf(g_root, sizeof g_root, "%s", root);
  g_root_len = strlen(g_root);
  while (g_root_len > 1 && g_root[g_root_len - 1] == '/')
    g_root[--g_root_len] = '\0';
  const char* match = getenv("STORMRUN_IOERR_MATCH");
  snprintf(g_match, sizeof g_match, "%s", match ? match : "");
  const char* count = getenv("STORMRUN_IOERR_COUNT");
  snprintf(g_count_file, sizeof g_count_file, "%s", count ? count : "");
}

__attribute__((destructor)) static void report(void) {
  if (g_op == OP_NONE || !g_count_file[0]) return;
  FILE* f = fopen(g_count_file, "a");
  if (!f) return;
  fprintf(f, "%d %lld %d\n", g_rank, (long long)atomic_load(&g_calls), atomic_load(&g_failed));
  fclose(f);
}

static void* next(const char* name) {
  return dlsym(RTLD_NEXT, name);
}

static int path_matches(const char* path) {
  if (!path) return 0;
  char full[PATH_MAX * 2];
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return 0;
    snprintf(full, sizeof full, "%s/%s", cwd, path);
    path = full;
  }
  if (strncmp(path, g_root, g_root_len) != 0 || (path[g_root_len] != '/' && path[g_root_len]))
    return 0;
  return strstr(path, g_match) != NULL;
}

static int fd_matches(int fd) {
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return path_matches(target);
}

// Whether this call (of kind `op`, on a matching file) is the one that fails.
static int fails(int op, int matched) {
  pthread_once(&g_once, setup);
  if (g_op != op || !matched) return 0;
  const long long n = atomic_fetch_add(&g_calls, 1) + 1;
  if (g_at > 0 && n == g_at) {
    atomic_fetch_add(&g_failed, 1);
    return 1;
  }
  return 0;
}

static int wanted(int op) {
  pthread_once(&g_once, setup);
  return g_op == op;
}

ssize_t write(int fd, const void* buf, size_t count) {
  static ssize_t (*real)(int, const void*, size_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t))next("write");
  if (fd > 2 && wanted(OP_WRITE) && fails(OP_WRITE, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))next("pwrite");
  if (wanted(OP_WRITE) && fails(OP_WRITE, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))next("pwrite64");
  if (wanted(OP_WRITE) && fails(OP_WRITE, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  static ssize_t (*real)(int, const struct iovec*, int);
  if (!real) real = (ssize_t(*)(int, const struct iovec*, int))next("writev");
  if (fd > 2 && wanted(OP_WRITE) && fails(OP_WRITE, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  static ssize_t (*real)(int, const struct iovec*, int, off_t);
  if (!real) real = (ssize_t(*)(int, const struct iovec*, int, off_t))next("pwritev");
  if (wanted(OP_WRITE) && fails(OP_WRITE, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd, iov, iovcnt, offset);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("fsync");
  if (wanted(OP_FSYNC) && fails(OP_FSYNC, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("fdatasync");
  if (wanted(OP_FSYNC) && fails(OP_FSYNC, fd_matches(fd))) {
    errno = g_errno;
    return -1;
  }
  return real(fd);
}

int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("close");
  if (fd > 2 && wanted(OP_CLOSE) && fails(OP_CLOSE, fd_matches(fd))) {
    real(fd);  // Linux closes the descriptor even when close reports an error
    errno = g_errno;
    return -1;
  }
  return real(fd);
}

static int rename_fails(const char* from, const char* to) {
  return wanted(OP_RENAME) && fails(OP_RENAME, path_matches(from) || path_matches(to));
}

int rename(const char* from, const char* to) {
  static int (*real)(const char*, const char*);
  if (!real) real = (int (*)(const char*, const char*))next("rename");
  if (rename_fails(from, to)) {
    errno = g_errno;
    return -1;
  }
  return real(from, to);
}

// Paths relative to a directory descriptor other than the working directory.
static const char* at_path(int dirfd, const char* path, char* buf, size_t size) {
  if (!path || path[0] == '/' || dirfd == AT_FDCWD) return path;
  char link[64], dir[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
  const ssize_t n = readlink(link, dir, sizeof dir - 1);
  if (n <= 0) return path;
  dir[n] = '\0';
  snprintf(buf, size, "%s/%s", dir, path);
  return buf;
}

int renameat(int olddir, const char* from, int newdir, const char* to) {
  static int (*real)(int, const char*, int, const char*);
  if (!real) real = (int (*)(int, const char*, int, const char*))next("renameat");
  char a[PATH_MAX * 2], b[PATH_MAX * 2];
  if (wanted(OP_RENAME) &&
      rename_fails(at_path(olddir, from, a, sizeof a), at_path(newdir, to, b, sizeof b))) {
    errno = g_errno;
    return -1;
  }
  return real(olddir, from, newdir, to);
}

int renameat2(int olddir, const char* from, int newdir, const char* to, unsigned flags) {
  static int (*real)(int, const char*, int, const char*, unsigned);
  if (!real) real = (int (*)(int, const char*, int, const char*, unsigned))next("renameat2");
  char a[PATH_MAX * 2], b[PATH_MAX * 2];
  if (wanted(OP_RENAME) &&
      rename_fails(at_path(olddir, from, a, sizeof a), at_path(newdir, to, b, sizeof b))) {
    errno = g_errno;
    return -1;
  }
  return real(olddir, from, newdir, to, flags);
}
