// The model registry: the one place that maps a --model name to what the rest of stormrun
// needs of that model: its variables (with units and long names), the grids it can use,
// its --help line and the factory that builds it from the run configuration. Each model
// defines its ModelSpec in its own file; registry.cpp lists the product's models
// (docs/architecture.md, "Adding a model").
//
//   const ModelSpec& spec = find_model("swe");
//   if (auto problem = spec.grid_problem(grid)) refuse(*problem);
//   std::unique_ptr<PrognosticModel> model = spec.make({.grid = grid, .dt_seconds = 3600});
//
// Local (no MPI). Not thread-safe: register models before anything reads the registry.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "stormrun/model/model.hpp"

namespace stormrun::model {

/// What a model's factory gets from the run configuration (defaults: RunConfig's).
struct ModelContext {
  Grid grid{};
  double dt_seconds = 21600.0;    ///< lead-time step between outputs (--dt), whole seconds
  std::optional<int> substeps{};  ///< --substeps; nullopt = auto
  DeviceChoice device = DeviceChoice::Auto;
  /// --initial-condition: a name ("galewsky") or "file:PATH" (swe derives its rotation
  /// from it).
  std::string initial_condition = "galewsky";
  /// The dynamics version to compute (one of ModelSpec::supported_dynamics); empty: the
  /// newest (ModelSpec::dynamics). A resume computes its store's.
  std::string dynamics{};
};

/// A model as the registry knows it.
struct ModelSpec {
  std::string name;  ///< --model value, PrognosticModel::name() (letters, digits, '-', '_')
  std::string help;  ///< a few words for --help: "shallow water on the sphere"
  /// Version of the model's dynamics: bumped whenever the same settings give other bytes
  /// (e.g. swe "2": with the ∇⁴ hyperdiffusion). Part of the run fingerprint, so a store or
  /// output of other dynamics is refused (exit 3) rather than continued with these.
  std::string dynamics = "1";
  /// Every dynamics version this build still computes (bit-identically to the stormrun that
  /// introduced it), so that a store made by an older stormrun is continued with its own
  /// dynamics; empty: only `dynamics`.
  std::vector<std::string> supported_dynamics{};
  /// Prognostic variables in the model's order (= PrognosticModel::variables()).
  std::vector<FieldDescription> variables;
  /// Why the model cannot use `grid`, as a sentence naming the grid; nullopt: usable.
  /// Cheap: it must not build the model.
  std::function<std::optional<std::string>(const Grid&)> grid_problem;
  /// Builds the model; std::invalid_argument naming the option when the context is unusable.
  std::function<std::unique_ptr<PrognosticModel>(const ModelContext&)> make;

  /// The names of `variables`, in order.
  std::vector<std::string> variable_names() const;
};

/// Every model, in registration order: the product's (registry.cpp), then register_model()'s.
/// References into it stay valid when a model is registered later.
const std::deque<ModelSpec>& registered_models();
/// The model named `name`; std::invalid_argument naming it and the registered names otherwise.
const ModelSpec& find_model(const std::string& name);
/// Adds a model, for programs that embed stormrun (e.g. a test binary). Call it before the
/// options are parsed (the --help text is built once). std::invalid_argument when the name
/// is taken or not a name, the variables are empty or repeated, or grid_problem or make is
/// missing.
void register_model(ModelSpec spec);

/// Units and long name of an output field of `model`: one of its variables, else a
/// diagnostic (Diagnostics::describe); std::invalid_argument naming the field otherwise.
FieldDescription describe_field(const ModelSpec& model, const std::string& field);

}  // namespace stormrun::model
