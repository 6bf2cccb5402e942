// Running a helper program (squeue, scontrol) from a rank: posix_spawn, not fork (no copy
// of a large MPI process), stdout captured, bounded in time. Used by the LOCK's stale-holder
// check (a SLURM job that no longer runs) and the wall-time clock (the time left of a job).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace stormrun::detail {

/// What a helper program said: its exit status (-1 when it was killed or did not exit) and
/// its stdout and stderr.
struct Captured {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs `argv` (argv[0] searched on PATH), at most `timeout_seconds` (then it is killed);
/// nullopt when it cannot be started (not installed).
std::optional<Captured> run_program(const std::vector<std::string>& argv, double timeout_seconds);

/// run_program's stdout when it exited 0 in time, else nullopt.
std::optional<std::string> run_captured(const std::vector<std::string>& argv,
                                        double timeout_seconds);

}  // namespace stormrun::detail
