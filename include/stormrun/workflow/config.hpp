// The configuration of one `stormrun run` (DESIGN.md §7) and the run fingerprint: the
// settings that decide the bytes of the output. Two runs with the same fingerprint write
// the same bytes, whatever their rank count, batch size, device or interruptions; a store
// or output file written under another fingerprint is refused (exit 3) with the list of
// settings that differ.
//
// Parsing (command line, INI file, STORMRUN_* environment) lives in src/app/run_options.*;
// this header is what the rest of the program uses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/store.hpp"
#include "stormrun/value.hpp"

namespace stormrun::workflow {

/// A configuration error; the message names the option (as on the command line, e.g.
/// "--nsteps") and the value at fault. `stormrun run` exits 2 on it before writing anything.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string option, const std::string& message)
      : std::runtime_error(message), option_(std::move(option)) {}
  const std::string& option() const { return option_; }

 private:
  std::string option_;
};

enum class WorkflowKind { Deterministic, Diagnostic, Ensemble };
enum class ResumeMode { Auto, Never, Require };
/// Who commits the checkpoint rows (--checkpoint-layout): every rank in its own rank dir, or
/// one rank per node (the lowest) for all the node's ranks (docs/performance.md).
enum class CheckpointLayout { Rank, Node };

std::string to_string(WorkflowKind kind);        // "deterministic", "diagnostic", "ensemble"
std::string to_string(ResumeMode mode);          // "auto", "never", "require"
std::string to_string(CheckpointLayout layout);  // "rank", "node"

struct RunConfig {
  // ---- what is computed (all of these are in the fingerprint) ------------------------
  WorkflowKind workflow = WorkflowKind::Deterministic;
  std::string model = "swe";  ///< a registered model: "persistence" | "swe" (model/registry.hpp)
  /// The model's dynamics version (--model-dynamics): one of its supported_dynamics; empty:
  /// the newest for a new run, and for a resume the one its store was made with (run.cpp).
  std::string model_dynamics{};
  /// "tc2" | "tc6" | "rossby-haurwitz" | "galewsky" | "galewsky-nobump" | "file:PATH"
  std::string initial_condition = "galewsky";
  model::Grid grid{64, 128};
  /// Start times of the forecasts (repeatable --start-time); default 2026-01-01T00:00:00Z.
  std::vector<TimePoint> start_times{};
  std::int64_t nsteps = 8;            ///< output steps after lead time 0 (lead times 0..nsteps)
  double dt_seconds = 21600.0;        ///< lead-time step between outputs
  std::optional<int> substeps{};      ///< nullopt = auto
  std::int64_t nensemble = 1;         ///< members per start time (deterministic: 1)
  std::string perturbation = "none";  ///< "none" | "gaussian"
  double noise_amplitude = 1.0;       ///< scale of default_noise_amplitudes()
  std::uint64_t seed = 0;
  /// Prognostic variables written to the output (subset of the model's, in the model's
  /// order). Default: all the model's variables; for the diagnostic workflow, none.
  std::vector<std::string> output_variables{};
  /// Diagnostic fields written to the output (Diagnostics::available()); diagnostic
  /// workflow only; default there "vorticity,wind_speed".
  std::vector<std::string> diagnostics{};
  /// Ensemble statistics over members, per output field: "mean", "std" (ensemble only).
  std::vector<std::string> statistics{};

