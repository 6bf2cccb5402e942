// The ledger over real rank dirs of earlier world sizes, and the restart plan built from it.
#include <doctest/doctest.h>

#include "ledger_test_support.hpp"

using namespace stormrun;
using namespace stormrun::workflow;
using namespace ledger_test;

namespace {

constexpr std::int64_t kSteps = 8;

std::vector<WorkUnit> test_units(std::int64_t members) {
  RunConfig config;
  config.start_times = {parse_utc("2026-01-01T00:00:00Z")};
  config.nensemble = members;
  return work_units(config);
}

std::vector<DirSummary> summarise_all(const fs::path& root) {
  std::vector<DirSummary> out;
  for (const auto& dir : list_rank_dirs(root))
    out.push_back(summarise_rank_dir(dir));
  return out;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& line : lines)
    if (line.find(text) != std::string::npos) return true;
  return false;
}

/// An earlier run's store: rank dirs 0 and 1 of a 2-rank run, and rank dir 2 of a 3-rank
/// run before it. Units (5 members): u0,u1 held by rank 0, u2 finished and u3 held by
/// rank 1, u1 further on rank 2, u4 never started.
struct EarlierRun {
  TempDir dir{"stormrun-ledger"};
  std::vector<WorkUnit> units = test_units(5);
  std::vector<std::string> rank0_ids, rank1_ids, rank2_ids;
  std::string u(int i) const { return units[std::size_t(i)].name; }

  explicit EarlierRun(int level = 2) {
    rank2_ids = write_rows(dir.path(), 2, 3, level,
                           {{.units = {{u(0), 1}}, .states = unit_states({u(0)}, 1)},
                            {.units = {{u(1), 4}}, .states = unit_states({u(1)}, 4)}});
    rank0_ids =
        write_rows(dir.path(), 0, 2, level,
                   {{.units = {{u(0), 1}, {u(1), 1}}, .states = unit_states({u(0), u(1)}, 1)},
                    {.units = {{u(0), 2}, {u(1), 2}}, .states = unit_states({u(0), u(1)}, 2)}});
    rank1_ids =
        write_rows(dir.path(), 1, 2, level,
                   {{.units = {{u(2), kSteps}, {u(3), 3}}, .states = unit_states({u(3)}, 3)}});
  }
  fs::path commit(int rank, const std::string& id) const {
    return dir.path() / rank_dir_name(rank) / "commits" / id;
  }
};

}  // namespace

TEST_CASE("restart plan: highest step over all rank dirs, sources from both state records") {
  EarlierRun run;
  const auto dirs = summarise_all(run.dir.path());
  REQUIRE(dirs.size() == 3);
  for (const auto& d : dirs) {
    CAPTURE(d.dir);
    CHECK(d.warnings.empty());
    REQUIRE(d.row.has_value());
    CHECK(d.row->fingerprint == kFingerprint);
  }
  const RowSummary& rank0 = *dirs[0].row;
  CHECK(rank0.rank == 0);
  CHECK(rank0.commit_id == run.rank0_ids.back());  // the newest row
  CHECK(rank0.commit_dir == run.commit(0, run.rank0_ids.back()));
  CHECK(rank0.units == std::map<std::string, std::int64_t>{{run.u(0), 2}, {run.u(1), 2}});
  REQUIRE(rank0.states.size() == 2);
  CHECK(rank0.states.at(run.u(1)).step == 2);
  CHECK(rank0.states.at(run.u(1)).rank == 0);
  CHECK(rank0.states.at(run.u(1)).commit_id == run.rank0_ids.back());
  CHECK(dirs[1].row->states.count(run.u(2)) == 0);  // finished: no fields kept

  const RestartPlan plan = make_restart_plan(run.units, dirs, 2, kSteps, kFingerprint);
  CHECK(plan.resumed);
  CHECK(plan.warnings.empty());
  REQUIRE(plan.units.size() == 5);
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(plan.units[i].index == std::int64_t(i));

  // u0: rank 0 (step 2) beats rank 2 (step 1).
  CHECK(plan.units[0].first_step == 3);
  REQUIRE(plan.units[0].source.has_value());
  CHECK(plan.units[0].source->commit_dir == run.commit(0, run.rank0_ids.back()));
  CHECK(plan.units[0].source->step == 2);
  // u1: rank 2 (step 4, parked) beats rank 0 (step 2).
  CHECK(plan.units[1].first_step == 5);
  REQUIRE(plan.units[1].source.has_value());
  CHECK(plan.units[1].source->rank == 2);
  CHECK(plan.units[1].source->commit_id == run.rank2_ids.back());
  CHECK(plan.units[1].source->step == 4);
  // u2 finished, u3 parked on rank 1, u4 fresh.
  CHECK(plan.units[2].first_step == kSteps + 1);
  CHECK_FALSE(plan.units[2].source.has_value());
  CHECK(plan.units[3].first_step == 4);
  REQUIRE(plan.units[3].source.has_value());
  CHECK(plan.units[3].source->commit_dir == run.commit(1, run.rank1_ids.back()));
  CHECK(plan.units[4].first_step == 0);
  CHECK_FALSE(plan.units[4].source.has_value());

  // The new layout's batches: one rank owning everything, batch size 2.
  const auto batches = make_batches(owned_units(5, 0, 1), plan, 2);
  REQUIRE(batches.size() == 4);
  CHECK(batches[0].units == std::vector<std::int64_t>{1});
  CHECK(batches[1].units == std::vector<std::int64_t>{3});
  CHECK(batches[2].units == std::vector<std::int64_t>{0});
  CHECK(batches[3].units == std::vector<std::int64_t>{4});
  CHECK(batches[3].first_step == 0);

  SUBCASE("a store with no rows: a fresh plan") {
    TempDir empty;
    const auto none =
        make_restart_plan(run.units, summarise_all(empty.path()), 2, kSteps, kFingerprint);
    CHECK_FALSE(none.resumed);
    for (const auto& unit : none.units)
      CHECK(unit.first_step == 0);
  }
}

