// Persistence: the identity model (see persistence.hpp).
#include "stormrun/model/persistence.hpp"

#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "stormrun/bits/text.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/registry.hpp"

namespace stormrun::model {
namespace {

// The one grid rule of persistence, shared by the constructor and the registry.
std::optional<std::string> grid_problem(const Grid& grid) {
  if (grid.nlat > 0 && grid.nlon > 0) return std::nullopt;
  return "persistence: grid " + std::to_string(grid.nlat) + "x" + std::to_string(grid.nlon) +
         " is empty; give --grid NLATxNLON with positive sizes";
}

class PersistenceRollout final : public Rollout {
 public:
  PersistenceRollout(FieldBatch fields, std::int64_t step, std::vector<std::string> units,
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
  void advance() override { ++step_; }

 private:
  FieldBatch fields_;
  std::int64_t step_;
  std::vector<std::string> units_;
  RolloutCheckpoint* checkpoint_;
};

}  // namespace

Persistence::Persistence(PersistenceOptions options) : options_(std::move(options)) {
  if (const auto problem = grid_problem(options_.grid)) throw std::invalid_argument(*problem);
  if (options_.variables.empty())
    throw std::invalid_argument("persistence: no variables; give at least one (e.g. h,u,v)");
  if (std::set(options_.variables.begin(), options_.variables.end()).size() !=
      options_.variables.size())
    throw std::invalid_argument("persistence: variables [" + text::join(options_.variables) +
                                "] name one variable twice");
  if (options_.step <= Duration::zero())
    throw std::invalid_argument("persistence: step of " + std::to_string(options_.step.count()) +
                                " ns is not positive; give --dt SECONDS > 0");
}

void Persistence::bind_checkpoint(Checkpoint& checkpoint) {
  checkpoint_.bind(checkpoint, name());
}

std::unique_ptr<Rollout> Persistence::rollout(const FieldBatch& initial,
                                              const std::vector<std::string>& units) {
  if (initial.grid != options_.grid)
    throw std::invalid_argument(
        "persistence: initial condition on grid " + std::to_string(initial.grid.nlat) + "x" +
        std::to_string(initial.grid.nlon) + ", the model's grid is " +
        std::to_string(options_.grid.nlat) + "x" + std::to_string(options_.grid.nlon));
  if (initial.variables != options_.variables)
    throw std::invalid_argument("persistence: initial condition has variables [" +
                                text::join(initial.variables) + "], the model needs [" +
                                text::join(options_.variables) + "]");
  if (std::int64_t(units.size()) != initial.members)
    throw std::invalid_argument("persistence: " + std::to_string(units.size()) +
                                " work units for " + std::to_string(initial.members) +
                                " members; give one unit per member");
  if (auto restored = checkpoint_.restored(units, initial)) {
    // The saved state was already yielded (and written) before the interruption: continue
    // with the next one.
    auto rollout = std::make_unique<PersistenceRollout>(std::move(restored->fields), restored->step,
                                                        units, checkpoint_);
    rollout->advance();
    return rollout;
  }
  return std::make_unique<PersistenceRollout>(initial, 0, units, checkpoint_);
}

ModelSpec persistence_model_spec() {
  ModelSpec spec;
  spec.name = "persistence";
  spec.help = "identity";
  spec.variables = shallow_water_state_variables();
  spec.grid_problem = grid_problem;
  spec.make = [variables = spec.variable_names()](const ModelContext& context) {
    return std::make_unique<Persistence>(PersistenceOptions{
        .grid = context.grid,
        .variables = variables,
        .step = std::chrono::seconds(static_cast<std::int64_t>(context.dt_seconds))});
  };
  return spec;
}

}  // namespace stormrun::model
