// Planet constants shared by the shallow-water model, its initial conditions and its
// diagnostics (values of Williamson et al. 1992).
#pragma once

namespace stormrun::model {

struct PlanetConstants {
  double radius = 6.37122e6;  ///< a, metres
  double omega = 7.292e-5;    ///< Ω, rotation rate, 1/s
  double gravity = 9.80616;   ///< g, m/s²
};

}  // namespace stormrun::model
