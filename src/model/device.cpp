// Backend choice (model.hpp). The CUDA queries live in device.cu when the build has CUDA;
// without it this file provides them (no GPU, never usable).
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include "device_bandwidth.hpp"
#include "stormrun/model/backend.hpp"

namespace stormrun::model {

#ifndef STORMRUN_HAVE_CUDA
int cuda_device_count() {
  return 0;
}
bool built_with_cuda() {
  return false;
}
double cuda_copy_bandwidth(std::size_t, int) {
  throw std::runtime_error("cuda_copy_bandwidth: this stormrun was built without CUDA");
}
#endif

Backend resolve_backend(DeviceChoice choice) {
  switch (choice) {
    case DeviceChoice::Cpu:
      return Backend::Cpu;
    case DeviceChoice::Cuda:
      if (!built_with_cuda())
        throw std::runtime_error(
            "--device cuda: this stormrun was built without CUDA (configure with "
            "-DSTORMRUN_CUDA=ON where nvcc is installed), or use --device cpu|auto");
      if (cuda_device_count() == 0)
        throw std::runtime_error(
            "--device cuda: no usable CUDA device was found on this node (check the driver "
            "and CUDA_VISIBLE_DEVICES), or use --device cpu|auto");
      return Backend::Cuda;
    case DeviceChoice::Auto:
      break;
  }
  if (cuda_device_count() > 0) return Backend::Cuda;
  // Said once per process: a batch job resolves the backend for every batch.
  static std::once_flag said;
  std::call_once(said, [] {
    std::fprintf(stderr, "stormrun: %s; running the model on the CPU\n",
                 built_with_cuda() ? "no usable CUDA device found" : "built without CUDA");
  });
  return Backend::Cpu;
}

}  // namespace stormrun::model
