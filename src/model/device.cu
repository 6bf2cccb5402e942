// CUDA device queries (model.hpp), compiled only when the build has CUDA.
#include <cuda_runtime.h>

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

}  // namespace stormrun::model
