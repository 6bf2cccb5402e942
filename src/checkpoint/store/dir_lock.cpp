// DirLock: ROOT/LOCK (or an output's lock file), created atomically with its holder's
// identity (link(2) of a complete tmp file), shared by the ranks of one job, recovered when
// its holder is provably gone.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>

#include "store/durable_io.hpp"
#include "store/json_fields.hpp"
#include "store/posix_file.hpp"
#include "stormrun/bits/subprocess.hpp"
#include "stormrun/store.hpp"
#include "stormrun/value.hpp"

namespace stormrun {

namespace fs = std::filesystem;
using namespace store_detail;

namespace {

struct Holder {
  std::string host;
  long long pid = 0;
  std::string job;  ///< "slurm:<id>", "mpi:<namespace>" or "pid:<pid>"
  long long restart_count = 0;
  std::string started_at;
  std::string token;  ///< random: tells this holder's LOCK from a later one

  nlohmann::json to_json() const {
    return {{"format_version", kCheckpointFormatVersion},
            {"host", host},
            {"pid", pid},
            {"job", job},
            {"restart_count", restart_count},
            {"started_at", started_at},
            {"token", token}};
  }
  static Holder from_json(const nlohmann::json& j, const fs::path& where) {
    const JsonFields f(j, where.string());
    Holder h;
    h.host = f.string("host");
    h.pid = f.integer("pid", 1);
    h.job = f.string("job");
    h.restart_count = f.integer("restart_count", 0);
    h.started_at = f.string("started_at");
    h.token = f.string("token");
    return h;
  }
  std::string describe_job() const {
    if (job.rfind("slurm:", 0) == 0) {
      return "SLURM job " + job.substr(6) +
             (restart_count > 0 ? ", restart " + std::to_string(restart_count) : "");
    }
    if (job.rfind("mpi:", 0) == 0) return "MPI job " + job.substr(4);
    return "job " + job;
  }
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string this_host() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

Holder this_process() {
  Holder h;
  h.host = this_host();
  h.pid = ::getpid();
  std::string slurm = env_or_empty("SLURM_JOB_ID");
  if (slurm.empty()) slurm = env_or_empty("SLURM_JOBID");
  if (!slurm.empty()) {
    h.job = "slurm:" + slurm;
    const std::string restarts = env_or_empty("SLURM_RESTART_COUNT");
    h.restart_count = restarts.empty() ? 0 : std::strtoll(restarts.c_str(), nullptr, 10);
  } else {
    std::string mpi;
    for (const char* var :
         {"PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid", "OMPI_MCA_ess_base_jobid"}) {
      if (!(mpi = env_or_empty(var)).empty()) break;
    }
    h.job = mpi.empty() ? "pid:" + std::to_string(h.pid) : "mpi:" + mpi;
  }
  h.started_at = format_utc_seconds(std::time(nullptr), 0, 0);
  h.token = random_hex(16);
  return h;
}

bool same_job(const Holder& a, const Holder& b) {
  return a.job == b.job && a.restart_count == b.restart_count;
}

/// True when `pid` no longer runs: no such process, or a zombie (killed, not yet reaped:
/// after a SIGKILL of a whole MPI job its ranks can linger as zombies for a while, and in a
/// container without an init that reaps orphans, for ever).
bool process_gone(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "pid (comm) S ...": the state follows the last ')' (comm may contain one).
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  const char state = line[close + 2];
  return state == 'Z' || state == 'X';
}

/// Why SLURM job `id` provably runs no process any more ("" when it may: running, or SLURM
/// cannot be asked). squeue lists pending, running, completing and suspended jobs; a job it
/// no longer lists, or no longer knows, has ended; a pending or requeued one runs nothing.
std::string slurm_job_gone(const std::string& id) {
  const auto answer = detail::run_program({"squeue", "-h", "-j", id, "-o", "%T"}, 10);
  if (!answer) return "";  // no squeue here: cannot tell
  std::string state = answer->out;
  while (!state.empty() && (state.back() == '\n' || state.back() == ' '))
    state.pop_back();
  if (answer->status == 0) {
    if (state.empty()) return "SLURM job " + id + " has ended (squeue no longer lists it)";
    for (const char* idle : {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT"})
      if (state == idle) return "SLURM job " + id + " is " + state + ": none of its processes runs";
    return "";
  }
  if (answer->status == 1 && answer->err.find("Invalid job id") != std::string::npos)
    return "SLURM job " + id + " has ended (squeue: invalid job id)";
  return "";
}

/// Why `holder` is provably gone ("" when it may still be running).
std::string stale_reason(const Holder& holder, const Holder& me) {
  if (holder.host == me.host) {
    if (holder.pid == me.pid && holder.token != me.token && !same_job(holder, me)) {
      return "its pid is this process's own: left by an earlier process";
    }
    if (holder.pid != me.pid && process_gone(holder.pid)) {
      return "process " + std::to_string(holder.pid) + " no longer exists on " + me.host;
    }
  }
  if (holder.job == me.job && holder.job.rfind("slurm:", 0) == 0 &&
      holder.restart_count < me.restart_count) {
    return "it was taken by restart " + std::to_string(holder.restart_count) +
           " of this requeued SLURM job (now restart " + std::to_string(me.restart_count) + ")";
  }
  // Another SLURM job's (a job chain's previous link, on any node): ask SLURM.
  if (holder.job.rfind("slurm:", 0) == 0 && holder.job != me.job)
    return slurm_job_gone(holder.job.substr(6));
  return "";
}

/// Reads LOCK; nullopt when it vanished meanwhile. The raw text is returned too so that a
/// recovery removes exactly the LOCK it judged stale.
std::optional<std::pair<Holder, std::string>> read_holder(const fs::path& lock) {
  std::string text;
  try {
    text = read_text_file(lock);
  } catch (const StoreError&) {
    if (errno == ENOENT || !fs::exists(lock)) return std::nullopt;
    throw;
  }
  try {
    return std::make_pair(Holder::from_json(nlohmann::json::parse(text), lock), text);
  } catch (const std::exception& e) {
    throw LockError(lock.string() + " is unreadable (" + e.what() + "); if no job uses " +
                    lock.parent_path().string() + ", remove " + lock.string());
  }
}

}  // namespace

DirLock DirLock::acquire(const fs::path& root, const WarningSink& warn) {
  create_directories_durable(root);
  const fs::path lock = root / "LOCK";
  return acquire_at(
      lock,
      [&](const std::string& holder) {
        return "checkpoint dir " + root.string() + " is locked by " + holder +
               "; if that job is gone, remove " + lock.string();
      },
      warn);
}

DirLock DirLock::acquire_file(const fs::path& lock, const fs::path& guarded,
                              const WarningSink& warn) {
  return acquire_at(
      lock,
      [&](const std::string& holder) {
        return "output " + guarded.string() + " is in use by another run: " + holder + " holds " +
               lock.string() +
               "; wait for that run to end, or give another --output; if that job " +
               "is gone, remove " + lock.string();
      },
      warn);
}

DirLock DirLock::acquire_at(const fs::path& lock,
                            const std::function<std::string(const std::string&)>& refusal,
                            const WarningSink& warn) {
  const fs::path dir = lock.parent_path();
  const std::string name = lock.filename().string();
  const Holder me = this_process();
  const std::string content = me.to_json().dump(2) + "\n";

  // The lock appears with its whole content or not at all: write a private file, then
  // link(2) it to the lock's name, which fails with EEXIST when it exists (also on NFS).
  const fs::path tmp =
      dir / ("." + name + "." + me.host + "." + std::to_string(me.pid) + "." + me.token);
  // Its content must be durable before its name can be (a power cut must never leave a
  // LOCK that cannot be read: that is an error, not a stale lock). Its name need not be:
  // a LOCK lost in a power cut held nothing any more, one that survives is recovered as
  // stale (no fsync of the directory, after the link nor after the release).
  {
    Fd fd = open_checked(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_all(fd.get(), std::as_bytes(std::span(content.data(), content.size())), tmp);
    if (!fsync_skipped(kFsyncLockFile)) fsync_checked(fd.get(), tmp);
    fd.close(tmp);
  }
  struct TmpRemover {
    const fs::path& path;
    ~TmpRemover() { ::unlink(path.c_str()); }
  } remover{tmp};

  for (int attempt = 0; attempt < 16; ++attempt) {
    if (::link(tmp.c_str(), lock.c_str()) == 0) {
      DirLock held;
      held.path_ = lock;
      held.owner_ = true;
      held.token_ = me.token;
      return held;
    }
    if (errno != EEXIST) throw_errno("cannot create lock file", lock, errno);
    const auto current = read_holder(lock);
    if (!current) continue;  // released meanwhile: try again
    const Holder& holder = current->first;
    if (same_job(holder, me)) {
      DirLock shared;  // another rank of this job holds it: share, never release
      shared.path_ = lock;
      return shared;
    }
    const std::string why = stale_reason(holder, me);
    if (why.empty()) {
      throw LockError(refusal("host " + holder.host + " pid " + std::to_string(holder.pid) + " (" +
                              holder.describe_job() + ") since " + holder.started_at));
    }
    if (warn) {
      warn("recovering " + lock.string() + " left by host " + holder.host + " pid " +
           std::to_string(holder.pid) + " (" + holder.describe_job() + ") since " +
           holder.started_at + ": " + why);
    }
    // Move the stale lock aside atomically (only one recoverer wins), then check that what
    // we moved is the lock we judged; if another process had replaced it, put it back.
    const fs::path aside = dir / ("." + name + ".stale." + me.token);
    if (::rename(lock.c_str(), aside.c_str()) != 0) {
      if (errno == ENOENT) continue;
      throw_errno("cannot move away stale lock", lock, errno);
    }
    std::string moved;
    try {
      moved = read_text_file(aside);
    } catch (const StoreError&) {
    }
    if (moved != current->second) (void)::link(aside.c_str(), lock.c_str());
    ::unlink(aside.c_str());
  }
  throw LockError("could not acquire " + lock.string() +
                  ": it kept changing hands; retry, or remove it if no job uses it");
}

DirLock::DirLock(DirLock&& other) noexcept
    : path_(std::move(other.path_)), owner_(other.owner_), token_(std::move(other.token_)) {
  other.owner_ = false;
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    try {
      release();
    } catch (...) {
    }
    path_ = std::move(other.path_);
    owner_ = other.owner_;
    token_ = std::move(other.token_);
    other.owner_ = false;
  }
  return *this;
}

DirLock::~DirLock() {
  try {
    release();
  } catch (...) {
    // A destructor must not throw; the LOCK left behind is recovered as stale later.
  }
}

void DirLock::release() {
  if (!owner_) return;
  owner_ = false;
  // Only remove the LOCK we created: if someone judged us dead and took over, it is theirs.
  std::string text;
  try {
    text = read_text_file(path_);
  } catch (const StoreError&) {
    return;  // already gone
  }
  try {
    if (nlohmann::json::parse(text).value("token", "") != token_) return;
  } catch (const nlohmann::json::exception&) {
    return;
  }
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    throw_errno("cannot remove lock file", path_, errno);
  }
}

}  // namespace stormrun
