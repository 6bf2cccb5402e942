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
// A test-only fault point (injected_fault) makes one chosen rank fail a chosen phase, so that
// tests can show that every phase agrees.
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

/// A failure that every rank has agreed on and that has been reported: unwind to the
/// command's entry point and exit with code(), printing nothing more.
class AgreedFailure : public std::exception {
 public:
  explicit AgreedFailure(int code) : code_(code) {}
  int code() const { return code_; }
  const char* what() const noexcept override { return "failure agreed by every rank"; }

 private:
  int code_;
};

/// Collective over `comm`: every rank's outcome of `phase` → the exit code every rank
/// returns: 0 when every rank is fine, else the code of the lowest-numbered failing rank.
/// On failure rank 0 prints each failing rank's message tagged with that rank and its host
/// (identical messages of several ranks once, naming the others), then one line naming the
/// phase, the failing ranks and the code.
int agree(MPI_Comm comm, const std::string& phase, const Outcome& mine);

/// Collective over `comm`: agree(), throwing AgreedFailure when the code is not 0.
void agree_or_throw(MPI_Comm comm, const std::string& phase, const Outcome& mine);

/// Test-only fault point. When the environment variable STORMRUN_TEST_STARTUP_FAULT is
/// "<point>:<rank>[,<rank>...]" and names `point` and `rank`, an Outcome with `code` and a
/// message saying the fault was injected; else a fine Outcome. A point is a phase's name
/// ("store") for its first agreement, or the phase and a suffix for a later one
/// ("store-mark"): docs/architecture.md lists them. Local.
Outcome injected_fault(const std::string& point, int rank, int code);

}  // namespace stormrun::runtime
