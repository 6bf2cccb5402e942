/* Power-loss simulator: an LD_PRELOAD shim in the spirit of ALICE and CrashMonkey.
 *
 * Loaded into every process of a job (mpirun passes LD_PRELOAD on to its ranks), it records,
 * for the files and directories under one root (STORMRUN_PL_ROOT), every operation that
 * changes them and everything that makes them durable, into one log shared by all processes
 * (STORMRUN_PL_LOG, a directory outside the root). tests/powerloss/powerloss.py replays a
 * prefix of that log to rebuild exactly what the strictest POSIX model says a power cut at
 * that point leaves on disk:
 *
 *   - a file's content is durable as of its last fsync/fdatasync (the shim copies the file's
 *     whole content into LOG/shadow/<seq> at that instant: test data is small); a file never
 *     synced has lost its data (it is empty) or keeps the content it had when recording began;
 *   - a directory entry (create, mkdir, link, unlink, rmdir, rename) is durable only once its
 *     parent directory has been fsynced after it, a rename only once both directories have;
 *   - sync()/syncfs() make everything under the root durable.
 *
 * Identities are inode numbers; the replay gives an inode a new generation at every create
 * the log records, so a reused number is never mistaken for the file it replaced.
 *
 * The log (text, one record a line, fields separated by one space, names %-escaped):
 *   ROOT <ino>                         the root directory (written once, by the first process)
 *   I <seq> D <ino>                    a directory as recording began...
 *   E <seq> <dir ino> <name> <ino> <D|F>   ...and its entries
 *   I <seq> F <ino> <shadow>           a file as recording began, content in LOG/shadow/<shadow>
 *   C <seq> <pid> <parent ino> <name> <ino> <D|F>   created (open O_CREAT that created, mkdir)
 *   L <seq> <pid> <parent ino> <name> <ino>         hard link
 *   U <seq> <pid> <parent ino> <name>               unlink, unlinkat, rmdir, remove
 *   R <seq> <pid> <src dir ino> <src name> <dst dir ino> <dst name> <ino>   rename
 *   X <seq> <pid> <dir ino> <name> <dir ino> <name> <ino> <ino>   renameat2 RENAME_EXCHANGE
 *   S <seq> <pid> D <ino>              directory fsync
 *   S <seq> <pid> F <ino> <shadow>     file fsync/fdatasync, its content at that instant
 *   A <seq> <pid>                      sync()/syncfs(): followed by S records of everything
 *   W <seq> <pid> <op> <ino>           write, pwrite, pwritev, writev, ftruncate, O_TRUNC,
 *                                      sync_file_range (no durability of their own)
 *   M <seq> <pid> <text>               a test marker: access("/.stormrun-powerloss-mark/<text>")
 *
 * Every record takes the next sequence number under one lock (an in-process mutex plus
 * flock(2) on LOG/lock across processes), and the operation itself runs inside that lock,
 * so the log's order is the order the file system saw. STORMRUN_PL_CUT=<n>: the power cut
 * at operation n: a process about to perform operation n or later does not perform it but
 * SIGKILLs itself (and writes LOG/cut, so that the driver kills the rest of the job); the
 * log then holds exactly operations 0..n-1. close(2) is not recorded: it makes nothing
 * durable. Operations on anything outside the root pass straight through.
 *
 * Only for tests; built as a shared library on Linux (tests/powerloss/CMakeLists.txt).
 * More in docs/checkpoint-format.md, "Power-loss simulator".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MARK_PREFIX "/.stormrun-powerloss-mark/"

static char g_root[PATH_MAX];
static size_t g_root_len;
static char g_log[PATH_MAX];
static long long g_cut = -1;
static int g_enabled;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static __thread int t_inside;  // the shim's own calls pass straight through
static int g_lock_fd = -1, g_ops_fd = -1, g_seq_fd = -1;
static pid_t g_fd_pid;

typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef FILE* (*fopen_fn)(const char*, const char*);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec*, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec*, int, off_t);
typedef int (*int_fd_fn)(int);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*mkdirat_fn)(int, const char*, mode_t);
typedef int (*unlinkat_fn)(int, const char*, int);
typedef int (*renameat2_fn)(int, const char*, int, const char*, unsigned);
typedef int (*linkat_fn)(int, const char*, int, const char*, int);
typedef void (*sync_fn)(void);
typedef int (*sfr_fn)(int, off64_t, off64_t, unsigned);
typedef int (*access_fn)(const char*, int);
typedef int (*faccessat_fn)(int, const char*, int, int);

#define REAL(name, type)                                                   \
  static type real_##name##_p;                                             \
  static type real_##name(void) {                                          \
    if (!real_##name##_p) real_##name##_p = (type)dlsym(RTLD_NEXT, #name); \
    return real_##name##_p;                                                \
  }
REAL(open, open_fn)
REAL(open64, open_fn)
REAL(openat, openat_fn)
REAL(openat64, openat_fn)
REAL(fopen, fopen_fn)
REAL(fopen64, fopen_fn)
REAL(write, write_fn)
REAL(pwrite, pwrite_fn)
REAL(pwrite64, pwrite_fn)
REAL(writev, writev_fn)
REAL(pwritev, pwritev_fn)
REAL(pwritev64, pwritev_fn)
REAL(fsync, int_fd_fn)
REAL(fdatasync, int_fd_fn)
REAL(syncfs, int_fd_fn)
REAL(ftruncate, ftruncate_fn)
REAL(ftruncate64, ftruncate_fn)
REAL(mkdirat, mkdirat_fn)
REAL(unlinkat, unlinkat_fn)
REAL(renameat2, renameat2_fn)
REAL(linkat, linkat_fn)
REAL(sync, sync_fn)
REAL(sync_file_range, sfr_fn)
REAL(access, access_fn)
REAL(faccessat, faccessat_fn)

/* ---- setup -------------------------------------------------------------------------- */

