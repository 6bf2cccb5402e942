// stormrun's command line as a library function, so that a program embedding stormrun (a
// test binary with an extra model: model/registry.hpp) runs the very same commands:
//
//   int main(int argc, char** argv) {
//     stormrun::model::register_model(my_model_spec());
//     return stormrun::app::main_entry(argc, argv);
//   }
#pragma once

namespace stormrun::app {

/// `stormrun <command> [options]` (DESIGN.md §7): runs the command named by argv[1] and
/// returns the process exit code. `stormrun run` is collective over MPI_COMM_WORLD.
int main_entry(int argc, char** argv);

}  // namespace stormrun::app
