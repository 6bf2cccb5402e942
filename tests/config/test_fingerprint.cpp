// The run fingerprint: canonical text of each setting that decides the output's bytes, a
// hash of it, and the list of differing settings (exit 3 on resume).
#include <functional>

#include <nlohmann/json.hpp>

#include "config/config_test_support.hpp"

namespace fs = std::filesystem;
using namespace stormrun;
using namespace stormrun::workflow;
using config_test::TempDir;
using config_test::valid_config;

namespace {

struct Change {
  const char* setting;
  std::function<void(RunConfig&)> apply;
};

}  // namespace

TEST_CASE("the fingerprint spells every setting canonically") {
  TempDir dir("stormrun-fingerprint");
  RunConfig config = valid_config(dir);
  config.workflow = WorkflowKind::Ensemble;
  config.nensemble = 4;
  config.perturbation = "gaussian";
  config.noise_amplitude = 0.5;
  config.seed = 18446744073709551615ull;
  config.statistics = {"mean", "std"};
  config.start_times = {parse_utc("2026-01-01T00:00:00Z"), parse_utc("2026-01-01T12:00:00Z")};
  const Fingerprint fp = fingerprint(config);
  const Fingerprint expected = {
      {"format", "1"},
      {"workflow", "ensemble"},
      {"model", "swe"},
      {"model_dynamics", "3"},  // the energy-consistent pole treatment (docs/model.md)
      {"initial_condition", "galewsky"},
      {"grid", "64x128"},
      {"start_times", "2026-01-01T00:00:00.000000000Z,2026-01-01T12:00:00.000000000Z"},
      {"nsteps", "8"},
      {"dt", "21600"},
      {"substeps", "auto"},
      {"nensemble", "4"},
      {"perturbation", "gaussian"},
      {"noise_amplitude", "0.5"},
      {"seed", "18446744073709551615"},
      {"output_variables", "h,u,v"},
      {"diagnostics", ""},
      {"statistics", "mean,std"},
  };
  CHECK(fp == expected);

  const std::string hash = fingerprint_hash(fp);
  CHECK(hash.size() == 16);
  CHECK(hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  const std::string json = nlohmann::json(fp).dump();
  CHECK(hash == xxh3_hex(std::as_bytes(std::span(json.data(), json.size()))));
  CHECK(fingerprint_hash(fingerprint(config)) == hash);  // deterministic
}

TEST_CASE("each fingerprinted setting changes the fingerprint, and the diff names it alone") {
  TempDir dir("stormrun-fingerprint");
  const RunConfig base = valid_config(dir);
  const Fingerprint base_fp = fingerprint(base);
  const std::vector<Change> changes = {
      {"workflow", [](RunConfig& c) { c.workflow = WorkflowKind::Ensemble; }},
      {"model", [](RunConfig& c) { c.model = "persistence"; }},
      {"initial_condition", [](RunConfig& c) { c.initial_condition = "tc2"; }},
      {"grid",
       [](RunConfig& c) {
         c.grid = {32, 64};
       }},
      {"start_times",
       [](RunConfig& c) { c.start_times.push_back(parse_utc("2026-02-01T00:00:00Z")); }},
      {"nsteps", [](RunConfig& c) { c.nsteps = 10; }},
      {"dt", [](RunConfig& c) { c.dt_seconds = 3600; }},
      {"substeps", [](RunConfig& c) { c.substeps = 12; }},
      {"nensemble", [](RunConfig& c) { c.nensemble = 2; }},
      {"perturbation", [](RunConfig& c) { c.perturbation = "gaussian"; }},
      {"noise_amplitude", [](RunConfig& c) { c.noise_amplitude = 2; }},
      {"seed", [](RunConfig& c) { c.seed = 7; }},
      {"output_variables", [](RunConfig& c) { c.output_variables = {"h"}; }},
      {"diagnostics", [](RunConfig& c) { c.diagnostics = {"vorticity"}; }},
      {"statistics", [](RunConfig& c) { c.statistics = {"std"}; }},
  };
  for (const auto& change : changes) {
    CAPTURE(change.setting);
    RunConfig changed = base;
    change.apply(changed);
    const Fingerprint fp = fingerprint(changed);
    CHECK(fingerprint_hash(fp) != fingerprint_hash(base_fp));
    const auto diff = fingerprint_diff(base_fp, fp);
    if (std::string(change.setting) == "model") {
      // Another model has other dynamics too: both are named (diff lines sorted by key).
      REQUIRE(diff.size() == 2);
      CHECK(diff[0].rfind("model: stored swe, this run persistence", 0) == 0);
      CHECK(diff[1].rfind("model_dynamics: stored 3, this run 1", 0) == 0);
      continue;
    }
    REQUIRE(diff.size() == 1);
    CHECK(diff[0].rfind(std::string(change.setting) + ": stored ", 0) == 0);
  }
}

TEST_CASE("settings that do not decide the bytes leave the fingerprint alone") {
  TempDir dir("stormrun-fingerprint");
  const RunConfig base = valid_config(dir);
  const std::string base_hash = fingerprint_hash(fingerprint(base));
  const std::vector<Change> changes = {
      {"batch size", [](RunConfig& c) { c.batch_size = 16; }},
      {"device", [](RunConfig& c) { c.device = model::DeviceChoice::Cuda; }},
      {"checkpoint dir", [](RunConfig& c) { c.checkpoint_dir = "/elsewhere"; }},
      {"checkpoint name", [](RunConfig& c) { c.checkpoint_name = "other"; }},
      {"mode", [](RunConfig& c) { c.mode = CheckpointMode::Overwrite; }},
      {"history size", [](RunConfig& c) { c.history_size = 9; }},
      {"flush interval", [](RunConfig& c) { c.flush_interval = std::nullopt; }},
      {"level", [](RunConfig& c) { c.level = 1; }},
      {"no checkpoint", [](RunConfig& c) { c.checkpoint = false; }},
      {"quiet", [](RunConfig& c) { c.quiet = true; }},
      {"stop after steps", [](RunConfig& c) { c.stop_after_steps = 3; }},
      {"resume", [](RunConfig& c) { c.resume = ResumeMode::Require; }},
      {"overwrite", [](RunConfig& c) { c.overwrite = true; }},
      {"output path", [](RunConfig& c) { c.output = "/elsewhere/out.h5"; }},
  };
  for (const auto& change : changes) {
    CAPTURE(change.setting);
    RunConfig changed = base;
    change.apply(changed);
    CHECK(fingerprint_hash(fingerprint(changed)) == base_hash);
    CHECK(fingerprint_diff(fingerprint(base), fingerprint(changed)).empty());
  }
}

TEST_CASE("a file initial condition is fingerprinted by its bytes") {
  TempDir dir("stormrun-fingerprint");
  RunConfig config = valid_config(dir);
  const fs::path ic = dir / "ic.h5";
  std::ofstream(ic) << "first content";
  config.initial_condition = "file:" + ic.string();
  const Fingerprint first = fingerprint(config);
  const std::string content = "first content";
  CHECK(first.at("initial_condition_xxh3") ==
        xxh3_hex(std::as_bytes(std::span(content.data(), content.size()))));
  CHECK(fingerprint(valid_config(dir)).count("initial_condition_xxh3") == 0);

  std::ofstream(ic) << "other content";
  const Fingerprint second = fingerprint(config);
  const auto diff = fingerprint_diff(first, second);
  REQUIRE(diff.size() == 1);
  CHECK(diff[0].rfind("initial_condition_xxh3: stored ", 0) == 0);

  fs::remove(ic);
  CHECK_THROWS_AS(fingerprint(config), ConfigError);
}

TEST_CASE("fingerprint_diff lists exactly the differing settings") {
  const Fingerprint stored = {{"a", "1"}, {"nsteps", "8"}, {"only_stored", "x"}, {"s", ""}};
  const Fingerprint current = {{"a", "1"}, {"nsteps", "10"}, {"only_current", "y"}, {"s", "mean"}};
  CHECK(fingerprint_diff(stored, stored).empty());
  CHECK(fingerprint_diff(stored, current) == std::vector<std::string>{
                                                 "nsteps: stored 8, this run 10",
                                                 "only_current: stored (not set), this run y",
                                                 "only_stored: stored x, this run (not set)",
                                                 "s: stored (none), this run mean",
                                             });
}
