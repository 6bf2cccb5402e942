// `stormrun demo`: a checkpointed ensemble forecast on one rank, to show the checkpoint
// library at work (scripts/demo runs it, kills it, resumes it and compares the result with
// an uninterrupted run). Shallow water on the sphere from the Galewsky jet, members
// perturbed with Gaussian noise, the model's full state saved at level 2 after every step.
#include <boost/program_options.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/run_options.hpp"
#include "stormrun/checkpoint.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/perturbation.hpp"
#include "stormrun/model/shallow_water.hpp"

namespace stormrun::app {

namespace po = boost::program_options;
namespace sm = stormrun::model;

namespace {

struct DemoOptions {
  std::string checkpoint_dir;
  std::string grid = "64x128";
  std::string initial_condition = "galewsky";
  std::int64_t steps = 8;
  std::int64_t members = 2;
  std::uint64_t seed = 42;
  std::int64_t kill_after = -1;
  int level = 2;
  std::string device = "auto";
};

std::string digest(const sm::FieldBatch& batch) {
  return xxh3_hex(std::as_bytes(std::span(batch.data)));
}

sm::DeviceChoice parse_device(const std::string& text) {
  if (text == "auto") return sm::DeviceChoice::Auto;
  if (text == "cpu") return sm::DeviceChoice::Cpu;
  if (text == "cuda") return sm::DeviceChoice::Cuda;
  throw po::validation_error(po::validation_error::invalid_option_value, "device", text);
}

int demo(const DemoOptions& o) {
  const TimePoint start = parse_utc("2026-01-01T00:00:00Z");
  Checkpoint ckpt({.name = "demo", .path = o.checkpoint_dir, .level = o.level});
  sm::ShallowWater model({.grid = sm::Grid::parse(o.grid), .device = parse_device(o.device)});
  sm::GaussianPerturbation noise({.seed = o.seed});
  // Opening the session first means the bound states are restored as they are bound (a
  // state bound before would be filled late, with a warning).
  SessionScope scope(ckpt);
  model.bind_checkpoint(ckpt);
  noise.bind_checkpoint(ckpt);
  if (scope->exists()) {
    std::cout << "demo: resuming from " << scope->commit_id() << " (write " << scope->write_count()
              << ", " << scope->metadata().at("step").to_display() << " steps done)\n";
    if (scope->metadata().at("step").as<std::int64_t>("step") >= o.steps) {
      std::cout << "demo: already complete; final state digest "
                << scope->metadata().at("digest").to_display() << "\n";
      return kExitOk;
    }
  } else {
    std::cout << "demo: new run in " << ckpt.root().string() << "\n";
  }

  const sm::FieldBatch one = sm::initial_condition(o.initial_condition, model.grid());
  sm::FieldBatch initial(one.grid, one.variables, o.members);
  std::vector<std::int64_t> members;
  std::vector<std::string> units;
  for (std::int64_t m = 0; m < o.members; ++m) {
    std::copy(one.data.begin(), one.data.end(),
              initial.data.begin() + static_cast<std::ptrdiff_t>(m * one.data.size()));
    members.push_back(m);
    units.push_back(format_utc(start) + "/member" + std::to_string(m));
  }
  noise.apply(initial, members, start);

  auto rollout = model.rollout(initial, units);
  const auto dt = model.step();
  std::string last_digest;
  for (;;) {
    const std::int64_t step = rollout->step();
    const sm::FieldBatch& state = rollout->state();
    last_digest = digest(state);
    double hmin = state.data[0], hmax = state.data[0];
    for (std::int64_t m = 0; m < state.members; ++m) {
      for (double h : state.field(m, state.variable_index("h"))) {
        hmin = std::min(hmin, h);
        hmax = std::max(hmax, h);
      }
    }
    scope->write({{"lead_time", dt * step}, {"step", step}, {"digest", last_digest}});
    std::printf(
        "step %3lld  lead %4lld h  h in [%.3f, %.3f] m  digest %s%s\n",
        static_cast<long long>(step),
        static_cast<long long>(std::chrono::duration_cast<std::chrono::hours>(dt * step).count()),
        hmin, hmax, last_digest.c_str(), ("  -> " + scope->commit_id()).c_str());
    std::fflush(stdout);
    if (step == o.kill_after) {
      std::cout << "demo: killing myself with SIGKILL after step " << step << std::endl;
      std::raise(SIGKILL);
    }
    if (step >= o.steps) break;
    rollout->advance();
  }
  scope->flush();
  std::cout << "demo: final state digest " << last_digest << "\n";
  return kExitOk;
}

}  // namespace

int run_demo(const Args& args) {
  DemoOptions o;
  po::options_description visible(
      "usage: stormrun demo --checkpoint-dir DIR [options]\n\n"
      "Runs a small checkpointed ensemble forecast on this rank: shallow water from the\n"
      "Galewsky jet, members perturbed with Gaussian noise, a level-2 commit after every\n"
      "6-hour step. Run it again with the same DIR and it resumes from the newest valid\n"
      "commit; the final state digest equals that of an uninterrupted run.\n\noptions");
  visible.add_options()("help,h", "print this help")(
      "checkpoint-dir", po::value(&o.checkpoint_dir)->required(), "checkpoint store directory")(
      "grid", po::value(&o.grid)->default_value(o.grid), "grid NLATxNLON")(
      "initial-condition", po::value(&o.initial_condition)->default_value(o.initial_condition),
      "tc2, tc6, galewsky, galewsky-nobump")("steps", po::value(&o.steps)->default_value(o.steps),
                                             "6-hour steps to run")(
      "members", po::value(&o.members)->default_value(o.members), "ensemble members")(
      "seed", po::value(&o.seed)->default_value(o.seed), "perturbation seed")(
      "level", po::value(&o.level)->default_value(o.level), "checkpoint level 0, 1 or 2")(
      "device", po::value(&o.device)->default_value(o.device), "auto, cpu or cuda")(
      "kill-after", po::value(&o.kill_after)->default_value(o.kill_after),
      "SIGKILL this process right after committing step K (a real crash)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(visible).run(), vm);
    if (vm.count("help")) {
      std::cout << visible << "\n";
      return kExitOk;
    }
    po::notify(vm);
    if (o.steps < 1)
      throw po::validation_error(po::validation_error::invalid_option_value, "steps",
                                 std::to_string(o.steps));
    if (o.members < 1)
      throw po::validation_error(po::validation_error::invalid_option_value, "members",
                                 std::to_string(o.members));
  } catch (const po::error& e) {
    std::cerr << "stormrun demo: " << option_error_text(e) << "\n\n" << visible << "\n";
    return kExitUsage;
  }
  return demo(o);
}

}  // namespace stormrun::app
