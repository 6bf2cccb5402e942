// Per-point operations of the shallow-water model, compiled by BOTH g++ (CPU reference,
// swe_step.cpp, diagnostics.cpp) and nvcc (kernels, swe_step.cu, diagnostics.cu). Both sides
// call these very functions, so they do the same floating-point operations in the same
// order; with FMA contraction off on both sides (-ffp-contract=off, --fmad=false) the
// results are bit-identical. Only + - * / and sqrt appear here: every transcendental value
// is a precomputed host table (swe_geometry.cpp).
//
// Discretisation (docs/model.md): unstaggered (Arakawa A) regular lat-lon grid, cell centres
// at φ_j = -π/2 + (j+½)Δφ, λ_i = iΔλ. Continuity in flux form (finite volume: face fluxes
// are averages of the two cells, the pole faces carry none), momentum in vector-invariant
// form with centred differences, its meridional gradient of B in the energy-consistent form
// (swe_meridional_gradient). Across a pole the neighbour of row j is the same row at λ+π, with
// u and v negated (the local east/north vectors flip there).
#pragma once

#if defined(__CUDACC__)
#define SWE_HD __host__ __device__ inline
#else
#define SWE_HD inline
#endif

namespace stormrun::model {

inline constexpr int kSweFftMaxPasses = 32;

/// Table pointers (host or device memory) and scalars of one model grid.
struct SweView {
  int nlat = 0;
  int nlon = 0;
  double gravity = 0.0;
  double inv_2dlam = 0.0;
  double inv_2dphi = 0.0;
  const double* inv_acos = nullptr;   // [nlat]
  const double* inv_dx = nullptr;     // [nlat]
  const double* cos_ext = nullptr;    // [nlat+2], rows -1..nlat
  const double* cos_face = nullptr;   // [nlat+1]
  const double* ew_metric = nullptr;  // [nlat]
  const double* ns_metric = nullptr;  // [nlat]
  const double* coriolis = nullptr;   // [nlat*nlon]
  // ∇⁴ hyperdiffusion (swe_laplacian_value): K, and per row the zonal and meridional factors.
  double hd_k = 0.0;                 // K, m⁴/s
  const double* hd_zonal = nullptr;  // [nlat] 1/(a cosφ_eff Δλ)², cosφ_eff = max(cosφ, cosφ_c)
  const double* hd_merid = nullptr;  // [nlat] aΔλ / (A_j aΔφ)
  // Polar filter (swe_filter.hpp).
  const int* filter_row = nullptr;          // [nlat] the row's index r among filtered rows, or -1
  int filtered_rows = 0;                    // 2 · filter_pairs
  int filter_pairs = 0;                     // latitude pairs (φ, -φ) of filtered rows
  const int* filter_pair_row = nullptr;     // [filter_pairs] southern row j (northern: nlat-1-j)
  const double* filter_response = nullptr;  // [filter_pairs*nlon] S_k / nlon
  const double* fft_tw_re = nullptr;        // [nlon] cos(2πe/nlon)
  const double* fft_tw_im = nullptr;        // [nlon] -sin(2πe/nlon)
  int fft_passes = 0;
  int fft_radix[kSweFftMaxPasses] = {};  // radices of the passes, in order (product nlon)
};

/// Indices of a point's four neighbours and the sign of vector components there.
struct SweStencil {
  int c, e, w, n, s;
  double sign_n, sign_s;  // -1 when the neighbour lies across a pole
  double cos_n, cos_s;    // cosφ of the neighbour row in the extended (across-pole) chart
};

SWE_HD SweStencil swe_stencil(const SweView& g, int j, int i) {
  const int nlon = g.nlon;
  const int opposite = (i + nlon / 2 < nlon) ? i + nlon / 2 : i + nlon / 2 - nlon;
  SweStencil st;
  st.c = j * nlon + i;
  st.e = j * nlon + ((i + 1 == nlon) ? 0 : i + 1);
  st.w = j * nlon + ((i == 0) ? nlon - 1 : i - 1);
  if (j + 1 < g.nlat) {
    st.n = (j + 1) * nlon + i;
    st.sign_n = 1.0;
  } else {
    st.n = j * nlon + opposite;
    st.sign_n = -1.0;
  }
  if (j > 0) {
    st.s = (j - 1) * nlon + i;
    st.sign_s = 1.0;
  } else {
    st.s = j * nlon + opposite;
    st.sign_s = -1.0;
  }
  st.cos_n = g.cos_ext[j + 2];
  st.cos_s = g.cos_ext[j];
  return st;
}

/// Relative vorticity ζ = [∂v/∂λ - ∂(u cosφ)/∂φ] / (a cosφ), centred differences.
SWE_HD double swe_vorticity(const SweView& g, const SweStencil& st, int j, const double* u,
                            const double* v) {
  const double dv_dlam = (v[st.e] - v[st.w]) * g.inv_2dlam;
  const double ucos_n = (st.sign_n * u[st.n]) * st.cos_n;
  const double ucos_s = (st.sign_s * u[st.s]) * st.cos_s;
  const double ducos_dphi = (ucos_n - ucos_s) * g.inv_2dphi;
  return (dv_dlam - ducos_dphi) * g.inv_acos[j];
}

/// Bernoulli function g h + (u² + v²)/2 (signs of u, v do not matter).
SWE_HD double swe_bernoulli(double gravity, double h, double u, double v) {
  return gravity * h + 0.5 * (u * u + v * v);
}

/// The meridional gradient (1/a) ∂B/∂φ at a cell centre, in the form that is the negative
/// adjoint of the continuity's meridional flux divergence (energy-consistent):
///   ((B_n - B_c)·cosφ_{j+½} + (B_c - B_s)·cosφ_{j-½}) · aΔλ/(2 A_j)
/// The continuity moves h across the face j+½ with ½(hv_j + hv_{j+1})·cosφ_{j+½}; this is the
/// pressure work of exactly that flux, so the linearised h-v exchange conserves energy and no
/// mode can grow from it. A centred (B_n - B_s)/(2aΔφ) with the across-pole neighbour did
/// not: on the pole row its odd zonal wavenumbers (the flow across the pole) grew by ~2×/day
/// at 64x128 (docs/model.md, "The pole"). The pole face has cosφ = 0, so the pole row's
/// gradient is one-sided and nothing across the pole is used (B_n there is finite, times 0).
SWE_HD double swe_meridional_gradient(double b_c, double b_n, double b_s, double cos_face_n,
                                      double cos_face_s, double ns_metric) {
  return ((b_n - b_c) * cos_face_n + (b_c - b_s) * cos_face_s) * (0.5 * ns_metric);
}

/// Tendencies (dh/dt, du/dt, dv/dt) at point (j, i) of one member's fields.
SWE_HD void swe_tendency_point(const SweView& g, int j, int i, const double* h, const double* u,
                               const double* v, double* dh, double* du, double* dv) {
  const SweStencil st = swe_stencil(g, j, i);
  const double hc = h[st.c], uc = u[st.c], vc = v[st.c];

  // Continuity, flux form: fluxes through the east/west faces and the north/south faces
  // (the latter weighted by the face's cosφ; none through a pole).
  const double hu_c = hc * uc;
  const double flux_e = 0.5 * (hu_c + h[st.e] * u[st.e]);
  const double flux_w = 0.5 * (h[st.w] * u[st.w] + hu_c);
  const double hv_c = hc * vc;
  double flux_n = 0.0;
  if (j + 1 < g.nlat) flux_n = 0.5 * (hv_c + h[st.n] * v[st.n]) * g.cos_face[j + 1];
  double flux_s = 0.0;
  if (j > 0) flux_s = 0.5 * (h[st.s] * v[st.s] + hv_c) * g.cos_face[j];
  dh[st.c] = -((flux_e - flux_w) * g.ew_metric[j] + (flux_n - flux_s) * g.ns_metric[j]);

  // Momentum, vector-invariant form: ∂u/∂t = q v - ∂B/(a cosφ ∂λ), ∂v/∂t = -q u - ∂B/(a ∂φ)
  // with q = ζ + f and B the Bernoulli function.
  const double q = swe_vorticity(g, st, j, u, v) + g.coriolis[st.c];
  const double b_c = swe_bernoulli(g.gravity, hc, uc, vc);
  const double b_e = swe_bernoulli(g.gravity, h[st.e], u[st.e], v[st.e]);
  const double b_w = swe_bernoulli(g.gravity, h[st.w], u[st.w], v[st.w]);
  const double b_n = swe_bernoulli(g.gravity, h[st.n], u[st.n], v[st.n]);
  const double b_s = swe_bernoulli(g.gravity, h[st.s], u[st.s], v[st.s]);
  du[st.c] = q * vc - (b_e - b_w) * g.inv_dx[j];
  dv[st.c] = -(q * uc) - swe_meridional_gradient(b_c, b_n, b_s, g.cos_face[j + 1], g.cos_face[j],
                                                 g.ns_metric[j]);
}

/// Classic RK4 weights (b) and stage offsets (c): stage s adds b_s·dt·k_s to the sum and
/// prepares the next stage input y + c_{s+1}·dt·k_s.
inline constexpr int kRkStages = 4;
inline constexpr double kRkWeight[kRkStages] = {1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0};
inline constexpr double kRkNext[kRkStages - 1] = {0.5, 0.5, 1.0};

/// One value's RK4 update at `stage`: sum (acc), next stage input (ys), and on the last
/// stage the new state (y).
SWE_HD void swe_rk_point(int stage, double weight, double next, double dt, double k, double* y,
                         double* ys, double* acc) {
  const double wk = (weight * dt) * k;
  if (stage == 0) {
    *acc = *y + wk;
  } else if (stage < kRkStages - 1) {
    *acc = *acc + wk;
  }
  if (stage < kRkStages - 1) {
    *ys = *y + (next * dt) * k;
  } else {
    *y = *acc + wk;
  }
}

/// ∇² of a scalar at one point, from its value c and its four neighbours' (finite volume):
///   zonal:      ((e - c) - (c - w)) · 1/(a cosφ_eff Δλ)²
///   meridional: ((n - c)·cosφ_{j+½} - (c - s)·cosφ_{j-½}) · aΔλ/(A_j aΔφ)
/// The difference across a face is computed with the same operations by both cells, so the
/// area-weighted sum of ∇²h vanishes to rounding (mass is kept). No flux crosses a pole:
/// there cos_face is exactly 0, and the caller passes the point itself as the neighbour
/// across the pole ((c - c)·0 = 0), so nothing is read across the pole. u and v are
/// diffused as scalars (the damping of their gradients, not the vector Laplacian).
SWE_HD double swe_laplacian_value(double c, double e, double w, double n, double s, double zonal,
                                  double cos_face_n, double cos_face_s, double merid) {
  const double flux_n = (n - c) * cos_face_n;
  const double flux_s = (c - s) * cos_face_s;
  return ((e - c) - (c - w)) * zonal + (flux_n - flux_s) * merid;
}

/// ∇² at point (j, i) of a field f (nlat x nlon), as swe_laplacian_value.
SWE_HD double swe_laplacian_point(const SweView& g, int j, int i, const double* f) {
  const int nlon = g.nlon;
  const int c = j * nlon + i;
  const int e = j * nlon + ((i + 1 == nlon) ? 0 : i + 1);
  const int w = j * nlon + ((i == 0) ? nlon - 1 : i - 1);
  const int n = j + 1 < g.nlat ? c + nlon : c;  // a pole face: no flux (cos_face = 0)
  const int s = j > 0 ? c - nlon : c;
  return swe_laplacian_value(f[c], f[e], f[w], f[n], f[s], g.hd_zonal[j], g.cos_face[j + 1],
                             g.cos_face[j], g.hd_merid[j]);
}

/// One forward-Euler step of the hyperdiffusion, y ← y - (K·dt)·∇²(∇²y), given ∇²(∇²y).
SWE_HD double swe_hyperdiffuse(double y, double k_dt, double bilaplacian) {
  return y - k_dt * bilaplacian;
}

/// Wind speed sqrt(u² + v²).
SWE_HD double swe_wind_speed(double u, double v) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(u * u + v * v);
#else
  return __builtin_sqrt(u * u + v * v);
#endif
}

/// Integrand of the total energy: h(u² + v²)/2 + g h²/2 (per unit area).
SWE_HD double swe_energy_density(double gravity, double h, double u, double v) {
  return 0.5 * h * (u * u + v * v) + 0.5 * gravity * h * h;
}

}  // namespace stormrun::model
