// stormrun with a third model, added through the registry alone (docs/architecture.md,
// "Adding a model"): this file defines the model and its ModelSpec, and main() registers
// it and runs stormrun's normal entry point. tests/run/e2e.py (case zonal_model) runs,
// stops and resumes it.
//
// zonal-relaxation: each variable relaxes toward its zonal mean (the mean over longitude
// of its row) with the e-folding time tau, once per lead-time step dt:
//
//   x <- xbar + (x - xbar) * exp(-dt / tau)
//
// exp(-dt/tau) is taken once, in the constructor; a row's mean is summed from west to
// east and divided by nlon. The order of operations is fixed, so every run writes the
// same bytes.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app/main_entry.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/model/rollout_state.hpp"

namespace {

using namespace stormrun;
using namespace stormrun::model;

constexpr double kTauSeconds = 2.0 * 86400.0;  // two days

std::string grid_text(const Grid& grid) {
  return std::to_string(grid.nlat) + "x" + std::to_string(grid.nlon);
}

// One lead-time step of every field of `fields`, in place.
void relax(FieldBatch& fields, double decay) {
  const int nlat = fields.grid.nlat, nlon = fields.grid.nlon;
  for (std::int64_t m = 0; m < fields.members; ++m) {
    for (std::size_t v = 0; v < fields.variables.size(); ++v) {
      const std::span<double> field = fields.field(m, v);
      for (int j = 0; j < nlat; ++j) {
        double* row = field.data() + std::size_t(j) * nlon;
        double sum = 0.0;
        for (int i = 0; i < nlon; ++i)
          sum = sum + row[i];
        const double mean = sum / nlon;
        for (int i = 0; i < nlon; ++i)
          row[i] = mean + (row[i] - mean) * decay;
      }
    }
  }
}

class ZonalRelaxationRollout final : public Rollout {
 public:
  ZonalRelaxationRollout(FieldBatch fields, std::int64_t step, std::vector<std::string> units,
                         double decay, RolloutCheckpoint& checkpoint)
      : fields_(std::move(fields)),
        step_(step),
        units_(std::move(units)),
        decay_(decay),
        checkpoint_(&checkpoint) {}

  std::int64_t step() const override { return step_; }
  const FieldBatch& state() override {
    checkpoint_->save(units_, step_, fields_);
    return fields_;
  }
  void advance() override {
    relax(fields_, decay_);
    ++step_;
  }

 private:
  FieldBatch fields_;
  std::int64_t step_;
  std::vector<std::string> units_;
  double decay_;
  RolloutCheckpoint* checkpoint_;
};

class ZonalRelaxation final : public PrognosticModel {
 public:
  ZonalRelaxation(Grid grid, std::vector<std::string> variables, double dt_seconds)
      : grid_(grid),
        variables_(std::move(variables)),
        step_(std::chrono::seconds(static_cast<std::int64_t>(dt_seconds))),
        decay_(std::exp(-dt_seconds / kTauSeconds)) {
    if (!(dt_seconds > 0.0))
      throw std::invalid_argument("zonal-relaxation: --dt " + text::number_text(dt_seconds) +
                                  " is not positive");
  }

  std::string name() const override { return "zonal-relaxation"; }
  std::vector<std::string> variables() const override { return variables_; }
  Grid grid() const override { return grid_; }
  Duration step() const override { return step_; }
  void bind_checkpoint(Checkpoint& checkpoint) override { checkpoint_.bind(checkpoint, name()); }

  std::unique_ptr<Rollout> rollout(const FieldBatch& initial,
                                   const std::vector<std::string>& units) override {
    if (initial.grid != grid_ || initial.variables != variables_)
      throw std::invalid_argument("zonal-relaxation: initial condition on grid " +
                                  grid_text(initial.grid) + " with variables [" +
                                  text::join(initial.variables) + "], the model needs " +
                                  grid_text(grid_) + " with [" + text::join(variables_) + "]");
    if (std::int64_t(units.size()) != initial.members)
      throw std::invalid_argument("zonal-relaxation: " + std::to_string(units.size()) +
                                  " work units for " + std::to_string(initial.members) +
                                  " members; give one unit per member");
    if (auto restored = checkpoint_.restored(units, initial)) {
      // The saved state was yielded before the interruption: continue with the next one.
      auto rollout = std::make_unique<ZonalRelaxationRollout>(
          std::move(restored->fields), restored->step, units, decay_, checkpoint_);
      rollout->advance();
      return rollout;
    }
    return std::make_unique<ZonalRelaxationRollout>(initial, 0, units, decay_, checkpoint_);
  }

  void resume_with(std::vector<std::string> units, std::int64_t step, FieldBatch fields) override {
    checkpoint_.resume_with(std::move(units), {step, std::move(fields)});
  }

 private:
  Grid grid_;
  std::vector<std::string> variables_;
  Duration step_;
  double decay_;
  RolloutCheckpoint checkpoint_;
};

ModelSpec zonal_relaxation_spec() {
  ModelSpec spec;
  spec.name = "zonal-relaxation";
  spec.help = "test model: fields relax to their zonal mean, tau 2 days";
  spec.variables = shallow_water_state_variables();
  spec.grid_problem = [](const Grid& grid) -> std::optional<std::string> {
    if (grid.nlat > 0 && grid.nlon > 0) return std::nullopt;
    return grid_text(grid) +
           " cannot be used by the zonal-relaxation model: it needs NLAT >= 1 "
           "and NLON >= 1";
  };
  spec.make = [variables = spec.variable_names()](const ModelContext& context) {
    return std::make_unique<ZonalRelaxation>(context.grid, variables, context.dt_seconds);
  };
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  stormrun::model::register_model(zonal_relaxation_spec());
  return stormrun::app::main_entry(argc, argv);
}