__attribute__((constructor)) static void pl_init(void) {
  const char* root = getenv("STORMRUN_PL_ROOT");
  const char* log = getenv("STORMRUN_PL_LOG");
  if (!root || !*root || !log || !*log) return;
  if (!realpath(root, g_root)) {
    fprintf(stderr, "powerloss shim: STORMRUN_PL_ROOT=%s: %s\n", root, strerror(errno));
    _exit(97);
  }
  g_root_len = strlen(g_root);
  snprintf(g_log, sizeof g_log, "%s", log);
  const char* cut = getenv("STORMRUN_PL_CUT");
  if (cut && *cut) g_cut = atoll(cut);
  g_enabled = 1;
}

static void die(const char* what) {
  fprintf(stderr, "powerloss shim: %s: %s\n", what, strerror(errno));
  _exit(97);
}

static int open_log_file(const char* name, int flags) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", g_log, name);
  int fd = real_open()(path, flags | O_CLOEXEC, 0644);
  if (fd < 0) die(path);
  return fd;
}

/* ---- the log ------------------------------------------------------------------------ */

static int write_full(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = real_write()(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void emit(const char* fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof line - 1) die("log record too long");
  line[n++] = '\n';
  if (write_full(g_ops_fd, line, (size_t)n) != 0) die("cannot append to the log");
}

/* Names are written with every byte outside [A-Za-z0-9._-] as %XX. */
static const char* esc(const char* name, char* buf, size_t cap) {
  size_t j = 0;
  for (const unsigned char* p = (const unsigned char*)name; *p && j + 4 < cap; ++p) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '.' || *p == '_' || *p == '-') {
      buf[j++] = (char)*p;
    } else {
      j += (size_t)snprintf(buf + j, cap - j, "%%%02X", *p);
    }
  }
  buf[j] = '\0';
  return buf;
}

static long long g_seq;  // valid inside the lock

