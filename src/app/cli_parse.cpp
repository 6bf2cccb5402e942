// Option parsing shared by the subcommands that take one store directory.
#include <iostream>

#include "app/cli.hpp"
#include "app/run_options.hpp"

namespace stormrun::app {

namespace po = boost::program_options;

DirCommand parse_dir_command(const std::string& command, const po::options_description& options,
                             const Args& args) {
  po::options_description all;
  all.add(options).add_options()("dir", po::value<std::string>(), "store directory");
  po::positional_options_description positional;
  positional.add("dir", 1);
  DirCommand parsed;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), parsed.vm);
    po::notify(parsed.vm);
  } catch (const po::error& e) {
    std::cerr << "stormrun " << command << ": " << option_error_text(e) << "\n\n"
              << options << "\n";
    parsed.exit_code = kExitUsage;
    return parsed;
  }
  if (parsed.vm.count("help")) {
    std::cout << options << "\n";
    parsed.exit_code = kExitOk;
  } else if (!parsed.vm.count("dir")) {
    std::cerr << "stormrun " << command << ": missing DIR\n\n" << options << "\n";
    parsed.exit_code = kExitUsage;
  }
  return parsed;
}

}  // namespace stormrun::app
