// RunConfig: defaults, validation of every setting and combination, and the path checks
// (which must create nothing).
#include <unistd.h>

#include <functional>
#include <limits>

#include "config/config_test_support.hpp"
#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/shallow_water.hpp"

namespace fs = std::filesystem;
using namespace stormrun;
using namespace stormrun::workflow;
using config_test::TempDir;
using config_test::tree;
using config_test::valid_config;

TEST_CASE("defaults: one start time, the model's variables, the checkpoint beside the output") {
  TempDir dir("stormrun-config");
  RunConfig config = valid_config(dir);
  CHECK(config.start_times == std::vector<TimePoint>{default_start_time()});
  CHECK(format_utc(default_start_time()) == "2026-01-01T00:00:00.000000000Z");
  CHECK(config.output_variables == std::vector<std::string>{"h", "u", "v"});
  CHECK(config.diagnostics.empty());
  CHECK(config.checkpoint_dir == dir / "out.h5.ckpt");
  CHECK(config.batch_size == 1);
  CHECK_NOTHROW(config.validate());
  CHECK_NOTHROW(config.check_paths());

  RunConfig diagnostic;
  diagnostic.workflow = WorkflowKind::Diagnostic;
  diagnostic.output = dir / "d.h5";
  diagnostic.fill_defaults();
  CHECK(diagnostic.output_variables.empty());
  CHECK(diagnostic.diagnostics == model::Diagnostics::available());
  CHECK(diagnostic.output_fields() == std::vector<std::string>{"vorticity", "wind_speed"});
  CHECK_NOTHROW(diagnostic.validate());
}

TEST_CASE("unit count, output fields and unit names") {
  TempDir dir("stormrun-config");
  RunConfig config = valid_config(dir);
  config.workflow = WorkflowKind::Diagnostic;
  config.start_times = {parse_utc("2026-01-01T00:00:00Z"), parse_utc("2026-01-02T00:00:00Z")};
  config.nensemble = 3;
  config.output_variables = {"h"};
  config.diagnostics = {"wind_speed"};
  CHECK(config.unit_count() == 6);
  CHECK(config.output_fields() == std::vector<std::string>{"h", "wind_speed"});
  CHECK(unit_name(parse_utc("2026-01-01T00:00:00Z"), 3) == "2026-01-01T00:00:00Z/m0003");
  CHECK(unit_name(parse_utc("2026-01-01T06:00:00Z"), 12345) == "2026-01-01T06:00:00Z/m12345");
  CHECK(unit_name(parse_utc("2026-01-01T00:00:00.5Z"), 0) ==
        "2026-01-01T00:00:00.500000000Z/m0000");
  CHECK(model_variables("persistence") == std::vector<std::string>{"h", "u", "v"});
  CHECK(model_variables("swe") == std::vector<std::string>{"h", "u", "v"});
  CHECK_THROWS_AS(model_variables("gfs"), ConfigError);
}

namespace {

struct Invalid {
  const char* what;
  const char* option;
  std::function<void(RunConfig&)> change;
};

}  // namespace

