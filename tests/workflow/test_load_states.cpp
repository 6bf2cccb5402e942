// Loading the level-2 fields of resumed units out of the commit the plan names.
#include <doctest/doctest.h>

#include <cstring>

#include "ledger_test_support.hpp"
#include "stormrun/model/persistence.hpp"

using namespace stormrun;
using namespace stormrun::workflow;
using namespace ledger_test;

namespace {

bool same_bytes(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

const std::vector<std::string> kUnits = {"2026-01-01T00:00:00Z/m0000", "2026-01-01T00:00:00Z/m0001",
                                         "2026-01-01T00:00:00Z/m0002",
                                         "2026-01-01T00:00:00Z/m0003"};

/// Rank 0 holds u0,u1 in its RolloutState at step 2; rank 1 parks u2 (step 2), u3 (step 5).
struct Store {
  TempDir dir{"stormrun-load"};
  DirSummary rank0, rank1;
  Store() {
    write_rows(dir.path(), 0, 2, 2,
               {{.units = {{kUnits[0], 2}, {kUnits[1], 2}},
                 .rollout = rollout_state({kUnits[0], kUnits[1]}, 2)}});
    write_rows(dir.path(), 1, 2, 2,
               {{.units = {{kUnits[2], 2}, {kUnits[3], 5}},
                 .parked = parked_states({kUnits[2], kUnits[3]}, {2, 5})}});
    rank0 = summarise_rank_dir(dir.path() / "rank_000000");
    rank1 = summarise_rank_dir(dir.path() / "rank_000001");
  }
  const StateSource& source(int unit) const {
    const DirSummary& d = unit < 2 ? rank0 : rank1;
    return d.row->states.at(kUnits[std::size_t(unit)]);
  }
};

template <class F>
std::string mismatch_of(F&& f) {
  try {
    f();
  } catch (const RestartMismatch& e) {
    return e.what();
  }
  return "(no RestartMismatch)";
}

}  // namespace

TEST_CASE("load_states: exactly the saved bytes of the requested units, in the requested order") {
  Store store;
  SUBCASE("from a RolloutState") {
    const auto batch =
        load_states(store.source(1), {kUnits[1], kUnits[0]}, kModel, kVariables, kGrid);
    CHECK(batch.grid == kGrid);
    CHECK(batch.variables == kVariables);
    CHECK(batch.members == 2);
    CHECK(same_bytes(batch.data, fields_of({kUnits[1], kUnits[0]}, {2, 2}).data));
  }
  SUBCASE("a subset of a ParkedStates") {
    const auto batch = load_states(store.source(3), {kUnits[3]}, kModel, kVariables, kGrid);
    CHECK(batch.members == 1);
    CHECK(same_bytes(batch.data, fields_of({kUnits[3]}, {5}).data));
  }
  SUBCASE("load_batch_states gathers a batch from several commits") {
    const std::vector<WorkUnit> units = [] {
      RunConfig config;
      config.start_times = {parse_utc("2026-01-01T00:00:00Z")};
      config.nensemble = 4;
      return work_units(config);
    }();
    const RestartPlan plan =
        make_restart_plan(units, {store.rank0, store.rank1}, 2, 8, kFingerprint);
    const auto batches = make_batches(owned_units(4, 0, 1), plan, 3);
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].units == std::vector<std::int64_t>{3});
    CHECK(batches[0].first_step == 6);
    CHECK(batches[1].units == std::vector<std::int64_t>{0, 1, 2});
    const auto loaded = load_batch_states(batches[1], plan, units, kModel, kVariables, kGrid);
    CHECK(same_bytes(loaded.data, fields_of({kUnits[0], kUnits[1], kUnits[2]}, {2, 2, 2}).data));
    CHECK_THROWS_AS(load_batch_states(Batch{{0}, 5}, plan, units, kModel, kVariables, kGrid),
                    std::invalid_argument);
  }
}

