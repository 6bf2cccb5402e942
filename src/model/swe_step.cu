// CUDA kernels of the shallow-water step; the CPU reference is swe_step.cpp. The tendency and
// update kernels are one thread per point of the reference loop, the filter kernel one
// thread block per row pair; each calls the same per-point (per-element) functions of
// swe_ops.hpp / swe_filter.hpp as the reference, so results are bit-identical to it (no FMA:
// --fmad=false).
// Device memory for the whole batch is allocated once, in the stepper's constructor.
#include <algorithm>

#include "cuda_support.cuh"
#include "swe_filter.hpp"
#include "swe_stepper.hpp"

namespace stormrun::model {
namespace {

__global__ void tendency_kernel(SweView g, std::int64_t members, int substep, const int* substeps,
                                const double* state, double* k) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const std::size_t t = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * members) return;
  const std::int64_t m = std::int64_t(t / n);
  if (substep >= substeps[m]) return;
  const int p = int(t % n);
  const double* h = state + 3 * n * m;
  double* dh = k + 3 * n * m;
  swe_tendency_point(g, p / g.nlon, p % g.nlon, h, h + n, h + 2 * n, dh, dh + n, dh + 2 * n);
}

// One thread block per (member, variable, latitude pair): the row pair's complex transform in
// shared memory (4·NLON doubles), its butterflies shared out among the block's threads
// (swe_filter_cooperative: every element computed as the CPU reference computes it).
struct BlockBarrier {
  __device__ void operator()() const { __syncthreads(); }
};

__global__ void polar_filter_kernel(SweView g, int substep, const int* substeps, const double* k,
                                    double* kf) {
  extern __shared__ double lanes[];
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const int items = 3 * g.filter_pairs;
  const std::int64_t m = std::int64_t(blockIdx.x) / items;
  if (substep >= substeps[m]) return;  // the whole block
  const int var = int(blockIdx.x % items) / g.filter_pairs;
  const int pair = int(blockIdx.x % items) % g.filter_pairs;
  const int nlon = g.nlon;
  const int south = g.filter_pair_row[pair], north = g.nlat - 1 - south;
  double* xr = lanes;
  double* xi = lanes + nlon;
  const double* field = k + (3 * m + var) * n;
  for (int i = threadIdx.x; i < nlon; i += blockDim.x) {
    xr[i] = field[std::size_t(south) * nlon + i];
    xi[i] = field[std::size_t(north) * nlon + i];
  }
  __syncthreads();
  swe_filter_cooperative(g, pair, xr, xi, xi + nlon, xi + 2 * nlon, int(threadIdx.x),
                         int(blockDim.x), BlockBarrier{});
  double* out = kf + (3 * m + var) * g.filtered_rows * std::size_t(nlon);
  for (int i = threadIdx.x; i < nlon; i += blockDim.x) {
    out[std::size_t(g.filter_row[south]) * nlon + i] = xr[i];
    out[std::size_t(g.filter_row[north]) * nlon + i] = xi[i];
  }
}

__global__ void rk_update_kernel(SweView g, std::int64_t members, int substep, const int* substeps,
                                 const double* substep_dt, int stage, double weight, double next,
                                 const double* k, const double* kf, double* y, double* ys,
                                 double* acc) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const std::size_t t = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= 3 * n * members) return;
  const std::int64_t m = std::int64_t(t / (3 * n));
  if (substep >= substeps[m]) return;
  const std::size_t rest = t % (3 * n);
  const int var = int(rest / n);
  const int j = int(rest % n / g.nlon);
  const int i = int(rest % g.nlon);
  const int r = g.filter_row[j];
  const double kval =
      r < 0 ? k[t] : kf[((3 * m + var) * g.filtered_rows + r) * std::size_t(g.nlon) + i];
  swe_rk_point(stage, weight, next, substep_dt[m], kval, y + t, ys + t, acc + t);
}

// The hyperdiffusion after a sub-step: lap = ∇²y, then y = y - (K·dt)·∇²lap (one thread per
// value, as the reference's laplacian and hyperdiffuse loops).
__global__ void laplacian_kernel(SweView g, std::int64_t members, int substep, const int* substeps,
                                 const double* y, double* lap) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const std::size_t t = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= 3 * n * members) return;
  const std::int64_t m = std::int64_t(t / (3 * n));
  if (substep >= substeps[m]) return;
  const std::size_t field = t / n * n;  // (member, variable) block
  const int p = int(t % n);
  lap[t] = swe_laplacian_point(g, p / g.nlon, p % g.nlon, y + field);
}

__global__ void hyperdiffusion_kernel(SweView g, std::int64_t members, int substep,
                                      const int* substeps, const double* substep_dt,
                                      const double* lap, double* y) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const std::size_t t = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= 3 * n * members) return;
  const std::int64_t m = std::int64_t(t / (3 * n));
  if (substep >= substeps[m]) return;
  const std::size_t field = t / n * n;
  const int p = int(t % n);
  const double k_dt = g.hd_k * substep_dt[m];
  y[t] = swe_hyperdiffuse(y[t], k_dt, swe_laplacian_point(g, p / g.nlon, p % g.nlon, lap + field));
}

