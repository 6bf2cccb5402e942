// Analytic initial conditions of the shallow-water model, evaluated at the cell centres of a
// grid. Each returns a FieldBatch with one member and the variables h (m), u, v (m/s).
//
//   tc2                       Williamson et al. (1992) test case 2: steady zonal geostrophic
//                             flow, rotated by `alpha` (the model must then use the same
//                             tilt of its rotation axis: coriolis_tilt()).
//   tc6, rossby-haurwitz      Williamson et al. (1992) test case 6: wavenumber-4
//                             Rossby–Haurwitz wave.
//   galewsky                  Galewsky, Scott & Polvani (2004): balanced barotropically
//                             unstable mid-latitude jet plus its 120 m height bump.
//   galewsky-nobump           the same jet without the bump (stays steady).
//
// (Fields read from an HDF5 file, "file:PATH", are src/io's.)
#pragma once

#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/model/planet.hpp"

namespace stormrun::model {

struct InitialConditionParams {
  /// tc2: angle between the flow's axis and the Earth's axis, radians (0 = zonal flow).
  double alpha = 0.0;
  PlanetConstants planet{};
};

/// The names accepted by initial_condition().
std::vector<std::string> initial_condition_names();

/// The variables of every initial condition, in their order, as the output describes them:
/// h (m, fluid height), u (m s-1, eastward wind), v (m s-1, northward wind).
const std::vector<FieldDescription>& shallow_water_state_variables();

/// Fields of `name` on `grid`; std::invalid_argument naming the value and the accepted names
/// when unknown.
FieldBatch initial_condition(const std::string& name, const Grid& grid,
                             const InitialConditionParams& params = {});

/// Tilt of the rotation axis (radians) the model must use for `name` to be the steady state
/// it is meant to be: params.alpha for tc2 (Williamson's rotated Coriolis), 0 otherwise.
double coriolis_tilt(const std::string& name, const InitialConditionParams& params);

}  // namespace stormrun::model
