// Host tables of the shallow-water discretisation (see swe_geometry.hpp).
#include "swe_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace stormrun::model {
namespace {

constexpr double kPi = std::numbers::pi;

std::string grid_text(const Grid& g) {
  return std::to_string(g.nlat) + "x" + std::to_string(g.nlon);
}

/// Response of the polar filter for zonal wavenumber k on a row at cosφ = cos_row: scales
/// the tendency of wave k so that its centred-difference frequency, sin(kΔλ)/(a cosφ Δλ),
/// does not exceed that of the cut-off latitude, 1/(a cosφ_c Δλ). Waves past kΔλ = π/2 are
/// damped as if sin(kΔλ) = 1, so the response falls monotonically with k.
double filter_response_of(int k, int nlon, double cos_row, double cos_cut) {
  const double angle = 2.0 * kPi * k / nlon;
  const double s = angle < kPi / 2 ? std::sin(angle) : 1.0;
  if (s <= 0.0) return 1.0;
  return std::min(1.0, cos_row / (cos_cut * s));
}

}  // namespace

std::optional<std::string> swe_grid_requirement(const Grid& g) {
  if (!(g.nlat >= 4 && g.nlon >= 8 && g.nlon % 2 == 0))
    return "it needs NLAT >= 4 and an even NLON >= 8 (e.g. 64x128)";
  // The kernels index a member's fields and scratch with int (swe_filter.hpp): 2^26 points
  // (8192x8192, a 2.4 km global grid) keeps every index in range.
  if (g.points() > kSweMaxPoints)
    return "it has " + std::to_string(g.points()) + " points; the model computes grids of up to " +
           std::to_string(kSweMaxPoints) + " points (e.g. 4096x16384)";
  return std::nullopt;
}

