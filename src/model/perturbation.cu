// CUDA kernel of the Gaussian perturbation: one thread per point pair of one field, calling
// the same inline arithmetic as the CPU reference in perturbation.cpp (bit-identical
// results; compiled with --fmad=false). Built only when CUDA is found.
#include <cuda_runtime.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "perturbation_kernels.hpp"

namespace stormrun::model::detail {
namespace {

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("Gaussian perturbation: ") + call +
                             " failed: " + cudaGetErrorString(status));
}

struct DeviceFree {
  void operator()(void* pointer) const noexcept { cudaFree(pointer); }
};
template <class T>
using DeviceBuffer = std::unique_ptr<T, DeviceFree>;

template <class T>
DeviceBuffer<T> device_alloc(std::size_t count) {
  void* pointer = nullptr;
  check(cudaMalloc(&pointer, count * sizeof(T)), "cudaMalloc");
  return DeviceBuffer<T>(static_cast<T*>(pointer));
}

__global__ void add_gaussian_noise_kernel(double* data, std::int64_t points,
                                          const FieldNoiseJob* jobs, std::int64_t pairs_per_field,
                                          std::int64_t total_pairs) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total_pairs;
       i += stride) {
    const FieldNoiseJob job = jobs[i / pairs_per_field];
    const std::int64_t p = 2 * (i % pairs_per_field);
    const noise::GaussianPair z =
        noise::gaussian_pair(job.key, std::uint32_t(p >> 1), job.step, job.variable_id);
    double* field = data + job.offset;
    field[p] = field[p] + job.amplitude * z.z0;
    if (p + 1 < points) field[p + 1] = field[p + 1] + job.amplitude * z.z1;
  }
}

}  // namespace

void add_gaussian_noise_cuda(std::span<double> data, std::int64_t points,
                             std::span<const FieldNoiseJob> jobs) {
  if (jobs.empty() || points == 0) return;
  auto device_data = device_alloc<double>(data.size());
  auto device_jobs = device_alloc<FieldNoiseJob>(jobs.size());
  check(cudaMemcpy(device_data.get(), data.data(), data.size_bytes(), cudaMemcpyHostToDevice),
        "cudaMemcpy (fields to device)");
  check(cudaMemcpy(device_jobs.get(), jobs.data(), jobs.size_bytes(), cudaMemcpyHostToDevice),
        "cudaMemcpy (noise keys to device)");
  const std::int64_t pairs_per_field = (points + 1) / 2;
  const std::int64_t total_pairs = pairs_per_field * std::int64_t(jobs.size());
  constexpr int kThreads = 256;
  const std::int64_t blocks_needed = (total_pairs + kThreads - 1) / kThreads;
  const int blocks = int(blocks_needed < 65535 * 16 ? blocks_needed : 65535 * 16);
  add_gaussian_noise_kernel<<<blocks, kThreads>>>(device_data.get(), points, device_jobs.get(),
                                                  pairs_per_field, total_pairs);
  check(cudaGetLastError(), "add_gaussian_noise_kernel launch");
  check(cudaMemcpy(data.data(), device_data.get(), data.size_bytes(), cudaMemcpyDeviceToHost),
        "cudaMemcpy (fields to host)");
}

}  // namespace stormrun::model::detail
