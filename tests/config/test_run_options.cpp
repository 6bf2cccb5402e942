// The `stormrun run` option parser: command line, INI file and STORMRUN_* environment, their
// precedence, --help, and exit 2 with the option named (and nothing created) for every
// invalid value.
#include <cctype>
#include <sstream>

#include "app/run_options.hpp"
#include "config/config_test_support.hpp"
#include "stormrun/model/diagnostics.hpp"

namespace fs = std::filesystem;
using namespace stormrun;
using namespace stormrun::workflow;
using config_test::TempDir;
using config_test::tree;
using Env = std::map<std::string, std::string>;
using Args = std::vector<std::string>;

namespace {

struct Outcome {
  app::ParsedRun parsed;
  std::string out;
  std::string err;
};

Outcome parse(const Args& args, const Env& env = {}) {
  std::ostringstream out, err;
  auto parsed = app::parse_run_options(args, env, out, err);
  return {std::move(parsed), out.str(), err.str()};
}

std::string joined(const Args& args) {
  std::string text;
  for (const auto& arg : args)
    text += (text.empty() ? "" : " ") + arg;
  return text;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Boost wraps long lines: the text with every whitespace run made a single space.
std::string flat_text(const std::string& text) {
  std::string flat;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)) || (!flat.empty() && flat.back() != ' '))
      flat += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
  return flat;
}

