// Persistence: the identity forecast, and its level-2 state in a real checkpoint store.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>

#include "model_state_support.hpp"
#include "stormrun/checkpoint.hpp"
#include "stormrun/model/persistence.hpp"

using namespace stormrun;
using namespace stormrun::model;
using namespace model_state_test;

namespace {

const Grid kGrid{8, 16};
const std::vector<std::string> kUnits = {"t0/m0", "t0/m1"};

/// Rolls out `initial` with writes at every step until `write_count` writes are recorded,
/// then drops everything (an interruption after the last commit).
void run_until(const fs::path& root, int level, const FieldBatch& initial, int writes,
               std::optional<std::int64_t> flush_interval = 1) {
  auto options = checkpoint_options(root, level, nullptr);
  options.flush_interval = flush_interval;
  Checkpoint checkpoint(options);
  Persistence model({.grid = kGrid});
  model.bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  auto rollout = model.rollout(initial, kUnits);
  for (std::int64_t step = scope->write_count(); step < writes; ++step) {
    REQUIRE(rollout->step() == step);
    (void)rollout->state();
    scope->write({{"lead_time", model.step() * step}});
    rollout->advance();
  }
}

}  // namespace

TEST_CASE("persistence yields the initial fields at every step") {
  Persistence model({.grid = kGrid, .variables = {"h", "u"}, .step = std::chrono::hours(3)});
  CHECK(model.name() == "persistence");
  CHECK(model.step() == std::chrono::hours(3));
  CHECK(model.variables() == std::vector<std::string>{"h", "u"});
  const FieldBatch initial = test_batch(kGrid, {"h", "u"}, 2, 1.5);
  auto rollout = model.rollout(initial, kUnits);
  for (int step = 0; step < 4; ++step) {
    CHECK(rollout->step() == step);
    CHECK(same_bytes(rollout->state().data, initial.data));
    rollout->advance();
  }
}

