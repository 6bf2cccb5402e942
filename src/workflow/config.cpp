// RunConfig: defaults that depend on other settings, validation of values and their
// combinations, and the file-system checks made before anything is written.
#include "stormrun/workflow/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <system_error>

#include "ledger_detail.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/ic_file.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/runtime/watchdog.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;

using text::join;
using text::number_text;

namespace {

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A list option's names: each one of `allowed`, none twice, in the order of `allowed` (so
// that equal settings have one spelling, and one fingerprint).
void check_names(const std::string& option, const std::vector<std::string>& names,
                 const std::vector<std::string>& allowed, const std::string& what) {
  std::set<std::string> seen;
  std::ptrdiff_t previous = -1;
  for (const auto& name : names) {
    const auto found = std::find(allowed.begin(), allowed.end(), name);
    if (found == allowed.end())
      throw ConfigError(option, option + ": '" + name + "' is not " + what + "; give a comma-" +
                                    "separated list of " + join(allowed, ", "));
    if (!seen.insert(name).second)
      throw ConfigError(option, option + ": '" + name + "' is given twice; give each once");
    const auto index = found - allowed.begin();
    if (index < previous)
      throw ConfigError(option, option + ": '" + join(names) + "' is not in the order " +
                                    join(allowed) + "; list them in that order");
    previous = index;
  }
}

// The model named by --model (model/registry.hpp); ConfigError naming --model otherwise.
const model::ModelSpec& model_spec(const std::string& name) {
  const auto names = model_names();
  if (!contains(names, name))
    throw ConfigError("--model",
                      "--model: '" + name + "' is not a model; give one of " + join(names, ", "));
  return model::find_model(name);
}

// The grid must suit the model: its registry entry says so without building it.
void check_grid(const RunConfig& config) {
  if (const auto problem = model_spec(config.model).grid_problem(config.grid))
    throw ConfigError("--grid", "--grid: " + *problem);
}

// The nearest existing ancestor of `path` (made absolute), or `path` itself when it exists.
fs::path nearest_existing(const fs::path& path) {
  fs::path current = fs::absolute(path).lexically_normal();
  std::error_code ec;
  while (!fs::exists(current, ec)) {
    if (!current.has_relative_path()) break;  // the root
    current = current.parent_path();
  }
  return current;
}

// What a checkpoint store's root holds (DESIGN.md §3): its catalog and LOCK (and their
// temporary files, a damaged catalog set aside), rank dirs, and rank dirs being pruned.
bool is_store_entry(const std::string& name) {
  const auto starts = [&](std::string_view prefix) { return name.rfind(prefix, 0) == 0; };
  return name == "catalog.json" || starts("catalog.json.damaged-") || name == "LOCK" ||
         starts(".LOCK.") || starts(".tmp_") || starts(".pruned_") || name == "heartbeat" ||
         detail::rank_of_dir_name(name).has_value();
}

bool writable_dir(const fs::path& dir) {
  return ::access(dir.c_str(), W_OK | X_OK) == 0;
}

}  // namespace

std::string to_string(WorkflowKind kind) {
  switch (kind) {
    case WorkflowKind::Deterministic:
      return "deterministic";
    case WorkflowKind::Diagnostic:
      return "diagnostic";
    case WorkflowKind::Ensemble:
      return "ensemble";
  }
  return "workflow(" + std::to_string(static_cast<int>(kind)) + ")";
}

std::string to_string(ResumeMode mode) {
  switch (mode) {
    case ResumeMode::Auto:
      return "auto";
    case ResumeMode::Never:
      return "never";
    case ResumeMode::Require:
      return "require";
  }
  return "resume(" + std::to_string(static_cast<int>(mode)) + ")";
}

std::string to_string(CheckpointLayout layout) {
  return layout == CheckpointLayout::Node ? "node" : "rank";
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& spec : model::registered_models())
    names.push_back(spec.name);
  return names;
}

std::vector<std::string> model_variables(const std::string& model_name) {
  return model_spec(model_name).variable_names();
}

