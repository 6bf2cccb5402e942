// Shared pieces of the command-line front end: the subcommand entry points (their exit
// codes are stormrun/exit_codes.hpp). Each subcommand parses its own options with
// Boost.Program_options and prints its own --help.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "stormrun/exit_codes.hpp"

namespace stormrun::app {

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
