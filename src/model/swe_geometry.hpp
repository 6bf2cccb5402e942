// Host-side tables of the shallow-water discretisation, computed ONCE per model: metric
// terms, cell areas, Coriolis and the polar-filter coefficients. Every sin/cos is taken
// here, on the host, so that the CPU reference and the CUDA kernels (which only read these
// tables and use + - * / sqrt) see the very same numbers (DESIGN.md §6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/model/planet.hpp"
#include "swe_ops.hpp"

namespace stormrun::model {

/// The most points a grid of the swe model has: its kernels index with int (swe_filter.hpp).
inline constexpr std::int64_t kSweMaxPoints = std::int64_t{1} << 26;

/// What the discretisation needs of a grid, when `grid` lacks it ("it needs NLAT >= 4 and an
/// even NLON >= 8 (e.g. 64x128)"), else nullopt: the stencils need four rows, the polar
/// filter an even number of columns, the int indices at most kSweMaxPoints points.
/// SweGeometry refuses exactly these grids; the registry asks it without building the
/// tables (seconds on large grids).
std::optional<std::string> swe_grid_requirement(const Grid& grid);

/// The newest dynamics version of the swe model, and the oldest this build still computes.
inline constexpr int kSweDynamicsLatest = 3;
inline constexpr int kSweDynamicsOldest = 1;

struct SweGeometry {
  Grid grid;
  PlanetConstants planet;
  double rotation_alpha = 0.0;   ///< tilt of the rotation axis (Williamson tc2), radians
  double filter_latitude = 0.0;  ///< rows poleward of this (radians) are filtered
  /// The dynamics version (docs/model.md, "Dynamics versions"): 1 without the hyperdiffusion,
  /// 2 with it (τ = 6 h at NLON 128), both with the centred meridional gradient of B; 3 the
  /// energy-consistent gradient and τ = 1 day.
  int dynamics = kSweDynamicsLatest;

  double inv_2dlam = 0.0;         ///< 1/(2Δλ)
  double inv_2dphi = 0.0;         ///< 1/(2Δφ)
  double inv_2adphi = 0.0;        ///< 1/(2aΔφ) (the centred gradient of dynamics 1 and 2)
  std::vector<double> inv_acos;   ///< [nlat] 1/(a cosφ_j)
  std::vector<double> inv_dx;     ///< [nlat] 1/(2 a cosφ_j Δλ)
  std::vector<double> cos_ext;    ///< [nlat+2] cosφ on rows -1..nlat (ghosts across the poles)
  std::vector<double> cos_face;   ///< [nlat+1] cosφ_{j-1/2}; exactly 0 at the poles
  std::vector<double> ew_metric;  ///< [nlat] aΔφ / A_j
  std::vector<double> ns_metric;  ///< [nlat] aΔλ / A_j
  std::vector<double> area;       ///< [nlat] A_j, cell area in m²
  std::vector<double> coriolis;   ///< [nlat*nlon] f
  std::vector<int> filter_row;    ///< [nlat] index r of the row among filtered rows, -1 if none
  int filtered_rows = 0;
  std::vector<int> filter_pair_row;     ///< [pairs] southern row j of each pair (north: nlat-1-j)
  std::vector<double> filter_response;  ///< [pairs*nlon] S_k / nlon of the pair's |φ|
  std::vector<double> fft_tw_re;        ///< [nlon] cos(2πe/nlon)
  std::vector<double> fft_tw_im;        ///< [nlon] -sin(2πe/nlon)
  std::vector<int> fft_radix;           ///< FFT passes: radices 4, then 2, then odd factors
  double hd_tau = 0.0;                  ///< e-folding time of the equator's 2Δλ wave, seconds
  double hd_k = 0.0;                    ///< hyperdiffusion coefficient K, m⁴/s
  std::vector<double> hd_zonal;  ///< [nlat] 1/(a cosφ_eff Δλ)², cosφ_eff = max(cosφ, cosφ_cap)
  std::vector<double> hd_merid;  ///< [nlat] aΔλ / (A_j aΔφ)
  double hd_max_rate = 0.0;      ///< K · (Gershgorin bound of -∇²)², 1/s: the fastest decay
  double min_dx = 0.0;           ///< smallest effective zonal spacing (filtered), metres
  double dy = 0.0;               ///< meridional spacing aΔφ, metres

  /// std::invalid_argument naming the grid when it cannot be used (nlon odd, too small).
  /// Also when `dynamics` is not one of 1, 2, 3.
  SweGeometry(Grid g, PlanetConstants p, double alpha, double filter_latitude_deg,
              int dynamics = kSweDynamicsLatest);

  /// Pointers into these host tables, for the CPU reference.
  SweView host_view() const;
};

/// Largest stable RK4 sub-step (seconds) for one member's fields (h,u,v at [3][nlat][nlon]):
/// safety · 2√2 / (max(|V| + sqrt(g h)) · sqrt(1/dx² + 1/dy²)) with the filtered dx.
double swe_stable_substep(const SweGeometry& geometry, const double* member_fields);

/// The hyperdiffusion's e-folding time τ of the 2Δλ wave at the equator on `grid`, seconds:
/// kHyperdiffusionTau64x128 at NLON = 128, proportional to Δλ otherwise (docs/model.md).
double swe_hyperdiffusion_tau(const Grid& grid, int dynamics = kSweDynamicsLatest);

/// The safety factor applied to the RK4 imaginary-axis limit 2√2.
inline constexpr double kCflSafety = 0.8;

/// τ of the hyperdiffusion at NLON = 128 (Δλ = 2.8125°, 313 km at the equator), seconds.
inline constexpr double kHyperdiffusionTau64x128 = 24.0 * 3600.0;
/// τ of dynamics 2 (the centred gradient needed 4× the damping).
inline constexpr double kHyperdiffusionTau64x128Dynamics2 = 6.0 * 3600.0;
/// Poleward of min(filter cut-off, this latitude, degrees) the hyperdiffusion's zonal spacing
/// is held at that latitude's.
inline constexpr double kHyperdiffusionCapDeg = 60.0;

}  // namespace stormrun::model