static void copy_to_shadow(int src_fd, long long seq, const char* tag) {
  char name[64];
  snprintf(name, sizeof name, "shadow/%lld%s", seq, tag);
  int out = open_log_file(name, O_WRONLY | O_CREAT | O_TRUNC);
  char buf[1 << 16];
  off_t off = 0;
  for (;;) {
    ssize_t r = pread(src_fd, buf, sizeof buf, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("cannot read a file to shadow");
    }
    if (r == 0) break;
    if (write_full(out, buf, (size_t)r) != 0) die("cannot write a shadow copy");
    off += r;
  }
  close(out);
}

static void walk(const char* dir, ino_t dir_ino, const char* kind);

/* The first process records the tree as it is (the "durable" starting point). */
static void record_initial(void) {
  struct stat st;
  if (stat(g_root, &st) != 0) die(g_root);
  emit("ROOT %llu", (unsigned long long)st.st_ino);
  walk(g_root, st.st_ino, "I");
}

/* kind "I": initial records; kind "A": the S records of a sync() of everything. */
static void walk(const char* dir, ino_t dir_ino, const char* kind) {
  pid_t pid = getpid();
  if (kind[0] == 'I') {
    emit("I %lld D %llu", g_seq, (unsigned long long)dir_ino);
  } else {
    emit("S %lld %d D %llu", g_seq, pid, (unsigned long long)dir_ino);
  }
  DIR* d = opendir(dir);
  if (!d) die(dir);
  struct dirent* e;
  static long long counter;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char path[PATH_MAX], n[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    int is_dir = S_ISDIR(st.st_mode);
    if (!is_dir && !S_ISREG(st.st_mode)) continue;  // links, sockets: not modelled
    if (kind[0] == 'I') {
      emit("E %lld %llu %s %llu %c", g_seq, (unsigned long long)dir_ino,
           esc(e->d_name, n, sizeof n), (unsigned long long)st.st_ino, is_dir ? 'D' : 'F');
    }
    if (is_dir) {
      walk(path, st.st_ino, kind);
    } else {
      int fd = real_open()(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) die(path);
      char tag[32];
      snprintf(tag, sizeof tag, ".%s%lld", kind, ++counter);
      copy_to_shadow(fd, g_seq, tag);
      close(fd);
      if (kind[0] == 'I') {
        emit("I %lld F %llu %lld%s", g_seq, (unsigned long long)st.st_ino, g_seq, tag);
      } else {
        emit("S %lld %d F %llu %lld%s", g_seq, pid, (unsigned long long)st.st_ino, g_seq, tag);
      }
    }
  }
  closedir(d);
}

/* Takes the lock and the next sequence number; at the cut, dies instead. */
static void begin(void) {
  pthread_mutex_lock(&g_mutex);
  if (g_fd_pid != getpid()) {  // first use in this process (or a forked child)
    if (g_lock_fd >= 0) close(g_lock_fd);
    if (g_ops_fd >= 0) close(g_ops_fd);
    if (g_seq_fd >= 0) close(g_seq_fd);
    g_lock_fd = open_log_file("lock", O_RDWR | O_CREAT);
    g_ops_fd = open_log_file("ops", O_WRONLY | O_CREAT | O_APPEND);
    g_seq_fd = open_log_file("seq", O_RDWR | O_CREAT);
    g_fd_pid = getpid();
  }
  while (flock(g_lock_fd, LOCK_EX) != 0) {
    if (errno != EINTR) die("flock");
  }
  long long seq = 0;
  ssize_t r = pread(g_seq_fd, &seq, sizeof seq, 0);
  if (r == 0) {  // the very first record of the job
    g_seq = 0;
    record_initial();
    seq = 0;
  } else if (r != (ssize_t)sizeof seq) {
    die("cannot read LOG/seq");
  }
  g_seq = seq;
  if (g_cut >= 0 && seq >= g_cut) {
    int fd = open_log_file("cut", O_WRONLY | O_CREAT);
    close(fd);
    flock(g_lock_fd, LOCK_UN);
    kill(getpid(), SIGKILL);
    for (;;)
      pause();
  }
}