SweGeometry::SweGeometry(Grid g, PlanetConstants p, double alpha, double filter_latitude_deg,
                         int dynamics_version)
    : grid(g), planet(p), rotation_alpha(alpha), dynamics(dynamics_version) {
  if (dynamics < kSweDynamicsOldest || dynamics > kSweDynamicsLatest)
    throw std::invalid_argument("shallow-water dynamics " + std::to_string(dynamics) +
                                " is not one this stormrun computes (" +
                                std::to_string(kSweDynamicsOldest) + " to " +
                                std::to_string(kSweDynamicsLatest) + ")");
  if (const auto requirement = swe_grid_requirement(g))
    throw std::invalid_argument("grid " + grid_text(g) +
                                " cannot be used by the shallow-water model: " + *requirement);
  if (!(filter_latitude_deg > 0.0 && filter_latitude_deg < 90.0))
    throw std::invalid_argument("polar filter latitude " + std::to_string(filter_latitude_deg) +
                                " degrees is not in (0, 90)");
  filter_latitude = filter_latitude_deg * kPi / 180.0;
  const int nlat = g.nlat, nlon = g.nlon;
  const double a = p.radius;
  const double dlam = 2.0 * kPi / nlon;
  const double dphi = kPi / nlat;
  inv_2dlam = 1.0 / (2.0 * dlam);
  inv_2dphi = 1.0 / (2.0 * dphi);
  inv_2adphi = 1.0 / (2.0 * a * dphi);
  dy = a * dphi;

  auto centre = [&](int j) { return -kPi / 2 + (j + 0.5) * dphi; };
  auto face = [&](int j) { return -kPi / 2 + j * dphi; };  // southern face of row j

  inv_acos.resize(nlat);
  inv_dx.resize(nlat);
  ew_metric.resize(nlat);
  ns_metric.resize(nlat);
  area.resize(nlat);
  cos_face.resize(nlat + 1);
  cos_ext.resize(nlat + 2);
  for (int j = 0; j <= nlat; ++j)
    cos_face[j] = (j == 0 || j == nlat) ? 0.0 : std::cos(face(j));
  for (int j = 0; j < nlat; ++j) {
    const double c = std::cos(centre(j));
    inv_acos[j] = 1.0 / (a * c);
    inv_dx[j] = 1.0 / (2.0 * a * c * dlam);
    area[j] = a * a * dlam * (std::sin(face(j + 1)) - std::sin(face(j)));
    ew_metric[j] = a * dphi / area[j];
    ns_metric[j] = a * dlam / area[j];
    cos_ext[j + 1] = c;
  }
  // Ghost rows across the poles lie at φ = ∓π - φ_edge-row, where cosφ is negative.
  cos_ext[0] = -cos_ext[1];
  cos_ext[nlat + 1] = -cos_ext[nlat];

  coriolis.resize(static_cast<std::size_t>(nlat) * nlon);
  for (int j = 0; j < nlat; ++j) {
    const double phi = centre(j);
    for (int i = 0; i < nlon; ++i) {
      const double lam = i * dlam;
      coriolis[static_cast<std::size_t>(j) * nlon + i] =
          2.0 * p.omega *
          (-std::cos(lam) * std::cos(phi) * std::sin(alpha) + std::sin(phi) * std::cos(alpha));
    }
  }

  // ∇⁴ hyperdiffusion: K = (aΔλ)⁴ / (16 τ), so that the 2Δλ wave at the equator, for which
  // the discrete ∇² is -4/(aΔλ)², decays as exp(-t/τ). Poleward of the filter's cut-off the
  // zonal spacing is held at the cut-off's, as the filter holds the dynamics there (at 60°
  // at most: a filter set nearer the pole would leave the explicit step a tiny limit).
  {
    const double cos_cut = std::cos(std::min(filter_latitude, kHyperdiffusionCapDeg * kPi / 180.0));
    hd_tau = swe_hyperdiffusion_tau(g, dynamics);
    const double dx_eq = a * dlam;
    hd_k = hd_tau > 0 ? dx_eq * dx_eq * dx_eq * dx_eq / (16.0 * hd_tau) : 0.0;  // 1: none
    hd_zonal.resize(nlat);
    hd_merid.resize(nlat);
    double bound = 0.0;
    for (int j = 0; j < nlat; ++j) {
      const double c_eff = std::max(std::cos(centre(j)), cos_cut);
      const double dx = a * c_eff * dlam;
      hd_zonal[j] = 1.0 / (dx * dx);
      hd_merid[j] = a * dlam / (area[j] * a * dphi);
      // Gershgorin: |λ(∇²)| <= 2·(2 zonal + north + south).
      bound = std::max(bound,
                       2.0 * (2.0 * hd_zonal[j] + (cos_face[j + 1] + cos_face[j]) * hd_merid[j]));
    }
    hd_max_rate = hd_k * bound * bound;
  }

  // Polar filter: rows poleward of the cut-off, decided and tabulated per |φ| on the southern
  // row j and used for its mirror NLAT-1-j too, so the two rows of a pair have one response.
  const double cos_cut = std::cos(filter_latitude);
  filter_row.assign(nlat, -1);
  min_dx = a * dlam;
  for (int j = 0; j < nlat; ++j) {
    const int south = std::min(j, nlat - 1 - j);
    if (std::abs(centre(south)) <= filter_latitude) {
      min_dx = std::min(min_dx, a * dlam * std::cos(centre(j)));
      continue;
    }
    filter_row[j] = filtered_rows++;
    min_dx = std::min(min_dx, a * dlam * cos_cut);
    if (j != south) continue;  // the pair's table was made at its southern row
    filter_pair_row.push_back(j);
    const double c = std::cos(centre(j));
    for (int k = 0; k < nlon; ++k)
      filter_response.push_back(filter_response_of(std::min(k, nlon - k), nlon, c, cos_cut) / nlon);
  }
  // FFT of length nlon: twiddles and radices (as many 4s as divide, then 2s, then the odd
  // factors, smallest first).
  fft_tw_re.resize(nlon);
  fft_tw_im.resize(nlon);
  for (int e = 0; e < nlon; ++e) {
    fft_tw_re[e] = std::cos(2.0 * kPi * e / nlon);
    fft_tw_im[e] = -std::sin(2.0 * kPi * e / nlon);
  }
  for (int rest = nlon; rest > 1;) {
    int radix = rest % 4 == 0 ? 4 : rest % 2 == 0 ? 2 : 3;
    while (rest % radix != 0)
      radix += 2;
    fft_radix.push_back(radix);
    rest /= radix;
  }
  if (fft_radix.size() > static_cast<std::size_t>(kSweFftMaxPasses))
    throw std::invalid_argument("grid " + grid_text(g) + ": NLON has too many prime factors");
}

