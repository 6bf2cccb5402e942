// CUDA kernel of the Gaussian perturbation: one thread per point pair of one field, calling
// the same inline arithmetic as the CPU reference in perturbation.cpp (bit-identical
// results; compiled with --fmad=false). Built only when CUDA is found.
#include "device_buffer.hpp"
#include "perturbation_kernels.hpp"

namespace stormrun::model::detail {
namespace {

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
  const DeviceBuffer<double> device_data(data.size());
  const DeviceBuffer<FieldNoiseJob> device_jobs(jobs.size());
  cuda_check(cudaMemcpy(device_data.get(), data.data(), data.size_bytes(), cudaMemcpyHostToDevice),
             "Gaussian perturbation: cudaMemcpy (fields to device)");
  cuda_check(cudaMemcpy(device_jobs.get(), jobs.data(), jobs.size_bytes(), cudaMemcpyHostToDevice),
             "Gaussian perturbation: cudaMemcpy (noise keys to device)");
  const std::int64_t pairs_per_field = (points + 1) / 2;
  const std::int64_t total_pairs = pairs_per_field * std::int64_t(jobs.size());
  constexpr int kThreads = 256;
  const std::int64_t blocks_needed = (total_pairs + kThreads - 1) / kThreads;
  const int blocks = int(blocks_needed < 65535 * 16 ? blocks_needed : 65535 * 16);
  add_gaussian_noise_kernel<<<blocks, kThreads>>>(device_data.get(), points, device_jobs.get(),
                                                  pairs_per_field, total_pairs);
  cuda_check(cudaGetLastError(), "Gaussian perturbation: add_gaussian_noise_kernel launch");
  cuda_check(cudaMemcpy(data.data(), device_data.get(), data.size_bytes(), cudaMemcpyDeviceToHost),
             "Gaussian perturbation: cudaMemcpy (fields to host)");
}

}  // namespace stormrun::model::detail