TEST_CASE("load_states: refuses damage and states of another configuration") {
  Store store;
  const StateSource& source = store.source(0);
  SUBCASE("a corrupted fields file") {
    const fs::path npy = fields_file(source.commit_dir, "stormrun.model.RolloutState");
    flip_byte(npy);
    try {
      (void)load_states(source, {kUnits[0]}, kModel, kVariables, kGrid);
      FAIL("expected an error");
    } catch (const StoreError& e) {
      CHECK(std::string(e.what()).find(npy.string()) != std::string::npos);
      CHECK(std::string(e.what()).find("checksum") != std::string::npos);
    }
  }
  SUBCASE("another model") {
    const std::string what =
        mismatch_of([&] { (void)load_states(source, {kUnits[0]}, "swe", kVariables, kGrid); });
    CHECK(what.find(source.commit_dir.string()) != std::string::npos);
    CHECK(what.find("'persistence'") != std::string::npos);
  }
  SUBCASE("other variables") {
    const std::string what = mismatch_of([&] {
      (void)load_states(source, {kUnits[0]}, kModel, {"h", "u"}, kGrid);
    });
    CHECK(what.find("variables h,u,v") != std::string::npos);
  }
  SUBCASE("another grid") {
    const std::string what = mismatch_of([&] {
      (void)load_states(source, {kUnits[0]}, kModel, kVariables, Grid{8, 16});
    });
    CHECK(what.find("shape [2,3,4,8]") != std::string::npos);
  }
  SUBCASE("a unit the record does not hold") {
    const std::string what = mismatch_of([&] {
      (void)load_states(source, {kUnits[0], kUnits[3]}, kModel, kVariables, kGrid);
    });
    CHECK(what.find("does not hold unit " + kUnits[3]) != std::string::npos);
  }
  SUBCASE("another step than the plan expects") {
    StateSource wrong = source;
    wrong.step = 1;
    const std::string what =
        mismatch_of([&] { (void)load_states(wrong, {kUnits[0]}, kModel, kVariables, kGrid); });
    CHECK(what.find("at step 2") != std::string::npos);
  }
}

TEST_CASE("a Persistence rollout checkpointed by the model resumes from the ledger's source") {
  TempDir dir("stormrun-load");
  const std::vector<std::string> units = {kUnits[2], kUnits[0]};
  model::FieldBatch initial(kGrid, kVariables, 2);
  for (std::size_t i = 0; i < initial.data.size(); ++i)
    initial.data[i] = 0.5 + 1.0 / double(i + 7);
  {
    CheckpointOptions options;
    options.name = "ledger-persistence";
    options.path = dir.path();
    options.rank = 0;
    options.world_size = 1;
    options.warn = [](const std::string&) {};
    Checkpoint checkpoint(options);
    model::Persistence model({.grid = kGrid, .variables = kVariables});
    model.bind_checkpoint(checkpoint);
    Session& session = checkpoint.new_session();
    auto rollout = model.rollout(initial, units);
    for (std::int64_t step = 0; step <= 3; ++step) {
      (void)rollout->state();
      for (const auto& unit : units)
        session.record_unit(unit, step);
      session.write({{"fingerprint", kFingerprint}});
      rollout->advance();
    }
  }
  const DirSummary summary = summarise_rank_dir(dir.path() / "rank_000000");
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->units.at(units[0]) == 3);
  REQUIRE(summary.row->states.size() == 2);
  const StateSource& source = summary.row->states.at(units[1]);
  CHECK(source.state_id == "stormrun.model.RolloutState");
  CHECK(source.step == 3);
  const auto loaded = load_states(source, {units[1], units[0]}, "persistence", kVariables, kGrid);
  const std::size_t block = kVariables.size() * std::size_t(kGrid.points());
  std::vector<double> expected(initial.data.begin() + std::ptrdiff_t(block), initial.data.end());
  expected.insert(expected.end(), initial.data.begin(),
                  initial.data.begin() + std::ptrdiff_t(block));
  CHECK(same_bytes(loaded.data, expected));
}
