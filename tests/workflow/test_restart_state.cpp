// The run's restart state writes what the ledger reads: rows written through RestartState
// (as `stormrun run` writes them) are summarised, planned and loaded back to the same bytes,
// also when one row holds units at different steps (the stuck-store fixture's class), and a
// migration hands each resumed batch exactly its fields.
#include <doctest/doctest.h>

#include <cstring>

#include "ledger_test_support.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "workflow/restart_state.hpp"

using namespace stormrun;
using namespace stormrun::workflow;
using namespace ledger_test;

namespace {

constexpr std::int64_t kSteps = 8;
const CommitGroup kOwnRows(0, 1);  // rank 0 of 1, committing its own rows

runtime::Runtime& single_rank() {
  static runtime::MpiSession mpi(nullptr, nullptr);
  static runtime::Runtime rt(MPI_COMM_WORLD, model::DeviceChoice::Cpu, /*quiet=*/true);
  return rt;
}

std::vector<WorkUnit> four_units() {
  RunConfig config;
  config.start_times = {parse_utc("2026-01-01T00:00:00Z")};
  config.nensemble = 4;
  return work_units(config);
}

Checkpoint open_checkpoint(const fs::path& root) {
  CheckpointOptions options;
  options.name = "restart-state-test";
  options.path = root;
  options.rank = 0;
  options.world_size = 1;
  options.history_size = 0;
  options.warn = [](const std::string&) {};
  return Checkpoint(options);
}

FieldShape shape() {
  return {kModel, kVariables, kGrid};
}

/// The test fields of units `indices` at `step`, and LiveUnits pointing into them.
struct Live {
  std::vector<std::string> names;
  Array<double> fields;
  std::vector<LiveUnit> units;
  Live(const std::vector<WorkUnit>& all, const std::vector<std::int64_t>& indices,
       std::int64_t step) {
    for (std::int64_t i : indices)
      names.push_back(all[std::size_t(i)].name);
    fields = fields_of(names, std::vector<std::int64_t>(names.size(), step));
    const std::size_t block = kVariables.size() * std::size_t(kGrid.points());
    for (std::size_t k = 0; k < indices.size(); ++k)
      units.push_back({indices[k], step, std::span(fields.data).subspan(k * block, block)});
  }
};

RestartPlan fresh_plan(const std::vector<WorkUnit>& units) {
  RestartPlan plan;
  for (const WorkUnit& unit : units)
    plan.units.push_back({unit.index, 0, std::nullopt});
  return plan;
}

RestartPlan plan_of(const fs::path& root, const std::vector<WorkUnit>& units) {
  return make_restart_plan(units, {summarise_rank_dir(root / "rank_000000")}, 2, kSteps,
                           kFingerprint);
}

bool same_bytes(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("RestartState rows are read back by the ledger, units of one row at different steps") {
  TempDir dir("stormrun-restart-state");
  const std::vector<WorkUnit> units = four_units();
  runtime::Runtime& rt = single_rank();

  // First start: units 0,1 reach step 3, then the run stops.
  {
    Checkpoint checkpoint = open_checkpoint(dir.path());
    const RestartPlan plan = fresh_plan(units);
    RestartState state(checkpoint, kOwnRows, 2, units, {0, 1, 2, 3}, plan, shape(), kSteps,
                       kFingerprint);
    state.migrate(rt, dir.path());  // not resumed: nothing to do
    for (std::int64_t t = 0; t <= 3; ++t) {
      const Live live(units, {0, 1}, t);
      state.write(t, Duration(t), live.units, true, false);
    }
    state.flush();
  }
  RestartPlan plan = plan_of(dir.path(), units);
  CHECK(plan.resumed);
  CHECK(plan.units[0].first_step == 4);
  CHECK(plan.units[2].first_step == 0);

  // Second start: the migration parks units 0,1 at step 3; units 2,3 run to step 1 and stop.
  // The row then holds units at steps 3 and 1.
  {
    Checkpoint checkpoint = open_checkpoint(dir.path());
    RestartState state(checkpoint, kOwnRows, 2, units, {0, 1, 2, 3}, plan, shape(), kSteps,
                       kFingerprint);
    state.migrate(rt, dir.path());
    // The migration row is committed at once and holds what the rank now owns.
    const DirSummary migrated = summarise_rank_dir(dir.path() / "rank_000000");
    REQUIRE(migrated.row.has_value());
    CHECK(migrated.row->units.at(units[0].name) == 3);
    CHECK(migrated.row->units.at(units[1].name) == 3);
    CHECK(migrated.row->states.size() == 2);
    CHECK(migrated.row->states.at(units[1].name).step == 3);
    for (std::int64_t t = 0; t <= 1; ++t) {
      const Live live(units, {2, 3}, t);
      state.write(t, Duration(t), live.units, true, false);
    }
    state.flush();
  }
  plan = plan_of(dir.path(), units);
  std::vector<UnitSource> wanted;
  for (const UnitPlan& p : plan.units) {
    REQUIRE(p.source.has_value());
    wanted.push_back({units[std::size_t(p.index)].name, *p.source});
  }
  CHECK(plan.units[0].first_step == 4);
  CHECK(plan.units[3].first_step == 2);
  const model::FieldBatch loaded = load_states(wanted, kModel, kVariables, kGrid);
  std::vector<std::string> names;
  for (const WorkUnit& unit : units)
    names.push_back(unit.name);
  CHECK(same_bytes(loaded.data, fields_of(names, {3, 3, 1, 1}).data));

  // Third start: one migration reads all four from that one row, and each resumed batch gets
  // exactly its own fields.
  {
    Checkpoint checkpoint = open_checkpoint(dir.path());
    RestartState state(checkpoint, kOwnRows, 2, units, {0, 1, 2, 3}, plan, shape(), kSteps,
                       kFingerprint);
    state.migrate(rt, dir.path());
    const model::FieldBatch late = state.take_parked(Batch{{2, 3}, 2});
    CHECK(same_bytes(late.data, fields_of({names[2], names[3]}, {1, 1}).data));
    const model::FieldBatch early = state.take_parked(Batch{{0, 1}, 4});
    CHECK(same_bytes(early.data, fields_of({names[0], names[1]}, {3, 3}).data));
    CHECK_THROWS_AS(state.take_parked(Batch{{0}, 4}), std::logic_error);  // taken once
  }
}

TEST_CASE("RestartState records finished units and drops their fields") {
  TempDir dir("stormrun-restart-state");
  const std::vector<WorkUnit> units = four_units();
  Checkpoint checkpoint = open_checkpoint(dir.path());
  const RestartPlan plan = fresh_plan(units);
  RestartState state(checkpoint, kOwnRows, 2, units, {0, 1, 2, 3}, plan, shape(), kSteps,
                     kFingerprint);
  const Live live(units, {0, 1}, kSteps);
  state.write(kSteps, Duration(kSteps), live.units, true, false);
  state.flush();
  CHECK(state.completed_count() == 2);
  CHECK(state.is_completed(0));
  CHECK(!state.is_completed(2));
  const DirSummary summary = summarise_rank_dir(dir.path() / "rank_000000");
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->units.at(units[0].name) == kSteps);
  CHECK(summary.row->states.empty());  // finished units carry no fields
  const RestartPlan next = plan_of(dir.path(), units);
  CHECK(next.units[0].first_step == kSteps + 1);
  CHECK(next.units[2].first_step == 0);
}
