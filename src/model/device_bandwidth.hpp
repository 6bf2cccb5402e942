// Memory-bandwidth probes for the model benchmark (benchmarks/bench_model.cpp): the limit
// that a kernel's achieved bandwidth is compared with, measured in the same run.
#pragma once

#include <cstddef>

namespace stormrun::model {

/// Device-to-device cudaMemcpy bandwidth in bytes/s (read + write counted), best of `reps`,
/// over a buffer of `bytes`. std::runtime_error without a CUDA build or device.
double cuda_copy_bandwidth(std::size_t bytes, int reps);

}  // namespace stormrun::model