TEST_CASE("restart plan: below level 2 unfinished units rerun from step 0 with a warning") {
  SUBCASE("this run's level is 1") {
    EarlierRun run;
    const RestartPlan plan =
        make_restart_plan(run.units, summarise_all(run.dir.path()), 1, kSteps, kFingerprint);
    CHECK(plan.resumed);
    for (int i : {0, 1, 3}) {
      CAPTURE(i);
      CHECK(plan.units[std::size_t(i)].first_step == 0);
      CHECK_FALSE(plan.units[std::size_t(i)].source.has_value());
    }
    CHECK(plan.units[2].first_step == kSteps + 1);  // finished stays finished
    REQUIRE(plan.warnings.size() == 3);
    CHECK(any_contains(plan.warnings,
                       "unit 2026-01-01T00:00:00Z/m0001 had completed step 4 but "
                       "checkpoint level 1 keeps no model state: it reruns from "
                       "step 0"));
    CHECK(any_contains(plan.warnings, "unit 2026-01-01T00:00:00Z/m0000 had completed step 2"));
    CHECK(any_contains(plan.warnings, "unit 2026-01-01T00:00:00Z/m0003 had completed step 3"));
  }
  SUBCASE("the store was written at level 0: no fields to resume from at level 2") {
    EarlierRun run(0);
    const auto dirs = summarise_all(run.dir.path());
    for (const auto& d : dirs)
      CHECK(d.row->states.empty());
    const RestartPlan plan = make_restart_plan(run.units, dirs, 2, kSteps, kFingerprint);
    CHECK(plan.units[0].first_step == 0);
    CHECK(plan.units[2].first_step == kSteps + 1);
    CHECK(any_contains(plan.warnings,
                       "unit 2026-01-01T00:00:00Z/m0000 had completed step 2 but no valid "
                       "checkpoint row holds its model state at that step: it reruns from step 0"));
  }
}

// A .npy header made up with every checksum recomputed to match (the file's in the
// manifest, the manifest's own): the commit's bytes are "as written", yet unreadable. It
// is damage like any other: skipped for the older row, named by verify.
static void craft_npy_header(const fs::path& commit_dir, const std::string& shape) {
  const fs::path file = fields_file(commit_dir);
  std::string bytes = read_text(file);
  const std::size_t header_len =
      std::size_t((unsigned char)bytes[8]) | (std::size_t((unsigned char)bytes[9]) << 8);
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
  header.resize(header_len - 1, ' ');
  header += '\n';
  bytes.replace(10, header_len, header);
  write_text(file, bytes);
  const fs::path where = commit_dir / "manifest.json";
  stormrun::Manifest manifest =
      stormrun::Manifest::from_json(nlohmann::json::parse(read_text(where)), where);
  const std::string rel = file.lexically_relative(commit_dir).generic_string();
  manifest.files.at(rel).xxh3 = stormrun::xxh3_hex(std::as_bytes(std::span(bytes)));
  write_text(where, manifest.to_json().dump(2));
}

