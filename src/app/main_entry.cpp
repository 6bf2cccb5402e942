// stormrun's entry point (main_entry.hpp): dispatches to the subcommand; each subcommand
// lives in its own file.
#include "app/main_entry.hpp"

#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "app/cli.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/runtime/signals.hpp"

namespace {

constexpr const char* kUsage = R"(usage: stormrun <command> [options]

commands:
  run [options]          run or resume a forecast (mpirun -np N stormrun run ...)
  catalog DIR [--json]   print a checkpoint store's catalog (global and per rank)
  verify DIR             check every commit's files against their checksums
  demo [options]         write, crash and resume a checkpointed forecast (see --help)

  stormrun <command> --help   options of one command
  stormrun --version          version and build features
)";

}  // namespace

namespace stormrun::app {

int main_entry(int argc, char** argv) {
  // `stormrun run` handles the stop signals from its first instruction to its last (before
  // MPI_Init, before anything is read or written): a signal at any instant ends it with 75
  // (or 0 when it had finished), never by the signal's default action (signals.hpp).
  if (argc >= 2 && std::strcmp(argv[1], "run") == 0) {
    runtime::StopSignals::install();
    runtime::share_one_malloc_arena();  // before MPI's and the run's threads start
  }
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = argv[1];
  const Args args(argv + 2, argv + argc);
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (command == "--version" || command == "version") {
      std::cout << version_text();
      return kExitOk;
    }
    if (command == "run") return run_run(args);
    if (command == "catalog") return run_catalog(args);
    if (command == "verify") return run_verify(args);
    if (command == "demo") return run_demo(args);
    std::cerr << "stormrun: unknown command '" << command << "'\n\n" << kUsage;
    return kExitUsage;
  } catch (const std::exception& e) {
    runtime::write_stderr("stormrun " + command + ": error: " + e.what() + "\n");
    return kExitFailure;
  }
}

}  // namespace stormrun::app
