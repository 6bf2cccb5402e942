// ShallowWater: the PrognosticModel around the step kernels (swe_step.cpp / swe_step.cu).
#include "stormrun/model/shallow_water.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/registry.hpp"
#include "swe_geometry.hpp"
#include "swe_stepper.hpp"

namespace stormrun::model {
namespace {

std::string grid_text(const Grid& g) {
  return std::to_string(g.nlat) + "x" + std::to_string(g.nlon);
}

// A value for a message, as %g would print it: "-1.3e+300", "0".
std::string value_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

std::string seconds_text(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g s", s);
  return buf;
}

class SweRollout final : public Rollout {
 public:
  SweRollout(std::unique_ptr<SweStepper> stepper, FieldBatch fields, std::int64_t step,
             SubstepPlan plan, std::vector<std::string> units, RolloutCheckpoint& checkpoint)
      : stepper_(std::move(stepper)),
        host_(std::move(fields)),
        step_(step),
        plan_(std::move(plan)),
        units_(std::move(units)),
        checkpoint_(&checkpoint) {
    stepper_->load(host_.data);
  }

  std::int64_t step() const override { return step_; }

  const FieldBatch& state() override {
    if (stale_) {
      stepper_->store(host_.data);
      stale_ = false;
    }
    checkpoint_->save(units_, step_, host_);
    return host_;
  }

  void advance() override {
    stepper_->advance(plan_.substeps, plan_.substep_dt);
    ++step_;
    stale_ = true;
  }

 private:
  std::unique_ptr<SweStepper> stepper_;
  FieldBatch host_;
  std::int64_t step_;
  SubstepPlan plan_;
  std::vector<std::string> units_;
  RolloutCheckpoint* checkpoint_;
  bool stale_ = false;
};

}  // namespace

std::optional<int> parse_substeps(const std::string& text) {
  if (text == "auto") return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1)
    throw std::invalid_argument("--substeps '" + text +
                                "' is not valid; give auto or a positive integer");
  return value;
}

ShallowWater::ShallowWater(ShallowWaterConfig config) : config_(config) {
  if (!(config_.dt_seconds > 0.0) || !std::isfinite(config_.dt_seconds))
    throw std::invalid_argument("--dt " + std::to_string(config_.dt_seconds) +
                                " is not a positive number of seconds");
  if (config_.substeps && *config_.substeps < 1)
    throw std::invalid_argument("--substeps " + std::to_string(*config_.substeps) +
                                " is not valid; give auto or a positive integer");
  geometry_ = std::make_unique<SweGeometry>(config_.grid, config_.planet, config_.rotation_alpha,
                                            config_.filter_latitude_deg, config_.dynamics);
  backend_ = resolve_backend(config_.device);
}

ShallowWater::~ShallowWater() = default;

Duration ShallowWater::step() const {
  return Duration(static_cast<Duration::rep>(std::llround(config_.dt_seconds * 1e9)));
}

void ShallowWater::bind_checkpoint(Checkpoint& checkpoint) {
  checkpoint_.bind(checkpoint, name());
}

SubstepPlan ShallowWater::plan_substeps(const FieldBatch& initial) const {
  SubstepPlan plan;
  const double dt = config_.dt_seconds;
  for (std::int64_t m = 0; m < initial.members; ++m) {
    const double stable = swe_stable_substep(*geometry_, initial.field(m, 0).data());
    int n = 0;
    if (config_.substeps) {
      n = *config_.substeps;
      if (dt / n > stable) {
        const double needed = std::ceil(dt / stable);
        throw std::invalid_argument(
            "--substeps " + std::to_string(n) + " gives sub-steps of " + seconds_text(dt / n) +
            ", above the stable limit " + seconds_text(stable) + " (CFL, RK4) for member " +
            std::to_string(m) + " of this initial state on grid " + grid_text(config_.grid) +
            " with --dt " + seconds_text(dt) + "; use --substeps auto or --substeps >= " +
            std::to_string(static_cast<long long>(needed)));
      }
    } else {
      // A state whose waves need more sub-steps than this is not a forecast: refused before
      // the count overflows or the run takes years (e.g. noise scaled far beyond the flow).
      constexpr double kMostSubsteps = 1e5;
      if (!(dt / stable <= kMostSubsteps))
        throw std::invalid_argument(
            "member " + std::to_string(m) + " of this initial state on grid " +
            grid_text(config_.grid) + " has a stable sub-step of " + seconds_text(stable) +
            " (CFL, RK4): over " + std::to_string(static_cast<long long>(kMostSubsteps)) +
            " sub-steps per --dt " + seconds_text(dt) +
            "; its waves are far too fast (check --noise-amplitude and the initial condition)");
      n = static_cast<int>(std::ceil(dt / stable));
      while (dt / n > stable)
        ++n;  // guard against rounding in the division
      n = std::max(n, 1);
    }
    plan.substeps.push_back(n);
    plan.substep_dt.push_back(dt / n);
    plan.stable_dt.push_back(stable);
  }
  return plan;
}