TEST_CASE("restart plan: a made-up .npy header with matching checksums is damage") {
  for (const std::string shape : {"(4611686018427387904, 8)", "(-3, 4)", "(2,)"}) {
    CAPTURE(shape);
    EarlierRun run;
    const fs::path rank0 = run.dir.path() / "rank_000000";
    const fs::path newest = run.commit(0, run.rank0_ids.back());
    craft_npy_header(newest, shape);
    stormrun::RankStore store(run.dir.path(), 0, [](const std::string&) {});
    CHECK(store.verify(run.rank0_ids.back()).empty());  // every checksum matches
    const DirSummary summary = summarise_rank_dir(rank0);
    REQUIRE(summary.row.has_value());
    CHECK(summary.row->commit_id == run.rank0_ids.front());
    REQUIRE(summary.warnings.size() == 1);
    CHECK(summary.warnings[0].find(".npy") != std::string::npos);
    const auto manifest = stormrun::Manifest::from_json(
        nlohmann::json::parse(read_text(newest / "manifest.json")), newest / "manifest.json");
    CHECK(check_commit_arrays(newest, manifest).size() == 1);
  }
}

TEST_CASE("restart plan: a damaged newest commit falls back to the older valid row") {
  EarlierRun run;
  const fs::path rank0 = run.dir.path() / "rank_000000";
  const fs::path newest = run.commit(0, run.rank0_ids.back());
  flip_byte(fields_file(newest));
  const std::string before = tree_fingerprint(run.dir.path());

  const DirSummary summary = summarise_rank_dir(rank0);
  CHECK(tree_fingerprint(run.dir.path()) == before);  // read-only, also when damaged
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->commit_id == run.rank0_ids.front());
  REQUIRE(summary.warnings.size() == 1);
  CHECK(summary.warnings[0].find(newest.string()) != std::string::npos);
  CHECK(summary.warnings[0].find("checksum") != std::string::npos);

  const RestartPlan plan =
      make_restart_plan(run.units, summarise_all(run.dir.path()), 2, kSteps, kFingerprint);
  CHECK(any_contains(plan.warnings, newest.string()));  // damage is reported by rank 0
  CHECK(plan.units[0].first_step == 2);  // rank 2's step-1 row and rank 0's older row agree
  REQUIRE(plan.units[0].source.has_value());
  CHECK(plan.units[0].source->step == 1);

  SUBCASE("every commit damaged: no row, a warning for each") {
    flip_byte(run.commit(0, run.rank0_ids.front()) / "manifest.json");
    const DirSummary none = summarise_rank_dir(rank0);
    CHECK_FALSE(none.row.has_value());
    CHECK(none.warnings.size() == 2);
  }
}

TEST_CASE("rank dir summary: a complete commit missing from catalog.json is still considered") {
  EarlierRun run;
  const fs::path rank0 = run.dir.path() / "rank_000000";
  auto catalog = nlohmann::json::parse(read_text(rank0 / "catalog.json"));
  REQUIRE(catalog.at("rows").size() == 2);
  catalog.at("rows").erase(1);  // a crash between the commit's rename and the catalog replace
  write_text(rank0 / "catalog.json", catalog.dump(2));
  const std::string before = tree_fingerprint(run.dir.path());

  DirSummary summary = summarise_rank_dir(rank0);
  CHECK(tree_fingerprint(run.dir.path()) == before);
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->commit_id == run.rank0_ids.back());
  CHECK(summary.warnings.empty());

  SUBCASE("a damaged catalog: the commits on disk are used, with a warning") {
    write_text(rank0 / "catalog.json", "{not json");
    summary = summarise_rank_dir(rank0);
    REQUIRE(summary.row.has_value());
    CHECK(summary.row->commit_id == run.rank0_ids.back());
    CHECK(any_contains(summary.warnings, "catalog.json is damaged"));
  }
  SUBCASE("staging and deletion leftovers are ignored and left alone") {
    fs::create_directories(rank0 / ".tmp_commit_00000099_aaaaaaaaaaaa" / "states");
    write_text(rank0 / ".tmp_commit_00000099_aaaaaaaaaaaa" / "manifest.json", "{}");
    fs::create_directories(rank0 / ".tmp_delete_commit_00000001_bbbbbbbbbbbb");
    const std::string with_junk = tree_fingerprint(run.dir.path());
    summary = summarise_rank_dir(rank0);
    CHECK(tree_fingerprint(run.dir.path()) == with_junk);
    CHECK(summary.row->commit_id == run.rank0_ids.back());
    CHECK(summary.warnings.empty());
  }
}