static void end(void) {
  long long next = g_seq + 1;
  if (pwrite(g_seq_fd, &next, sizeof next, 0) != (ssize_t)sizeof next) die("cannot write LOG/seq");
  flock(g_lock_fd, LOCK_UN);
  pthread_mutex_unlock(&g_mutex);
}

/* ---- paths -------------------------------------------------------------------------- */

static int under_root(const char* abs) {
  return g_root_len > 0 && strncmp(abs, g_root, g_root_len) == 0 &&
         (abs[g_root_len] == '/' || abs[g_root_len] == '\0');
}

static int fd_path(int fd, char* out) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, PATH_MAX - 1);
  if (n < 0) return -1;
  out[n] = '\0';
  return 0;
}

static int fd_under_root(int fd) {
  if (!g_enabled || t_inside) return 0;
  char p[PATH_MAX];
  return fd_path(fd, p) == 0 && under_root(p);
}

/* The entry (dirfd, path) as its parent's canonical path and its own name; 1 if under the
 * root. The parent must exist. */
typedef struct {
  char parent[PATH_MAX];
  char name[NAME_MAX + 1];
  char full[PATH_MAX];
} Entry;

static int resolve(int dirfd, const char* path, Entry* e) {
  e->full[0] = e->parent[0] = e->name[0] = '\0';
  if (!g_enabled || t_inside || !path) return 0;
  char joined[PATH_MAX];
  if (path[0] == '/') {
    snprintf(joined, sizeof joined, "%s", path);
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) return 0;
    } else if (fd_path(dirfd, base) != 0) {
      return 0;
    }
    snprintf(joined, sizeof joined, "%s/%s", base, path);
  }
  size_t len = strlen(joined);
  while (len > 1 && joined[len - 1] == '/')
    joined[--len] = '\0';
  char* slash = strrchr(joined, '/');
  if (!slash) return 0;
  const char* name = slash + 1;
  if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
  snprintf(e->name, sizeof e->name, "%s", name);
  if (slash == joined) {
    snprintf(e->parent, sizeof e->parent, "/");
  } else {
    *slash = '\0';
    if (!realpath(joined, e->parent)) return 0;
  }
  snprintf(e->full, sizeof e->full, "%s/%s", strcmp(e->parent, "/") ? e->parent : "", e->name);
  return under_root(e->full) && strcmp(e->full, g_root) != 0;
}

static unsigned long long ino_of(const char* path, int* is_dir) {
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  if (is_dir) *is_dir = S_ISDIR(st.st_mode);
  return (unsigned long long)st.st_ino;
}

/* ---- recorded operations ------------------------------------------------------------ */

static void log_write(int fd, const char* op) {
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  emit("W %lld %d %s %llu", g_seq, getpid(), op, (unsigned long long)st.st_ino);
}

#define WRITE_OP(call, fd, op)           \
  do {                                   \
    if (!fd_under_root(fd)) return call; \
    begin();                             \
    t_inside = 1;                        \
    __typeof__(call) r_ = call;          \
    int e_ = errno;                      \
    log_write(fd, op);                   \
    t_inside = 0;                        \
    end();                               \
    errno = e_;                          \
    return r_;                           \
  } while (0)

