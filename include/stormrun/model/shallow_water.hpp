// The nonlinear shallow-water equations on the sphere (docs/model.md): h, u, v on a global
// regular lat-lon grid, RK4 sub-steps inside each output step of dt seconds, polar
// Fourier filter, CPU reference or CUDA kernels with bit-identical results.
//
//   ShallowWater model({.grid = Grid::parse("64x128"), .substeps = std::nullopt});
//   model.bind_checkpoint(ckpt);                       // level-2 state (optional)
//   auto rollout = model.rollout(initial_condition("galewsky", model.grid()), {"m0"});
//   for (...) { use(rollout->state()); rollout->advance(); }
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stormrun/model/model.hpp"
#include "stormrun/model/planet.hpp"
#include "stormrun/model/rollout_state.hpp"

namespace stormrun::model {

struct SweGeometry;
struct ModelSpec;

struct ShallowWaterConfig {
  Grid grid{};
  /// Lead-time step between output states, seconds (--dt).
  double dt_seconds = 21600.0;
  /// RK4 sub-steps per output step (--substeps N); nullopt = auto (the fewest stable ones).
  std::optional<int> substeps{};
  DeviceChoice device = DeviceChoice::Auto;
  /// Tilt of the rotation axis, radians: f = 2Ω(-cosλ cosφ sinα + sinφ cosα). Set it to
  /// coriolis_tilt() of the initial condition (tc2 with alpha), else 0.
  double rotation_alpha = 0.0;
  /// The dynamics version (docs/model.md, "Dynamics versions"): 1, 2 or 3 (the newest).
  int dynamics = 3;
  /// Rows poleward of this latitude (degrees) are Fourier-filtered in longitude.
  double filter_latitude_deg = 60.0;
  PlanetConstants planet{};
};

/// "auto" → nullopt, "N" → N >= 1; std::invalid_argument naming the text otherwise.
std::optional<int> parse_substeps(const std::string& text);

/// Sub-steps chosen for each member of a batch (from its state at lead time 0).
struct SubstepPlan {
  std::vector<int> substeps;       ///< per member
  std::vector<double> substep_dt;  ///< per member, seconds: dt / substeps
  std::vector<double> stable_dt;   ///< per member, seconds: the CFL limit
};

class ShallowWater final : public PrognosticModel {
 public:
  /// Resolves the backend (std::runtime_error for Cuda without a GPU) and computes the
  /// grid tables; std::invalid_argument naming the option when the config is unusable.
  explicit ShallowWater(ShallowWaterConfig config);
  ~ShallowWater() override;

  std::string name() const override { return "swe"; }
  std::vector<std::string> variables() const override { return {"h", "u", "v"}; }
  Grid grid() const override { return config_.grid; }
  Duration step() const override;
  Backend backend() const { return backend_; }
  const ShallowWaterConfig& config() const { return config_; }

  void bind_checkpoint(Checkpoint& checkpoint) override;

  /// Sub-steps of each member. A member's count depends on its own lead-time-0 state only
  /// (never on the batch it is in). With --substeps N, std::invalid_argument naming N, the
  /// sub-step and the stable limit when dt/N exceeds that limit for any member.
  SubstepPlan plan_substeps(const FieldBatch& initial) const;
  /// plan_substeps(initial), and every depth h > 0 (std::invalid_argument naming the
  /// member and the point otherwise).
  void check_initial(const FieldBatch& initial) const override;

  /// Device memory for the batch is allocated here, once. The rollout refers to this model:
  /// keep the model alive while it is used. std::invalid_argument when `initial` does not
  /// hold h,u,v on this grid or units.size() != initial.members.
  std::unique_ptr<Rollout> rollout(const FieldBatch& initial,
                                   const std::vector<std::string>& units) override;
  void resume_with(std::vector<std::string> units, std::int64_t step, FieldBatch fields) override {
    checkpoint_.resume_with(std::move(units), {step, std::move(fields)});
  }

 private:
  ShallowWaterConfig config_;
  Backend backend_;
  std::unique_ptr<SweGeometry> geometry_;
  RolloutCheckpoint checkpoint_;
};

/// The registry's entry (registry.hpp): variables h, u, v; grids with NLAT >= 4 and an even
/// NLON >= 8; the rotation axis tilted as coriolis_tilt() of the initial condition says.
ModelSpec shallow_water_model_spec();

}  // namespace stormrun::model
