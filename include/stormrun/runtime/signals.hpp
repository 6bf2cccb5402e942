// Stop requests by signal (DESIGN.md §2, "preemption check"). SLURM sends SIGTERM before a
// preemption or at the time limit (and SIGUSR1 with --signal=USR1@N); the run stops at the
// next step boundary with a durable checkpoint. Local: the handler only sets a flag; the
// ranks agree on stopping in the run driver's per-step collective.
#pragma once

namespace stormrun::runtime {

/// Installs the stop handlers for SIGTERM and SIGUSR1 while it lives and restores the
/// previous ones after. One at a time per process.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  /// The last stop signal received since construction; 0 when none. Local.
  int received() const;

 private:
  void (*previous_term_)(int);
  void (*previous_usr1_)(int);
};

}  // namespace stormrun::runtime
