// The progress line of a run, printed once per lead-time step by rank 0 (unless --quiet):
//   step 3/8  lead +18h  round 1/2  units done 0/6  12.5 steps/s  eta 0:00:01
// Local: it prints what it is given. The counts that need every rank (units done) are
// reduced by the caller, in the step's collectives, before it prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace stormrun::runtime {

/// Where a run is, as the progress line shows it.
struct ProgressPoint {
  std::int64_t step = 0;  ///< lead-time step just written
  std::int64_t nsteps = 0;
  double lead_hours = 0;   ///< lead time of `step`
  std::int64_t round = 0;  ///< 0-based round of batches
  std::int64_t nrounds = 0;
  std::int64_t units_done = 0;  ///< over all ranks
  std::int64_t units_total = 0;
  std::int64_t steps_this_run = 0;  ///< lead-time steps computed since this run started
};

/// "H:MM:SS" of a duration in seconds; "?" when negative or not finite.
std::string clock_text(double seconds);

class Progress {
 public:
  /// `enabled`: this process prints (rank 0 and not quiet). The clock starts now.
  explicit Progress(bool enabled);
  /// Restarts the clock (the rate counts steps from here).
  void restart();
  /// The line for `point` after `elapsed_seconds` of this run.
  static std::string line(const ProgressPoint& point, double elapsed_seconds);
  /// Prints line(point, seconds since restart()) to stdout when enabled. Local.
  void print(const ProgressPoint& point) const;

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace stormrun::runtime
