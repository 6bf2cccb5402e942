// Stop requests by signal (DESIGN.md §2, "preemption check"). SLURM sends SIGTERM before a
// preemption or at the time limit (and SIGUSR1 or another with --signal=...@N); a user's ^C
// is SIGINT; mpirun forwards SIGUSR1 and SIGUSR2 to every rank. `stormrun run` installs the
// handlers as its first instruction, before MPI_Init, and keeps them to its last: a stop
// signal at any instant ends the run cleanly (exit 75, or 0 when it had already finished),
// never by the signal's default action. The handler only sets a flag (async-signal-safe);
// the ranks agree on stopping at their next agreement point: every start-up and shut-down
// phase (agreement.hpp: agree() ends every rank with 75 when any rank has a stop request)
// and the per-step collective of the step loop (workflow/forecast.cpp).
#pragma once

#include <string>

namespace stormrun::runtime {

/// The process's stop flag, set by SIGTERM, SIGINT, SIGUSR1 and SIGUSR2.
class StopSignals {
 public:
  /// Installs the handlers for the rest of the process (idempotent; sigaction with
  /// SA_RESTART, so that a signal does not fail the I/O it interrupts). Call it first.
  static void install();
  /// Local, async-signal-safe: the last stop signal received since install(); 0 when none.
  static int received();
  /// Local, async-signal-safe: how many stop signals arrived since install(). A second one
  /// ends the whole job at once (watchdog.hpp): the step in flight is abandoned, the last
  /// durable commit stands, exit 75.
  static int count();
  /// The first stop signal received (0 when none) and its arrival, and the last one's, in
  /// seconds since the epoch (CLOCK_REALTIME; 0 when none).
  static int first();
  static double first_arrival();
  static double last_arrival();
  /// The pid that sent the last stop signal (0: the kernel or unknown).
  static long last_sender();
  /// "SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2", else "signal N".
  static std::string name(int signal);

  /// A view of the process's stop flag; installs the handlers when install() was not yet
  /// called (an embedding program). Never restores the previous handlers: a stop signal
  /// after the forecast still ends the run cleanly.
  StopSignals() { install(); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

/// Test-only pause point (never set it outside tests). When the environment variable
/// STORMRUN_TEST_PAUSE_AT is "<point>:<rank>[,<rank>...]" and names `point` and `rank`, the
/// first time this process reaches `point` it writes its pid to
/// "$STORMRUN_TEST_PAUSE_DIR/paused.<point>.<rank>" and sleeps until it receives a stop
/// signal or the file "$STORMRUN_TEST_PAUSE_DIR/go" exists (at most 120 s), so that a test
/// can signal a rank deterministically at a phase. The points are those of injected_fault
/// (agreement.hpp), called just before each agreement, and "mpi-init", before MPI_Init
/// (rank from OMPI_COMM_WORLD_RANK, PMIX_RANK or SLURM_PROCID). Local.
void test_pause(const std::string& point, int rank);

/// The rank of this process from the launcher's environment, before MPI_Init (0 when none
/// says). Local.
int rank_from_environment();

}  // namespace stormrun::runtime