ssize_t write(int fd, const void* b, size_t n) {
  WRITE_OP(real_write()(fd, b, n), fd, "write");
}
ssize_t pwrite(int fd, const void* b, size_t n, off_t o) {
  WRITE_OP(real_pwrite()(fd, b, n, o), fd, "pwrite");
}
ssize_t pwrite64(int fd, const void* b, size_t n, off_t o) {
  WRITE_OP(real_pwrite64()(fd, b, n, o), fd, "pwrite");
}
ssize_t writev(int fd, const struct iovec* v, int c) {
  WRITE_OP(real_writev()(fd, v, c), fd, "writev");
}
ssize_t pwritev(int fd, const struct iovec* v, int c, off_t o) {
  WRITE_OP(real_pwritev()(fd, v, c, o), fd, "pwritev");
}
ssize_t pwritev64(int fd, const struct iovec* v, int c, off_t o) {
  WRITE_OP(real_pwritev64()(fd, v, c, o), fd, "pwritev");
}
int ftruncate(int fd, off_t len) {
  WRITE_OP(real_ftruncate()(fd, len), fd, "ftruncate");
}
int ftruncate64(int fd, off_t len) {
  WRITE_OP(real_ftruncate64()(fd, len), fd, "ftruncate");
}
int sync_file_range(int fd, off64_t o, off64_t n, unsigned f) {
  WRITE_OP(real_sync_file_range()(fd, o, n, f), fd, "sync_file_range");
}

static int do_fsync(int fd, int_fd_fn real) {
  if (!fd_under_root(fd)) return real(fd);
  begin();
  t_inside = 1;
  int r = real(fd);
  int e = errno;
  struct stat st;
  if (r == 0 && fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      emit("S %lld %d D %llu", g_seq, getpid(), (unsigned long long)st.st_ino);
    } else if (S_ISREG(st.st_mode)) {
      char self[64];
      snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
      int rfd = real_open()(self, O_RDONLY | O_CLOEXEC);  // fd itself may be write-only
      if (rfd < 0) die("cannot reopen a synced file");
      copy_to_shadow(rfd, g_seq, "");
      close(rfd);
      emit("S %lld %d F %llu %lld", g_seq, getpid(), (unsigned long long)st.st_ino, g_seq);
    }
  }
  t_inside = 0;
  end();
  errno = e;
  return r;
}

int fsync(int fd) {
  return do_fsync(fd, real_fsync());
}
int fdatasync(int fd) {
  return do_fsync(fd, real_fdatasync());
}

static void sync_everything(void) {
  struct stat st;
  if (stat(g_root, &st) != 0) die(g_root);
  emit("A %lld %d", g_seq, getpid());
  walk(g_root, st.st_ino, "A");
}

void sync(void) {
  if (!g_enabled || t_inside) {
    real_sync()();
    return;
  }
  begin();
  t_inside = 1;
  real_sync()();
  sync_everything();
  t_inside = 0;
  end();
}

int syncfs(int fd) {
  if (!g_enabled || t_inside) return real_syncfs()(fd);
  begin();
  t_inside = 1;
  int r = real_syncfs()(fd);
  int e = errno;
  if (r == 0) sync_everything();
  t_inside = 0;
  end();
  errno = e;
  return r;
}

/* open with O_CREAT: a create when the entry did not exist before. */
static int do_open(int dirfd, const char* path, int flags, mode_t mode, int is_at, void* real) {
  Entry e;
  int watched = ((flags & O_CREAT) || (flags & O_TRUNC)) && resolve(dirfd, path, &e);
  if (!watched) {
    return is_at ? ((openat_fn)real)(dirfd, path, flags, mode) : ((open_fn)real)(path, flags, mode);
  }
  begin();
  t_inside = 1;
  int existed = ino_of(e.full, NULL) != 0;
  int fd = is_at ? ((openat_fn)real)(dirfd, path, flags, mode) : ((open_fn)real)(path, flags, mode);
  int err = errno;
  if (fd >= 0) {
    struct stat st;
    char n[1024];
    if (fstat(fd, &st) == 0) {
      if (!existed) {
        emit("C %lld %d %llu %s %llu F", g_seq, getpid(), ino_of(e.parent, NULL),
             esc(e.name, n, sizeof n), (unsigned long long)st.st_ino);
      } else if (flags & O_TRUNC) {
        emit("W %lld %d O_TRUNC %llu", g_seq, getpid(), (unsigned long long)st.st_ino);
      }
    }
  }
  t_inside = 0;
  end();
  errno = err;
  return fd;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, p, flags, m, 0, (void*)real_open());
}
int open64(const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, p, flags, m, 0, (void*)real_open64());
}
int openat(int d, const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(d, p, flags, m, 1, (void*)real_openat());
}
int openat64(int d, const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(d, p, flags, m, 1, (void*)real_openat64());
}
int creat(const char* p, mode_t m) {
  return do_open(AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC, m, 0, (void*)real_open());
}
int creat64(const char* p, mode_t m) {
  return do_open(AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC, m, 0, (void*)real_open());
}