TEST_CASE("persistence rejects bad options and mismatched initial conditions") {
  CHECK_THROWS_AS(Persistence({.grid = {0, 16}}), std::invalid_argument);
  CHECK_THROWS_AS(Persistence({.grid = kGrid, .variables = {}}), std::invalid_argument);
  CHECK_THROWS_AS(Persistence({.grid = kGrid, .variables = {"h", "h"}}), std::invalid_argument);
  CHECK_THROWS_AS(Persistence({.grid = kGrid, .step = Duration::zero()}), std::invalid_argument);
  Persistence model({.grid = kGrid});
  CHECK_THROWS_WITH_AS(model.rollout(test_batch({4, 8}, {"h", "u", "v"}, 2, 0), kUnits),
                       doctest::Contains("grid 4x8"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(model.rollout(test_batch(kGrid, {"h", "v", "u"}, 2, 0), kUnits),
                       doctest::Contains("[h,v,u]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(model.rollout(test_batch(kGrid, {"h", "u", "v"}, 3, 0), kUnits),
                       doctest::Contains("2 work units for 3 members"), std::invalid_argument);
}

TEST_CASE("a restored persistence rollout continues at the next step with the saved bytes") {
  TempDir dir;
  const FieldBatch initial = test_batch(kGrid, {"h", "u", "v"}, 2, 7.25);
  run_until(dir.path(), 2, initial, 3);  // steps 0, 1, 2 written; step 2 saved

  Checkpoint checkpoint(checkpoint_options(dir.path(), 2, nullptr));
  Persistence model({.grid = kGrid});
  model.bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  REQUIRE(scope->write_count() == 3);
  const auto row = checkpoint.catalog().back();
  CHECK(std::count(row.state_ids.begin(), row.state_ids.end(), "stormrun.model.RolloutState") == 1);
  // The workflow always passes the normal initial condition; give another one to prove the
  // fields come from the checkpoint.
  const FieldBatch other_initial = test_batch(kGrid, {"h", "u", "v"}, 2, -100.0);
  auto rollout = model.rollout(other_initial, kUnits);
  CHECK(rollout->step() == 3);
  CHECK(same_bytes(rollout->state().data, initial.data));
  rollout->advance();
  CHECK(rollout->step() == 4);
  CHECK(same_bytes(rollout->state().data, initial.data));

  SUBCASE("another batch's units start from their own initial condition") {
    auto fresh = model.rollout(other_initial, {"t0/m2", "t0/m3"});
    CHECK(fresh->step() == 0);
    CHECK(same_bytes(fresh->state().data, other_initial.data));
  }
}

TEST_CASE("below level 2 persistence saves no model state and restarts from step 0") {
  TempDir dir;
  const FieldBatch initial = test_batch(kGrid, {"h", "u", "v"}, 2, 3.0);
  run_until(dir.path(), 1, initial, 2);

  Checkpoint checkpoint(checkpoint_options(dir.path(), 1, nullptr));
  Persistence model({.grid = kGrid});
  model.bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  REQUIRE(scope->write_count() == 2);
  const auto row = checkpoint.catalog().back();
  CHECK(std::count(row.state_ids.begin(), row.state_ids.end(), "stormrun.model.RolloutState") == 0);
  const FieldBatch other_initial = test_batch(kGrid, {"h", "u", "v"}, 2, -1.0);
  auto rollout = model.rollout(other_initial, kUnits);
  CHECK(rollout->step() == 0);
  CHECK(same_bytes(rollout->state().data, other_initial.data));
}

TEST_CASE("an explicit flush between interval commits saves the state of the last write") {
  // flush_interval 3: write 3 commits; writes 4 and 5 are pending until the explicit flush
  // (what a preemption does). The row must then hold step 4, i.e. write_count - 1.
  TempDir dir;
  const FieldBatch initial = test_batch(kGrid, {"h", "u", "v"}, 2, 2.0);
  {
    auto options = checkpoint_options(dir.path(), 2, nullptr);
    options.flush_interval = 3;
    Checkpoint checkpoint(options);
    Persistence model({.grid = kGrid});
    model.bind_checkpoint(checkpoint);
    SessionScope scope(checkpoint);
    auto rollout = model.rollout(initial, kUnits);
    for (int step = 0; step < 5; ++step) {
      (void)rollout->state();
      scope->write();
      rollout->advance();
    }
    scope->flush();
  }
  Checkpoint checkpoint(checkpoint_options(dir.path(), 2, nullptr));
  Persistence model({.grid = kGrid});
  model.bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  REQUIRE(scope->write_count() == 5);
  auto rollout = model.rollout(initial, kUnits);
  CHECK(rollout->step() == 5);
}

TEST_CASE("rollout state saved by another configuration is refused with the mismatch named") {
  TempDir dir;
  const FieldBatch initial = test_batch(kGrid, {"h", "u", "v"}, 2, 4.0);
  run_until(dir.path(), 2, initial, 1);

  Checkpoint checkpoint(checkpoint_options(dir.path(), 2, nullptr));
  RolloutCheckpoint state;
  SUBCASE("another model") {
    state.bind(checkpoint, "swe");
    SessionScope scope(checkpoint);
    CHECK_THROWS_WITH_AS(state.restored(kUnits, initial),
                         doctest::Contains("saved by model 'persistence'"), CheckpointError);
  }
  SUBCASE("other variables") {
    state.bind(checkpoint, "persistence");
    SessionScope scope(checkpoint);
    CHECK_THROWS_WITH_AS(state.restored(kUnits, test_batch(kGrid, {"h", "u"}, 2, 0)),
                         doctest::Contains("saved variables [h,u,v]"), CheckpointError);
  }
  SUBCASE("another grid") {
    state.bind(checkpoint, "persistence");
    SessionScope scope(checkpoint);
    CHECK_THROWS_WITH_AS(state.restored(kUnits, test_batch({4, 8}, {"h", "u", "v"}, 2, 0)),
                         doctest::Contains("2x3x8x16"), CheckpointError);
  }
  SUBCASE("the same configuration restores once, until the handle saves again") {
    state.bind(checkpoint, "persistence");
    SessionScope scope(checkpoint);
    auto restored = state.restored(kUnits, initial);
    REQUIRE(restored);
    CHECK(restored->step == 0);
    CHECK(same_bytes(restored->fields.data, initial.data));
    CHECK(state.restored(kUnits, initial));  // asking again is idempotent
    state.save(kUnits, 1, initial);
    CHECK_FALSE(state.restored(kUnits, initial));
  }
}

TEST_CASE("an unbound or disabled rollout checkpoint restores and saves nothing") {
  RolloutCheckpoint unbound;
  const FieldBatch initial = test_batch(kGrid, {"h"}, 1, 0);
  CHECK_FALSE(unbound.enabled());
  unbound.save({"u"}, 0, initial);
  CHECK_FALSE(unbound.restored({"u"}, initial));

  Checkpoint disabled = Checkpoint::disabled();
  RolloutCheckpoint off;
  off.bind(disabled, "persistence");
  CHECK_FALSE(off.enabled());
  off.save({"u"}, 0, initial);
  CHECK_FALSE(off.restored({"u"}, initial));
}
