// Analytic initial conditions (initial_conditions.hpp). Host code only: the fields are
// computed once and then handed to whichever backend runs the model.
#include "stormrun/model/initial_conditions.hpp"

#include <cmath>
#include <functional>
#include <numbers>
#include <stdexcept>

namespace stormrun::model {
namespace {

constexpr double kPi = std::numbers::pi;
const std::vector<std::string> kNames = {"tc2", "tc6", "rossby-haurwitz", "galewsky",
                                         "galewsky-nobump"};

struct Point {
  double h, u, v;
};

FieldBatch evaluate(const Grid& grid, const std::function<Point(double, double)>& at) {
  FieldBatch out(grid, {"h", "u", "v"}, 1);
  auto h = out.field(0, 0), u = out.field(0, 1), v = out.field(0, 2);
  for (int j = 0; j < grid.nlat; ++j) {
    const double phi = -kPi / 2 + (j + 0.5) * kPi / grid.nlat;
    for (int i = 0; i < grid.nlon; ++i) {
      const double lam = i * 2.0 * kPi / grid.nlon;
      const Point p = at(phi, lam);
      const std::size_t k = std::size_t(j) * grid.nlon + i;
      h[k] = p.h;
      u[k] = p.u;
      v[k] = p.v;
    }
  }
  return out;
}

// Williamson et al. (1992) §3.2, test case 2.
FieldBatch williamson_tc2(const Grid& grid, const InitialConditionParams& p) {
  const double a = p.planet.radius, omega = p.planet.omega, g = p.planet.gravity;
  const double u0 = 2.0 * kPi * a / (12.0 * 86400.0);
  const double gh0 = 2.94e4;
  const double alpha = p.alpha;
  return evaluate(grid, [&](double phi, double lam) {
    const double s =
        -std::cos(lam) * std::cos(phi) * std::sin(alpha) + std::sin(phi) * std::cos(alpha);
    Point pt;
    pt.u = u0 * (std::cos(phi) * std::cos(alpha) + std::cos(lam) * std::sin(phi) * std::sin(alpha));
    pt.v = -u0 * std::sin(lam) * std::sin(alpha);
    pt.h = (gh0 - (a * omega * u0 + u0 * u0 / 2.0) * s * s) / g;
    return pt;
  });
}

// Williamson et al. (1992) §3.6, test case 6 (R = 4, ω = K = 7.848e-6 1/s, h0 = 8000 m).
FieldBatch rossby_haurwitz(const Grid& grid, const InitialConditionParams& p) {
  const double a = p.planet.radius, big_omega = p.planet.omega, g = p.planet.gravity;
  const double w = 7.848e-6, K = 7.848e-6, h0 = 8000.0;
  const double R = 4.0;
  return evaluate(grid, [&](double phi, double lam) {
    const double c = std::cos(phi), s = std::sin(phi);
    const double cR = std::pow(c, R), cR1 = std::pow(c, R - 1.0), c2R = std::pow(c, 2.0 * R);
    const double A =
        w / 2.0 * (2.0 * big_omega + w) * c * c +
        0.25 * K * K * c2R * ((R + 1.0) * c * c + (2.0 * R * R - R - 2.0) - 2.0 * R * R / (c * c));
    const double B = 2.0 * (big_omega + w) * K / ((R + 1.0) * (R + 2.0)) * cR *
                     ((R * R + 2.0 * R + 2.0) - (R + 1.0) * (R + 1.0) * c * c);
    const double C = 0.25 * K * K * c2R * ((R + 1.0) * c * c - (R + 2.0));
    Point pt;
    pt.u = a * w * c + a * K * cR1 * (R * s * s - c * c) * std::cos(R * lam);
    pt.v = -a * K * R * cR1 * s * std::sin(R * lam);
    pt.h = h0 + a * a * (A + B * std::cos(R * lam) + C * std::cos(2.0 * R * lam)) / g;
    return pt;
  });
}

/// Composite Simpson rule of f over [lo, hi] with `intervals` (even) sub-intervals.
double simpson(const std::function<double(double)>& f, double lo, double hi, int intervals) {
  if (hi <= lo) return 0.0;
  const double step = (hi - lo) / intervals;
  double sum = f(lo) + f(hi);
  for (int k = 1; k < intervals; ++k)
    sum += (k % 2 ? 4.0 : 2.0) * f(lo + k * step);
  return sum * step / 3.0;
}

// Galewsky, Scott & Polvani (2004), Tellus 56A: jet u(φ) between φ0 = π/7 and φ1 = π/2 - φ0
// with u_max = 80 m/s, height from gradient-wind balance, mean height 10 km; the bump is
// h' = 120 cosφ exp(-(λ/α)²) exp(-((φ2-φ)/β)²), α = 1/3, β = 1/15, φ2 = π/4.
FieldBatch galewsky(const Grid& grid, const InitialConditionParams& p, bool bump) {
  const double a = p.planet.radius, omega = p.planet.omega, g = p.planet.gravity;
  const double umax = 80.0, phi0 = kPi / 7.0, phi1 = kPi / 2.0 - phi0;
  const double en = std::exp(-4.0 / ((phi1 - phi0) * (phi1 - phi0)));
  auto jet = [&](double phi) {
    if (phi <= phi0 || phi >= phi1) return 0.0;
    return umax / en * std::exp(1.0 / ((phi - phi0) * (phi - phi1)));
  };
  // dI/dφ = a u (f + u tanφ / a); g h(φ) = g h0 - I(φ).
  auto integrand = [&](double phi) {
    const double u = jet(phi);
    return a * u * (2.0 * omega * std::sin(phi) + std::tan(phi) * u / a);
  };
  constexpr int kIntervals = 4000;
  auto balance = [&](double phi) {
    return simpson(integrand, phi0, std::min(phi, phi1), kIntervals);
  };
  // Mean of I over the sphere, ½∫ I cosφ dφ = ½ [I(π/2) - ∫ I'(φ) sinφ dφ] (by parts).
  const double mean_I =
      0.5 * (balance(phi1) - simpson([&](double phi) { return integrand(phi) * std::sin(phi); },
                                     phi0, phi1, kIntervals));
  const double h0 = 10000.0 + mean_I / g;

  std::vector<double> h_row(static_cast<std::size_t>(grid.nlat));
  for (int j = 0; j < grid.nlat; ++j)
    h_row[j] = h0 - balance(-kPi / 2 + (j + 0.5) * kPi / grid.nlat) / g;

  const double hhat = 120.0, alpha = 1.0 / 3.0, beta = 1.0 / 15.0, phi2 = kPi / 4.0;
  return evaluate(grid, [&](double phi, double lam) {
    const int j = static_cast<int>(std::lround((phi + kPi / 2) / (kPi / grid.nlat) - 0.5));
    Point pt;
    pt.u = jet(phi);
    pt.v = 0.0;
    pt.h = h_row[j];
    if (bump) {
      const double l = lam > kPi ? lam - 2.0 * kPi : lam;  // λ in (-π, π]
      pt.h += hhat * std::cos(phi) * std::exp(-(l / alpha) * (l / alpha)) *
              std::exp(-((phi2 - phi) / beta) * ((phi2 - phi) / beta));
    }
    return pt;
  });
}

}  // namespace

std::vector<std::string> initial_condition_names() {
  return kNames;
}

const std::vector<FieldDescription>& shallow_water_state_variables() {
  static const std::vector<FieldDescription> variables = {
      {"h", "m", "fluid height"},
      {"u", "m s-1", "eastward wind"},
      {"v", "m s-1", "northward wind"},
  };
  return variables;
}

FieldBatch initial_condition(const std::string& name, const Grid& grid,
                             const InitialConditionParams& params) {
  if (grid.nlat <= 0 || grid.nlon <= 0)
    throw std::invalid_argument("initial condition '" + name + "': grid " +
                                std::to_string(grid.nlat) + "x" + std::to_string(grid.nlon) +
                                " is empty");
  if (name == "tc2") return williamson_tc2(grid, params);
  if (name == "tc6" || name == "rossby-haurwitz") return rossby_haurwitz(grid, params);
  if (name == "galewsky") return galewsky(grid, params, true);
  if (name == "galewsky-nobump") return galewsky(grid, params, false);
  std::string known;
  for (const auto& n : kNames)
    known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("--initial-condition '" + name +
                              "' is not known; use one of: " + known + " (or file:PATH)");
}

double coriolis_tilt(const std::string& name, const InitialConditionParams& params) {
  return name == "tc2" ? params.alpha : 0.0;
}

}  // namespace stormrun::model