/* fopen's own open is internal to libc: the create is recorded here. */
static FILE* do_fopen(const char* p, const char* mode, fopen_fn real) {
  Entry e;
  int creates = mode && (mode[0] == 'w' || mode[0] == 'a');
  if (!creates || !resolve(AT_FDCWD, p, &e)) return real(p, mode);
  begin();
  t_inside = 1;
  int existed = ino_of(e.full, NULL) != 0;
  FILE* f = real(p, mode);
  int err = errno;
  if (f) {
    char n[1024];
    unsigned long long ino = ino_of(e.full, NULL);
    if (!existed) {
      emit("C %lld %d %llu %s %llu F", g_seq, getpid(), ino_of(e.parent, NULL),
           esc(e.name, n, sizeof n), ino);
    } else if (mode[0] == 'w') {
      emit("W %lld %d O_TRUNC %llu", g_seq, getpid(), ino);
    }
  }
  t_inside = 0;
  end();
  errno = err;
  return f;
}
FILE* fopen(const char* p, const char* m) {
  return do_fopen(p, m, real_fopen());
}
FILE* fopen64(const char* p, const char* m) {
  return do_fopen(p, m, real_fopen64());
}

static int do_mkdir(int dirfd, const char* path, mode_t mode) {
  Entry e;
  if (!resolve(dirfd, path, &e)) return real_mkdirat()(dirfd, path, mode);
  begin();
  t_inside = 1;
  int r = real_mkdirat()(dirfd, path, mode);
  int err = errno;
  if (r == 0) {
    char n[1024];
    emit("C %lld %d %llu %s %llu D", g_seq, getpid(), ino_of(e.parent, NULL),
         esc(e.name, n, sizeof n), ino_of(e.full, NULL));
  }
  t_inside = 0;
  end();
  errno = err;
  return r;
}
int mkdir(const char* p, mode_t m) {
  return do_mkdir(AT_FDCWD, p, m);
}
int mkdirat(int d, const char* p, mode_t m) {
  return do_mkdir(d, p, m);
}

static int do_unlink(int dirfd, const char* path, int flags) {
  Entry e;
  if (!resolve(dirfd, path, &e)) return real_unlinkat()(dirfd, path, flags);
  begin();
  t_inside = 1;
  int r = real_unlinkat()(dirfd, path, flags);
  int err = errno;
  if (r == 0) {
    char n[1024];
    emit("U %lld %d %llu %s", g_seq, getpid(), ino_of(e.parent, NULL), esc(e.name, n, sizeof n));
  }
  t_inside = 0;
  end();
  errno = err;
  return r;
}
int unlink(const char* p) {
  return do_unlink(AT_FDCWD, p, 0);
}
int rmdir(const char* p) {
  return do_unlink(AT_FDCWD, p, AT_REMOVEDIR);
}
int unlinkat(int d, const char* p, int f) {
  return do_unlink(d, p, f);
}
/* remove(3) (std::filesystem::remove, remove_all) calls the system call inside libc. */
int remove(const char* p) {
  struct stat st;
  int dir = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
  return do_unlink(AT_FDCWD, p, dir ? AT_REMOVEDIR : 0);
}

