// Grid, FieldBatch, backend choice, initial conditions and diagnostics of the model room.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/model.hpp"

using namespace stormrun::model;
using std::numbers::pi;

TEST_CASE("Grid::parse reads NLATxNLON and names bad text") {
  const Grid g = Grid::parse("64x128");
  CHECK(g.nlat == 64);
  CHECK(g.nlon == 128);
  CHECK(g.points() == 64 * 128);
  for (const char* bad : {"64", "x128", "64x", "64x12a", "0x128", "-4x8", "64X128"}) {
    CAPTURE(bad);
    try {
      Grid::parse(bad);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find(bad) != std::string::npos);
    }
  }
}

TEST_CASE("Grid coordinates are cell centres south to north, longitudes from 0") {
  const Grid g{4, 8};
  const auto lat = g.lat_degrees(), lon = g.lon_degrees();
  REQUIRE(lat.size() == 4);
  CHECK(lat[0] == doctest::Approx(-67.5));
  CHECK(lat[3] == doctest::Approx(67.5));
  REQUIRE(lon.size() == 8);
  CHECK(lon[0] == 0.0);
  CHECK(lon[7] == doctest::Approx(315.0));
}

TEST_CASE("FieldBatch lays out member, variable, lat, lon") {
  FieldBatch b(Grid{2, 3}, {"h", "u", "v"}, 2);
  REQUIRE(b.data.size() == 2 * 3 * 6);
  b.field(1, 2)[5] = 7.0;
  CHECK(b.data[(1 * 3 + 2) * 6 + 5] == 7.0);
  CHECK(b.variable_index("u") == 1);
  CHECK_THROWS_WITH_AS(b.variable_index("zeta"), doctest::Contains("zeta"), std::out_of_range);
}

TEST_CASE("backend choice: cpu always, cuda only with a usable GPU, auto falls back") {
  CHECK(resolve_backend(DeviceChoice::Cpu) == Backend::Cpu);
  if (cuda_device_count() == 0) {
    CHECK(resolve_backend(DeviceChoice::Auto) == Backend::Cpu);
    CHECK_THROWS_WITH_AS(resolve_backend(DeviceChoice::Cuda), doctest::Contains("--device"),
                         std::runtime_error);
  } else {
    CHECK(built_with_cuda());
    CHECK(resolve_backend(DeviceChoice::Auto) == Backend::Cuda);
  }
  if (!built_with_cuda()) CHECK(cuda_device_count() == 0);
}

TEST_CASE("initial conditions: names, unknown name refused, one member of h,u,v") {
  const Grid g{16, 32};
  for (const auto& name : initial_condition_names()) {
    CAPTURE(name);
    const FieldBatch f = initial_condition(name, g);
    CHECK(f.members == 1);
    CHECK(f.variables == std::vector<std::string>{"h", "u", "v"});
    for (double h : f.field(0, 0))
      CHECK(h > 0.0);
  }
  CHECK_THROWS_WITH_AS(initial_condition("tc7", g), doctest::Contains("tc7"),
                       std::invalid_argument);
  InitialConditionParams tilted;
  tilted.alpha = 0.3;
  CHECK(coriolis_tilt("tc2", tilted) == 0.3);
  CHECK(coriolis_tilt("galewsky", tilted) == 0.0);
}

TEST_CASE("tc2 fields follow Williamson's formulas") {
  const Grid g{32, 64};
  const PlanetConstants p;
  const double u0 = 2 * pi * p.radius / (12 * 86400.0);
  const FieldBatch f = initial_condition("tc2", g);
  const auto lat = g.lat_degrees();
  for (int j : {0, 10, 31}) {
    const double phi = lat[j] * pi / 180;
    const double s = std::sin(phi);
    const double h = (2.94e4 - (p.radius * p.omega * u0 + u0 * u0 / 2) * s * s) / p.gravity;
    CHECK(f.field(0, 0)[j * 64 + 5] == doctest::Approx(h).epsilon(1e-14));
    CHECK(f.field(0, 1)[j * 64 + 5] == doctest::Approx(u0 * std::cos(phi)).epsilon(1e-14));
    CHECK(f.field(0, 2)[j * 64 + 5] == 0.0);
  }
  // Rotated by alpha = pi/2 the flow crosses the poles: v = -u0 sin(lambda).
  InitialConditionParams over_poles;
  over_poles.alpha = pi / 2;
  const FieldBatch r = initial_condition("tc2", g, over_poles);
  CHECK(r.field(0, 2)[3 * 64 + 16] == doctest::Approx(-u0).epsilon(1e-12));
}