void ShallowWater::check_initial(const FieldBatch& initial) const {
  for (std::int64_t m = 0; m < initial.members; ++m) {
    const auto h = initial.field(m, 0);
    const auto bad = std::find_if(h.begin(), h.end(), [](double v) { return !(v > 0.0); });
    if (bad != h.end())
      throw std::invalid_argument(
          "member " + std::to_string(m) + " starts with layer depth h = " + value_text(*bad) +
          " m at grid point " + std::to_string(bad - h.begin()) +
          "; the shallow-water layer must be deeper than 0 everywhere (a smaller "
          "--noise-amplitude or another initial condition)");
  }
  (void)plan_substeps(initial);
}

std::unique_ptr<Rollout> ShallowWater::rollout(const FieldBatch& initial,
                                               const std::vector<std::string>& units) {
  if (initial.grid != config_.grid)
    throw std::invalid_argument("swe: initial condition on grid " + grid_text(initial.grid) +
                                ", the model's --grid is " + grid_text(config_.grid));
  if (initial.variables != variables())
    throw std::invalid_argument(
        "swe: the initial condition must hold the variables h,u,v in "
        "that order");
  if (std::int64_t(units.size()) != initial.members)
    throw std::invalid_argument("swe: " + std::to_string(units.size()) + " work units for " +
                                std::to_string(initial.members) +
                                " members; give one unit per member");
  // Sub-steps come from the lead-time-0 state, also when resuming, so a resumed rollout
  // takes exactly the sub-steps of an uninterrupted one.
  SubstepPlan plan = plan_substeps(initial);
  auto stepper = make_stepper(backend_, *geometry_, initial.members);
  if (auto restored = checkpoint_.restored(units, initial)) {
    // The saved state was already yielded before the interruption: continue with the next.
    auto rollout =
        std::make_unique<SweRollout>(std::move(stepper), std::move(restored->fields),
                                     restored->step, std::move(plan), units, checkpoint_);
    rollout->advance();
    return rollout;
  }
  return std::make_unique<SweRollout>(std::move(stepper), initial, 0, std::move(plan), units,
                                      checkpoint_);
}

ModelSpec shallow_water_model_spec() {
  ModelSpec spec;
  spec.name = "swe";
  spec.help = "shallow water on the sphere";
  // 1: RK4, polar filter. 2: and the ∇⁴ hyperdiffusion (docs/model.md, "Dissipation"). 3: the
  // energy-consistent meridional gradient of B (no growing mode at the poles), τ = 1 day.
  spec.dynamics = std::to_string(kSweDynamicsLatest);
  for (int d = kSweDynamicsOldest; d <= kSweDynamicsLatest; ++d)
    spec.supported_dynamics.push_back(std::to_string(d));
  spec.variables = shallow_water_state_variables();
  spec.grid_problem = [](const Grid& grid) -> std::optional<std::string> {
    if (const auto requirement = swe_grid_requirement(grid))
      return grid_text(grid) + " cannot be used by the swe model: " + *requirement;
    return std::nullopt;
  };
  spec.make = [](const ModelContext& context) {
    return std::make_unique<ShallowWater>(ShallowWaterConfig{
        .grid = context.grid,
        .dt_seconds = context.dt_seconds,
        .substeps = context.substeps,
        .device = context.device,
        // 0 for every initial condition but tc2 (file:PATH included).
        .rotation_alpha = coriolis_tilt(context.initial_condition, {}),
        .dynamics = context.dynamics.empty() ? kSweDynamicsLatest : std::stoi(context.dynamics),
    });
  };
  return spec;
}

}  // namespace stormrun::model
