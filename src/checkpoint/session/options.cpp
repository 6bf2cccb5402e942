// CheckpointOptions: validation and the defaults (store root, rank, warnings).
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <system_error>

#include "checkpoint_core.hpp"

namespace stormrun {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void invalid(const std::string& option, const std::string& value,
                          const std::string& expected) {
  throw CheckpointError("invalid checkpoint option " + option + " = " + value + ": " + expected);
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

const char* env_or_null(const char* name) {
  const char* value = std::getenv(name);
  return (value && *value) ? value : nullptr;
}

}  // namespace

void CheckpointOptions::validate() const {
  static const std::regex name_pattern("[A-Za-z0-9._-]+");
  // "." and ".." match the pattern but would name the parent of the default root.
  if (!std::regex_match(name, name_pattern) || name == "." || name == "..")
    invalid("name", quoted(name),
            "expected a non-empty run name of letters, digits, '.', '_' and '-' (not '.' or "
            "'..')");
  if (flush_interval && *flush_interval < 1)
    invalid("flush_interval", std::to_string(*flush_interval),
            "expected N >= 1, or none to commit only on flush()");
  if (history_size < 0)
    invalid("history_size", std::to_string(history_size), "expected >= 0 (0 keeps every row)");
  if (level < 0 || level > 2) invalid("level", std::to_string(level), "expected 0, 1 or 2");
  if (rank && *rank < 0) invalid("rank", std::to_string(*rank), "expected >= 0");
  if (world_size && *world_size < 1)
    invalid("world_size", std::to_string(*world_size), "expected >= 1");
  if (rank && world_size && *rank >= *world_size)
    invalid("rank", std::to_string(*rank),
            "expected 0 <= rank < world_size (world_size = " + std::to_string(*world_size) + ")");
  static const std::regex device_pattern("cpu|cuda|cuda:[0-9]+");
  if (!std::regex_match(staging_device, device_pattern))
    invalid("staging_device", quoted(staging_device), "expected \"cpu\", \"cuda\" or \"cuda:N\"");
  if (gated_publish && !async_commits)
    invalid("gated_publish", "true",
            "it needs async_commits (a synchronous commit is published inside the call)");
  std::error_code ec;
  if (!path.empty() && fs::exists(path, ec) && !fs::is_directory(path, ec))
    invalid("path", path.string(),
            "it exists and is not a directory; give a directory (it is created if missing)");
}

namespace detail {

std::filesystem::path default_checkpoint_root(const std::string& name) {
  if (const char* root = env_or_null("STORMRUN_CHECKPOINT_ROOT")) return fs::path(root) / name;
  fs::path cache;
  if (const char* xdg = env_or_null("XDG_CACHE_HOME"))
    cache = xdg;
  else if (const char* home = env_or_null("HOME"))
    cache = fs::path(home) / ".cache";
  else
    throw CheckpointError(
        "cannot choose a default checkpoint path for '" + name +
        "': none of STORMRUN_CHECKPOINT_ROOT, XDG_CACHE_HOME, HOME is set; give a path");
  return cache / "stormrun" / "checkpoints" / name;
}

CheckpointOptions resolve_options(CheckpointOptions options) {
  options.validate();
  if (options.path.empty()) options.path = default_checkpoint_root(options.name);
  options.path = fs::absolute(options.path).lexically_normal();
  if (!options.rank || !options.world_size) {
    const RankInfo detected = detect_rank();
    if (!options.rank) options.rank = detected.rank;
    if (!options.world_size) options.world_size = detected.world_size;
  }
  if (*options.rank >= *options.world_size)
    invalid("rank", std::to_string(*options.rank),
            "expected 0 <= rank < world_size (world_size = " + std::to_string(*options.world_size) +
                "); when rank is given, give world_size too");
  if (!options.warn) options.warn = stderr_warnings(*options.rank);
  return options;
}

}  // namespace detail
}  // namespace stormrun
