// Shared pieces of the configuration tests: a valid configuration in a temp dir, and a
// snapshot of a directory tree to show that nothing was created.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <doctest/doctest.h>

#include "stormrun/workflow/config.hpp"
#include "support/temp_dir.hpp"

namespace config_test {

using stormrun_test_support::TempDir;

/// Every path under `dir` (recursively).
inline std::set<std::string> tree(const std::filesystem::path& dir) {
  std::set<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    paths.insert(entry.path().string());
  return paths;
}

/// A configuration that validates, writing into `dir`.
inline stormrun::workflow::RunConfig valid_config(const TempDir& dir) {
  stormrun::workflow::RunConfig config;
  config.output = dir / "out.h5";
  config.fill_defaults();
  return config;
}

/// A valid initial-condition file (h, u, v on `nlat`x`nlon`) written with h5py; `h0` sets
/// the height so that two files can differ.
inline std::filesystem::path write_ic_file(const TempDir& dir, const std::string& name, int nlat,
                                           int nlon, double h0 = 1000.0) {
  const auto path = dir / name;
  const auto script = dir / (name + ".py");
  std::ofstream(script) << "import sys, h5py, numpy as np\n"
                        << "with h5py.File(sys.argv[1], 'w') as f:\n"
                        << "    f['h'] = np.full((" << nlat << ", " << nlon << "), " << h0 << ")\n"
                        << "    f['u'] = np.zeros((" << nlat << ", " << nlon << "))\n"
                        << "    f['v'] = np.zeros((" << nlat << ", " << nlon << "))\n";
  const std::string command =
      std::string(STORMRUN_SYSTEM_PYTHON) + " " + script.string() + " " + path.string();
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "h5py failed to write " << path);
  std::filesystem::remove(script);
  return path;
}

}  // namespace config_test
