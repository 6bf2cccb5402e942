// Phase "inputs" (input_checks.hpp): sizes and initial states checked before anything is
// written.
#include "input_checks.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "initial_states.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/model/model.hpp"
#include "stormrun/model/registry.hpp"

namespace stormrun::workflow::run_detail {

namespace fs = std::filesystem;
namespace sm = stormrun::model;

namespace {

// What one member costs a rank while its batch runs, in copies of its state: the state, the
// RK4 stages and their sums, the filtered tendencies and the host copy (swe needs the most;
// persistence far fewer). An upper estimate, so that only a run that cannot fit is refused.
constexpr double kStateCopies = 12;
// Per work unit, on every rank: its WorkUnit, its restart-plan entry and their JSON on the
// way from rank 0 (a few hundred bytes each; rounded up).
constexpr double kBytesPerUnit = 2048;

// "1 work unit", "3 work units".
std::string count_text(std::int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string mib_text(double bytes) {
  constexpr double kMiB = 1024.0 * 1024.0;
  if (bytes >= 1024.0 * kMiB * 1024.0)
    return text::number_text(std::ceil(bytes / (1024.0 * kMiB * 1024.0) * 10) / 10) + " TiB";
  if (bytes >= 1024.0 * kMiB)
    return text::number_text(std::ceil(bytes / (1024.0 * kMiB) * 10) / 10) + " GiB";
  return text::number_text(std::ceil(bytes / kMiB * 10) / 10) + " MiB";
}

// The first number after `key` in a /proc or /sys text file; nullopt when absent.
std::optional<double> read_number(const fs::path& file, const std::string& key) {
  std::ifstream in(file);
  std::string word;
  while (in >> word) {
    if (word != key) continue;
    double value = 0;
    if (in >> value) return value;
    return std::nullopt;
  }
  return std::nullopt;
}

// The memory limit of this process's cgroup (v2, or v1), when one is set.
std::optional<double> cgroup_limit() {
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  std::optional<double> limit;
  while (std::getline(self, line)) {
    const auto colon = line.rfind(':');
    if (colon == std::string::npos) continue;
    const std::string controllers = line.substr(line.find(':') + 1, colon - line.find(':') - 1);
    const fs::path group = line.substr(colon + 1);
    const fs::path file = controllers.empty()
                              ? fs::path("/sys/fs/cgroup") / group.relative_path() / "memory.max"
                              : (controllers.find("memory") != std::string::npos
                                     ? fs::path("/sys/fs/cgroup/memory") / group.relative_path() /
                                           "memory.limit_in_bytes"
                                     : fs::path());
    if (file.empty()) continue;
    std::ifstream in(file);
    double value = 0;
    if (in >> value && value > 0 && value < 1e18) limit = std::min(limit.value_or(value), value);
  }
  return limit;
}

void check_sizes(const RunConfig& config, const StartContext& context, const runtime::Runtime& rt) {
  const SizeEstimate need = estimate_sizes(config, rt.size());
  if (const auto have = memory_per_rank(rt.local_size()); have && need.rank_bytes > *have)
    throw std::runtime_error(
        "this run needs about " + mib_text(need.rank_bytes) + " of memory per rank (" +
        count_text(need.resident_members, "resident member") + " of grid " +
        std::to_string(config.grid.nlat) + "x" + std::to_string(config.grid.nlon) + ", " +
        count_text(config.unit_count(), "work unit") + "), but " +
        (rt.local_size() == 1 ? std::string("this node has ")
                              : std::to_string(rt.local_size()) + " ranks on this node share ") +
        mib_text(*have * rt.local_size()) +
        "; give a smaller --batch-size, --nensemble or --grid, or more nodes");
  if (rt.rank() != 0) return;
  // Datasets are allocated when the file is created; a file that is reopened needs nothing.
  if (fs::exists(context.output) && !config.overwrite) return;
  const fs::path dir = context.output.parent_path();
  std::error_code ec;
  const fs::space_info space = fs::space(dir, ec);
  // Some file systems (a FUSE mount, an NFS export) report no capacity at all: not judged.
  if (ec || space.capacity == 0) return;
  if (need.output_bytes > double(space.available))
    throw std::runtime_error(
        "--output " + context.output.string() + ": the file needs " + mib_text(need.output_bytes) +
        " (" + std::to_string(config.unit_count()) + " members x " +
        std::to_string(config.nsteps + 1) + " lead times x " +
        std::to_string(config.output_fields().size()) + " fields of " +
        std::to_string(config.grid.nlat) + "x" + std::to_string(config.grid.nlon) +
        " float64), but " + dir.string() + " has " + mib_text(double(space.available)) +
        " free; free space, write the output elsewhere, or run less");
}

// Every unit this rank checks (every world_size-th, from its rank): its lead-time-0 fields
// finite and accepted by the model.
void check_initial_states(const RunConfig& config, const runtime::Runtime& rt) {
  const sm::ModelSpec& spec = sm::find_model(config.model);
  const std::unique_ptr<sm::PrognosticModel> model =
      spec.make({.grid = config.grid,
                 .dt_seconds = config.dt_seconds,
                 .substeps = config.substeps,
                 .device = sm::DeviceChoice::Cpu,
                 .initial_condition = config.initial_condition,
                 .dynamics = config.model_dynamics});
  const InitialStates initial(config, model->variables(), sm::Backend::Cpu);
  const std::vector<WorkUnit> units = work_units(config);
  const std::string cause = config.perturbation == "gaussian"
                                ? " (--noise-amplitude " +
                                      text::number_text(config.noise_amplitude) +
                                      ", --initial-condition " + config.initial_condition + ")"
                                : " (--initial-condition " + config.initial_condition + ")";
  for (std::size_t i = std::size_t(rt.rank()); i < units.size(); i += std::size_t(rt.size())) {
    const sm::FieldBatch batch = initial.of(units, {std::int64_t(i)});
    for (std::size_t v = 0; v < batch.variables.size(); ++v) {
      const auto field = batch.field(0, v);
      const auto bad =
          std::find_if(field.begin(), field.end(), [](double x) { return !std::isfinite(x); });
      if (bad != field.end())
        throw std::runtime_error("work unit " + units[i].name + " starts with " +
                                 text::number_text(*bad) + " in " + batch.variables[v] +
                                 " at grid point " + std::to_string(bad - field.begin()) + cause +
                                 "; give a state whose values are finite");
    }
    try {
      model->check_initial(batch);
    } catch (const std::invalid_argument& e) {
      std::string what = e.what();
      // The model numbers members within the batch it was given: here always member 0,
      // which is the work unit this message names.
      const std::string member = "member 0 of this initial state";
      if (const auto at = what.find(member); at != std::string::npos)
        what.replace(at, member.size(), "this initial state");
      else if (what.rfind("member 0 ", 0) == 0)
        what = what.substr(9);
      throw std::runtime_error("work unit " + units[i].name + ": " + what + cause);
    }
  }
}

}  // namespace

SizeEstimate estimate_sizes(const RunConfig& config, int world_size) {
  const double points = double(config.grid.nlat) * double(config.grid.nlon);
  const double units = double(config.unit_count());
  const double fields = double(config.output_fields().size());
  const double variables = double(sm::find_model(config.model).variables.size());
  SizeEstimate estimate;
  estimate.output_bytes =
      units + double(config.statistics.size()) * double(config.start_times.size());
  estimate.output_bytes *= double(config.nsteps + 1) * fields * points * sizeof(double);
  const double per_rank = std::ceil(units / std::max(world_size, 1));
  const double resident = std::min(double(config.batch_size), per_rank);
  estimate.resident_members = std::int64_t(resident);
  estimate.rank_bytes = resident * (kStateCopies * variables + fields) * points * sizeof(double) +
                        double(config.statistics.size()) * fields * points * sizeof(double) * 2 +
                        units * kBytesPerUnit;
  return estimate;
}

std::optional<double> memory_per_rank(int ranks_on_node) {
  std::optional<double> have;
  if (const auto kib = read_number("/proc/meminfo", "MemAvailable:")) have = *kib * 1024.0;
  if (const auto limit = cgroup_limit()) have = std::min(have.value_or(*limit), *limit);
  if (!have) return std::nullopt;
  return *have / std::max(ranks_on_node, 1);
}

void check_inputs(const RunConfig& config, const StartContext& context,
                  const runtime::Runtime& rt) {
  agreed_step(rt, "inputs", kExitUsage, true, [&] {
    check_sizes(config, context, rt);
    check_initial_states(config, rt);
  });
}

}  // namespace stormrun::workflow::run_detail