fs::path write_ini(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("--output alone gives the defaults, and creates nothing") {
  TempDir dir("stormrun-options");
  const auto before = tree(dir.path());
  const auto output = (dir / "out.h5").string();
  const Outcome o = parse({"--output", output});
  REQUIRE_MESSAGE(o.parsed.config, o.err);
  const RunConfig& c = *o.parsed.config;
  CHECK(o.parsed.exit_code == 0);
  CHECK(o.err.empty());
  CHECK(c.workflow == WorkflowKind::Deterministic);
  CHECK(c.model == "swe");
  CHECK(c.initial_condition == "galewsky");
  CHECK(c.grid == model::Grid{64, 128});
  CHECK(c.start_times == std::vector<TimePoint>{parse_utc("2026-01-01T00:00:00Z")});
  CHECK(c.nsteps == 8);
  CHECK(c.dt_seconds == 21600.0);
  CHECK_FALSE(c.substeps);
  CHECK(c.output == output);
  CHECK(c.output_variables == std::vector<std::string>{"h", "u", "v"});
  CHECK(c.diagnostics.empty());
  CHECK(c.statistics.empty());
  CHECK(c.checkpoint_dir == fs::path(output + ".ckpt"));
  CHECK(c.batch_size == 1);
  CHECK(c.checkpoint);
  CHECK_FALSE(c.quiet);
  CHECK_FALSE(c.overwrite);
  CHECK(tree(dir.path()) == before);
}

TEST_CASE("every option is read from the command line") {
  TempDir dir("stormrun-options");
  const Outcome o = parse({"--workflow",
                           "ensemble",
                           "--model",
                           "persistence",
                           "--initial-condition",
                           "rossby-haurwitz",
                           "--grid",
                           "16x32",
                           "--start-time",
                           "2026-03-01T00:00:00Z",
                           "--start-time",
                           "2026-03-02T00:00:00Z,2026-03-03T00:00:00Z",
                           "--nsteps",
                           "4",
                           "--dt",
                           "3600",
                           "--substeps",
                           "3",
                           "--nensemble",
                           "5",
                           "--batch-size",
                           "2",
                           "--perturbation",
                           "gaussian",
                           "--noise-amplitude",
                           "0.25",
                           "--seed",
                           "99",
                           "--output",
                           (dir / "o.h5").string(),
                           "--output-variables",
                           "v, h",
                           "--statistics",
                           "std,mean",
                           "--overwrite",
                           "--checkpoint-dir",
                           (dir / "c").string(),
                           "--checkpoint-name",
                           "fc",
                           "--mode",
                           "overwrite",
                           "--history-size",
                           "0",
                           "--flush-interval",
                           "none",
                           "--level",
                           "1",
                           "--device",
                           "cpu",
                           "--stop-after-steps",
                           "2",
                           "--end-time",
                           "2026-12-02T05:00:00Z",
                           "--walltime-reserve",
                           "90",
                           "--hang-timeout",
                           "30",
                           "--max-no-progress",
                           "0",
                           "--resume",
                           "never",
                           "--quiet"});
  REQUIRE_MESSAGE(o.parsed.config, o.err);
  const RunConfig& c = *o.parsed.config;
  CHECK(c.workflow == WorkflowKind::Ensemble);
  CHECK(c.model == "persistence");
  CHECK(c.initial_condition == "rossby-haurwitz");
  CHECK(c.grid == model::Grid{16, 32});
  CHECK(c.start_times == std::vector<TimePoint>{parse_utc("2026-03-01T00:00:00Z"),
                                                parse_utc("2026-03-02T00:00:00Z"),
                                                parse_utc("2026-03-03T00:00:00Z")});
  CHECK(c.nsteps == 4);
  CHECK(c.dt_seconds == 3600.0);
  CHECK(c.substeps == 3);
  CHECK(c.nensemble == 5);
  CHECK(c.batch_size == 2);
  CHECK(c.perturbation == "gaussian");
  CHECK(c.noise_amplitude == 0.25);
  CHECK(c.seed == 99);
  CHECK(c.output_variables == std::vector<std::string>{"h", "v"});  // the model's order
  CHECK(c.statistics == std::vector<std::string>{"mean", "std"});
  CHECK(c.overwrite);
  CHECK(c.checkpoint_dir == dir / "c");
  CHECK(c.checkpoint_name == "fc");
  CHECK(c.mode == CheckpointMode::Overwrite);
  CHECK(c.history_size == 0);
  CHECK_FALSE(c.flush_interval);
  CHECK(c.level == 1);
  CHECK(c.device == model::DeviceChoice::Cpu);
  CHECK(c.stop_after_steps == 2);
  CHECK(c.end_time == parse_utc("2026-12-02T05:00:00Z"));
  CHECK(c.walltime_reserve_s == 90.0);
  CHECK(c.hang_timeout_s == 30.0);
  CHECK(c.max_no_progress == 0);
  CHECK(c.resume == ResumeMode::Never);
  CHECK(c.quiet);

  const Outcome diagnostic = parse({"--workflow", "diagnostic", "--output", (dir / "d.h5").string(),
                                    "--no-checkpoint", "--resume", "auto"});
  REQUIRE_MESSAGE(diagnostic.parsed.config, diagnostic.err);
  CHECK(diagnostic.parsed.config->output_variables.empty());
  CHECK(diagnostic.parsed.config->diagnostics == model::Diagnostics::available());
  CHECK_FALSE(diagnostic.parsed.config->checkpoint);

  // --end-time in seconds since 1970, --hang-timeout off and auto; the defaults.
  const Outcome epoch = parse(
      {"--output", (dir / "e.h5").string(), "--end-time", "1796180000", "--hang-timeout", "off"});
  REQUIRE_MESSAGE(epoch.parsed.config, epoch.err);
  CHECK(epoch.parsed.config->end_time == TimePoint(std::chrono::seconds(1796180000)));
  CHECK(epoch.parsed.config->hang_timeout_s == 0.0);
  const Outcome defaults = parse({"--output", (dir / "f.h5").string(), "--hang-timeout", "auto"});
  REQUIRE_MESSAGE(defaults.parsed.config, defaults.err);
  CHECK_FALSE(defaults.parsed.config->end_time);
  CHECK_FALSE(defaults.parsed.config->hang_timeout_s);
  CHECK(defaults.parsed.config->walltime_reserve_s == 60.0);
  CHECK(defaults.parsed.config->max_no_progress == 3);
}

TEST_CASE("--help lists every option with its default and exits 0") {
  const Outcome o = parse({"--help"});
  CHECK_FALSE(o.parsed.config);
  CHECK(o.parsed.exit_code == 0);
  for (const char* option : {"--config",
                             "--workflow",
                             "--model",
                             "--initial-condition",
                             "--grid",
                             "--start-time",
                             "--nsteps",
                             "--dt",
                             "--substeps",
                             "--nensemble",
                             "--batch-size",
                             "--perturbation",
                             "--noise-amplitude",
                             "--seed",
                             "--output",
                             "--output-variables",
                             "--diagnostics",
                             "--statistics",
                             "--overwrite",
                             "--checkpoint-dir",
                             "--checkpoint-name",
                             "--mode",
                             "--history-size",
                             "--flush-interval",
                             "--level",
                             "--no-checkpoint",
                             "--device",
                             "--stop-after-steps",
                             "--end-time",
                             "--walltime-reserve",
                             "--hang-timeout",
                             "--max-no-progress",
                             "--resume",
                             "--quiet",
                             "--help"}) {
    CAPTURE(std::string(option));
    CHECK(contains(o.out, std::string(option) + " "));
  }
  const std::string flat = flat_text(o.out);
  for (const char* shown : {"(default: 8)", "(default: 21600)", "(default: galewsky)",
                            "(default: 64x128)", "(default: 2026-01-01T00:00:00Z)",
                            "(default: OUTPUT.ckpt)", "(default: auto)", "(default: append)"}) {
    CAPTURE(std::string(shown));
    CHECK(contains(flat, shown));
  }
  CHECK(contains(o.out, "STORMRUN_NSTEPS"));
  // --help wins even over invalid options.
  CHECK(parse({"--nsteps", "0", "--help"}).parsed.exit_code == 0);
}

TEST_CASE("--help describes --model from the model registry") {
  const std::string flat = flat_text(parse({"--help"}).out);
  CHECK(contains(flat, "--model persistence|swe"));
  CHECK(contains(flat,
                 "prognostic model: persistence (identity) or swe (shallow water on the "
                 "sphere) (default: swe)"));
}

namespace {

struct Bad {
  Args args;
  const char* option;  ///< must appear in the message
};

}  // namespace

TEST_CASE("every invalid value exits 2 naming the option, and creates nothing") {
  TempDir dir("stormrun-options");
  std::ofstream(dir / "a-file") << "x";
  fs::create_directory(dir / "a-dir");
  const auto before = tree(dir.path());
  const std::string out = (dir / "out.h5").string();
  const std::vector<Bad> cases = {
      {{"--workflow", "hindcast"}, "--workflow"},
      {{"--model", "gfs"}, "--model"},
      {{"--initial-condition", "tc9"}, "--initial-condition"},
      {{"--initial-condition", "file:"}, "--initial-condition"},
      {{"--initial-condition", "file:" + (dir / "none.h5").string()}, "--initial-condition"},
      {{"--initial-condition", "file:" + (dir / "a-file").string()}, "--initial-condition"},
      {{"--device", "tpu"}, "--device"},
      {{"--mode", "replace"}, "--mode"},
      {{"--resume", "maybe"}, "--resume"},
      {{"--perturbation", "uniform", "--workflow", "ensemble"}, "--perturbation"},
      {{"--grid", "64by128"}, "--grid"},
      {{"--grid", "x128"}, "--grid"},
      {{"--grid", "2x128"}, "--grid"},
      {{"--grid", "64x127"}, "--grid"},
      {{"--grid", "8192x8194"}, "--grid"},
      {{"--grid", "0x0", "--model", "persistence"}, "--grid"},
      {{"--nsteps", "0"}, "--nsteps"},
      {{"--nsteps=-2"}, "--nsteps"},
      {{"--nsteps", "eight"}, "--nsteps"},
      {{"--nsteps", "99999999999999999999"}, "--nsteps"},
      {{"--dt", "0"}, "--dt"},
      {{"--dt=-600"}, "--dt"},
      {{"--dt", "0.5"}, "--dt"},
      {{"--dt", "6h"}, "--dt"},
      {{"--substeps", "0"}, "--substeps"},
      {{"--substeps", "many"}, "--substeps"},
      {{"--nensemble", "0", "--workflow", "ensemble"}, "--nensemble"},
      {{"--batch-size", "0"}, "--batch-size"},
      {{"--batch-size=-1"}, "--batch-size"},
      {{"--history-size=-1"}, "--history-size"},
      {{"--flush-interval", "0"}, "--flush-interval"},
      {{"--flush-interval", "never"}, "--flush-interval"},
      {{"--level", "3"}, "--level"},
      {{"--stop-after-steps", "0"}, "--stop-after-steps"},
      {{"--end-time", "tomorrow"}, "--end-time"},
      {{"--end-time", "2026-12-02 05:00"}, "--end-time"},
      {{"--end-time", "99999999999999999999"}, "--end-time"},
      // Fits int64 seconds, not TimePoint's int64 nanoseconds (a fuzz finding: it overflowed).
      {{"--end-time", "9223372037"}, "--end-time"},
      {{"--end-time", "5388313981572612096"}, "--end-time"},
      {{"--walltime-reserve=-1"}, "--walltime-reserve"},
      {{"--walltime-reserve", "nan"}, "--walltime-reserve"},
      {{"--walltime-reserve", "1m"}, "--walltime-reserve"},
      {{"--hang-timeout", "1"}, "--hang-timeout"},
      {{"--hang-timeout=-5"}, "--hang-timeout"},
      {{"--hang-timeout", "inf"}, "--hang-timeout"},
      {{"--hang-timeout", "never"}, "--hang-timeout"},
      {{"--max-no-progress=-1"}, "--max-no-progress"},
      {{"--max-no-progress", "three"}, "--max-no-progress"},
      {{"--start-time", "2026-13-01T00:00:00Z"}, "--start-time"},
      {{"--start-time", "yesterday"}, "--start-time"},
      {{"--start-time", "2026-01-01T00:00:00Z", "--start-time", "2026-01-01T00:00:00Z"},
       "--start-time"},
      {{"--start-time", "2026-01-01T00:00:00Z,,2026-01-02T00:00:00Z"}, "--start-time"},
      {{"--output-variables", "h,t2m"}, "--output-variables"},
      {{"--output-variables", "h,h"}, "--output-variables"},
      {{"--output-variables", ""}, "--output-variables"},
      {{"--output-variables", "none"}, "--output-variables"},
      {{"--workflow", "diagnostic", "--diagnostics", "divergence"}, "--diagnostics"},
      {{"--workflow", "diagnostic", "--diagnostics", "none"}, "--diagnostics"},
      {{"--diagnostics", "vorticity"}, "--diagnostics"},
      {{"--workflow", "ensemble", "--statistics", "median"}, "--statistics"},
      {{"--statistics", "mean"}, "--statistics"},
      {{"--nensemble", "4"}, "--workflow ensemble"},
      {{"--perturbation", "gaussian"}, "--workflow ensemble"},
      {{"--noise-amplitude=-1", "--workflow", "ensemble"}, "--noise-amplitude"},
      {{"--noise-amplitude", "nan"}, "--noise-amplitude"},
      {{"--noise-amplitude", "inf"}, "--noise-amplitude"},
      {{"--seed=-1"}, "--seed"},
      {{"--checkpoint-name", "a/b"}, "--checkpoint-name"},
      {{"--checkpoint-dir", ""}, "--checkpoint-dir"},
      {{"--checkpoint-dir", (dir / "a-file" / "ckpt").string()}, "--checkpoint-dir"},
      {{"--no-checkpoint", "--resume", "require"}, "--resume"},
      {{"--no-checkpoint", "--stop-after-steps", "2"}, "--stop-after-steps"},
      {{"--nsteps", "4", "--nsteps", "5"}, "--nsteps"},
      {{"--bogus", "1"}, "--bogus"},
      {{"positional"}, "positional"},
      {{"--config", (dir / "missing.ini").string()}, "--config"},
      {{"--config", (dir / "a-dir").string()}, "--config"},
  };
  for (const auto& bad : cases) {
    Args args = {"--output", out};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    CAPTURE(joined(bad.args));
    const Outcome o = parse(args);
    CHECK_FALSE(o.parsed.config);
    CHECK(o.parsed.exit_code == 2);
    CHECK(o.err.rfind("stormrun run: error: ", 0) == 0);
    CHECK_MESSAGE(contains(o.err, bad.option), o.err);
  }

  // Path errors.
  const std::vector<Bad> paths = {
      {{}, "--output"},
      {{"--output", (dir / "a-dir").string()}, "--output"},
      {{"--output", (dir / "missing" / "out.h5").string()}, "--output"},
      {{"--output", (dir / "a-file" / "out.h5").string()}, "--output"},
  };
  for (const auto& bad : paths) {
    CAPTURE(joined(bad.args));
    const Outcome o = parse(bad.args);
    CHECK(o.parsed.exit_code == 2);
    CHECK_MESSAGE(contains(o.err, bad.option), o.err);
  }
  CHECK(tree(dir.path()) == before);
}

TEST_CASE("precedence: command line > environment > INI file > defaults") {
  TempDir dir("stormrun-options");
  const auto ini = write_ini(dir, "run.ini",
                             "# a forecast\n"
                             "nsteps = 3\n"
                             "seed = 5\n"
                             "grid = 32x64\n"
                             "output = " +
                                 (dir / "ini.h5").string() +
                                 "\n"
                                 "output-variables = h,u\n");
  const std::string ini_arg = ini.string();

  const Outcome from_ini = parse({"--config", ini_arg});
  REQUIRE_MESSAGE(from_ini.parsed.config, from_ini.err);
  CHECK(from_ini.parsed.config->nsteps == 3);
  CHECK(from_ini.parsed.config->seed == 5);
  CHECK(from_ini.parsed.config->grid == model::Grid{32, 64});
  CHECK(from_ini.parsed.config->output == dir / "ini.h5");
  CHECK(from_ini.parsed.config->output_variables == std::vector<std::string>{"h", "u"});
  CHECK(from_ini.parsed.config->dt_seconds == 21600.0);  // default

  const Env env = {{"STORMRUN_NSTEPS", "6"}, {"STORMRUN_OUTPUT_VARIABLES", "v"}};
  const Outcome from_env = parse({"--config", ini_arg}, env);
  REQUIRE_MESSAGE(from_env.parsed.config, from_env.err);
  CHECK(from_env.parsed.config->nsteps == 6);
  CHECK(from_env.parsed.config->seed == 5);
  CHECK(from_env.parsed.config->output_variables == std::vector<std::string>{"v"});

  const Outcome from_cli = parse({"--config", ini_arg, "--nsteps", "9"}, env);
  REQUIRE_MESSAGE(from_cli.parsed.config, from_cli.err);
  CHECK(from_cli.parsed.config->nsteps == 9);
  CHECK(from_cli.parsed.config->output_variables == std::vector<std::string>{"v"});

  // STORMRUN_CONFIG names the INI file when --config is not given.
  const Outcome env_config = parse({}, {{"STORMRUN_CONFIG", ini_arg}});
  REQUIRE_MESSAGE(env_config.parsed.config, env_config.err);
  CHECK(env_config.parsed.config->nsteps == 3);
}

TEST_CASE("lists, repeated start times and switches in the INI file and the environment") {
  TempDir dir("stormrun-options");
  const auto ini = write_ini(dir, "run.ini",
                             "workflow = ensemble\n"
                             "nensemble = 2\n"
                             "start-time = 2026-01-01T00:00:00Z\n"
                             "start-time = 2026-01-02T00:00:00Z, 2026-01-03T00:00:00Z\n"
                             "quiet = yes\n"
                             "overwrite = 1\n"
                             "no-checkpoint = false\n"
                             "flush-interval = none\n");
  const Outcome o = parse({"--config", ini.string(), "--output", (dir / "o.h5").string()});
  REQUIRE_MESSAGE(o.parsed.config, o.err);
  CHECK(o.parsed.config->start_times.size() == 3);
  CHECK(o.parsed.config->quiet);
  CHECK(o.parsed.config->overwrite);
  CHECK(o.parsed.config->checkpoint);
  CHECK_FALSE(o.parsed.config->flush_interval);

  const Env env = {{"STORMRUN_OUTPUT", (dir / "e.h5").string()},
                   {"STORMRUN_START_TIME", "2026-05-01T00:00:00Z,2026-05-01T06:00:00Z"},
                   {"STORMRUN_QUIET", "TRUE"},
                   {"STORMRUN_NO_CHECKPOINT", "yes"},
                   {"STORMRUN_OVERWRITE", "0"}};
  const Outcome e = parse({}, env);
  REQUIRE_MESSAGE(e.parsed.config, e.err);
  CHECK(e.parsed.config->start_times == std::vector<TimePoint>{parse_utc("2026-05-01T00:00:00Z"),
                                                               parse_utc("2026-05-01T06:00:00Z")});
  CHECK(e.parsed.config->quiet);
  CHECK_FALSE(e.parsed.config->checkpoint);
  CHECK_FALSE(e.parsed.config->overwrite);

  const Outcome bad_switch =
      parse({}, {{"STORMRUN_OUTPUT", (dir / "e.h5").string()}, {"STORMRUN_QUIET", "maybe"}});
  CHECK(bad_switch.parsed.exit_code == 2);
  CHECK(contains(bad_switch.err, "--quiet"));
  CHECK(contains(bad_switch.err, "STORMRUN_QUIET"));
}

TEST_CASE("errors name the environment variable or INI file the value came from") {
  TempDir dir("stormrun-options");
  const auto before_ini = tree(dir.path());
  const auto ini = write_ini(dir, "bad.ini", "level = 3\n");
  const auto before = tree(dir.path());
  const std::string out = (dir / "out.h5").string();

  const Outcome from_ini = parse({"--config", ini.string(), "--output", out});
  CHECK(from_ini.parsed.exit_code == 2);
  CHECK(contains(from_ini.err, "--level"));
  CHECK(contains(from_ini.err, ini.string()));
  CHECK(contains(from_ini.err, "key level"));

  const Outcome from_env = parse({"--output", out}, {{"STORMRUN_BATCH_SIZE", "0"}});
  CHECK(from_env.parsed.exit_code == 2);
  CHECK(contains(from_env.err, "--batch-size"));
  CHECK(contains(from_env.err, "STORMRUN_BATCH_SIZE"));

  // The command line overrides the bad INI value, so the run is valid.
  const Outcome overridden = parse({"--config", ini.string(), "--output", out, "--level", "2"});
  CHECK_MESSAGE(overridden.parsed.config, overridden.err);
  CHECK(tree(dir.path()) == before);
  (void)before_ini;
}

TEST_CASE("an unknown INI key is an error naming the file and the key") {
  TempDir dir("stormrun-options");
  const std::string out = (dir / "out.h5").string();
  for (const char* text : {"nsteps = 4\nnstep = 5\n", "[run]\nnsteps = 4\n", "help = true\n",
                           "config = other.ini\n"}) {
    CAPTURE(text);
    const auto ini = write_ini(dir, "run.ini", text);
    const Outcome o = parse({"--config", ini.string(), "--output", out});
    CHECK(o.parsed.exit_code == 2);
    CHECK(contains(o.err, ini.string()));
    CHECK(contains(o.err, "unknown key"));
  }
  const auto ini = write_ini(dir, "run.ini", "nstep = 5\n");
  CHECK(contains(parse({"--config", ini.string(), "--output", out}).err, "'nstep'"));
  const auto twice = write_ini(dir, "twice.ini", "nsteps = 4\nnsteps = 5\n");
  const Outcome o = parse({"--config", twice.string(), "--output", out});
  CHECK(o.parsed.exit_code == 2);
  CHECK(contains(o.err, twice.string()));
}

TEST_CASE("option and INI text holding Boost's placeholders is reported, not looped on") {
  // Boost.Program_options' own what() replaced "%invalid_line%" by a line holding it for
  // ever (a fuzz_config finding); option_error_text formats in one pass.
  TempDir dir("stormrun-options");
  const std::string out = (dir / "out.h5").string();
  const auto ini = write_ini(dir, "run.ini", "nsteps = 4\nstart-tim%invalid_line%%prefix%\n");
  const Outcome bad_line = parse({"--config", ini.string(), "--output", out});
  CHECK(bad_line.parsed.exit_code == 2);
  CHECK(contains(bad_line.err, ini.string()));
  CHECK(contains(bad_line.err, "start-tim%invalid_line%%prefix%"));
  const Outcome bad_option = parse({"--%canonical_option%", "--output", out});
  CHECK(bad_option.parsed.exit_code == 2);
  CHECK(contains(bad_option.err, "%canonical_option%"));
  // Boost's messages are otherwise unchanged.
  const Outcome unknown = parse({"--nstep", "4", "--output", out});
  CHECK(contains(unknown.err, "unrecognised option '--nstep'"));
}

TEST_CASE("STORMRUN_ variables that are not options are ignored") {
  TempDir dir("stormrun-options");
  const Env env = {{"STORMRUN_CHECKPOINT_ROOT", "/nowhere"},
                   {"STORMRUN_FAULT_INJECT", "after-rename:3"},
                   {"STORMRUN_HELP", "1"},
                   {"STORMRUN_", "x"},
                   {"NSTEPS", "0"},
                   {"stormrun_nsteps", "0"},
                   {"STORMRUN_OUTPUT", (dir / "out.h5").string()}};
  const Outcome o = parse({}, env);
  REQUIRE_MESSAGE(o.parsed.config, o.err);
  CHECK(o.parsed.config->nsteps == 8);
  CHECK(o.parsed.config->output == dir / "out.h5");
}

TEST_CASE("a valid file initial condition is accepted") {
  TempDir dir("stormrun-options");
  const auto ic = config_test::write_ic_file(dir, "ic.h5", 8, 16);
  const Outcome o = parse({"--output", (dir / "o.h5").string(), "--grid", "8x16",
                           "--initial-condition", "file:" + ic.string()});
  REQUIRE_MESSAGE(o.parsed.config, o.err);
  CHECK(fingerprint(*o.parsed.config).count("initial_condition_xxh3") == 1);
}

TEST_CASE("current_environment reads the process environment") {
  ::setenv("STORMRUN_CONFIG_TEST_PROBE", "a=b", 1);
  const auto env = app::current_environment();
  CHECK(env.at("STORMRUN_CONFIG_TEST_PROBE") == "a=b");
  ::unsetenv("STORMRUN_CONFIG_TEST_PROBE");
}
