// The options of `stormrun run` (DESIGN.md §7) from three sources, in this precedence:
// command line > STORMRUN_<NAME> environment variables > INI file (--config FILE) >
// defaults. INI keys are the long option names without dashes (`nsteps = 8`); environment
// names are STORMRUN_ and the option name in upper case with '-' as '_'
// (STORMRUN_OUTPUT_VARIABLES). Lists (--start-time, --output-variables, ...) are comma
// separated in every source; --start-time may also be repeated. Flags (--overwrite,
// --quiet, --no-checkpoint) take true/false/1/0/yes/no in the INI file and the environment.
//
// The result is validated (RunConfig::validate, then RunConfig::check_paths): any invalid
// value is reported on `err` as "stormrun run: error: --OPTION: ..." naming the option and,
// when it came from there, the environment variable or INI file, and nothing is written.
// Local: no MPI; each rank may parse the same arguments.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "stormrun/workflow/config.hpp"

namespace stormrun::app {

struct ParsedRun {
  /// The validated configuration; empty when the command ends here.
  std::optional<workflow::RunConfig> config;
  /// Set when config is empty: 0 after --help, 2 after an error (already printed).
  int exit_code = 0;
  /// The error printed on `err`, without the "stormrun run: error: " prefix.
  std::string error;
  /// Where each option not given on the command line came from, for messages about its
  /// value: "--nsteps" → " (from environment variable STORMRUN_NSTEPS)".
  std::map<std::string, std::string> sources;
  /// sources' entry for `option_flag` ("--nsteps"), "" when it came from the command line.
  std::string source_of(const std::string& option_flag) const;
  /// STORMRUN_* variables that look like a misspelt setting ("STORMRUN_NSTEP: not a
  /// setting, ignored; did you mean STORMRUN_NSTEPS?"), for rank 0 to print as warnings.
  std::vector<std::string> warnings;
};

/// Whether parse_run_options runs RunConfig::check_paths. A parallel run checks the paths
/// on every rank itself, as a start-up phase of its own (each rank sees its node's mounts).
enum class PathChecks { Run, Skip };

/// Parses the arguments after `stormrun run`, the environment (only STORMRUN_<option>
/// names are read; other STORMRUN_* variables such as STORMRUN_CHECKPOINT_ROOT are left
/// alone) and the INI file named by --config (or STORMRUN_CONFIG). --help text goes to
/// `out`, errors to `err`. Reads the file system (to check paths) but creates nothing.
ParsedRun parse_run_options(const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& environment,
                            std::ostream& out, std::ostream& err,
                            PathChecks paths = PathChecks::Run);

/// The process environment (environ) as a map, for parse_run_options.
std::map<std::string, std::string> current_environment();

/// What a Boost.Program_options error says, formatted in one pass. Boost 1.74's own what()
/// replaces each "%name%" placeholder of its template until none is left, so an option or
/// an INI line that itself contains one ("%invalid_line%", "%canonical_option%") made it
/// loop for ever (a fuzz_config finding). Every subcommand reports parse errors with this.
std::string option_error_text(const boost::program_options::error& error);

/// The command-line options with their meaning and default, as --help prints them.
const boost::program_options::options_description& run_options_help();

}  // namespace stormrun::app
