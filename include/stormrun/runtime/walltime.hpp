// The job's end time, for the wall-time stop (docs/user-guide.md, "Wall time").
//
// From --end-time, else from SLURM: SLURM_JOB_END_TIME at start, then re-read every
// kEndTimeRefreshSeconds on a background thread with `squeue -h -o %L -j $SLURM_JOB_ID` (the
// time left, which an admin's `scontrol update TimeLimit=…` changes while the job runs; the
// environment variable is fixed at launch). Only rank 0 keeps one: it decides the stop, which
// every rank then agrees on at the step boundary.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace stormrun::runtime {

inline constexpr double kEndTimeRefreshSeconds = 60;

/// squeue's %L ("D-HH:MM:SS", "HH:MM:SS", "MM:SS", "SS"; "UNLIMITED", "NOT_SET", "INVALID")
/// in seconds; nullopt when it names no limit or is no time.
std::optional<double> parse_slurm_time_left(const std::string& text);

class JobEndTime {
 public:
  /// `explicit_end`: --end-time in seconds since the epoch (never refreshed), or nullopt for
  /// SLURM's, when SLURM_JOB_ID is set (refreshed on a thread; `warn` says once when squeue
  /// cannot be run). Local.
  JobEndTime(std::optional<double> explicit_end, std::function<void(const std::string&)> warn);
  ~JobEndTime();
  JobEndTime(const JobEndTime&) = delete;
  JobEndTime& operator=(const JobEndTime&) = delete;

  /// Seconds since the epoch, or nullopt when no end is known.
  std::optional<double> end() const;
  /// "--end-time" or "SLURM job N".
  const std::string& source() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace stormrun::runtime