TimePoint default_start_time() {
  return TimePoint(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
}

std::vector<std::string> default_output_variables(const RunConfig& config) {
  if (config.workflow == WorkflowKind::Diagnostic) return {};
  return model_variables(config.model);
}

std::vector<std::string> default_diagnostics(const RunConfig& config) {
  if (config.workflow != WorkflowKind::Diagnostic) return {};
  return model::Diagnostics::available();
}

fs::path default_checkpoint_dir(const fs::path& output) {
  fs::path dir = output;
  dir += ".ckpt";
  return dir;
}

std::int64_t RunConfig::unit_count() const {
  return static_cast<std::int64_t>(start_times.size()) * nensemble;
}

std::vector<std::string> RunConfig::output_fields() const {
  std::vector<std::string> fields = output_variables;
  fields.insert(fields.end(), diagnostics.begin(), diagnostics.end());
  return fields;
}

void RunConfig::fill_defaults() {
  if (start_times.empty()) start_times = {default_start_time()};
  if (output_variables.empty()) output_variables = default_output_variables(*this);
  if (diagnostics.empty()) diagnostics = default_diagnostics(*this);
  if (checkpoint_dir.empty() && !output.empty()) checkpoint_dir = default_checkpoint_dir(output);
}

void RunConfig::validate() const {
  // What is computed.
  const auto variables = model_variables(model);  // ConfigError for an unknown model
  if (!model_dynamics.empty()) {
    const model::ModelSpec& spec = model_spec(model);
    std::vector<std::string> supported = spec.supported_dynamics;
    if (supported.empty()) supported = {spec.dynamics};
    if (!contains(supported, model_dynamics))
      throw ConfigError("--model-dynamics", "--model-dynamics: '" + model_dynamics +
                                                "' is not a dynamics version of the " + model +
                                                " model this stormrun computes; give one of " +
                                                join(supported, ", ") +
                                                " (the newest: " + spec.dynamics + ")");
  }
  try {
    if (const auto path = model::initial_condition_file_path(initial_condition)) {
      (void)path;
    } else if (!contains(model::initial_condition_names(), initial_condition)) {
      throw ConfigError("--initial-condition", "--initial-condition: '" + initial_condition +
                                                   "' is not an initial condition; give one of " +
                                                   join(model::initial_condition_names(), ", ") +
                                                   " or file:PATH");
    }
  } catch (const std::invalid_argument& e) {
    throw ConfigError("--initial-condition", "--initial-condition: " + std::string(e.what()));
  }
  if (start_times.empty())
    throw ConfigError("--start-time", "--start-time: no start time; give at least one");
  {
    std::set<TimePoint> seen;
    for (const auto& t : start_times)
      if (!seen.insert(t).second)
        throw ConfigError("--start-time", "--start-time: " + text::short_utc(t) +
                                              " is given twice; give each start time once");
  }
  if (nsteps <= 0)
    throw ConfigError("--nsteps", "--nsteps: " + std::to_string(nsteps) +
                                      " is not a positive integer; give the number of output "
                                      "steps after lead time 0, e.g. 8");
  if (!std::isfinite(dt_seconds) || dt_seconds <= 0.0 || dt_seconds != std::floor(dt_seconds))
    throw ConfigError("--dt", "--dt: " + number_text(dt_seconds) +
                                  " is not a positive whole number of seconds; give e.g. 21600 "
                                  "(6 hours)");
  // Lead times are nanosecond counts in int64 (value.hpp's Duration).
  constexpr double kMaxLeadSeconds = double(std::numeric_limits<std::int64_t>::max()) / 1e9;
  if (dt_seconds * double(nsteps) >= kMaxLeadSeconds)
    throw ConfigError("--nsteps", "--nsteps: " + std::to_string(nsteps) + " steps of --dt " +
                                      number_text(dt_seconds) +
                                      " s reach past the longest lead time (292 years); give "
                                      "fewer steps or a shorter --dt");
  if (substeps && *substeps < 1)
    throw ConfigError("--substeps", "--substeps: " + std::to_string(*substeps) +
                                        " is not valid; give auto or a positive integer");
  check_grid(*this);
  if (nensemble <= 0)
    throw ConfigError("--nensemble", "--nensemble: " + std::to_string(nensemble) +
                                         " is not a positive integer; give the number of "
                                         "members per start time");
  if (perturbation != "none" && perturbation != "gaussian")
    throw ConfigError("--perturbation", "--perturbation: '" + perturbation +
                                            "' is not a perturbation; give none or gaussian");
  if (!std::isfinite(noise_amplitude) || noise_amplitude < 0.0)
    throw ConfigError("--noise-amplitude",
                      "--noise-amplitude: " + number_text(noise_amplitude) +
                          " is not a finite number >= 0; give the scale of the default noise, "
                          "e.g. 1");
  if (workflow == WorkflowKind::Deterministic && nensemble > 1)
    throw ConfigError("--nensemble", "--nensemble: " + std::to_string(nensemble) +
                                         " members, but the deterministic workflow runs one "
                                         "member per start time; use --workflow ensemble");
  if (workflow == WorkflowKind::Deterministic && perturbation != "none")
    throw ConfigError("--perturbation", "--perturbation: " + perturbation +
                                            " perturbs ensemble members, but the workflow is "
                                            "deterministic; use --workflow ensemble");

  // What is written.
  check_names("--output-variables", output_variables, variables,
              "a variable of the " + model + " model");
  check_names("--diagnostics", diagnostics, model::Diagnostics::available(), "a diagnostic");
  if (workflow != WorkflowKind::Diagnostic && !diagnostics.empty())
    throw ConfigError("--diagnostics",
                      "--diagnostics: only the diagnostic workflow computes "
                      "diagnostics; use --workflow diagnostic or drop "
                      "--diagnostics");
  if (workflow == WorkflowKind::Diagnostic && diagnostics.empty())
    throw ConfigError("--diagnostics",
                      "--diagnostics: the diagnostic workflow needs at least "
                      "one diagnostic; give e.g. " +
                          join(model::Diagnostics::available()));
  check_names("--statistics", statistics, {"mean", "std"}, "a statistic");
  if (workflow != WorkflowKind::Ensemble && !statistics.empty())
    throw ConfigError("--statistics",
                      "--statistics: statistics over members need the "
                      "ensemble workflow; use --workflow ensemble or drop "
                      "--statistics");
  if (output_fields().empty())
    throw ConfigError("--output-variables",
                      "--output-variables: nothing to write; give at "
                      "least one of " +
                          join(variables));

  // Where and how.
  if (output.empty())
    throw ConfigError("--output", "--output: missing; give the output file, --output FILE.h5");
  if (checkpoint_name.empty() ||
      !std::all_of(checkpoint_name.begin(), checkpoint_name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      }))
    throw ConfigError("--checkpoint-name", "--checkpoint-name: '" + checkpoint_name +
                                               "' is not a name; use letters, digits, '.', '_' "
                                               "and '-'");
  if (checkpoint && !checkpoint_dir.empty() &&
      fs::absolute(checkpoint_dir).lexically_normal() == fs::absolute(output).lexically_normal())
    throw ConfigError("--checkpoint-dir", "--checkpoint-dir: " + checkpoint_dir.string() +
                                              " is the output file; give another directory");
  if (history_size < 0)
    throw ConfigError("--history-size", "--history-size: " + std::to_string(history_size) +
                                            " is negative; give the rows to keep (0 = all)");
  if (pack_below_bytes < 0)
    throw ConfigError("--checkpoint-pack-below",
                      "--checkpoint-pack-below: " + std::to_string(pack_below_bytes) +
                          " is negative; give a byte count (0: never pack commits)");
  if (flush_interval && *flush_interval < 1)
    throw ConfigError("--flush-interval", "--flush-interval: " + std::to_string(*flush_interval) +
                                              " is not valid; give a positive integer or none");
  if (level < 0 || level > 2)
    throw ConfigError("--level", "--level: " + std::to_string(level) +
                                     " is not a checkpoint level; give 0, 1 or 2");
  if (batch_size <= 0)
    throw ConfigError("--batch-size", "--batch-size: " + std::to_string(batch_size) +
                                          " is not a positive integer; give the members a rank "
                                          "runs at once, e.g. 1");
  if (stop_after_steps && *stop_after_steps <= 0)
    throw ConfigError(
        "--stop-after-steps",
        "--stop-after-steps: " + std::to_string(*stop_after_steps) + " is not a positive integer");
  if (stop_after_steps && !checkpoint)
    throw ConfigError("--stop-after-steps",
                      "--stop-after-steps: stopping early leaves a "
                      "checkpoint to resume from, but --no-checkpoint is "
                      "given; drop one of them");
  if (!(walltime_reserve_s >= 0) || !std::isfinite(walltime_reserve_s))
    throw ConfigError("--walltime-reserve",
                      "--walltime-reserve: " + number_text(walltime_reserve_s) +
                          " is not a number of seconds >= 0");
  if (hang_timeout_s && *hang_timeout_s != 0 &&
      (!(*hang_timeout_s >= runtime::kHangMinimumSeconds) || !std::isfinite(*hang_timeout_s)))
    throw ConfigError(
        "--hang-timeout",
        "--hang-timeout: " + number_text(*hang_timeout_s) +
            " s is too short or not a number: give at least " +
            number_text(runtime::kHangMinimumSeconds) +
            " seconds, auto (derived from the measured step and commit times) or off");
  if (max_no_progress < 0)
    throw ConfigError("--max-no-progress", "--max-no-progress: " + std::to_string(max_no_progress) +
                                               " is negative; give 0 (never) or the runs in a row");
  if (resume == ResumeMode::Require && !checkpoint)
    throw ConfigError("--resume",
                      "--resume: require needs a checkpoint to resume from, but "
                      "--no-checkpoint is given; drop one of them");
}

