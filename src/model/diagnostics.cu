// CUDA kernels of the diagnostics; the CPU reference is diagnostics.cpp. One thread per
// output value (fields) or per (member, row) (row sums, summed along longitude in order),
// calling the same functions as the reference; the rows are then summed on the host in
// the reference's order, so integrals are bit-identical too.
#include "cuda_support.cuh"
#include "diagnostics_backend.hpp"

namespace stormrun::model {
namespace {

__global__ void fields_kernel(SweView g, std::int64_t members, const DiagnosticField* kinds,
                              int nkinds, const double* state, double* out) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const std::size_t t = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= std::size_t(members) * nkinds * n) return;
  const std::int64_t m = std::int64_t(t / (std::size_t(nkinds) * n));
  const int f = int(t / n % nkinds);
  const int p = int(t % n);
  const double* u = state + (3 * m + 1) * n;
  out[t] = diagnostic_point(g, kinds[f], p / g.nlon, p % g.nlon, u, u + n);
}

__global__ void row_sums_kernel(SweView g, std::int64_t members, const double* state,
                                double* rows) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  const std::size_t t = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= std::size_t(members) * g.nlat) return;
  const std::int64_t m = std::int64_t(t / g.nlat);
  const int j = int(t % g.nlat);
  const double* h = state + 3 * m * n;
  diagnostic_row_sums(g, j, h, h + n, h + 2 * n, &rows[2 * t], &rows[2 * t + 1]);
}

class CudaDiagnostics final : public DiagnosticsBackend {
 public:
  explicit CudaDiagnostics(const SweGeometry& geometry)
      : tables_(geometry), view_(tables_.view()) {}

  void fields(const std::vector<double>& state, std::int64_t members,
              const std::vector<DiagnosticField>& kinds, std::vector<double>& out) override {
    upload_state(state);
    const std::size_t n = std::size_t(view_.nlat) * view_.nlon;
    const std::size_t count = std::size_t(members) * kinds.size() * n;
    if (out_.size() != count) out_ = DeviceBuffer<double>(count);
    if (kinds_.size() != kinds.size()) kinds_ = DeviceBuffer<DiagnosticField>(kinds.size());
    kinds_.upload(kinds);
    fields_kernel<<<blocks_for(count), kThreadsPerBlock>>>(
        view_, members, kinds_.get(), int(kinds.size()), state_.get(), out_.get());
    cuda_check(cudaGetLastError(), "diagnostics fields kernel (launch)");
    out_.download(out);
  }

  void row_sums(const std::vector<double>& state, std::int64_t members,
                std::vector<double>& rows) override {
    upload_state(state);
    const std::size_t count = std::size_t(members) * view_.nlat;
    if (rows_.size() != 2 * count) rows_ = DeviceBuffer<double>(2 * count);
    row_sums_kernel<<<blocks_for(count), kThreadsPerBlock>>>(view_, members, state_.get(),
                                                             rows_.get());
    cuda_check(cudaGetLastError(), "diagnostics row-sum kernel (launch)");
    rows_.download(rows);
  }

 private:
  // Buffers are reallocated only when the batch size changes.
  void upload_state(const std::vector<double>& state) {
    if (state_.size() != state.size()) state_ = DeviceBuffer<double>(state.size());
    state_.upload(state);
  }
  SweDeviceTables tables_;
  SweView view_;
  DeviceBuffer<double> state_, out_, rows_;
  DeviceBuffer<DiagnosticField> kinds_;
};

}  // namespace

std::unique_ptr<DiagnosticsBackend> make_cuda_diagnostics(const SweGeometry& geometry) {
  if (cuda_device_count() == 0)
    throw std::runtime_error(
        "diagnostics: the CUDA backend was requested but no usable CUDA device was found; use "
        "--device cpu|auto");
  return std::make_unique<CudaDiagnostics>(geometry);
}

}  // namespace stormrun::model
