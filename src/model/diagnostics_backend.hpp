// Backends of Diagnostics: the CPU reference loops (diagnostics.cpp) and the CUDA kernels
// (diagnostics.cu), both calling the per-point functions of swe_ops.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "swe_geometry.hpp"

namespace stormrun::model {

/// Derived field kinds, in the order of Diagnostics::available().
enum class DiagnosticField { Vorticity = 0, WindSpeed = 1 };

class DiagnosticsBackend {
 public:
  virtual ~DiagnosticsBackend() = default;
  /// out[m][f][j][i] for each member m of `state` ([m][h,u,v][j][i]) and field kinds[f].
  virtual void fields(const std::vector<double>& state, std::int64_t members,
                      const std::vector<DiagnosticField>& kinds, std::vector<double>& out) = 0;
  /// Per member and row, the sums along longitude of h and of the energy density:
  /// rows[(m*nlat + j)*2 + 0] = Σ_i h, [.. + 1] = Σ_i e, each summed i = 0, 1, … in order.
  virtual void row_sums(const std::vector<double>& state, std::int64_t members,
                        std::vector<double>& rows) = 0;
};

std::unique_ptr<DiagnosticsBackend> make_cpu_diagnostics(const SweGeometry& geometry);
std::unique_ptr<DiagnosticsBackend> make_cuda_diagnostics(const SweGeometry& geometry);

/// One derived value at (j, i) of one member (shared by the CPU loop and the kernel).
SWE_HD double diagnostic_point(const SweView& g, DiagnosticField kind, int j, int i,
                               const double* u, const double* v) {
  if (kind == DiagnosticField::Vorticity) return swe_vorticity(g, swe_stencil(g, j, i), j, u, v);
  const int c = j * g.nlon + i;
  return swe_wind_speed(u[c], v[c]);
}

/// Row sums of h and of the energy density of row j of one member, in order of i.
SWE_HD void diagnostic_row_sums(const SweView& g, int j, const double* h, const double* u,
                                const double* v, double* mass, double* energy) {
  double sum_h = 0.0, sum_e = 0.0;
  const int base = j * g.nlon;
  for (int i = 0; i < g.nlon; ++i) {
    sum_h = sum_h + h[base + i];
    sum_e = sum_e + swe_energy_density(g.gravity, h[base + i], u[base + i], v[base + i]);
  }
  *mass = sum_h;
  *energy = sum_e;
}

}  // namespace stormrun::model
