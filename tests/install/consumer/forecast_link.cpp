// Built outside the stormrun tree against an installed stormrun's forecast component
// (tests/install/run, CONSUMER_FORECAST=ON): the registry lists the product's models, an
// initial condition is evaluated on a small grid, and the build's CUDA flag is the package's.
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/workflow/config.hpp"

int main() {
  const std::vector<std::string> names = stormrun::workflow::model_names();
  bool has_swe = false;
  for (const auto& name : names)
    has_swe = has_swe || name == "swe";
  const auto& swe = stormrun::model::find_model("swe");
  const stormrun::model::FieldBatch initial =
      stormrun::model::initial_condition("galewsky", stormrun::model::Grid{16, 32});
  double h_min = 1e300;
  for (double h : initial.field(0, initial.variable_index("h")))
    h_min = std::fmin(h_min, h);
  const bool cuda = stormrun::model::built_with_cuda();
  std::cout << names.size() << " models (swe: " << swe.help << "), galewsky h min " << h_min
            << " m, built with CUDA: " << cuda << "\n";
  if (!has_swe || !(h_min > 1000.0 && h_min < 20000.0) || cuda != bool(CONSUMER_EXPECT_CUDA)) {
    std::cerr << "forecast_link: unexpected values (swe listed " << has_swe << ", h min " << h_min
              << ", CUDA " << cuda << " but the package says " << bool(CONSUMER_EXPECT_CUDA)
              << ")\n";
    return 1;
  }
  return 0;
}
