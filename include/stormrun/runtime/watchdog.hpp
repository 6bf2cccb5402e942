// The hang watchdog and the second-signal stop (docs/user-guide.md, "Hangs, lost ranks and a
// second signal").
//
// Every rank runs one watchdog thread beside its main thread. The main thread marks its
// progress (progress_mark: phase and step, two atomic stores) at every phase, step and
// commit, and names the collective it waits in (CollectiveScope). The thread
//  * ends the whole job with exit 76 (kExitHung) when this rank's main thread made no
//    progress for longer than the bound (--hang-timeout), after printing where it is stuck
//    (phase, step, collective) and which ranks it lost;
//  * ends the whole job with exit 75 at once on a SECOND stop signal (signals.hpp): the step
//    in flight is abandoned and the last durable commit stands (commits are atomic);
//  * writes this rank's heartbeat file every interval: "<dir>/rank_NNNNNN" in the run's
//    checkpoint store (or beside the output without one), a shared file system every rank
//    sees. The heartbeat is the liveness signal independent of the stuck collective: when a
//    rank's main thread is stuck, the watchdog reads every rank's heartbeat and names the
//    ranks whose heartbeat stopped (the process died, or its node froze or became
//    unreachable) and the ranks that are stuck as well, each with its host.
// Why files and not a second MPI channel: a rank stuck in a collective may hold MPI's
// progress engine (MPI_THREAD_FUNNELED), a lost node makes every MPI call towards it block,
// and the store's file system is the one thing every rank already must share. A heartbeat
// of ~100 bytes per rank per interval is negligible next to the checkpoints.
//
// The job ends through MPI_Abort (the launcher then ends every rank: mpirun and srun pass
// the code on) and, should MPI_Abort itself hang on a lost node, _exit a few seconds later.
// The LOCKs are left to the next run's stale-lock recovery (the holder is provably gone: its
// pid on this host, or its SLURM job, no longer runs), as after a SIGKILL; releasing them from
// this thread would race the main thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace stormrun::runtime {

/// Main thread, local, cheap (atomic stores): the main thread is at `phase` (a string with
/// static storage duration) and lead-time step `step` (-1: none), and made progress now.
void progress_mark(const char* phase, std::int64_t step = -1);
/// Main thread, local: `text` as a string with static storage duration (kept for the rest of
/// the process; the same text gives the same pointer), for a phase or collective built at
/// run time.
const char* intern_label(const std::string& text);
/// Main thread, local: progress without a change of place (a loop that advances).
void progress_tick();

/// Main thread, local: names the collective the main thread waits in while in scope
/// (`what`: a string with static storage duration), for the watchdog's report.
class CollectiveScope {
 public:
  explicit CollectiveScope(const char* what);
  ~CollectiveScope();
  CollectiveScope(const CollectiveScope&) = delete;
  CollectiveScope& operator=(const CollectiveScope&) = delete;

 private:
  const char* previous_;
};

/// Main thread, local: the newest commit that is durable on every rank (step, -1 none).
void note_durable_step(std::int64_t step);
/// Main thread, local: the run has finished (its end is recorded): a second stop signal from
/// here on no longer ends the job with 75 (the run ends 0 by itself).
void note_finished();

/// The hang bound. timeout_s: seconds, or nullopt for auto (derived from the measured step
/// and commit times, never below kHangFloorSeconds; kHangStartupSeconds until the first step
/// is measured); 0 turns the hang check off (the second-signal stop stays).
struct HangSettings {
  std::optional<double> timeout_s{};
  std::filesystem::path heartbeat_dir{};  ///< empty: no heartbeats (lost ranks not named)
};

inline constexpr double kHangFloorSeconds = 120;
inline constexpr double kHangStartupSeconds = 600;
inline constexpr double kHangMinimumSeconds = 5;  ///< the smallest --hang-timeout accepted

/// The auto bound for the slowest measured step and commit: max(floor, 10·(step + commit)).
double auto_hang_timeout(double step_seconds, double commit_seconds);

class Watchdog {
 public:
  /// Starts the thread (bound kHangStartupSeconds, no heartbeats yet). `rank`, `size`: this
  /// process in MPI_COMM_WORLD (MPI must be initialised).
  Watchdog(int rank, int size);
  /// Stops and joins the thread, removes this rank's heartbeat file.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// The process's watchdog, or nullptr when none runs (unit tests, other commands).
  static Watchdog* current();

  /// Local: the bound and the heartbeat directory (created when missing) of this run.
  void configure(const HangSettings& settings);
  /// Local: the slowest lead-time step and commit measured so far (auto bound).
  void measured(double step_seconds, double commit_seconds);
  /// The bound in force now, seconds (0: off).
  double timeout() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace stormrun::runtime
