#include "stormrun/model/rollout_state.hpp"

#include <algorithm>
#include <sstream>
#include <utility>

#include "stormrun/bits/text.hpp"

namespace stormrun::model {
namespace {

using text::join;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  for (std::size_t i = 0; i < shape.size(); ++i)
    out << (i ? "x" : "") << shape[i];
  return out.str();
}

}  // namespace

void RolloutCheckpoint::bind(Checkpoint& checkpoint, std::string model) {
  binding_.reset();  // release the identity before binding it again
  model_ = std::move(model);
  binding_.emplace(checkpoint.bind(RolloutState{}, /*min_level=*/2));
  saved_since_bind_ = false;
}

bool RolloutCheckpoint::enabled() const {
  return binding_ && binding_->enabled();
}

std::optional<RestoredRollout> RolloutCheckpoint::restored(const std::vector<std::string>& units,
                                                           const FieldBatch& initial) const {
  if (pending_ && pending_->units == units) {
    const FieldBatch& fields = pending_->state.fields;
    if (fields.grid != initial.grid || fields.variables != initial.variables ||
        fields.members != initial.members)
      throw CheckpointError("resumed fields for units [" + join(units) +
                            "] do not match the initial condition's grid, variables or "
                            "member count");
    return pending_->state;
  }
  if (!enabled() || saved_since_bind_ || !binding_->loaded()) return std::nullopt;
  const RolloutState& saved = **binding_;
  if (saved.step < 0 || saved.units != units) return std::nullopt;

  const Grid& grid = initial.grid;
  const std::vector<std::int64_t> expected_shape{
      initial.members, std::int64_t(initial.variables.size()), grid.nlat, grid.nlon};
  auto mismatch = [&](const std::string& what) {
    return CheckpointError("checkpoint state stormrun.model.RolloutState for units [" +
                           join(units) + "] does not match this run: " + what +
                           "; use another --checkpoint-dir or the configuration that wrote it");
  };
  if (saved.model != model_)
    throw mismatch("saved by model '" + saved.model + "', this model is '" + model_ + "'");
  if (saved.variables != initial.variables)
    throw mismatch("saved variables [" + join(saved.variables) + "], this run has [" +
                   join(initial.variables) + "]");
  if (saved.fields.shape != expected_shape)
    throw mismatch("saved fields have shape " + shape_text(saved.fields.shape) +
                   " (member x variable x lat x lon), this run needs " +
                   shape_text(expected_shape));
  if (saved.fields.data.size() != initial.data.size())
    throw mismatch("saved fields hold " + std::to_string(saved.fields.data.size()) +
                   " values, expected " + std::to_string(initial.data.size()));

  RestoredRollout out;
  out.step = saved.step;
  out.fields = FieldBatch(grid, initial.variables, initial.members);
  std::copy(saved.fields.data.begin(), saved.fields.data.end(), out.fields.data.begin());
  return out;
}

void RolloutCheckpoint::save(const std::vector<std::string>& units, std::int64_t step,
                             const FieldBatch& fields) {
  pending_.reset();
  if (!enabled()) return;
  RolloutState& state = **binding_;
  state.model = model_;
  state.units = units;
  state.variables = fields.variables;
  state.step = step;
  state.fields.shape = {fields.members, std::int64_t(fields.variables.size()), fields.grid.nlat,
                        fields.grid.nlon};
  state.fields.data = fields.data;
  saved_since_bind_ = true;
}

void RolloutCheckpoint::resume_with(std::vector<std::string> units, RestoredRollout state) {
  pending_ = PendingResume{std::move(units), std::move(state)};
}

}  // namespace stormrun::model