// Threads of a filter block: one butterfly each per pass (NLON/p of them; 32 for a radix-4
// pass at NLON = 128), so a block of 64 leaves few idle and several blocks share an SM.
constexpr int kFilterThreads = 64;

class CudaStepper final : public SweStepper {
 public:
  CudaStepper(const SweGeometry& geometry, std::int64_t members)
      : tables_(geometry),
        view_(tables_.view()),
        members_(members),
        size_(std::size_t(members) * 3 * geometry.grid.points()),
        y_(size_),
        ys_(size_),
        acc_(size_),
        k_(size_),
        kf_(std::size_t(members) * 3 * geometry.filtered_rows * geometry.grid.nlon),
        substeps_(std::size_t(members)),
        substep_dt_(std::size_t(members)),
        filter_blocks_(std::size_t(members) * 3 * geometry.filter_pair_row.size()),
        filter_shared_bytes_(4 * sizeof(double) * std::size_t(geometry.grid.nlon)) {
    // Past the default 48 KiB of shared memory per block (NLON > 1536) the kernel asks for
    // more; a device that has less refuses here, with the size named.
    if (filter_blocks_ > 0 && filter_shared_bytes_ > 48 * 1024) {
      const std::string what = "cudaFuncSetAttribute (polar filter shared memory for NLON = " +
                               std::to_string(geometry.grid.nlon) + ")";
      cuda_check(
          cudaFuncSetAttribute(polar_filter_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(filter_shared_bytes_)),
          what.c_str());
    }
  }

  void load(const std::vector<double>& fields) override {
    check_state_size(fields.size(), size_);
    y_.upload(fields);
  }
  void store(std::vector<double>& fields) override { y_.download(fields); }

  void advance(const std::vector<int>& substeps, const std::vector<double>& substep_dt) override {
    // Uploaded only when they change (once per rollout in practice).
    if (substeps != substeps_host_ || substep_dt != substep_dt_host_) {
      substeps_.upload(substeps);
      substep_dt_.upload(substep_dt);
      substeps_host_ = substeps;
      substep_dt_host_ = substep_dt;
    }
    if (substeps.empty()) return;
    const int most = *std::max_element(substeps.begin(), substeps.end());
    const std::size_t n = size_ / 3 / std::size_t(members_);

    for (int sub = 0; sub < most; ++sub) {
      for (int stage = 0; stage < kRkStages; ++stage) {
        const double* input = stage == 0 ? y_.get() : ys_.get();
        tendency_kernel<<<blocks_for(n * members_), kThreadsPerBlock>>>(
            view_, members_, sub, substeps_.get(), input, k_.get());
        if (filter_blocks_ > 0)
          polar_filter_kernel<<<unsigned(filter_blocks_), kFilterThreads, filter_shared_bytes_>>>(
              view_, sub, substeps_.get(), k_.get(), kf_.get());
        rk_update_kernel<<<blocks_for(size_), kThreadsPerBlock>>>(
            view_, members_, sub, substeps_.get(), substep_dt_.get(), stage, kRkWeight[stage],
            stage < kRkStages - 1 ? kRkNext[stage] : 0.0, k_.get(), kf_.get(), y_.get(), ys_.get(),
            acc_.get());
      }
      // The tendencies are spent: k holds ∇²y. (Dynamics 1 has no hyperdiffusion.)
      if (view_.hd_k == 0.0) continue;
      laplacian_kernel<<<blocks_for(size_), kThreadsPerBlock>>>(
          view_, members_, sub, substeps_.get(), y_.get(), k_.get());
      hyperdiffusion_kernel<<<blocks_for(size_), kThreadsPerBlock>>>(
          view_, members_, sub, substeps_.get(), substep_dt_.get(), k_.get(), y_.get());
    }
    cuda_check(cudaGetLastError(), "shallow-water step kernels (launch)");
    cuda_check(cudaDeviceSynchronize(), "shallow-water step kernels");
  }

 private:
  SweDeviceTables tables_;
  SweView view_;
  std::int64_t members_;
  std::size_t size_;
  DeviceBuffer<double> y_, ys_, acc_, k_, kf_;
  DeviceBuffer<int> substeps_;
  DeviceBuffer<double> substep_dt_;
  std::size_t filter_blocks_;  // one per (member, variable, latitude pair)
  std::size_t filter_shared_bytes_;
  std::vector<int> substeps_host_;
  std::vector<double> substep_dt_host_;
};

}  // namespace

std::unique_ptr<SweStepper> make_cuda_stepper(const SweGeometry& geometry, std::int64_t members) {
  if (cuda_device_count() == 0)
    throw std::runtime_error(
        "shallow water: the CUDA backend was requested but no usable CUDA device was found; "
        "use --device cpu|auto");
  return std::make_unique<CudaStepper>(geometry, members);
}

}  // namespace stormrun::model
