// Diagnostics of shallow-water states (variables h, u, v): derived fields per point and
// integrals per member. Run on the CPU reference or the CUDA kernels with bit-identical
// results; integrals are summed in a fixed order (each row along longitude, then the rows
// from south to north weighted by the cell area), so they do not depend on the backend.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/model/planet.hpp"

namespace stormrun::model {

/// Area integrals of one member: mass ∫ h dA (m³) and total energy
/// ∫ (h|V|²/2 + g h²/2) dA (m⁵/s², i.e. per unit density).
struct MemberIntegrals {
  double mass = 0.0;
  double energy = 0.0;
};

class Diagnostics {
 public:
  /// Field names compute() accepts: "vorticity" (relative vorticity, 1/s, same centred
  /// differences as the model) and "wind_speed" (m/s).
  static std::vector<std::string> available();
  /// Units and long name of the diagnostic `name` (one of available()); std::invalid_argument
  /// naming it otherwise.
  static FieldDescription describe(const std::string& name);

  /// Device memory (on Cuda) is allocated on first use and kept while the batch size stays.
  Diagnostics(Grid grid, Backend backend, PlanetConstants planet = {});
  ~Diagnostics();
  Diagnostics(Diagnostics&&) noexcept;
  Diagnostics& operator=(Diagnostics&&) noexcept;

  Backend backend() const { return backend_; }
  /// The fields `names` (each from available(); std::invalid_argument naming it otherwise)
  /// for every member of `state`, which must hold h, u, v on this grid.
  FieldBatch compute(const FieldBatch& state, const std::vector<std::string>& names);
  /// Mass and energy of every member of `state`.
  std::vector<MemberIntegrals> integrals(const FieldBatch& state);

  struct Impl;

 private:
  Backend backend_;
  std::unique_ptr<Impl> impl_;
};

/// Cell areas per row (m²), south to north; a row's cells all have the same area.
std::vector<double> cell_areas(const Grid& grid, PlanetConstants planet = {});

/// Williamson's normalised l2 error sqrt(I[(x - ref)²]) / sqrt(I[ref²]) with I the
/// area-weighted global sum.
double normalised_l2_error(std::span<const double> field, std::span<const double> reference,
                           const Grid& grid);

}  // namespace stormrun::model
