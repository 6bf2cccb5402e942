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

/// Rank 0 holds u0,u1 at step 2; rank 1 holds u2 (step 2) and u3 (step 5) in one record.
struct Store {
  TempDir dir{"stormrun-load"};
  DirSummary rank0, rank1;
  Store() {
    write_rows(dir.path(), 0, 2, 2,
               {{.units = {{kUnits[0], 2}, {kUnits[1], 2}},
                 .states = unit_states({kUnits[0], kUnits[1]}, 2)}});
    write_rows(dir.path(), 1, 2, 2,
               {{.units = {{kUnits[2], 2}, {kUnits[3], 5}},
                 .states = unit_states({kUnits[2], kUnits[3]}, {2, 5})}});
    rank0 = summarise_rank_dir(dir.path() / "rank_000000");
    rank1 = summarise_rank_dir(dir.path() / "rank_000001");
  }
  const StateSource& source(int unit) const {
    const DirSummary& d = unit < 2 ? rank0 : rank1;
    return d.row->states.at(kUnits[std::size_t(unit)]);
  }
  /// The requests for these units, each from where the store holds it.
  std::vector<UnitSource> wanted(const std::vector<int>& units) const {
    std::vector<UnitSource> out;
    for (int u : units)
      out.push_back({kUnits[std::size_t(u)], source(u)});
    return out;
  }
};

/// `names`, each asked of `source`.
std::vector<UnitSource> from(const StateSource& source, const std::vector<std::string>& names) {
  std::vector<UnitSource> out;
  for (const auto& name : names)
    out.push_back({name, source});
  return out;
}

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
  SUBCASE("from one commit") {
    const auto batch = load_states(store.wanted({1, 0}), kModel, kVariables, kGrid);
    CHECK(batch.grid == kGrid);
    CHECK(batch.members == 2);
    CHECK(batch.variables == kVariables);
    CHECK(same_bytes(batch.data, fields_of({kUnits[1], kUnits[0]}, {2, 2}).data));
  }
  SUBCASE("a subset of a record") {
    const auto batch = load_states(store.wanted({3}), kModel, kVariables, kGrid);
    CHECK(batch.members == 1);
    CHECK(same_bytes(batch.data, fields_of({kUnits[3]}, {5}).data));
  }
  SUBCASE("units of one commit at different steps, and units of several commits") {
    // The stuck-store fixture's class: one rank's row holds units at steps 2 and 5; a
    // restart asks for all of them at once.
    const auto batch = load_states(store.wanted({3, 0, 2, 1}), kModel, kVariables, kGrid);
    CHECK(same_bytes(batch.data,
                     fields_of({kUnits[3], kUnits[0], kUnits[2], kUnits[1]}, {5, 2, 2, 2}).data));
  }
  SUBCASE("the plan's sources, for every unit it resumes") {
    const std::vector<WorkUnit> units = [] {
      RunConfig config;
      config.start_times = {parse_utc("2026-01-01T00:00:00Z")};
      config.nensemble = 4;
      return work_units(config);
    }();
    const RestartPlan plan =
        make_restart_plan(units, {store.rank0, store.rank1}, 2, 8, kFingerprint);
    std::vector<UnitSource> wanted;
    for (const UnitPlan& p : plan.units) {
      REQUIRE(p.source.has_value());
      CHECK(p.first_step == p.source->step + 1);
      wanted.push_back({units[std::size_t(p.index)].name, *p.source});
    }
    const auto loaded = load_states(wanted, kModel, kVariables, kGrid);
    CHECK(same_bytes(loaded.data, fields_of(kUnits, {2, 2, 2, 5}).data));
  }
}

TEST_CASE("load_states: refuses damage and states of another configuration") {
  Store store;
  const StateSource& source = store.source(0);
  SUBCASE("a corrupted fields file") {
    const fs::path npy = fields_file(source.commit_dir);
    flip_byte(npy);
    try {
      (void)load_states(from(source, {kUnits[0]}), kModel, kVariables, kGrid);
      FAIL("expected an error");
    } catch (const StoreError& e) {
      CHECK(std::string(e.what()).find(npy.string()) != std::string::npos);
      CHECK(std::string(e.what()).find("checksum") != std::string::npos);
    }
  }
  SUBCASE("another model") {
    const std::string what = mismatch_of(
        [&] { (void)load_states(from(source, {kUnits[0]}), "swe", kVariables, kGrid); });
    CHECK(what.find(source.commit_dir.string()) != std::string::npos);
    CHECK(what.find("'persistence'") != std::string::npos);
  }
  SUBCASE("other variables") {
    const std::string what = mismatch_of([&] {
      (void)load_states(from(source, {kUnits[0]}), kModel, {"h", "u"}, kGrid);
    });
    CHECK(what.find("variables h,u,v") != std::string::npos);
  }
  SUBCASE("another grid") {
    const std::string what = mismatch_of([&] {
      (void)load_states(from(source, {kUnits[0]}), kModel, kVariables, Grid{8, 16});
    });
    CHECK(what.find("shape [2,3,4,8]") != std::string::npos);
  }
  SUBCASE("a unit the record does not hold") {
    const std::string what = mismatch_of([&] {
      (void)load_states(from(source, {kUnits[0], kUnits[3]}), kModel, kVariables, kGrid);
    });
    CHECK(what.find("does not hold unit " + kUnits[3]) != std::string::npos);
  }
  SUBCASE("another step than the plan expects") {
    StateSource wrong = source;
    wrong.step = 1;
    const std::string what = mismatch_of(
        [&] { (void)load_states(from(wrong, {kUnits[0]}), kModel, kVariables, kGrid); });
    CHECK(what.find("at step 2") != std::string::npos);
  }
}

TEST_CASE(
    "a model's own RolloutState binding is no restart source: the ledger reads only UnitStates") {
  // Library users may bind a model's RolloutState to their own checkpoint; `stormrun run`
  // never writes it, and the ledger does not read it: its units rerun, with the warning.
  TempDir dir("stormrun-load");
  const std::vector<std::string> units = {kUnits[0], kUnits[1]};
  model::FieldBatch initial(kGrid, kVariables, 2);
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
    (void)rollout->state();
    for (const auto& unit : units)
      session.record_unit(unit, 0);
    session.write({{"fingerprint", kFingerprint}});
  }
  const DirSummary summary = summarise_rank_dir(dir.path() / "rank_000000");
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->units.at(units[0]) == 0);
  CHECK(summary.row->states.empty());
  RunConfig config;
  config.start_times = {parse_utc("2026-01-01T00:00:00Z")};
  config.nensemble = 2;
  const RestartPlan plan = make_restart_plan(work_units(config), {summary}, 2, 8, kFingerprint);
  CHECK(plan.units.at(0).first_step == 0);
  CHECK(!plan.units.at(0).source.has_value());
  CHECK(plan.warnings.size() == 2);
}