TEST_CASE("validate names the option of each invalid value") {
  TempDir dir("stormrun-config");
  const std::vector<Invalid> cases = {
      {"unknown model", "--model", [](RunConfig& c) { c.model = "gfs"; }},
      {"unknown initial condition", "--initial-condition",
       [](RunConfig& c) { c.initial_condition = "tc9"; }},
      {"file: without a path", "--initial-condition",
       [](RunConfig& c) { c.initial_condition = "file:"; }},
      {"grid too small for swe", "--grid",
       [](RunConfig& c) {
         c.grid = {2, 128};
       }},
      {"odd nlon for swe", "--grid",
       [](RunConfig& c) {
         c.grid = {64, 127};
       }},
      {"empty grid for persistence", "--grid",
       [](RunConfig& c) {
         c.model = "persistence";
         c.grid = {0, 8};
       }},
      {"no start time", "--start-time", [](RunConfig& c) { c.start_times.clear(); }},
      {"duplicate start time", "--start-time",
       [](RunConfig& c) { c.start_times.push_back(c.start_times.front()); }},
      {"nsteps 0", "--nsteps", [](RunConfig& c) { c.nsteps = 0; }},
      {"nsteps negative", "--nsteps", [](RunConfig& c) { c.nsteps = -3; }},
      {"lead time overflows", "--nsteps",
       [](RunConfig& c) { c.nsteps = std::numeric_limits<std::int64_t>::max() / 2; }},
      {"dt 0", "--dt", [](RunConfig& c) { c.dt_seconds = 0.0; }},
      {"dt negative", "--dt", [](RunConfig& c) { c.dt_seconds = -60.0; }},
      {"dt fractional", "--dt", [](RunConfig& c) { c.dt_seconds = 0.5; }},
      {"dt not finite", "--dt",
       [](RunConfig& c) { c.dt_seconds = std::numeric_limits<double>::infinity(); }},
      {"substeps 0", "--substeps", [](RunConfig& c) { c.substeps = 0; }},
      {"nensemble 0", "--nensemble",
       [](RunConfig& c) {
         c.workflow = WorkflowKind::Ensemble;
         c.nensemble = 0;
       }},
      {"unknown perturbation", "--perturbation", [](RunConfig& c) { c.perturbation = "uniform"; }},
      {"negative noise", "--noise-amplitude", [](RunConfig& c) { c.noise_amplitude = -1.0; }},
      {"nan noise", "--noise-amplitude",
       [](RunConfig& c) { c.noise_amplitude = std::numeric_limits<double>::quiet_NaN(); }},
      {"deterministic ensemble", "--nensemble", [](RunConfig& c) { c.nensemble = 4; }},
      {"deterministic perturbed", "--perturbation",
       [](RunConfig& c) { c.perturbation = "gaussian"; }},
      {"unknown output variable", "--output-variables",
       [](RunConfig& c) {
         c.output_variables = {"h", "t2m"};
       }},
      {"repeated output variable", "--output-variables",
       [](RunConfig& c) {
         c.output_variables = {"h", "h"};
       }},
      {"output variables out of order", "--output-variables",
       [](RunConfig& c) {
         c.output_variables = {"v", "h"};
       }},
      {"no output fields", "--output-variables", [](RunConfig& c) { c.output_variables.clear(); }},
      {"unknown diagnostic", "--diagnostics",
       [](RunConfig& c) {
         c.workflow = WorkflowKind::Diagnostic;
         c.diagnostics = {"divergence"};
       }},
      {"diagnostics outside the diagnostic workflow", "--diagnostics",
       [](RunConfig& c) { c.diagnostics = {"vorticity"}; }},
      {"diagnostic workflow without diagnostics", "--diagnostics",
       [](RunConfig& c) {
         c.workflow = WorkflowKind::Diagnostic;
         c.diagnostics.clear();
       }},
      {"unknown statistic", "--statistics",
       [](RunConfig& c) {
         c.workflow = WorkflowKind::Ensemble;
         c.statistics = {"median"};
       }},
      {"statistics without the ensemble workflow", "--statistics",
       [](RunConfig& c) { c.statistics = {"mean"}; }},
      {"missing output", "--output", [](RunConfig& c) { c.output.clear(); }},
      {"bad checkpoint name", "--checkpoint-name", [](RunConfig& c) { c.checkpoint_name = "a/b"; }},
      {"empty checkpoint name", "--checkpoint-name", [](RunConfig& c) { c.checkpoint_name = ""; }},
      {"checkpoint dir is the output", "--checkpoint-dir",
       [](RunConfig& c) { c.checkpoint_dir = c.output; }},
      {"history size negative", "--history-size", [](RunConfig& c) { c.history_size = -1; }},
      {"flush interval 0", "--flush-interval", [](RunConfig& c) { c.flush_interval = 0; }},
      {"level 3", "--level", [](RunConfig& c) { c.level = 3; }},
      {"level -1", "--level", [](RunConfig& c) { c.level = -1; }},
      {"batch size 0", "--batch-size", [](RunConfig& c) { c.batch_size = 0; }},
      {"stop after 0 steps", "--stop-after-steps", [](RunConfig& c) { c.stop_after_steps = 0; }},
      {"stop early without checkpoint", "--stop-after-steps",
       [](RunConfig& c) {
         c.stop_after_steps = 2;
         c.checkpoint = false;
       }},
      {"resume require without checkpoint", "--resume",
       [](RunConfig& c) {
         c.resume = ResumeMode::Require;
         c.checkpoint = false;
       }},
  };
  for (const auto& invalid : cases) {
    CAPTURE(invalid.what);
    RunConfig config = valid_config(dir);
    invalid.change(config);
    try {
      config.validate();
      FAIL("no ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.option() == invalid.option);
      CHECK(std::string(e.what()).rfind(std::string(invalid.option) + ":", 0) == 0);
    }
  }
}

TEST_CASE("valid combinations pass validate") {
  TempDir dir("stormrun-config");
  RunConfig ensemble = valid_config(dir);
  ensemble.workflow = WorkflowKind::Ensemble;
  ensemble.nensemble = 8;
  ensemble.perturbation = "gaussian";
  ensemble.statistics = {"mean", "std"};
  ensemble.output_variables = {"h", "v"};
  ensemble.flush_interval = std::nullopt;
  ensemble.substeps = 4;
  ensemble.history_size = 0;
  ensemble.level = 0;
  CHECK_NOTHROW(ensemble.validate());

  RunConfig persistence = valid_config(dir);
  persistence.model = "persistence";
  persistence.grid = {1, 1};
  persistence.initial_condition = "tc2";
  persistence.dt_seconds = 1.0;
  CHECK_NOTHROW(persistence.validate());
}

TEST_CASE("check_paths refuses unusable paths and creates nothing") {
  TempDir dir("stormrun-config");
  std::ofstream(dir / "a-file") << "x";
  fs::create_directory(dir / "a-dir");
  const auto before = tree(dir.path());
  const std::vector<Invalid> cases = {
      {"output is a directory", "--output", [&](RunConfig& c) { c.output = dir / "a-dir"; }},
      {"output directory missing", "--output",
       [&](RunConfig& c) { c.output = dir / "missing" / "out.h5"; }},
      {"output parent is a file", "--output",
       [&](RunConfig& c) { c.output = dir / "a-file" / "out.h5"; }},
      {"checkpoint dir under a file", "--checkpoint-dir",
       [&](RunConfig& c) { c.checkpoint_dir = dir / "a-file" / "ckpt" / "deeper"; }},
      {"checkpoint dir is a file", "--checkpoint-dir",
       [&](RunConfig& c) { c.checkpoint_dir = dir / "a-file"; }},
      {"initial condition file missing", "--initial-condition",
       [&](RunConfig& c) { c.initial_condition = "file:" + (dir / "nope.h5").string(); }},
      {"initial condition file is a directory", "--initial-condition",
       [&](RunConfig& c) { c.initial_condition = "file:" + (dir / "a-dir").string(); }},
      {"initial condition file is not HDF5", "--initial-condition",
       [&](RunConfig& c) { c.initial_condition = "file:" + (dir / "a-file").string(); }},
  };
  for (const auto& invalid : cases) {
    CAPTURE(invalid.what);
    RunConfig config = valid_config(dir);
    invalid.change(config);
    try {
      config.check_paths();
      FAIL("no ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.option() == invalid.option);
    }
  }
  CHECK(tree(dir.path()) == before);

  // A checkpoint dir several levels below an existing writable directory is fine, and is
  // still not created.
  RunConfig deep = valid_config(dir);
  deep.checkpoint_dir = dir / "x" / "y" / "z";
  CHECK_NOTHROW(deep.check_paths());
  RunConfig no_checkpoint = valid_config(dir);
  no_checkpoint.checkpoint = false;
  no_checkpoint.checkpoint_dir = dir / "a-file" / "ckpt";  // not checked without a checkpoint
  CHECK_NOTHROW(no_checkpoint.check_paths());
  CHECK(tree(dir.path()) == before);
}

TEST_CASE("check_paths refuses directories that are not writable") {
  if (::geteuid() == 0) return;  // root writes everywhere: no such directory to test with
  TempDir dir("stormrun-config");
  fs::create_directory(dir / "locked");
  fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  RunConfig output = valid_config(dir);
  output.output = dir / "locked" / "out.h5";
  output.checkpoint_dir = dir / "ckpt";
  CHECK_THROWS_AS(output.check_paths(), ConfigError);
  RunConfig checkpoint = valid_config(dir);
  checkpoint.checkpoint_dir = dir / "locked" / "ckpt";
  CHECK_THROWS_AS(checkpoint.check_paths(), ConfigError);
  fs::permissions(dir / "locked", fs::perms::owner_all);
}

TEST_CASE("a readable initial-condition file on the grid passes check_paths") {
  TempDir dir("stormrun-config");
  RunConfig config = valid_config(dir);
  config.grid = {8, 16};
  config.initial_condition = "file:" + config_test::write_ic_file(dir, "ic.h5", 8, 16).string();
  CHECK_NOTHROW(config.validate());
  CHECK_NOTHROW(config.check_paths());
  config.grid = {16, 32};  // the file holds another grid
  CHECK_THROWS_AS(config.check_paths(), ConfigError);
}

TEST_CASE("validate accepts exactly the grids the shallow-water model accepts") {
  TempDir dir("stormrun-config");
  for (int nlat : {1, 3, 4, 5, 8}) {
    for (int nlon : {4, 6, 7, 8, 9, 10, 16}) {
      CAPTURE(nlat);
      CAPTURE(nlon);
      RunConfig config = valid_config(dir);
      config.grid = {nlat, nlon};
      bool model_accepts = true;
      try {
        model::ShallowWater({.grid = config.grid, .device = model::DeviceChoice::Cpu});
      } catch (const std::invalid_argument&) {
        model_accepts = false;
      }
      bool config_accepts = true;
      try {
        config.validate();
      } catch (const ConfigError& e) {
        CHECK(e.option() == "--grid");
        config_accepts = false;
      }
      CHECK(config_accepts == model_accepts);
    }
  }
}