void RunConfig::check_paths() const {
  std::error_code ec;
  // The output: a file (new or existing) in an existing, writable directory.
  if (output.empty())
    throw ConfigError("--output", "--output: missing; give the output file, --output FILE.h5");
  if (fs::is_directory(output, ec))
    throw ConfigError("--output", "--output: " + output.string() +
                                      " is a directory; give a file path, e.g. " +
                                      (output / "forecast.h5").string());
  const fs::path output_dir =
      output.has_parent_path() ? output.parent_path() : fs::current_path(ec);
  if (!fs::exists(output_dir, ec))
    throw ConfigError("--output", "--output: directory " + output_dir.string() + " of " +
                                      output.string() + " does not exist; create it first");
  if (!fs::is_directory(output_dir, ec))
    throw ConfigError("--output", "--output: " + output_dir.string() + " (the parent of " +
                                      output.string() + ") is not a directory");
  if (!writable_dir(output_dir))
    throw ConfigError("--output", "--output: directory " + output_dir.string() +
                                      " is not writable; choose a writable place");
  if (fs::exists(output, ec) && ::access(output.c_str(), R_OK | W_OK) != 0)
    throw ConfigError("--output", "--output: " + output.string() +
                                      " exists and is not readable and writable; fix its "
                                      "permissions or choose another path");

  // The checkpoint dir: an existing writable directory, or creatable (its nearest existing
  // ancestor is a writable directory). Nothing is created here.
  if (checkpoint) {
    const fs::path dir = checkpoint_dir.empty() ? default_checkpoint_dir(output) : checkpoint_dir;
    const fs::path existing = nearest_existing(dir);
    if (!fs::is_directory(existing, ec))
      throw ConfigError("--checkpoint-dir", "--checkpoint-dir: " + dir.string() +
                                                " cannot be created: " + existing.string() +
                                                " is not a directory; choose another place");
    if (!writable_dir(existing))
      throw ConfigError(
          "--checkpoint-dir",
          "--checkpoint-dir: " + dir.string() + " cannot be " +
              (existing == fs::absolute(dir).lexically_normal() ? "written" : "created") + ": " +
              existing.string() + " is not writable; choose another place");
    // Only stores are stores: an existing directory must be empty or hold nothing but what a
    // store holds, so that `--checkpoint-dir /etc` or `.` writes nothing there.
    if (fs::is_directory(dir, ec)) {
      std::vector<std::string> foreign;
      for (const auto& entry : fs::directory_iterator(dir, ec))
        if (!is_store_entry(entry.path().filename().string()))
          foreign.push_back(entry.path().filename().string());
      if (!foreign.empty()) {
        std::sort(foreign.begin(), foreign.end());
        const std::size_t shown = std::min<std::size_t>(foreign.size(), 5);
        std::string listed = join({foreign.begin(), foreign.begin() + std::ptrdiff_t(shown)}, ", ");
        if (foreign.size() > shown)
          listed += " and " + std::to_string(foreign.size() - shown) + " more";
        throw ConfigError("--checkpoint-dir",
                          "--checkpoint-dir: " + dir.string() +
                              " is neither empty nor a stormrun checkpoint store (it holds " +
                              listed + "); give a new or empty directory (the default is " +
                              default_checkpoint_dir(output).string() + ")");
      }
    }
  }

  // A file initial condition: read now, so that a wrong file stops the run before anything
  // is written (it is read again by the run).
  try {
    if (const auto path = model::initial_condition_file_path(initial_condition)) {
      if (!fs::is_regular_file(*path, ec) || ::access(path->c_str(), R_OK) != 0)
        throw ConfigError("--initial-condition",
                          "--initial-condition: " + path->string() + " is not a readable file");
      model::read_initial_condition_file(*path, grid, model_variables(model));
    }
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw ConfigError("--initial-condition",
                      "--initial-condition: " + initial_condition + ": " + e.what());
  }
}

}  // namespace stormrun::workflow
