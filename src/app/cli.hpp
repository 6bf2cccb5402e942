// Shared pieces of the command-line front end: exit codes (DESIGN.md §7) and the
// subcommand entry points. Each subcommand parses its own options with
// Boost.Program_options and prints its own --help.
#pragma once

#include <string>
#include <vector>

namespace stormrun::app {

/// Exit codes of every stormrun command (DESIGN.md §7).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,       ///< any other failure (verify: problems found)
  kExitUsage = 2,         ///< usage or configuration error; nothing written
  kExitMismatch = 3,      ///< store or output does not match this run, or is unusable
  kExitStoppedEarly = 75  ///< stopped with a durable checkpoint: requeue me
};

/// Arguments after the subcommand name.
using Args = std::vector<std::string>;

int run_catalog(const Args& args);
int run_verify(const Args& args);
int run_demo(const Args& args);

/// `stormrun --version`: version and the build's features.
std::string version_text();

}  // namespace stormrun::app
