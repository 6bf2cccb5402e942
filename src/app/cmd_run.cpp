// `stormrun run`: parse the configuration (command line, INI file, STORMRUN_* environment),
// start MPI and the runtime, and hand over to the run driver (workflow/run.hpp). A failure
// that only some ranks see cannot be reported by a return code without leaving the others
// waiting in a collective: it aborts the job (exit 1) after printing what went wrong.
#include <mpi.h>

#include <iostream>
#include <optional>
#include <sstream>

#include "app/cli.hpp"
#include "app/run_options.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/run.hpp"

namespace stormrun::app {

int run_run(const Args& args) {
  runtime::MpiSession mpi(nullptr, nullptr);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // Every rank parses the same arguments and environment; only rank 0 speaks.
  std::ostringstream silent;
  std::ostream& out = rank == 0 ? std::cout : silent;
  std::ostream& err = rank == 0 ? std::cerr : silent;
  const ParsedRun parsed = parse_run_options(args, current_environment(), out, err);
  if (!parsed.config) return parsed.exit_code;
  const workflow::RunConfig& config = *parsed.config;

  // File-system checks once, on rank 0 (the paths are shared by every rank).
  int paths_ok = 1;
  if (rank == 0) {
    try {
      config.check_paths();
    } catch (const workflow::ConfigError& e) {
      std::cerr << "stormrun run: error: " << e.what() << "\n";
      paths_ok = 0;
    }
  }
  MPI_Bcast(&paths_ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!paths_ok) return kExitUsage;

  std::optional<runtime::Runtime> rt;
  try {
    rt.emplace(MPI_COMM_WORLD, config.device, config.quiet);
  } catch (const std::exception& e) {
    if (rank == 0) std::cerr << "stormrun run: error: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    return workflow::run(config, *rt);
  } catch (const std::exception& e) {
    std::cerr << "stormrun[rank " << rank << "]: error: " << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, kExitFailure);
  }
  return kExitFailure;
}

}  // namespace stormrun::app
