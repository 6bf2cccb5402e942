// Shared pieces of the command-line front end: exit codes (DESIGN.md §7) and the
// subcommand entry points. Each subcommand parses its own options with
// Boost.Program_options and prints its own --help.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

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

/// Parses `args` of a command taking one positional DIR plus `options` (which must hold
/// --help). Returns the variables, or the exit code when parsing ended the command: help
/// printed (0) or a usage error printed, naming the option (2). DIR is in vm["dir"].
struct DirCommand {
  boost::program_options::variables_map vm;
  std::optional<int> exit_code;
};
DirCommand parse_dir_command(const std::string& command,
                             const boost::program_options::options_description& options,
                             const Args& args);

int run_catalog(const Args& args);
int run_verify(const Args& args);
int run_demo(const Args& args);
int run_run(const Args& args);

/// `stormrun --version`: version and the build's features.
std::string version_text();

}  // namespace stormrun::app
