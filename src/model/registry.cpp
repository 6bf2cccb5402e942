// The model registry (registry.hpp). The product's models are listed here, one line each;
// each model's spec lives in the model's own file.
#include "stormrun/model/registry.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>
#include <utility>

#include <deque>

#include "stormrun/bits/text.hpp"
#include "stormrun/model/diagnostics.hpp"

// The product's models, in --help order: the one registration line. Each name is a function
// `ModelSpec NAME()` of namespace stormrun::model, defined in the model's own file.
#define STORMRUN_PRODUCT_MODELS(X) X(persistence_model_spec) X(shallow_water_model_spec)

namespace stormrun::model {

#define STORMRUN_DECLARE_MODEL_SPEC(spec) ModelSpec spec();
STORMRUN_PRODUCT_MODELS(STORMRUN_DECLARE_MODEL_SPEC)
#undef STORMRUN_DECLARE_MODEL_SPEC

namespace {

// A deque: registering a model keeps the references find_model() handed out valid.
using ModelList = std::deque<ModelSpec>;

std::vector<std::string> names_of(const ModelList& models) {
  std::vector<std::string> names;
  for (const auto& spec : models)
    names.push_back(spec.name);
  return names;
}

// std::invalid_argument when `spec` cannot join `models`.
void check_spec(const ModelSpec& spec, const ModelList& models) {
  const auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  };
  if (spec.name.empty() || !std::all_of(spec.name.begin(), spec.name.end(), is_name_char))
    throw std::invalid_argument("model registry: '" + spec.name +
                                "' is not a model name; use letters, digits, '-' and '_'");
  const std::string what = "model registry: model '" + spec.name + "'";
  const auto names = names_of(models);
  if (std::find(names.begin(), names.end(), spec.name) != names.end())
    throw std::invalid_argument(what + " is registered already (models: " +
                                text::join(names, ", ") + "); give it another name");
  const auto variables = spec.variable_names();
  if (variables.empty()) throw std::invalid_argument(what + " has no variables");
  if (std::set(variables.begin(), variables.end()).size() != variables.size())
    throw std::invalid_argument(what + ": variables [" + text::join(variables) +
                                "] name one variable twice");
  if (!spec.grid_problem) throw std::invalid_argument(what + " has no grid_problem");
  if (!spec.make) throw std::invalid_argument(what + " has no factory (make)");
}

ModelList& models() {
  static ModelList list = [] {
    ModelList product;
    const auto add = [&product](ModelSpec spec) {
      check_spec(spec, product);
      product.push_back(std::move(spec));
    };
#define STORMRUN_ADD_MODEL_SPEC(spec) add(spec());
    STORMRUN_PRODUCT_MODELS(STORMRUN_ADD_MODEL_SPEC)
#undef STORMRUN_ADD_MODEL_SPEC
    return product;
  }();
  return list;
}

}  // namespace

std::vector<std::string> ModelSpec::variable_names() const {
  std::vector<std::string> names;
  for (const auto& variable : variables)
    names.push_back(variable.name);
  return names;
}

const ModelList& registered_models() {
  return models();
}

const ModelSpec& find_model(const std::string& name) {
  for (const auto& spec : models())
    if (spec.name == name) return spec;
  throw std::invalid_argument("'" + name + "' is not a model; the models are " +
                              text::join(names_of(models()), ", "));
}

void register_model(ModelSpec spec) {
  check_spec(spec, models());
  models().push_back(std::move(spec));
}

FieldDescription describe_field(const ModelSpec& model, const std::string& field) {
  for (const auto& variable : model.variables)
    if (variable.name == field) return variable;
  try {
    return Diagnostics::describe(field);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("'" + field + "' is neither a variable of the " + model.name +
                                " model (" + text::join(model.variable_names(), ", ") +
                                ") nor a diagnostic (" +
                                text::join(Diagnostics::available(), ", ") + ")");
  }
}

}  // namespace stormrun::model