static int do_rename(int sd, const char* sp, int dd, const char* dp, unsigned flags) {
  Entry s, d;
  int in_s = resolve(sd, sp, &s), in_d = resolve(dd, dp, &d);
  if (!in_s && !in_d) return real_renameat2()(sd, sp, dd, dp, flags);
  begin();
  t_inside = 1;
  unsigned long long ino = ino_of(s.full, NULL);
  unsigned long long dst_ino = (flags & RENAME_EXCHANGE) ? ino_of(d.full, NULL) : 0;
  int r = real_renameat2()(sd, sp, dd, dp, flags);
  int err = errno;
  if (r == 0) {
    char n1[1024], n2[1024];
    if ((flags & RENAME_EXCHANGE) && !(in_s && in_d)) {
      die("RENAME_EXCHANGE across the root's boundary is not modelled");
    } else if (flags & RENAME_EXCHANGE) {
      emit("X %lld %d %llu %s %llu %s %llu %llu", g_seq, getpid(), ino_of(s.parent, NULL),
           esc(s.name, n1, sizeof n1), ino_of(d.parent, NULL), esc(d.name, n2, sizeof n2), ino,
           dst_ino);
    } else if (in_s && in_d) {
      emit("R %lld %d %llu %s %llu %s %llu", g_seq, getpid(), ino_of(s.parent, NULL),
           esc(s.name, n1, sizeof n1), ino_of(d.parent, NULL), esc(d.name, n2, sizeof n2), ino);
    } else if (in_s) {  // moved out of the root: an unlink as far as the root can tell
      emit("U %lld %d %llu %s", g_seq, getpid(), ino_of(s.parent, NULL),
           esc(s.name, n1, sizeof n1));
    } else {  // moved in: a create
      int is_dir = 0;
      unsigned long long now = ino_of(d.full, &is_dir);
      emit("C %lld %d %llu %s %llu %c", g_seq, getpid(), ino_of(d.parent, NULL),
           esc(d.name, n2, sizeof n2), now, is_dir ? 'D' : 'F');
    }
  }
  t_inside = 0;
  end();
  errno = err;
  return r;
}
int rename(const char* a, const char* b) {
  return do_rename(AT_FDCWD, a, AT_FDCWD, b, 0);
}
int renameat(int ad, const char* a, int bd, const char* b) {
  return do_rename(ad, a, bd, b, 0);
}
int renameat2(int ad, const char* a, int bd, const char* b, unsigned f) {
  return do_rename(ad, a, bd, b, f);
}

static int do_link(int sd, const char* sp, int dd, const char* dp, int flags) {
  Entry d, s;
  int in_d = resolve(dd, dp, &d);
  if (!in_d) return real_linkat()(sd, sp, dd, dp, flags);
  int in_s = resolve(sd, sp, &s);
  begin();
  t_inside = 1;
  int r = real_linkat()(sd, sp, dd, dp, flags);
  int err = errno;
  if (r == 0) {
    char n[1024];
    emit("%c %lld %d %llu %s %llu%s", in_s ? 'L' : 'C', g_seq, getpid(), ino_of(d.parent, NULL),
         esc(d.name, n, sizeof n), ino_of(d.full, NULL), in_s ? "" : " F");
  }
  t_inside = 0;
  end();
  errno = err;
  return r;
}
int link(const char* a, const char* b) {
  return do_link(AT_FDCWD, a, AT_FDCWD, b, 0);
}
int linkat(int ad, const char* a, int bd, const char* b, int f) {
  return do_link(ad, a, bd, b, f);
}

/* Test markers: the store says where it is (only when STORMRUN_TEST_POWERLOSS_MARKS is set). */
static int marker(const char* path) {
  if (!g_enabled || t_inside || !path || strncmp(path, MARK_PREFIX, strlen(MARK_PREFIX)) != 0)
    return 0;
  begin();
  char n[1024];
  emit("M %lld %d %s", g_seq, getpid(), esc(path + strlen(MARK_PREFIX), n, sizeof n));
  end();
  return 1;
}
int access(const char* p, int m) {
  if (marker(p)) {
    errno = ENOENT;
    return -1;
  }
  return real_access()(p, m);
}
int faccessat(int d, const char* p, int m, int f) {
  if (marker(p)) {
    errno = ENOENT;
    return -1;
  }
  return real_faccessat()(d, p, m, f);
}
