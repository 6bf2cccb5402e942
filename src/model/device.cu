// CUDA device queries (model.hpp), compiled only when the build has CUDA.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_support.cuh"
#include "device_bandwidth.hpp"

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"

namespace stormrun::model {

int cuda_device_count() {
  // Without a GPU cudaGetDeviceCount fails (e.g. error 35, insufficient driver) and leaves
  // the count untouched: start at 0 and treat any error as "no device".
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls are not confused by it
    return 0;
  }
  return count;
}

bool built_with_cuda() {
  return true;
}

double cuda_copy_bandwidth(std::size_t bytes, int reps) {
  if (cuda_device_count() == 0)
    throw std::runtime_error("cuda_copy_bandwidth: no usable CUDA device");
  DeviceBuffer<char> from(bytes), to(bytes);
  cuda_check(cudaMemset(from.get(), 1, bytes), "cudaMemset");
  cudaEvent_t start, stop;
  cuda_check(cudaEventCreate(&start), "cudaEventCreate");
  cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
  float best_ms = 0.0f;
  for (int r = 0; r <= reps; ++r) {  // the first copy warms up
    cuda_check(cudaEventRecord(start), "cudaEventRecord");
    cuda_check(cudaMemcpy(to.get(), from.get(), bytes, cudaMemcpyDeviceToDevice),
               "cudaMemcpy (device to device)");
    cuda_check(cudaEventRecord(stop), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    cuda_check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (r > 0) best_ms = (r == 1) ? ms : std::min(best_ms, ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 2.0 * double(bytes) / (double(best_ms) * 1e-3);
}

}  // namespace stormrun::model
