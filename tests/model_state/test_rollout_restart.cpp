// The level-2 restart: a checkpointed rollout interrupted mid-way and resumed by a new model
// on a reopened checkpoint yields the same bytes, step for step, as an uninterrupted one.
#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "model_state_support.hpp"
#include "stormrun/checkpoint.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/persistence.hpp"
#include "stormrun/model/perturbation.hpp"
#include "stormrun/model/shallow_water.hpp"

using namespace stormrun;
using namespace stormrun::model;
using namespace model_state_test;

namespace {

using ModelFactory = std::function<std::unique_ptr<PrognosticModel>()>;
const std::vector<std::string> kUnits = {"2026-01-15T06:00:00Z/m3", "2026-01-15T06:00:00Z/m4"};
constexpr int kSteps = 6;

/// Two perturbed members of `ic` on `grid`: distinct fields per member.
FieldBatch perturbed_initial(const FieldBatch& ic) {
  FieldBatch batch(ic.grid, ic.variables, 2);
  for (std::int64_t m = 0; m < 2; ++m)
    std::copy(ic.data.begin(), ic.data.end(),
              batch.data.begin() + std::ptrdiff_t(m) * std::ptrdiff_t(ic.data.size()));
  GaussianPerturbation({.seed = 99}).apply(batch, {3, 4}, parse_utc("2026-01-15T06:00:00Z"));
  return batch;
}

/// States at steps 0..kSteps-1 of an uninterrupted rollout without a checkpoint.
std::vector<std::vector<double>> uninterrupted(const ModelFactory& make, const FieldBatch& ic) {
  auto model = make();
  auto rollout = model->rollout(ic, kUnits);
  std::vector<std::vector<double>> states;
  for (int step = 0; step < kSteps; ++step) {
    states.push_back(rollout->state().data);
    rollout->advance();
  }
  return states;
}

/// Runs the checkpointed rollout until `writes` writes are done, then abandons it (no
/// flush: only what the flush interval committed survives), as a killed job would.
void interrupted_run(const ModelFactory& make, const FieldBatch& ic, const fs::path& root,
                     int writes, std::int64_t flush_interval) {
  auto options = checkpoint_options(root, 2, nullptr);
  options.flush_interval = flush_interval;
  Checkpoint checkpoint(options);
  auto model = make();
  model->bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  auto rollout = model->rollout(ic, kUnits);
  for (int step = 0; step < writes; ++step) {
    (void)rollout->state();
    scope->write({{"lead_time", model->step() * step}});
    rollout->advance();
  }
}

/// Resumes in a new Checkpoint object with a new model object; checks that the rollout
/// continues at write_count (the saved step + 1) with the reference bytes to the end.
void check_resume(const ModelFactory& make, const FieldBatch& ic, const fs::path& root,
                  std::int64_t expected_write_count,
                  const std::vector<std::vector<double>>& reference) {
  Checkpoint checkpoint(checkpoint_options(root, 2, nullptr));
  auto model = make();
  model->bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  REQUIRE(scope->write_count() == expected_write_count);
  auto rollout = model->rollout(ic, kUnits);
  REQUIRE(rollout->step() == expected_write_count);
  for (std::int64_t step = rollout->step(); step < kSteps; ++step) {
    CAPTURE(step);
    CHECK(same_bytes(rollout->state().data, reference[std::size_t(step)]));
    scope->write({{"lead_time", model->step() * step}});
    rollout->advance();
  }
  scope->flush();
}

void check_restart(const ModelFactory& make, const FieldBatch& ic) {
  const auto reference = uninterrupted(make, ic);
  SUBCASE("interrupted after a commit at every write") {
    TempDir dir;
    interrupted_run(make, ic, dir.path(), 3, 1);
    check_resume(make, ic, dir.path(), 3, reference);
  }
  SUBCASE("interrupted between commits: resumes from the last committed write") {
    TempDir dir;
    interrupted_run(make, ic, dir.path(), 5, 2);  // writes 2 and 4 committed, 5 lost
    check_resume(make, ic, dir.path(), 4, reference);
  }
  SUBCASE("interrupted twice") {
    TempDir dir;
    interrupted_run(make, ic, dir.path(), 2, 1);
    {
      Checkpoint checkpoint(checkpoint_options(dir.path(), 2, nullptr));
      auto model = make();
      model->bind_checkpoint(checkpoint);
      SessionScope scope(checkpoint);
      auto rollout = model->rollout(ic, kUnits);
      REQUIRE(rollout->step() == 2);
      (void)rollout->state();
      scope->write();  // write 3 (step 2), then killed
    }
    check_resume(make, ic, dir.path(), 3, reference);
  }
}

/// Shallow water on `grid`, 1-hour steps, on the CPU reference.
ModelFactory cpu_swe_factory(const Grid& grid) {
  return [grid] {
    ShallowWaterConfig config;
    config.grid = grid;
    config.dt_seconds = 3600.0;
    config.device = DeviceChoice::Cpu;
    return std::make_unique<ShallowWater>(config);
  };
}

}  // namespace

TEST_CASE("persistence resumes mid-rollout with the bytes of an uninterrupted rollout") {
  const Grid grid{8, 16};
  const FieldBatch ic = perturbed_initial(test_batch(grid, {"h", "u", "v"}, 1, 10.0));
  check_restart([grid] { return std::make_unique<Persistence>(PersistenceOptions{.grid = grid}); },
                ic);
}

TEST_CASE("shallow water resumes mid-rollout with the bytes of an uninterrupted rollout") {
  const Grid grid{16, 32};
  const FieldBatch ic = perturbed_initial(initial_condition("galewsky", grid));
  const ModelFactory make = cpu_swe_factory(grid);
  // The fields must change from step to step, or the test would not tell steps apart.
  const auto reference = uninterrupted(make, ic);
  REQUIRE_FALSE(same_bytes(reference[2], reference[3]));
  check_restart(make, ic);
}

TEST_CASE("resume_with starts a rollout from fields held elsewhere, without a checkpoint") {
  // What the run driver does on an elastic restart: the fields of step k come from another
  // rank's commit; the rollout yields step k + 1 first, with the uninterrupted bytes.
  const Grid grid{16, 32};
  const FieldBatch ic = perturbed_initial(initial_condition("galewsky", grid));
  const ModelFactory make = cpu_swe_factory(grid);
  const auto reference = uninterrupted(make, ic);
  auto model = make();
  FieldBatch saved = ic;
  saved.data = reference[2];
  model->resume_with(kUnits, 2, saved);

  SUBCASE("other units start fresh") {
    const std::vector<std::string> others = {kUnits[1], kUnits[0]};
    auto rollout = model->rollout(ic, others);
    CHECK(rollout->step() == 0);
  }
  SUBCASE("the named units continue after the given step") {
    auto rollout = model->rollout(ic, kUnits);
    for (int step = 3; step < kSteps; ++step) {
      REQUIRE(rollout->step() == step);
      CHECK(same_bytes(rollout->state().data, reference[std::size_t(step)]));
      rollout->advance();
    }
    // Consumed by the rollout's first save: the next rollout of the same units is fresh.
    CHECK(model->rollout(ic, kUnits)->step() == 0);
  }
  SUBCASE("fields for another grid are refused") {
    FieldBatch wrong(Grid{8, 16}, ic.variables, ic.members);
    model->resume_with(kUnits, 2, wrong);
    CHECK_THROWS_AS(model->rollout(ic, kUnits), CheckpointError);
  }
}