TEST_CASE("restart plan: another run's fingerprint or units are refused") {
  TempDir dir("stormrun-ledger");
  const auto units = test_units(2);
  SUBCASE("fingerprint mismatch names the commit and both hashes") {
    const auto ids = write_rows(
        dir.path(), 0, 1, 2, {{.units = {{units[0].name, 1}}, .fingerprint = "ffffffffffffffff"}});
    const auto dirs = summarise_all(dir.path());
    try {
      (void)make_restart_plan(units, dirs, 2, kSteps, kFingerprint);
      FAIL("expected RestartMismatch");
    } catch (const RestartMismatch& e) {
      const std::string what = e.what();
      CHECK(what.find(ids[0]) != std::string::npos);
      CHECK(what.find("ffffffffffffffff") != std::string::npos);
      CHECK(what.find(kFingerprint) != std::string::npos);
    }
  }
  SUBCASE("a row without a fingerprint is accepted") {
    write_rows(dir.path(), 0, 1, 2, {{.units = {{units[0].name, 1}}, .fingerprint = ""}});
    const auto plan = make_restart_plan(units, summarise_all(dir.path()), 2, kSteps, kFingerprint);
    CHECK(plan.resumed);
  }
  SUBCASE("a unit this run lacks names the commit and the unit") {
    const std::string stranger = "2030-06-01T00:00:00Z/m0007";
    const auto ids =
        write_rows(dir.path(), 0, 1, 2, {{.units = {{units[0].name, 1}, {stranger, 2}}}});
    const auto dirs = summarise_all(dir.path());
    try {
      (void)make_restart_plan(units, dirs, 2, kSteps, kFingerprint);
      FAIL("expected RestartMismatch");
    } catch (const RestartMismatch& e) {
      const std::string what = e.what();
      CHECK(what.find((dir.path() / "rank_000000" / "commits" / ids[0]).string()) !=
            std::string::npos);
      CHECK(what.find(stranger) != std::string::npos);
    }
  }
}

TEST_CASE("ledger records survive their JSON form (sent between ranks)") {
  EarlierRun run;
  auto dirs = summarise_all(run.dir.path());
  flip_byte(fields_file(run.commit(0, run.rank0_ids.back())));
  dirs.push_back(summarise_rank_dir(run.dir.path() / "rank_000000"));  // with a warning
  TempDir empty;
  fs::create_directories(empty.path() / "rank_000005");
  dirs.push_back(summarise_rank_dir(empty.path() / "rank_000005"));  // with no row
  CHECK_FALSE(dirs.back().row.has_value());

  for (const DirSummary& d : dirs) {
    const std::string text = d.to_json().dump();
    const DirSummary back = DirSummary::from_json(nlohmann::json::parse(text));
    CHECK(back.to_json() == d.to_json());
    CHECK(back.dir == d.dir);
    CHECK(back.warnings == d.warnings);
    CHECK(back.row.has_value() == d.row.has_value());
    if (d.row) {
      CHECK(back.row->units == d.row->units);
      CHECK(back.row->commit_dir == d.row->commit_dir);
      const RowSummary row = RowSummary::from_json(d.row->to_json());
      CHECK(row.states.size() == d.row->states.size());
      for (const auto& [unit, source] : d.row->states) {
        const StateSource s = StateSource::from_json(source.to_json());
        CHECK(s.commit_dir == source.commit_dir);
        CHECK(s.rank == source.rank);
        CHECK(s.commit_id == source.commit_id);
        CHECK(s.step == source.step);
      }
    }
  }
  const RestartPlan plan = make_restart_plan(run.units, dirs, 2, kSteps, kFingerprint);
  const RestartPlan back = RestartPlan::from_json(nlohmann::json::parse(plan.to_json().dump()));
  CHECK(back.to_json() == plan.to_json());
  CHECK(back.resumed == plan.resumed);
  CHECK(back.warnings == plan.warnings);
  REQUIRE(back.units.size() == plan.units.size());
  for (std::size_t i = 0; i < plan.units.size(); ++i) {
    CHECK(back.units[i].first_step == plan.units[i].first_step);
    CHECK(back.units[i].source.has_value() == plan.units[i].source.has_value());
  }
  CHECK_THROWS_AS(RestartPlan::from_json(nlohmann::json::parse(R"({"units": 3})")),
                  std::invalid_argument);
}

// Found by fuzz_ledger (tests/fuzz/regressions/ledger/float-rank.json): an integer field
// holding a number that only parses as a float (1.7e73) reached nlohmann's get<int>(),
// whose conversion is undefined behaviour (UBSan); now refused, naming the field.
TEST_CASE("ledger JSON: an integer field holding a float or an out-of-range number is refused") {
  const auto source = [](const std::string& rank) {
    return nlohmann::json::parse(R"({"commit_dir": "/s/rank_000000/commits/c", "rank": )" + rank +
                                 R"(, "commit_id": "c", "step": 3})");
  };
  CHECK(StateSource::from_json(source("1")).rank == 1);
  CHECK_THROWS_WITH_AS(StateSource::from_json(source("1.6666666666666666e73")),
                       doctest::Contains("'rank' is not an integer"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(StateSource::from_json(source("4294967296")),
                       doctest::Contains("'rank' is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(RowSummary::from_json(nlohmann::json::parse(
                           R"({"commit_dir": "d", "rank": 0, "commit_id": "c", "saved_at": "t",
              "fingerprint": "f", "units": {"u": 2.5}, "states": {}})")),
                       doctest::Contains("'units.u' is not an integer"), std::invalid_argument);
}
