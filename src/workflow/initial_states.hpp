// The lead-time-0 fields of the run's work units (DESIGN.md §2, §6): the initial condition
// (a named analytic state or an HDF5 file), perturbed per member by counter-based noise
// keyed by (seed, member, start time), so a member's fields never depend on its rank.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stormrun/checkpoint.hpp"
#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/model/perturbation.hpp"
#include "stormrun/workflow/config.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

class InitialStates {
 public:
  /// Reads or builds the initial condition of `config` for `variables` (the model's) and
  /// binds the perturbation's state to `checkpoint` (call before its session opens). Local.
  InitialStates(const RunConfig& config, const std::vector<std::string>& variables,
                model::Backend backend, Checkpoint& checkpoint);
  /// The same fields, not bound to a checkpoint (the start-up checks of input_checks.hpp).
  InitialStates(const RunConfig& config, const std::vector<std::string>& variables,
                model::Backend backend);

  /// The lead-time-0 fields of `indices` (into `units`), in that order. Local.
  model::FieldBatch of(const std::vector<WorkUnit>& units,
                       const std::vector<std::int64_t>& indices) const;

 private:
  model::FieldBatch base_;
  std::optional<model::GaussianPerturbation> noise_;
};

}  // namespace stormrun::workflow
