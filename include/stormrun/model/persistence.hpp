// Persistence: the identity forecast. Every lead time's state equals the initial state. It
// is the reference model of the restart machinery: at checkpoint level 2 it saves its
// current fields, and a restored rollout continues at the saved step + 1 with the same
// fields.
//
//   Persistence model({.grid = {32, 64}});
//   model.bind_checkpoint(ckpt);
//   auto rollout = model.rollout(initial, {"2026-01-01T00:00:00Z/m0"});
//   rollout->state();  rollout->advance();  ...
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "stormrun/model/model.hpp"
#include "stormrun/model/rollout_state.hpp"

namespace stormrun::model {

struct ModelSpec;

struct PersistenceOptions {
  Grid grid;
  std::vector<std::string> variables = {"h", "u", "v"};
  Duration step = std::chrono::hours(6);
};

class Persistence final : public PrognosticModel {
 public:
  /// std::invalid_argument naming the option when the grid is empty, the variables are
  /// empty or repeated, or the step is not positive.
  explicit Persistence(PersistenceOptions options = {});

  std::string name() const override { return "persistence"; }
  std::vector<std::string> variables() const override { return options_.variables; }
  Grid grid() const override { return options_.grid; }
  Duration step() const override { return options_.step; }
  void bind_checkpoint(Checkpoint& checkpoint) override;
  /// std::invalid_argument when `initial` is not on this grid with these variables or
  /// units.size() != initial.members. The rollout refers to this model: keep the model
  /// alive while it is used.
  std::unique_ptr<Rollout> rollout(const FieldBatch& initial,
                                   const std::vector<std::string>& units) override;
  void resume_with(std::vector<std::string> units, std::int64_t step, FieldBatch fields) override {
    checkpoint_.resume_with(std::move(units), {step, std::move(fields)});
  }

 private:
  PersistenceOptions options_;
  RolloutCheckpoint checkpoint_;
};

/// The registry's entry (registry.hpp): variables h, u, v; any non-empty grid; the step is
/// --dt.
ModelSpec persistence_model_spec();

}  // namespace stormrun::model
