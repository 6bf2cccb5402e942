// The two implementations of "add amplitude · N(0, 1) to a set of fields": the CPU reference
// (perturbation.cpp) and the CUDA kernel (perturbation.cu). Both call the same inline
// arithmetic (perturbation_math.hpp) point pair by point pair, so they give the same bits.
#pragma once

#include <cstdint>
#include <span>

#include "perturbation_math.hpp"

namespace stormrun::model::detail {

/// One field to perturb: `points` doubles at data[offset ...].
struct FieldNoiseJob {
  noise::StreamKey key;
  std::uint32_t step;
  std::uint64_t variable_id;
  double amplitude;
  std::int64_t offset;
};

/// data[offset + p] = data[offset + p] + amplitude · z(key, step, variable, p), p < points.
void add_gaussian_noise_cpu(std::span<double> data, std::int64_t points,
                            std::span<const FieldNoiseJob> jobs);

/// The same on the GPU: copies `data` to the device, runs the kernel, copies it back.
/// std::runtime_error naming the CUDA call that failed. Only in CUDA builds.
void add_gaussian_noise_cuda(std::span<double> data, std::int64_t points,
                             std::span<const FieldNoiseJob> jobs);

}  // namespace stormrun::model::detail
