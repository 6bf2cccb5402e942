// libFuzzer target: the INI file of `stormrun run --config FILE` (app/run_options.hpp), read
// from an in-memory file, through the whole option pipeline: the INI parser, the text of
// every value (integers, numbers, switches, choices, lists, UTC times, the grid) and the
// configuration's validation. The rule: the parse either gives a configuration that
// validates again, or fails with exit code 2 and one error line "stormrun run: error: ..."
// that names an option (--NAME) or the file; no exception escapes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "app/run_options.hpp"
#include "fuzz_support.hpp"

namespace {

/// One memory-backed file for every input, named by its /proc/self/fd path.
const std::string& ini_path() {
  static const std::string path = [] {
    const int fd = memfd_create("stormrun-fuzz.ini", 0);
    if (fd < 0) std::abort();
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

void write_ini(const std::uint8_t* data, std::size_t size) {
  const int fd = std::atoi(ini_path().c_str() + std::string("/proc/self/fd/").size());
  if (ftruncate(fd, 0) != 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, off_t(done));
    if (n <= 0) std::abort();
    done += std::size_t(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  write_ini(data, size);
  std::ostringstream out, err;
  const auto parsed = stormrun::app::parse_run_options({"--config", ini_path()}, {}, out, err,
                                                       stormrun::app::PathChecks::Skip);
  if (parsed.config) {
    if (parsed.exit_code != 0) std::abort();
    parsed.config->validate();  // what was accepted once stays valid
    return 0;
  }
  const std::string message = err.str();
  if (parsed.exit_code != 2 || parsed.error.empty() ||
      message.rfind("stormrun run: error: ", 0) != 0 || message.find('\n') != message.size() - 1)
    std::abort();
  if (message.find("--") == std::string::npos && message.find(ini_path()) == std::string::npos)
    std::abort();
  return 0;
}
