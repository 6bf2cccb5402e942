// The store root: listing and pruning rank dirs, the global catalog, and the read-only
// guarantee of summarise_rank_dir.
#include <doctest/doctest.h>

#include "ledger_test_support.hpp"

using namespace stormrun;
using namespace stormrun::workflow;
using namespace ledger_test;

TEST_CASE("list_rank_dirs: canonical rank_NNNNNN directories in rank order, nothing else") {
  TempDir dir("stormrun-root");
  const fs::path root = dir.path();
  CHECK(list_rank_dirs(root / "absent").empty());
  for (const char* name : {"rank_000010", "rank_000002", "rank_000000", ".pruned_rank_000003",
                           "rank_12", "rank_0000001", "rank_000004.bak", "commits"})
    fs::create_directories(root / name);
  write_text(root / "rank_000005", "a file, not a dir");
  write_text(root / "LOCK", "{}");
  fs::create_directory_symlink(root / "rank_000000", root / "rank_000006");
  const auto dirs = list_rank_dirs(root);
  REQUIRE(dirs.size() == 3);
  CHECK(dirs[0] == root / "rank_000000");
  CHECK(dirs[1] == root / "rank_000002");
  CHECK(dirs[2] == root / "rank_000010");
  CHECK_THROWS_AS(list_rank_dirs(root / "LOCK"), StoreError);
  CHECK_THROWS_AS(summarise_rank_dir(root / "rank_12"), std::invalid_argument);
}

TEST_CASE("prune_rank_dirs removes only the rank dirs at or above the world size") {
  TempDir dir("stormrun-root");
  const fs::path root = dir.path();
  for (int rank = 0; rank < 4; ++rank)
    write_rows(root, rank, 4, 2, {{.units = {{"2026-01-01T00:00:00Z/m0000", 1}}}});
  fs::create_directories(root / ".pruned_rank_000009" / "commits");  // an earlier crash's
  write_text(root / "catalog.json", "{}");

  const auto removed = prune_rank_dirs(root, 2);
  CHECK(removed == std::vector<fs::path>{root / "rank_000002", root / "rank_000003"});
  CHECK(list_rank_dirs(root) == std::vector<fs::path>{root / "rank_000000", root / "rank_000001"});
  CHECK(fs::exists(root / "rank_000000" / "catalog.json"));
  CHECK(summarise_rank_dir(root / "rank_000001").row.has_value());
  CHECK(fs::exists(root / "catalog.json"));
  for (const auto& entry : fs::directory_iterator(root))
    CHECK(entry.path().filename().string().rfind(".pruned_", 0) == std::string::npos);
  CHECK(prune_rank_dirs(root, 2).empty());
  CHECK(prune_rank_dirs(root / "absent", 1).empty());
  CHECK_THROWS_AS(prune_rank_dirs(root, 0), std::invalid_argument);
}

TEST_CASE("summarise_rank_dir changes nothing on disk, damaged or not") {
  TempDir dir("stormrun-root");
  const auto ids = write_rows(dir.path(), 0, 1, 2,
                              {{.units = {{"2026-01-01T00:00:00Z/m0000", 0}},
                                .states = unit_states({"2026-01-01T00:00:00Z/m0000"}, 0)},
                               {.units = {{"2026-01-01T00:00:00Z/m0000", 1}},
                                .states = unit_states({"2026-01-01T00:00:00Z/m0000"}, 1)},
                               {.units = {{"2026-01-01T00:00:00Z/m0000", 2}},
                                .states = unit_states({"2026-01-01T00:00:00Z/m0000"}, 2)}});
  const fs::path rank0 = dir.path() / "rank_000000";
  // Everything RankStore would repair: a stale staging dir, a catalog that omits the newest
  // commit, a damaged commit, a stray entry in commits/.
  fs::create_directories(rank0 / ".tmp_commit_00000009_cccccccccccc");
  write_text(rank0 / ".tmp_catalog.json.1.abc", "partial");
  write_text(rank0 / "commits" / "stray.txt", "x");
  auto catalog = nlohmann::json::parse(read_text(rank0 / "catalog.json"));
  catalog.at("rows").erase(2);
  write_text(rank0 / "catalog.json", catalog.dump());
  flip_byte(fields_file(rank0 / "commits" / ids[2]));

  const std::string before = tree_fingerprint(dir.path());
  const DirSummary summary = summarise_rank_dir(rank0);
  CHECK(tree_fingerprint(dir.path()) == before);
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->commit_id == ids[1]);
  CHECK(summary.row->units.at("2026-01-01T00:00:00Z/m0000") == 1);
  REQUIRE(summary.warnings.size() == 1);
  CHECK(summary.warnings[0].find(ids[2]) != std::string::npos);

  write_text(rank0 / "catalog.json", "garbage");
  const std::string damaged = tree_fingerprint(dir.path());
  CHECK(summarise_rank_dir(rank0).row->commit_id == ids[1]);
  CHECK(tree_fingerprint(dir.path()) == damaged);
}

