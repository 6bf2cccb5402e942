// Shallow-water model step throughput, beside the memory bandwidth measured in the same run
// (STYLE.md, llm.c "napkin math"):
//   throughput  member·grid points·sub-steps per second of ShallowWater rollouts;
//   effective   bytes/s the step's kernels must move at least (each array read or written
//               once per kernel: (90 + 24·f)·8 bytes per point and sub-step, f the fraction
//               of polar-filtered rows; see below);
//   limit       CPU: STREAM triad a = b + s·c (3 arrays counted), single thread like the
//               CPU path, one sweep after each timed output step; GPU: a device-to-device
//               cudaMemcpy (read + write counted).
// Both sides are the best of --steps rounds (a shared machine is noisy).
// The ratio effective/limit is printed (target >= 0.70).
//
//   bench_model [--grid 64x128] [--members 4] [--steps 10] [--device cpu|cuda|auto]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/device_bandwidth.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/shallow_water.hpp"

using namespace stormrun::model;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// STREAM triad a = b + s·c over arrays far larger than the caches; pass() times one sweep.
class StreamTriad {
 public:
  explicit StreamTriad(std::size_t n) : a_(n, 0.0), b_(n, 1.0), c_(n, 2.0) { pass(); }
  /// Seconds of one sweep.
  double pass() {
    const auto t0 = Clock::now();
    const std::size_t n = a_.size();
    for (std::size_t i = 0; i < n; ++i)
      a_[i] = b_[i] + 3.0 * c_[i];
    const double t = seconds_since(t0);
    if (a_[n / 2] != 7.0) throw std::runtime_error("STREAM triad computed a wrong value");
    return t;
  }
  /// Bytes one sweep moves (3 arrays counted).
  double bytes() const { return 3.0 * 8.0 * double(a_.size()); }

 private:
  std::vector<double> a_, b_, c_;
};

/// Doubles moved per point and sub-step by one RK4 sub-step (4 stages):
/// tendency reads h,u,v and writes 3 tendencies (6 per stage); the polar filter reads and
/// writes 3 values on its rows (6f per stage); the update reads k 12, y 9, acc 9 and writes
/// acc 9, ys 9, y 3 over the 4 stages (51); the hyperdiffusion after the stages reads y 3,
/// writes ∇²y 3, then reads ∇²y 3 and y 3 and writes y 3 (15).
double doubles_per_point_substep(double filtered_fraction) {
  return 4 * 6.0 + 4 * 6.0 * filtered_fraction + 51.0 + 15.0;
}

}  // namespace

int run(int argc, char** argv) {
  Grid grid{64, 128};
  int members = 4, steps = 10;
  DeviceChoice device = DeviceChoice::Cpu;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++k];
    };
    if (arg == "--grid") {
      grid = Grid::parse(value());
    } else if (arg == "--members") {
      members = std::stoi(value());
    } else if (arg == "--steps") {
      steps = std::stoi(value());
    } else if (arg == "--device") {
      const std::string d = value();
      device = d == "cuda"   ? DeviceChoice::Cuda
               : d == "auto" ? DeviceChoice::Auto
                             : DeviceChoice::Cpu;
    } else {
      std::fprintf(stderr, "bench_model: unknown option '%s' (see the header of bench_model.cpp)\n",
                   arg.c_str());
      return 2;
    }
  }

  if (members < 1 || steps < 1) {
    std::fprintf(stderr, "bench_model: --members and --steps must be >= 1\n");
    return 2;
  }
  ShallowWaterConfig config;
  config.grid = grid;
  config.device = device;
  ShallowWater model(config);
  const bool gpu = model.backend() == Backend::Cuda;

  // A batch of Galewsky jets (the heaviest case: fastest waves, most sub-steps).
  const FieldBatch one = initial_condition("galewsky", grid);
  FieldBatch batch(grid, one.variables, members);
  std::vector<std::string> units;
  for (int m = 0; m < members; ++m) {
    std::copy(one.data.begin(), one.data.end(), batch.data.begin() + m * one.data.size());
    units.push_back("m" + std::to_string(m));
  }
  const SubstepPlan plan = model.plan_substeps(batch);
  auto rollout = model.rollout(batch, units);
  rollout->advance();  // warm-up (first touch, kernel load)
  // Rounds of one output step and (on the CPU) one STREAM triad sweep, alternating, best of
  // each: both figures are the least disturbed ones of the same stretch of time on a shared
  // machine.
  std::optional<StreamTriad> triad;
  if (!gpu) triad.emplace(std::size_t(1) << 25);  // 3 x 256 MiB
  double elapsed = 1e30, triad_seconds = 1e30;
  for (int s = 0; s < steps; ++s) {
    const auto t0 = Clock::now();
    rollout->advance();
    elapsed = std::min(elapsed, seconds_since(t0));
    if (triad) triad_seconds = std::min(triad_seconds, triad->pass());
  }
  rollout->state();

  int filtered_rows = 0;
  for (double lat : grid.lat_degrees())
    if (std::abs(lat) > config.filter_latitude_deg) ++filtered_rows;
  const double f = double(filtered_rows) / grid.nlat;
  const double updates = double(members) * double(grid.points()) * plan.substeps[0];
  const double bytes = updates * doubles_per_point_substep(f) * 8.0;
  const double achieved = bytes / elapsed;

  const double limit =
      gpu ? cuda_copy_bandwidth(std::size_t(1) << 30, 5) : triad->bytes() / triad_seconds;
  std::printf(
      "bench_model: backend %s, grid %dx%d, %d members, best of %d output steps of %d sub-steps "
      "(%.0f s), polar-filtered rows %.0f%%\n",
      gpu ? "cuda" : "cpu", grid.nlat, grid.nlon, members, steps, plan.substeps[0],
      plan.substep_dt[0], 100 * f);
  std::printf("  output step: %.4f s, %.3e member*points*substeps/s, effective %.2f GB/s\n",
              elapsed, updates / elapsed, achieved / 1e9);
  std::printf("  %-12s %.2f GB/s (same run)\n", gpu ? "D2D copy:" : "STREAM triad:", limit / 1e9);
  std::printf("  ratio effective/limit = %.2f (target >= 0.70)\n", achieved / limit);
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model: %s\n", e.what());
    return 1;
  }
}
