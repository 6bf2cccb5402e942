// `stormrun run`: the start-up phases that come before the run driver (workflow/run.hpp) —
// options, paths, device — each agreed by every rank (runtime/agreement.hpp), so that a
// failure on one rank (an INI file or an output directory one node cannot see, a missing
// GPU) ends every rank with the same exit code and the failing rank's message, instead of
// leaving the others waiting in a collective. Each agreement is also a stop point: a stop
// signal on any rank ends every rank with 75 there (runtime/signals.hpp).
#include <mpi.h>

#include <iostream>
#include <optional>
#include <sstream>
#include <variant>

#include "app/cli.hpp"
#include "app/run_options.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/runtime/signals.hpp"
#include "stormrun/runtime/watchdog.hpp"
#include "stormrun/workflow/run.hpp"

namespace stormrun::app {

namespace {

// Phase "options": every rank parses the same arguments, environment and INI file (each
// reads them itself: a file one node cannot read fails there). Only rank 0 prints --help.
// Returns the configuration, or the exit code every rank agreed on.
std::variant<workflow::RunConfig, int> options_phase(const Args& args, MPI_Comm comm, int rank) {
  std::ostringstream silent;
  ParsedRun parsed;
  runtime::Outcome outcome;
  try {
    parsed = parse_run_options(args, current_environment(), rank == 0 ? std::cout : silent, silent,
                               PathChecks::Skip);
    if (!parsed.config && parsed.exit_code != 0) outcome = {parsed.exit_code, parsed.error};
  } catch (const std::exception& e) {  // e.g. out of memory: still this rank's own failure
    outcome = {kExitUsage, std::string("stormrun run: ") + e.what()};
  }
  if (!outcome.failed()) outcome = runtime::injected_fault("options", rank, kExitUsage);
  if (const int code = runtime::agree(comm, "options", outcome)) return code;
  int help_here = parsed.config ? 0 : 1, help_anywhere = 0;
  MPI_Allreduce(&help_here, &help_anywhere, 1, MPI_INT, MPI_MAX, comm);
  if (help_anywhere) return int(kExitOk);
  if (rank == 0)
    for (const std::string& warning : parsed.warnings)
      runtime::log_warning(rank, warning);
  // Phase "paths": on every rank, as that rank's node sees them.
  outcome = {};
  try {
    parsed.config->check_paths();
  } catch (const workflow::ConfigError& e) {
    outcome = {kExitUsage, e.what() + parsed.source_of(e.option())};
  } catch (const std::exception& e) {  // a file-system error the checks did not expect
    outcome = {kExitUsage, std::string("checking the paths: ") + e.what()};
  }
  if (!outcome.failed()) outcome = runtime::injected_fault("paths", rank, kExitUsage);
  if (const int code = runtime::agree(comm, "paths", outcome)) return code;
  return std::move(*parsed.config);
}

}  // namespace

int run_run(const Args& args) {
  // The stop handlers are installed (main_entry); a signal from here on is agreed at the
  // first agreement (phase "options") and ends every rank with 75.
  runtime::StopSignals::install();
  runtime::test_pause("mpi-init", runtime::rank_from_environment());
  runtime::MpiSession mpi(nullptr, nullptr);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // The hang watchdog and the second-signal stop, from here to the end (watchdog.hpp): a
  // start-up bound until the options say otherwise, heartbeats once the store exists.
  runtime::Watchdog watchdog(rank, size);
  auto options = options_phase(args, MPI_COMM_WORLD, rank);
  if (const int* code = std::get_if<int>(&options)) return *code;
  const workflow::RunConfig& config = std::get<workflow::RunConfig>(options);
  watchdog.configure({.timeout_s = config.hang_timeout_s, .heartbeat_dir = {}});

  try {
    runtime::Runtime rt(MPI_COMM_WORLD, config.device, config.quiet);  // phase "device"
    return workflow::run(config, rt);
  } catch (const runtime::AgreedFailure& e) {
    return e.code();  // every rank agreed and the failure was reported
  } catch (const std::exception& e) {
    // A failure this rank alone saw, outside an agreed phase: the others may be waiting in
    // a collective, so the job ends here.
    runtime::log_error(rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, kExitFailure);
  }
  return kExitFailure;
}

}  // namespace stormrun::app
