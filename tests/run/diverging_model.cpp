// stormrun with a test model that diverges on purpose (tests/run/divergence.py): the fields
// stay as they are (persistence), except that at lead-time step kDivergeStep the state of
// member kDivergeMember (its unit name ends "/m0001") gets a NaN in u at grid point (0, 5).
// A valid configuration that ends in a non-finite state, cheaply and at a known step, to
// show that the run ends on every rank with kExitDiverged and keeps the steps before it.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app/main_entry.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/model/rollout_state.hpp"

namespace {

using namespace stormrun;
using namespace stormrun::model;

constexpr std::int64_t kDivergeStep = 3;
constexpr const char* kDivergeMember = "/m0001";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

class DivergingRollout final : public Rollout {
 public:
  DivergingRollout(FieldBatch fields, std::int64_t step, std::vector<std::string> units,
                   RolloutCheckpoint& checkpoint)
      : fields_(std::move(fields)),
        step_(step),
        units_(std::move(units)),
        checkpoint_(&checkpoint) {}

  std::int64_t step() const override { return step_; }
  const FieldBatch& state() override {
    checkpoint_->save(units_, step_, fields_);
    return fields_;
  }
  void advance() override {
    ++step_;
    if (step_ != kDivergeStep) return;
    for (std::size_t m = 0; m < units_.size(); ++m)
      if (ends_with(units_[m], kDivergeMember))
        fields_.field(std::int64_t(m), fields_.variable_index("u"))[5] =
            std::numeric_limits<double>::quiet_NaN();
  }

 private:
  FieldBatch fields_;
  std::int64_t step_;
  std::vector<std::string> units_;
  RolloutCheckpoint* checkpoint_;
};

class Diverging final : public PrognosticModel {
 public:
  Diverging(Grid grid, std::vector<std::string> variables, double dt_seconds)
      : grid_(grid),
        variables_(std::move(variables)),
        step_(std::chrono::seconds(static_cast<std::int64_t>(dt_seconds))) {}

  std::string name() const override { return "diverging"; }
  std::vector<std::string> variables() const override { return variables_; }
  Grid grid() const override { return grid_; }
  Duration step() const override { return step_; }
  void bind_checkpoint(Checkpoint& checkpoint) override { checkpoint_.bind(checkpoint, name()); }

  std::unique_ptr<Rollout> rollout(const FieldBatch& initial,
                                   const std::vector<std::string>& units) override {
    if (initial.grid != grid_ || initial.variables != variables_)
      throw std::invalid_argument("diverging: initial condition of another grid or variables");
    if (auto restored = checkpoint_.restored(units, initial)) {
      auto rollout = std::make_unique<DivergingRollout>(std::move(restored->fields), restored->step,
                                                        units, checkpoint_);
      rollout->advance();
      return rollout;
    }
    return std::make_unique<DivergingRollout>(initial, 0, units, checkpoint_);
  }

  void resume_with(std::vector<std::string> units, std::int64_t step, FieldBatch fields) override {
    checkpoint_.resume_with(std::move(units), {step, std::move(fields)});
  }

 private:
  Grid grid_;
  std::vector<std::string> variables_;
  Duration step_;
  RolloutCheckpoint checkpoint_;
};

ModelSpec diverging_spec() {
  ModelSpec spec;
  spec.name = "diverging";
  spec.help = "test model: persistence, member 1 gets a NaN in u at step 3";
  spec.variables = shallow_water_state_variables();
  spec.grid_problem = [](const Grid& grid) -> std::optional<std::string> {
    if (grid.nlat > 0 && grid.nlon >= 6) return std::nullopt;
    return "the diverging test model needs NLON >= 6";
  };
  spec.make = [variables = spec.variable_names()](const ModelContext& context) {
    return std::make_unique<Diverging>(context.grid, variables, context.dt_seconds);
  };
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  stormrun::model::register_model(diverging_spec());
  return stormrun::app::main_entry(argc, argv);
}
