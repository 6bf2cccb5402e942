// The model registry: the product's models, their variables and grid rules against the real
// models, the factories' settings, registration of another model, and the messages.
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "stormrun/model/persistence.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/model/shallow_water.hpp"

using namespace stormrun;
using namespace stormrun::model;

namespace {

ModelContext cpu_context(Grid grid) {
  return {.grid = grid, .dt_seconds = 3600.0, .device = DeviceChoice::Cpu};
}

// A registrable spec of a persistence under another name.
ModelSpec test_spec(const std::string& name) {
  ModelSpec spec = find_model("persistence");
  spec.name = name;
  return spec;
}

}  // namespace

TEST_CASE("the product's models are persistence and swe, in that order, with h, u, v") {
  std::vector<std::string> names;
  for (const auto& spec : registered_models())
    names.push_back(spec.name);
  REQUIRE(names.size() >= 2);
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 2) ==
        std::vector<std::string>{"persistence", "swe"});
  for (const char* name : {"persistence", "swe"}) {
    CAPTURE(name);
    const ModelSpec& spec = find_model(name);
    CHECK(spec.name == name);
    CHECK_FALSE(spec.help.empty());
    CHECK(spec.variables == std::vector<FieldDescription>{{"h", "m", "fluid height"},
                                                          {"u", "m s-1", "eastward wind"},
                                                          {"v", "m s-1", "northward wind"}});
  }
}

TEST_CASE("each model's spec agrees with the model its factory builds") {
  for (const char* name : {"persistence", "swe"}) {
    const ModelSpec& spec = find_model(name);
    CAPTURE(spec.name);
    const ModelContext context = cpu_context({8, 16});
    REQUIRE_FALSE(spec.grid_problem(context.grid));
    const auto model = spec.make(context);
    REQUIRE(model);
    CHECK(model->name() == spec.name);
    CHECK(model->variables() == spec.variable_names());
    CHECK(model->grid() == context.grid);
    CHECK(model->step() == std::chrono::seconds(3600));
  }
}

TEST_CASE("the factories pass the run's settings on as the run driver did") {
  ModelContext context = cpu_context({8, 16});
  context.substeps = 7;
  for (const std::string ic : {"tc2", "galewsky", "file:/nowhere/ic.h5"}) {
    CAPTURE(ic);
    context.initial_condition = ic;
    const auto model = find_model("swe").make(context);
    const auto* swe = dynamic_cast<const ShallowWater*>(model.get());
    REQUIRE(swe);
    CHECK(swe->config().grid == context.grid);
    CHECK(swe->config().dt_seconds == 3600.0);
    CHECK(swe->config().substeps == std::optional<int>(7));
    CHECK(swe->config().device == DeviceChoice::Cpu);
    CHECK(swe->config().rotation_alpha == 0.0);  // coriolis_tilt(ic, {}): no tilt by default
  }
  const auto persistence = find_model("persistence").make(cpu_context({1, 1}));
  REQUIRE(dynamic_cast<const Persistence*>(persistence.get()));
  CHECK(persistence->variables() == std::vector<std::string>{"h", "u", "v"});
}

TEST_CASE("each model's grid rule refuses exactly the grids its constructor refuses") {
  for (const char* name : {"persistence", "swe"}) {
    const ModelSpec& spec = find_model(name);
    for (int nlat : {-1, 0, 1, 3, 4, 5, 8}) {
      for (int nlon : {0, 1, 4, 6, 7, 8, 9, 10, 16}) {
        CAPTURE(spec.name);
        CAPTURE(nlat);
        CAPTURE(nlon);
        const Grid grid{nlat, nlon};
        bool model_accepts = true;
        try {
          (void)spec.make(cpu_context(grid));
        } catch (const std::invalid_argument&) {
          model_accepts = false;
        }
        const auto problem = spec.grid_problem(grid);
        CHECK(!problem == model_accepts);
        if (problem)
          CHECK(problem->find(std::to_string(nlat) + "x" + std::to_string(nlon)) !=
                std::string::npos);
      }
    }
  }
  CHECK(*find_model("swe").grid_problem({2, 3}) ==
        "2x3 cannot be used by the swe model: it needs NLAT >= 4 and an even NLON >= 8 "
        "(e.g. 64x128)");
  // The kernels' int indices bound the grid: 8192x8192 (2^26 points) is the largest square.
  CHECK_FALSE(find_model("swe").grid_problem({8192, 8192}));
  const auto too_big = find_model("swe").grid_problem({8192, 8194});
  REQUIRE(too_big);
  CHECK(too_big->find("8192x8194 cannot be used by the swe model: it has 67125248 points; the "
                      "model computes grids of up to 67108864 points") != std::string::npos);
}

TEST_CASE("find_model names the unknown model and the registered ones") {
  try {
    (void)find_model("gfs");
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    CHECK(message.find("'gfs'") != std::string::npos);
    CHECK(message.find("persistence, swe") != std::string::npos);
  }
}

TEST_CASE("register_model adds a model once and refuses unusable specs") {
  const auto before = registered_models().size();
  register_model(test_spec("registry-test"));
  REQUIRE(registered_models().size() == before + 1);
  CHECK(registered_models().back().name == "registry-test");
  CHECK(&find_model("registry-test") == &registered_models().back());

  CHECK_THROWS_WITH_AS(register_model(test_spec("registry-test")),
                       doctest::Contains("'registry-test' is registered already"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(register_model(test_spec("swe")), doctest::Contains("'swe'"),
                       std::invalid_argument);
  for (const char* bad_name : {"", "two words", "a,b", "a|b"}) {
    CAPTURE(bad_name);
    CHECK_THROWS_AS(register_model(test_spec(bad_name)), std::invalid_argument);
  }
  ModelSpec no_variables = test_spec("no-variables");
  no_variables.variables.clear();
  CHECK_THROWS_WITH_AS(register_model(no_variables), doctest::Contains("no variables"),
                       std::invalid_argument);
  ModelSpec repeated = test_spec("repeated");
  repeated.variables.push_back(repeated.variables.front());
  CHECK_THROWS_WITH_AS(register_model(repeated), doctest::Contains("twice"), std::invalid_argument);
  ModelSpec no_rule = test_spec("no-rule");
  no_rule.grid_problem = nullptr;
  CHECK_THROWS_AS(register_model(no_rule), std::invalid_argument);
  ModelSpec no_factory = test_spec("no-factory");
  no_factory.make = nullptr;
  CHECK_THROWS_AS(register_model(no_factory), std::invalid_argument);
  CHECK(registered_models().size() == before + 1);
}

TEST_CASE("describe_field: the model's variables, then the diagnostics") {
  const ModelSpec& swe = find_model("swe");
  CHECK(describe_field(swe, "h") == FieldDescription{"h", "m", "fluid height"});
  CHECK(describe_field(swe, "v") == FieldDescription{"v", "m s-1", "northward wind"});
  CHECK(describe_field(swe, "vorticity") ==
        FieldDescription{"vorticity", "s-1", "relative vorticity"});
  CHECK(describe_field(swe, "wind_speed") == FieldDescription{"wind_speed", "m s-1", "wind speed"});
  CHECK_THROWS_WITH_AS(describe_field(swe, "t2m"), doctest::Contains("'t2m'"),
                       std::invalid_argument);
}