TEST_CASE("galewsky: mean height 10 km, jet of 80 m/s between pi/7 and 5pi/14, bump adds height") {
  const Grid g{128, 256};
  const FieldBatch jet = initial_condition("galewsky-nobump", g);
  const FieldBatch bump = initial_condition("galewsky", g);
  Diagnostics d(g, Backend::Cpu);
  const double mass = d.integrals(jet)[0].mass;
  const PlanetConstants p;
  const double mean_h = mass / (4 * pi * p.radius * p.radius);
  CHECK(mean_h == doctest::Approx(10000.0).epsilon(1e-5));
  double umax = 0;
  for (double u : jet.field(0, 1))
    umax = std::max(umax, u);
  CHECK(umax == doctest::Approx(80.0).epsilon(0.02));  // grid points miss the peak
  const auto lat = g.lat_degrees();
  for (int j = 0; j < g.nlat; ++j) {
    const double phi = lat[j] * pi / 180;
    if (phi <= pi / 7 || phi >= pi / 2 - pi / 7) CHECK(jet.field(0, 1)[j * 256] == 0.0);
  }
  double added = 0;
  for (std::size_t k = 0; k < jet.field(0, 0).size(); ++k)
    added = std::max(added, bump.field(0, 0)[k] - jet.field(0, 0)[k]);
  CHECK(added == doctest::Approx(120.0 * std::cos(pi / 4)).epsilon(0.03));
}

TEST_CASE("diagnostics: wind speed, vorticity of solid-body flow, mass and energy") {
  const Grid g{64, 128};
  const PlanetConstants p;
  const double u0 = 2 * pi * p.radius / (12 * 86400.0);
  const FieldBatch f = initial_condition("tc2", g);
  Diagnostics d(g, Backend::Cpu);
  const FieldBatch out = d.compute(f, {"wind_speed", "vorticity"});
  CHECK(out.variables == std::vector<std::string>{"wind_speed", "vorticity"});
  const auto lat = g.lat_degrees();
  double worst = 0;
  for (int j = 0; j < g.nlat; ++j) {
    const double phi = lat[j] * pi / 180;
    CHECK(out.field(0, 0)[j * 128 + 7] == doctest::Approx(u0 * std::cos(phi)).epsilon(1e-14));
    // Solid-body rotation u = u0 cos(phi): zeta = 2 u0 sin(phi) / a, to second order.
    worst =
        std::max(worst, std::abs(out.field(0, 1)[j * 128 + 7] - 2 * u0 * std::sin(phi) / p.radius));
  }
  CHECK(worst < 5e-3 * 2 * u0 / p.radius);
  CHECK_THROWS_WITH_AS(d.compute(f, {"divergence"}), doctest::Contains("divergence"),
                       std::invalid_argument);

  // Uniform h at rest: mass = 4 pi a^2 h, energy = g h^2/2 times the area.
  FieldBatch rest(g, {"h", "u", "v"}, 2);
  for (double& h : rest.field(0, 0))
    h = 1000.0;
  for (double& h : rest.field(1, 0))
    h = 2000.0;
  const auto integ = d.integrals(rest);
  const double area = 4 * pi * p.radius * p.radius;
  CHECK(integ[0].mass == doctest::Approx(area * 1000.0).epsilon(1e-13));
  CHECK(integ[1].mass == doctest::Approx(area * 2000.0).epsilon(1e-13));
  CHECK(integ[0].energy == doctest::Approx(area * 0.5 * p.gravity * 1e6).epsilon(1e-13));
}

TEST_CASE("normalised l2 error is zero for equal fields and scales with the difference") {
  const Grid g{8, 16};
  std::vector<double> ref(g.points(), 2.0), x(g.points(), 2.2);
  CHECK(normalised_l2_error(ref, ref, g) == 0.0);
  CHECK(normalised_l2_error(x, ref, g) == doctest::Approx(0.1));
}