TEST_CASE("summarise_rank_dir reads pack commits (format 3) and skips a damaged one") {
  TempDir dir("stormrun-root");
  const std::string unit = "2026-01-01T00:00:00Z/m0000";
  std::vector<RowSpec> rows;
  for (int step = 0; step < 3; ++step)
    rows.push_back({.units = {{unit, step}}, .states = unit_states({unit}, step)});
  const auto ids = write_rows(dir.path(), 0, 1, 2, rows, stormrun::kDefaultPackBelowBytes);
  const fs::path rank0 = dir.path() / "rank_000000";
  for (const auto& id : ids)
    REQUIRE(fs::is_regular_file(rank0 / "commits" / id));

  DirSummary summary = summarise_rank_dir(rank0);
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->commit_id == ids[2]);
  CHECK(summary.row->units.at(unit) == 2);
  CHECK(summary.warnings.empty());

  // One bit of the newest pack's first member (offset 0): its row is skipped, nothing on disk
  // changes.
  std::string bytes = read_text(rank0 / "commits" / ids[2]);
  bytes[0] = static_cast<char>(bytes[0] ^ 0x10);
  write_text(rank0 / "commits" / ids[2], bytes);
  const std::string before = tree_fingerprint(dir.path());
  summary = summarise_rank_dir(rank0);
  CHECK(tree_fingerprint(dir.path()) == before);
  REQUIRE(summary.row.has_value());
  CHECK(summary.row->commit_id == ids[1]);
  REQUIRE(summary.warnings.size() == 1);
  CHECK(summary.warnings[0].find(ids[2]) != std::string::npos);
}

TEST_CASE("global catalog: JSON round trip, durable write, and refusal of a bad document") {
  TempDir dir("stormrun-root");
  const fs::path root = dir.path();
  CHECK_FALSE(read_global_catalog(root).has_value());

  GlobalCatalog catalog;
  catalog.fingerprint_hash = kFingerprint;
  catalog.fingerprint = {{"model", "swe"}, {"nsteps", "8"}};
  catalog.output = "/scratch/out.h5";
  catalog.output_state = "ready";
  catalog.status = "running";
  catalog.runs.push_back({{"started_at", "2026-06-30T14:00:03Z"},
                          {"world_size", 2},
                          {"batch_size", 4},
                          {"resumed", false},
                          {"units_done_at_start", 0}});
  write_text(root / ".tmp_catalog.json.123.deadbeef", "left by a crash");
  write_global_catalog(root, catalog);
  CHECK_FALSE(fs::exists(root / ".tmp_catalog.json.123.deadbeef"));
  for (const auto& entry : fs::directory_iterator(root))
    CHECK(entry.path().filename() == "catalog.json");  // no tmp file left
  const auto back = read_global_catalog(root);
  REQUIRE(back.has_value());
  CHECK(back->to_json() == catalog.to_json());
  CHECK(back->fingerprint == catalog.fingerprint);
  CHECK(back->runs.size() == 1);

  catalog.status = "complete";
  write_global_catalog(root, catalog);  // replaces the whole file
  CHECK(read_global_catalog(root)->status == "complete");

  const auto refused = [&](const std::string& text, const std::string& expected) {
    CAPTURE(text);
    write_text(root / "catalog.json", text);
    try {
      (void)read_global_catalog(root);
      FAIL("expected RestartMismatch");
    } catch (const RestartMismatch& e) {
      const std::string what = e.what();
      CHECK(what.find((root / "catalog.json").string()) != std::string::npos);
      CHECK(what.find(expected) != std::string::npos);
    }
  };
  nlohmann::json doc = catalog.to_json();
  refused("{truncated", "not valid JSON");
  doc["format"] = 3;
  refused(doc.dump(), "format");
  doc = catalog.to_json();
  doc["status"] = "exploded";
  refused(doc.dump(), "status");
  doc = catalog.to_json();
  doc.erase("fingerprint_hash");
  refused(doc.dump(), "fingerprint_hash");
  doc = catalog.to_json();
  doc["fingerprint"]["nsteps"] = 8;
  refused(doc.dump(), "fingerprint.nsteps");
}
