// Agreed outcomes: no failure on some ranks leaves the others waiting (DESIGN.md §7).
//
// Each phase of start-up and shut-down runs its local work on every rank, catches what goes
// wrong there as an Outcome, and then calls agree() — one collective — before the next
// collective of the run. Every rank then leaves the phase with the same exit code, and the
// failing ranks' messages are printed, each naming its rank and host:
//
//   stormrun[rank 1@node07]: error: --config: /scratch/run.ini: cannot be read (No such file ...)
//   stormrun[rank 0@node03]: error: start-up stopped in phase 'options': rank 1 failed; every rank
//   exits 2
//
// Every agreement is also a stop point: when any rank has received a stop signal
// (signals.hpp) and no rank failed, every rank leaves the phase with exit 75 (a clean stop:
// the caller unwinds as for a failure, releasing the LOCKs), rank 0 naming the signal, the
// rank that received it and the phase. The shut-down phase of a run that has finished
// agrees with OnStop::Continue: its outcome stays 0.
//
// A test-only fault point (injected_fault) makes one chosen rank fail a chosen phase, so that
// tests can show that every phase agrees; a test-only pause point (signals.hpp, test_pause)
// holds a rank there so that a test can signal it at that phase.
#pragma once

#include <mpi.h>

#include <exception>
#include <string>

namespace stormrun::runtime {

/// What one rank saw in one phase. code 0: fine; otherwise an exit code (exit_codes.hpp)
/// and the message (without the rank prefix) saying what went wrong and what to do.
struct Outcome {
  int code = 0;
  std::string message;
  bool failed() const { return code != 0; }
};

/// A failure (or a stop, code 75) that every rank has agreed on and that has been reported:
/// unwind to the command's entry point and exit with code(), printing nothing more.
class AgreedFailure : public std::exception {
 public:
  explicit AgreedFailure(int code) : code_(code) {}
  int code() const { return code_; }
  const char* what() const noexcept override { return "failure agreed by every rank"; }

 private:
  int code_;
};

/// What an agreement does when some rank has received a stop signal and none failed.
enum class OnStop {
  End,      ///< every rank returns 75 (kExitStoppedEarly)
  Continue  ///< the phase goes on (the run has finished: its end is not a stop)
};

/// Collective over `comm`: every rank's outcome of `phase` → the exit code every rank
/// returns: 0 when every rank is fine, else the code of the lowest-numbered failing rank;
/// 75 when no rank failed but one has received a stop signal (with OnStop::End).
/// On failure rank 0 prints each failing rank's message tagged with that rank and its host
/// (identical messages of several ranks once, naming the others), then one line naming the
/// phase, the failing ranks and the code; on a stop, one note naming the signal, the lowest
/// rank that received one and the phase.
int agree(MPI_Comm comm, const std::string& phase, const Outcome& mine,
          OnStop on_stop = OnStop::End);

/// Collective over `comm`: agree(), throwing AgreedFailure when the code is not 0.
void agree_or_throw(MPI_Comm comm, const std::string& phase, const Outcome& mine,
                    OnStop on_stop = OnStop::End);

/// Test-only fault point. When the environment variable STORMRUN_TEST_STARTUP_FAULT is
/// "<point>:<rank>[,<rank>...]" and names `point` and `rank`, an Outcome with `code` and a
/// message saying the fault was injected; else a fine Outcome. A point is a phase's name
/// ("store") for its first agreement, or the phase and a suffix for a later one
/// ("store-mark"): docs/architecture.md lists them. It is also the test-only pause point
/// of `point` (signals.hpp, test_pause). Local.
Outcome injected_fault(const std::string& point, int rank, int code);

}  // namespace stormrun::runtime
