// Initial states (initial_states.hpp).
#include "initial_states.hpp"

#include <algorithm>

#include "stormrun/model/ic_file.hpp"
#include "stormrun/model/initial_conditions.hpp"

namespace stormrun::workflow {

namespace sm = stormrun::model;

InitialStates::InitialStates(const RunConfig& config, const std::vector<std::string>& variables,
                             sm::Backend backend, Checkpoint& checkpoint)
    : InitialStates(config, variables, backend) {
  if (noise_) noise_->bind_checkpoint(checkpoint);
}

InitialStates::InitialStates(const RunConfig& config, const std::vector<std::string>& variables,
                             sm::Backend backend) {
  if (auto path = sm::initial_condition_file_path(config.initial_condition))
    base_ = sm::read_initial_condition_file(*path, config.grid, variables);
  else
    base_ = sm::initial_condition(config.initial_condition, config.grid);
  if (config.perturbation == "gaussian") {
    noise_.emplace(sm::GaussianPerturbationOptions{
        .seed = config.seed,
        .amplitudes = sm::default_noise_amplitudes(config.noise_amplitude),
        .backend = backend});
  }
}

sm::FieldBatch InitialStates::of(const std::vector<WorkUnit>& units,
                                 const std::vector<std::int64_t>& indices) const {
  sm::FieldBatch batch(base_.grid, base_.variables, std::int64_t(indices.size()));
  const std::size_t per_member = base_.data.size();
  for (std::size_t i = 0; i < indices.size(); ++i) {
    sm::FieldBatch one = base_;
    if (noise_) {
      const WorkUnit& unit = units.at(std::size_t(indices[i]));
      noise_->apply(one, {unit.member}, unit.start);
    }
    std::copy(one.data.begin(), one.data.end(),
              batch.data.begin() + std::ptrdiff_t(i * per_member));
  }
  return batch;
}

}  // namespace stormrun::workflow
