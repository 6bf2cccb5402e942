// Built outside the stormrun tree against an installed stormrun (tests/install/run):
//   checkpoint_roundtrip write DIR     writes three rows with the public checkpoint API
//   checkpoint_roundtrip restore DIR   (a second process) restores the newest and checks it
// Exit 0 when every restored value is the one written; 1 naming the first that is not.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"

struct RoundtripState {
  std::uint64_t seed = 0;
  std::int64_t step = 0;
  std::string label{};
  stormrun::Array<double> field{{0}, {}};
};
STORMRUN_STATE(RoundtripState, "install_consumer.RoundtripState", seed, step, label, field)

namespace {

constexpr std::int64_t kSteps = 3;
constexpr std::uint64_t kSeed = 0x5eed'0000'0000'0007ULL;

// The field written at `step`: 2x3 values whose bits a lossy path would change.
stormrun::Array<double> field_at(std::int64_t step) {
  stormrun::Array<double> field{{2, 3}, {}};
  for (int i = 0; i < 6; ++i)
    field.data.push_back(0.1 * (i + 1) + 1.0 / 3.0 * double(step));
  return field;
}

stormrun::CheckpointOptions options(const std::string& dir) {
  return {.name = "install-consumer",
          .path = dir,
          .mode = stormrun::CheckpointMode::Append,
          .flush_interval = 1,
          .history_size = 0,
          .level = 2};
}

int write(const std::string& dir) {
  using namespace std::chrono_literals;
  stormrun::Checkpoint checkpoint(options(dir));
  auto state = checkpoint.bind(RoundtripState{.seed = kSeed}, /*min_level=*/1);
  stormrun::SessionScope scope(checkpoint);
  if (scope->write_count() != 0) {
    std::cerr << "checkpoint_roundtrip write: " << dir << " holds rows already (write_count "
              << scope->write_count() << "); give an empty directory\n";
    return 1;
  }
  for (std::int64_t step = 1; step <= kSteps; ++step) {
    state->step = step;
    state->label = "step-" + std::to_string(step);
    state->field = field_at(step);
    scope->record_unit("member_000", step);
    scope->write({{"lead_time", stormrun::Duration(6h * step)}});
  }
  scope->flush();
  std::cout << "wrote " << checkpoint.catalog().size() << " rows to " << dir << "\n";
  return 0;
}

int restore(const std::string& dir) {
  using namespace std::chrono_literals;
  stormrun::Checkpoint checkpoint(options(dir));
  stormrun::SessionScope scope(checkpoint);  // the newest row
  // Bound while the restored session is active: filled from it at once.
  auto state = checkpoint.bind(RoundtripState{}, /*min_level=*/1);
  std::vector<std::string> bad;
  auto expect = [&bad](bool ok, const std::string& what) {
    if (!ok) bad.push_back(what);
  };
  const stormrun::Array<double> field = field_at(kSteps);
  expect(checkpoint.catalog().size() == std::size_t(kSteps), "catalog rows");
  expect(state.loaded(), "binding loaded");
  expect(scope->write_count() == kSteps, "write_count");
  expect(state->seed == kSeed, "seed");
  expect(state->step == kSteps, "step");
  expect(state->label == "step-" + std::to_string(kSteps), "label");
  expect(state->field.shape == field.shape, "field shape");
  expect(state->field.data.size() == field.data.size() &&
             std::memcmp(state->field.data.data(), field.data.data(),
                         field.data.size() * sizeof(double)) == 0,
         "field bytes");
  expect(scope->lead_time() == stormrun::Duration(6h * kSteps), "lead_time metadata");
  const auto& units = scope->units();
  expect(units.count("member_000") == 1 && units.at("member_000") == kSteps, "unit progress");
  if (!bad.empty()) {
    std::ostringstream list;
    for (const auto& what : bad)
      list << " " << what;
    std::cerr << "checkpoint_roundtrip restore: " << dir << ": restored values differ from the "
              << "written ones:" << list.str() << "\n";
    return 1;
  }
  std::cout << "restored " << scope->commit_id() << ": step " << state->step << ", seed "
            << state->seed << ", " << state->field.data.size() << " field values, lead time "
            << std::chrono::duration_cast<std::chrono::hours>(*scope->lead_time()).count()
            << " h: all as written\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: checkpoint_roundtrip write|restore DIR";
  if (argc != 3) {
    std::cerr << usage << "\n";
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "write") return write(argv[2]);
    if (mode == "restore") return restore(argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_roundtrip " << mode << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "checkpoint_roundtrip: unknown mode '" << mode << "'; " << usage << "\n";
  return 2;
}