  // ---- where and how (not in the fingerprint) ----------------------------------------
  std::filesystem::path output{};  ///< required, FILE.h5
  bool overwrite = false;          ///< replace an existing output that no checkpoint claims
  /// Default: "<output>.ckpt" beside the output (a shared file system every rank sees).
  std::filesystem::path checkpoint_dir{};
  std::string checkpoint_name = "stormrun";
  CheckpointMode mode = CheckpointMode::Append;
  int history_size = 3;
  std::optional<std::int64_t> flush_interval = 1;  ///< nullopt = "none": commit only on flush
  int level = 2;
  bool checkpoint = true;  ///< false: --no-checkpoint
  /// --sync-commits: every commit inside the step loop (default: on a background thread,
  /// overlapped with the next step; CheckpointOptions::async_commits).
  bool sync_commits = false;
  /// --checkpoint-layout: one rank dir and commit per rank, or per node (a node leader
  /// commits the rows of all its node's ranks; fewer metadata operations per commit).
  CheckpointLayout checkpoint_layout = CheckpointLayout::Rank;
  /// --checkpoint-pack-below: a commit of fewer bytes is one pack file (two fsyncs); 0
  /// never packs (CheckpointOptions::pack_below_bytes).
  std::int64_t pack_below_bytes = static_cast<std::int64_t>(kDefaultPackBelowBytes);
  std::int64_t batch_size = 1;
  model::DeviceChoice device = model::DeviceChoice::Auto;
  std::optional<std::int64_t> stop_after_steps{};
  /// The job's end (--end-time); nullopt: SLURM's end time when under SLURM, else none.
  std::optional<TimePoint> end_time{};
  /// Seconds kept free before the end time beyond the next step and a commit.
  double walltime_reserve_s = 60;
  /// The hang bound in seconds (--hang-timeout); nullopt: auto; 0: off.
  std::optional<double> hang_timeout_s{};
  /// Runs in a row without a new commit after which a start ends with exit 5 (0: never).
  int max_no_progress = 3;
  ResumeMode resume = ResumeMode::Auto;
  bool quiet = false;

  /// Number of work units: start_times.size() * nensemble.
  std::int64_t unit_count() const;
  /// The fields written per member: output_variables then diagnostics.
  std::vector<std::string> output_fields() const;
  /// ConfigError naming the first invalid option (values and their combinations; it does
  /// not touch the file system).
  void validate() const;
  /// ConfigError when the output's directory is missing or not writable, the output path
  /// is a directory, the checkpoint dir cannot be created/written, or a file: initial
  /// condition is not a readable file. Creates nothing.
  void check_paths() const;
  /// Fills the settings left empty whose default depends on other settings: start_times
  /// (default_start_time()), output_variables and diagnostics (default_output_variables(),
  /// default_diagnostics()) and checkpoint_dir (default_checkpoint_dir()). For configs built
  /// in code; the option parser applies a default only to an option not given, so a list
  /// given empty stays empty (and validate() says why that is refused).
  void fill_defaults();
};

/// The models --model accepts: the names of model::registered_models() ("persistence", "swe").
std::vector<std::string> model_names();
/// The prognostic variables of `model`, in the model's order (its registry entry);
/// ConfigError naming --model when it is not one of model_names().
std::vector<std::string> model_variables(const std::string& model);
/// 2026-01-01T00:00:00Z, the start time when none is given.
TimePoint default_start_time();
/// The model's variables, except for the diagnostic workflow (none).
std::vector<std::string> default_output_variables(const RunConfig& config);
/// Diagnostics::available() for the diagnostic workflow, none for the others.
std::vector<std::string> default_diagnostics(const RunConfig& config);
/// "<output>.ckpt", beside the output.
std::filesystem::path default_checkpoint_dir(const std::filesystem::path& output);

/// Work unit name of (start time, member): "<ISO start>/m<member, 4+ digits>", e.g.
/// "2026-01-01T00:00:00Z/m0003". Sorting names does NOT give unit order: use indices.
std::string unit_name(TimePoint start, std::int64_t member);
/// (start, member) of a name unit_name(start, member) gives; nullopt for any other name.
std::optional<std::pair<TimePoint, std::int64_t>> parse_unit_name(const std::string& name);

/// The fingerprint: setting name → canonical text, for every setting that decides the
/// output's bytes (workflow, model, initial_condition and, for file: ICs, the file's xxh3,
/// grid, start_times, nsteps, dt, substeps, nensemble, perturbation, noise_amplitude, seed,
/// output_variables, diagnostics, statistics, format).
using Fingerprint = std::map<std::string, std::string>;
Fingerprint fingerprint(const RunConfig& config);
/// xxh3 of the canonical JSON of `fp` (16 hex digits).
std::string fingerprint_hash(const Fingerprint& fp);
/// One line per differing setting: "nsteps: stored 8, this run 10" (also settings present
/// on one side only). Empty when equal.
std::vector<std::string> fingerprint_diff(const Fingerprint& stored, const Fingerprint& current);

}  // namespace stormrun::workflow