SweView SweGeometry::host_view() const {
  SweView v;
  v.nlat = grid.nlat;
  v.nlon = grid.nlon;
  v.gravity = planet.gravity;
  v.inv_2dlam = inv_2dlam;
  v.inv_2dphi = inv_2dphi;
  v.inv_2adphi = inv_2adphi;
  v.centred_gradient = dynamics < 3 ? 1 : 0;
  v.inv_acos = inv_acos.data();
  v.inv_dx = inv_dx.data();
  v.cos_ext = cos_ext.data();
  v.cos_face = cos_face.data();
  v.ew_metric = ew_metric.data();
  v.ns_metric = ns_metric.data();
  v.coriolis = coriolis.data();
  v.hd_k = hd_k;
  v.hd_zonal = hd_zonal.data();
  v.hd_merid = hd_merid.data();
  v.filter_row = filter_row.data();
  v.filtered_rows = filtered_rows;
  v.filter_pairs = static_cast<int>(filter_pair_row.size());
  v.filter_pair_row = filter_pair_row.data();
  v.filter_response = filter_response.data();
  v.fft_tw_re = fft_tw_re.data();
  v.fft_tw_im = fft_tw_im.data();
  v.fft_passes = static_cast<int>(fft_radix.size());
  for (std::size_t k = 0; k < fft_radix.size(); ++k)
    v.fft_radix[k] = fft_radix[k];
  return v;
}

double swe_stable_substep(const SweGeometry& geometry, const double* member_fields) {
  const std::size_t n = static_cast<std::size_t>(geometry.grid.points());
  const double* h = member_fields;
  const double* u = member_fields + n;
  const double* v = member_fields + 2 * n;
  double speed = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    if (!std::isfinite(u[k]) || !std::isfinite(v[k]))
      throw std::invalid_argument("shallow water: the initial wind is not finite at grid point " +
                                  std::to_string(k) + " (u = " + std::to_string(u[k]) +
                                  ", v = " + std::to_string(v[k]) + ")");
    if (!(h[k] > 0.0) || !std::isfinite(h[k]))
      throw std::invalid_argument("shallow water: the initial height h is " + std::to_string(h[k]) +
                                  " m at grid point " + std::to_string(k) +
                                  "; the model needs h > 0 everywhere");
    speed = std::max(
        speed, std::sqrt(u[k] * u[k] + v[k] * v[k]) + std::sqrt(geometry.planet.gravity * h[k]));
  }
  const double inv_spacing =
      std::sqrt(1.0 / (geometry.min_dx * geometry.min_dx) + 1.0 / (geometry.dy * geometry.dy));
  const double cfl = kCflSafety * 2.0 * std::numbers::sqrt2 / (speed * inv_spacing);
  // The hyperdiffusion's forward-Euler step is stable while dt · K·λmax(∇⁴) <= 2.
  if (!(geometry.hd_max_rate > 0)) return cfl;  // dynamics 1: none
  const double diffusion = kCflSafety * 2.0 / geometry.hd_max_rate;
  return std::min(cfl, diffusion);
}

double swe_hyperdiffusion_tau(const Grid& grid, int dynamics) {
  if (dynamics <= 1) return 0.0;  // no hyperdiffusion
  return (dynamics == 2 ? kHyperdiffusionTau64x128Dynamics2 : kHyperdiffusionTau64x128) *
         (128.0 / grid.nlon);
}

}  // namespace stormrun::model
