// CPU reference vs CUDA kernels, bit for bit (DESIGN.md §6; the CPU path that runs is checked
// against the same reference by test_swe_fast): a full multi-sub-step
// shallow-water step for every initial condition (and a batch whose members take different
// numbers of sub-steps), then every diagnostic (vorticity, wind speed, mass and energy).
// Exit 0: all identical; 1: a difference (printed); 77: no usable GPU or no CUDA build,
// which CTest reports as SKIPPED (SKIP_RETURN_CODE 77), not passed.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <string>
#include <vector>

#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "swe_geometry.hpp"
#include "swe_stepper.hpp"

using namespace stormrun::model;

namespace {

int failures = 0;

void compare(const std::string& what, const std::vector<double>& cpu,
             const std::vector<double>& gpu) {
  std::size_t differing = 0;
  double max_diff = 0.0;
  if (cpu.size() != gpu.size()) {
    std::printf("FAIL %-52s sizes differ (%zu vs %zu)\n", what.c_str(), cpu.size(), gpu.size());
    ++failures;
    return;
  }
  for (std::size_t k = 0; k < cpu.size(); ++k)
    if (std::memcmp(&cpu[k], &gpu[k], sizeof(double)) != 0) {
      ++differing;
      max_diff = std::max(max_diff, std::abs(cpu[k] - gpu[k]));
    }
  if (differing == 0) {
    std::printf("ok   %-52s %zu values bit-identical\n", what.c_str(), cpu.size());
  } else {
    std::printf("FAIL %-52s %zu of %zu values differ, max |diff| %.3e\n", what.c_str(), differing,
                cpu.size(), max_diff);
    ++failures;
  }
}

struct Case {
  std::string name;
  double alpha;
  Grid grid;
  double filter_latitude = 60.0;  // 89: no row filtered on a coarse grid
};

void run_case(const Case& c) {
  InitialConditionParams params;
  params.alpha = c.alpha;
  const FieldBatch one = initial_condition(c.name, c.grid, params);
  // Two members: the initial condition and a deeper copy, whose faster gravity waves give it
  // more sub-steps, so the per-member sub-step masking is exercised too.
  FieldBatch batch(c.grid, one.variables, 2);
  std::copy(one.data.begin(), one.data.end(), batch.data.begin());
  std::copy(one.data.begin(), one.data.end(), batch.data.begin() + one.data.size());
  for (double& h : batch.field(1, 0))
    h *= 1.5;

  const SweGeometry geometry(c.grid, PlanetConstants{}, coriolis_tilt(c.name, params),
                             c.filter_latitude);
  const double dt = 21600.0;
  std::vector<int> substeps;
  std::vector<double> substep_dt;
  for (std::int64_t m = 0; m < 2; ++m) {
    const double stable = swe_stable_substep(geometry, batch.field(m, 0).data());
    const int n = static_cast<int>(std::ceil(dt / stable));
    substeps.push_back(n);
    substep_dt.push_back(dt / n);
  }
  auto cpu = make_reference_stepper(geometry, 2);
  auto gpu = make_cuda_stepper(geometry, 2);
  cpu->load(batch.data);
  gpu->load(batch.data);
  const std::string label = c.name + " alpha=" + std::to_string(c.alpha) + " " +
                            std::to_string(c.grid.nlat) + "x" + std::to_string(c.grid.nlon) +
                            " filter>" + std::to_string(int(c.filter_latitude));
  std::vector<double> a, b;
  for (int step = 1; step <= 2; ++step) {
    cpu->advance(substeps, substep_dt);
    gpu->advance(substeps, substep_dt);
    cpu->store(a);
    gpu->store(b);
    compare("step " + std::to_string(step) + " (" + std::to_string(substeps[0]) + "/" +
                std::to_string(substeps[1]) + " sub-steps) " + label,
            a, b);
  }

  FieldBatch state(c.grid, one.variables, 2);
  state.data = a;
  Diagnostics dcpu(c.grid, Backend::Cpu), dgpu(c.grid, Backend::Cuda);
  for (const std::string& field : Diagnostics::available())
    compare(field + " " + label, dcpu.compute(state, {field}).data,
            dgpu.compute(state, {field}).data);
  const auto icpu = dcpu.integrals(state), igpu = dgpu.integrals(state);
  std::vector<double> x, y;
  for (std::size_t m = 0; m < icpu.size(); ++m) {
    x.insert(x.end(), {icpu[m].mass, icpu[m].energy});
    y.insert(y.end(), {igpu[m].mass, igpu[m].energy});
  }
  compare("mass, energy " + label, x, y);
}

}  // namespace

int main() {
  if (!built_with_cuda()) {
    std::printf("SKIPPED: this build has no CUDA path (configure with -DSTORMRUN_CUDA=ON)\n");
    return 77;
  }
  if (cuda_device_count() == 0) {
    std::printf("SKIPPED: no usable CUDA device; the CPU/CUDA bit-identity was not checked\n");
    return 77;
  }
  try {
    const double tilt = std::numbers::pi / 2 - 0.05;
    for (const Case& c : {Case{"tc2", 0.0, {32, 64}}, Case{"tc2", tilt, {32, 64}},
                          Case{"tc6", 0.0, {32, 64}}, Case{"galewsky", 0.0, {45, 90}},
                          Case{"galewsky-nobump", 0.0, {32, 64}}, Case{"tc2", tilt, {33, 70}},
                          Case{"tc2", 0.0, {16, 32}, 89.0}, Case{"tc2", 0.0, {16, 2048}}})
      run_case(c);
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n",
              failures == 0 ? "all CPU/CUDA results bit-identical" : "CPU and CUDA results DIFFER");
  return failures == 0 ? 0 : 1;
}
