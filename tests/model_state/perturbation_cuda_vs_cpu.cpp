// CPU reference vs CUDA kernel of the Gaussian perturbation, bit for bit, on fields of odd
// and even sizes and through GaussianPerturbation::apply on a batch. Exits 77 (CTest: skipped)
// when this build has no CUDA path or no GPU is usable, 1 on any difference.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

#include "stormrun/model/perturbation.hpp"

using namespace stormrun;
using namespace stormrun::model;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  if (a.size() != b.size()) {
    std::printf("FAIL %s: sizes %zu and %zu\n", what, a.size(), b.size());
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0) {
      std::printf("FAIL %s: element %zu is %.17g on the CPU and %.17g on the GPU\n", what, i, a[i],
                  b[i]);
      return false;
    }
  }
  std::printf("ok   %s: %zu values identical\n", what, a.size());
  return true;
}

}  // namespace

int main() {
  if (!built_with_cuda() || cuda_device_count() == 0) {
    std::printf("skipped: %s\n", built_with_cuda() ? "no usable GPU" : "built without CUDA");
    return 77;
  }
  try {
    bool ok = true;
    const TimePoint start = parse_utc("2026-01-15T06:00:00Z");
    for (std::int64_t count : {1, 2, 777, 64 * 128, 1'000'001}) {
      const NoiseKey key{20260115, 17, start.time_since_epoch().count(), 0, "h"};
      const auto cpu = gaussian_noise(key, count, Backend::Cpu);
      const auto gpu = gaussian_noise(key, count, Backend::Cuda);
      char what[64];
      std::snprintf(what, sizeof what, "gaussian_noise(%lld)", static_cast<long long>(count));
      ok = same_bits(cpu, gpu, what) && ok;
    }
    const Grid grid{91, 180};
    FieldBatch cpu_batch(grid, {"h", "u", "v"}, 5);
    for (std::size_t i = 0; i < cpu_batch.data.size(); ++i)
      cpu_batch.data[i] = 8000.0 + double(i % 1000) * 0.37;
    FieldBatch gpu_batch = cpu_batch;
    const std::vector<std::int64_t> members = {0, 7, 3, 12, 40};
    GaussianPerturbation({.seed = 3}).apply(cpu_batch, members, start);
    const auto t0 = std::chrono::steady_clock::now();
    GaussianPerturbation({.seed = 3, .backend = Backend::Cuda}).apply(gpu_batch, members, start);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ok = same_bits(cpu_batch.data, gpu_batch.data, "GaussianPerturbation::apply, 5 members") && ok;
    std::printf("GPU apply of %zu values took %.3f ms (including copies)\n", gpu_batch.data.size(),
                seconds * 1e3);
    return ok ? 0 : 1;
  } catch (const std::exception& error) {
    std::printf("FAIL: %s\n", error.what());
    return 1;
  }
}
