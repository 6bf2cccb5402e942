// Commit round trip, layout, manifest fields and the durable-file helpers.
#include <doctest/doctest.h>

#include <regex>

#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;
namespace fs = std::filesystem;

TEST_CASE("a commit round-trips through stage, put, commit and open_commit") {
  TempDir tmp;
  Warnings w;
  RankStore store(tmp.path(), 0, w.sink());
  CHECK(store.dir() == tmp.path() / "rank_000000");
  CHECK(store.rows().empty());

  const CatalogRow row = commit_row(store, 12, {{"member", "3"}}, {CheckpointMode::Append, 0});
  CHECK(std::regex_match(row.commit_id, std::regex("commit_00000012_[0-9a-f]{12}")));
  CHECK(row.write_count == 12);
  CHECK(row.labels == Labels{{"member", "3"}});
  CHECK(row.state_ids == std::vector<std::string>{"test.State"});
  CHECK(row.metadata["lead_time"] == 72);
  REQUIRE(store.rows().size() == 1);

  const fs::path cdir = store.dir() / "commits" / row.commit_id;
  CHECK(fs::is_regular_file(cdir / "manifest.json"));
  CHECK(fs::is_regular_file(cdir / kArrayPath));
  CHECK(fs::is_regular_file(store.dir() / "catalog.json"));
  CHECK(tmp_entries(store.dir()).empty());

  VerifiedCommit commit = store.open_commit(row.commit_id);
  const Manifest& m = commit.manifest();
  CHECK(m.format_version == kCheckpointFormatVersion);
  CHECK(m.commit_id == row.commit_id);
  CHECK(m.name == "test-run");
  CHECK(m.files.size() == 2);
  CHECK(m.files.at(kArrayPath).bytes == 4096);
  CHECK(m.files.at(kArrayPath).xxh3 == xxh3_hex(as_bytes(std::string(4096, 'm'))));
  CHECK(std::regex_match(m.saved_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  const auto bytes = commit.get(kStatePath);
  CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) == "{\"step\": 12}");
  CHECK_THROWS_WITH_AS(commit.get("states/none.npy"), doctest::Contains("states/none.npy"),
                       StoreError);
  CHECK(store.verify(row.commit_id).empty());
  CHECK(w.messages.empty());

  // A second handle sees the same rows, with nothing to repair.
  RankStore again(tmp.path(), 0, w.sink());
  REQUIRE(again.rows().size() == 1);
  CHECK(again.rows()[0].commit_id == row.commit_id);
  CHECK(again.rows()[0].units == row.units);
  CHECK(w.messages.empty());
}

TEST_CASE("every world size uses rank_NNNNNN directories") {
  TempDir tmp;
  CHECK(rank_dir_name(0) == "rank_000000");
  CHECK(rank_dir_name(12) == "rank_000012");
  CHECK_THROWS_AS(rank_dir_name(-1), StoreError);
  RankStore r3(tmp.path(), 3, quiet());
  const CatalogRow row = commit_row(r3, 1, {}, {});
  CHECK(fs::is_directory(tmp.path() / "rank_000003" / "commits" / row.commit_id));
  CHECK(r3.open_commit(row.commit_id).manifest().rank == 3);
}

TEST_CASE("rows are ordered by commit time even when write_count restarts") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  commit_row(store, 5, {}, {});
  commit_row(store, 1, {}, {});  // e.g. the next ensemble batch starts again at 1
  commit_row(store, 2, {}, {});
  CHECK(write_counts(store) == std::vector<std::int64_t>{5, 1, 2});
  RankStore reopened(tmp.path(), 0, quiet());
  CHECK(write_counts(reopened) == std::vector<std::int64_t>{5, 1, 2});
  for (std::size_t i = 1; i < reopened.rows().size(); ++i) {
    CHECK(reopened.rows()[i - 1].saved_at < reopened.rows()[i].saved_at);
  }
}

TEST_CASE("put rejects paths that escape or reuse") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  StagedCommit staged = store.stage(1);
  const auto one = as_bytes("x");
  CHECK_THROWS_WITH_AS(staged.put("../x", one), doctest::Contains(".."), StoreError);
  CHECK_THROWS_WITH_AS(staged.put("/etc/passwd", one), doctest::Contains("absolute"), StoreError);
  CHECK_THROWS_AS(staged.put("a//b", one), StoreError);
  CHECK_THROWS_AS(staged.put("a/./b", one), StoreError);
  CHECK_THROWS_AS(staged.put("", one), StoreError);
  CHECK_THROWS_WITH_AS(staged.put("manifest.json", one), doctest::Contains("reserved"), StoreError);
  CHECK(staged.put("a/b/c.bin", one) == "a/b/c.bin");
  CHECK_THROWS_WITH_AS(staged.put("a/b/c.bin", one), doctest::Contains("already"), StoreError);
  CHECK(staged.files().at("a/b/c.bin").bytes == 1);
  CHECK(staged.files().at("a/b/c.bin").xxh3 == xxh3_hex(one));
}

TEST_CASE("put_parts writes the parts in sequence: one file, size and XXH3 of the whole") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  StagedCommit staged = store.stage(1);
  // Above the size where the fsync overlaps the (streamed) hash, plus a small header part.
  const std::string header = "HEADER--";
  const std::string payload(3 << 20, 'p');
  const std::span<const std::byte> parts[] = {as_bytes(header), {}, as_bytes(payload)};
  CHECK(staged.put_parts("s/a.npy", parts) == "s/a.npy");
  CHECK(read_file(staged.dir() / "s/a.npy") == header + payload);
  CHECK(staged.files().at("s/a.npy").bytes == header.size() + payload.size());
  CHECK(staged.files().at("s/a.npy").xxh3 == xxh3_hex(as_bytes(header + payload)));
  CHECK_THROWS_WITH_AS(staged.put_parts("s/a.npy", parts), doctest::Contains("already"),
                       StoreError);
  CHECK_THROWS_AS(staged.put_parts("../a.npy", parts), StoreError);
}

TEST_CASE("an abandoned or failed commit leaves nothing behind") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  fs::path staging;
  {
    StagedCommit staged = store.stage(1);
    staged.put("x.bin", as_bytes("abc"));
    staging = staged.dir();
    CHECK(fs::is_directory(staging));
    CHECK(staging.filename().string().rfind(".tmp_commit_00000001_", 0) == 0);
  }
  CHECK_FALSE(fs::exists(staging));

  // A state path that is not a file of the commit fails before anything becomes visible.
  StagedCommit staged = store.stage(2);
  staging = staged.dir();
  Manifest m;
  m.write_count = 2;
  m.states["s"] = StateRecord{"missing.json", "h"};
  CHECK_THROWS_WITH_AS(store.commit(std::move(staged), m, {}), doctest::Contains("missing.json"),
                       StoreError);
  CHECK_FALSE(fs::exists(staging));
  CHECK(store.rows().empty());
  CHECK(fs::is_empty(store.dir() / "commits"));

  StagedCommit wrong = store.stage(3);
  Manifest m3;
  m3.write_count = 4;
  CHECK_THROWS_WITH_AS(store.commit(std::move(wrong), m3, {}), doctest::Contains("write_count"),
                       StoreError);
  CHECK(store.rows().empty());
}

TEST_CASE("a commit without files (level 0) is valid") {
  TempDir tmp;
  RankStore store(tmp.path(), 2, quiet());
  Manifest m;
  m.rank = 2;
  m.world_size = 4;
  m.write_count = 7;
  m.metadata = {{"lead_time", 42}};
  const CatalogRow row = store.commit(store.stage(7), m, {CheckpointMode::Overwrite, 0});
  CHECK(store.open_commit(row.commit_id).manifest().files.empty());
  CHECK(row.world_size == 4);
}

TEST_CASE("refresh sees commits made through another handle") {
  TempDir tmp;
  RankStore a(tmp.path(), 0, quiet());
  RankStore b(tmp.path(), 0, quiet());
  commit_row(b, 1, {}, {});
  CHECK(a.rows().empty());
  a.refresh();
  CHECK(a.rows().size() == 1);
}

TEST_CASE("durable file helpers write, replace and hash") {
  TempDir tmp;
  CHECK(xxh3_hex({}) == "2d06800538d394c2");  // XXH3-64 of no bytes
  CHECK(xxh3_hex(as_bytes("abc")).size() == 16);
  write_file_durable(tmp.path() / "f.bin", as_bytes("hello"));
  CHECK(read_file(tmp.path() / "f.bin") == "hello");
  replace_file_durable(tmp.path() / "f.bin", "world");
  CHECK(read_file(tmp.path() / "f.bin") == "world");
  CHECK(tmp_entries(tmp.path()).empty());
  fsync_dir(tmp.path());
  CHECK_THROWS_WITH_AS(write_file_durable(tmp.path() / "no" / "f.bin", as_bytes("x")),
                       doctest::Contains((tmp.path() / "no" / "f.bin").string().c_str()),
                       StoreError);
  CHECK_THROWS_WITH_AS(fsync_dir(tmp.path() / "nodir"), doctest::Contains("nodir"), StoreError);
  CHECK_THROWS_WITH_AS(replace_file_durable(tmp.path() / "no" / "g", "x"),
                       doctest::Contains("No such file"), StoreError);
}

TEST_CASE("checkpoint mode and commit step names") {
  CHECK(parse_checkpoint_mode("overwrite") == CheckpointMode::Overwrite);
  CHECK(parse_checkpoint_mode("append") == CheckpointMode::Append);
  CHECK(to_string(CheckpointMode::Overwrite) == "overwrite");
  CHECK_THROWS_WITH_AS(parse_checkpoint_mode("keep"), doctest::Contains("'keep'"), StoreError);
  std::vector<std::string> names;
  for (const CommitStep s : all_commit_steps())
    names.push_back(to_string(s));
  CHECK(names == std::vector<std::string>{"files_written", "files_synced", "manifest_written",
                                          "staging_synced", "renamed", "commits_synced",
                                          "retention_renamed", "catalog_tmp_written",
                                          "catalog_renamed", "catalog_synced", "retention_done"});
  ScopedEnv env{{"STORMRUN_FAULT_INJECT", "no_such_step"}};
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  CHECK_THROWS_WITH_AS(store.stage(1), doctest::Contains("no_such_step"), StoreError);
}

TEST_CASE("a manifest carries its own checksum: an edited one is never believed") {
  Manifest m;
  m.commit_id = "commit_00000001_0123456789ab";
  m.units["2026-01-01T00:00:00Z/m0000"] = 4;
  m.files["a.bin"] = FileRecord{3, "0123456789abcdef"};
  const nlohmann::json good = m.to_json();
  REQUIRE(good.contains("checksum"));
  CHECK(good.at("format_version") == kCheckpointFormatVersion);
  CHECK(Manifest::from_json(nlohmann::json::parse(good.dump(2)), "m.json").units == m.units);

  auto edited = good;  // still valid JSON, every field well typed: only the checksum tells
  edited["units"]["2026-01-01T00:00:00Z/m0000"] = 3;
  CHECK_THROWS_WITH_AS(Manifest::from_json(edited, "m.json"),
                       doctest::Contains("edited or damaged"), StoreError);
  auto missing = good;
  missing.erase("checksum");
  CHECK_THROWS_WITH_AS(Manifest::from_json(missing, "m.json"), doctest::Contains("checksum"),
                       StoreError);

  // Format 1 (stores written before manifests had checksums) is still read, without one.
  auto v1 = good;
  v1.erase("checksum");
  v1["format_version"] = 1;
  CHECK(Manifest::from_json(v1, "m.json").units == m.units);
}

TEST_CASE("Manifest::from_json validates types and version") {
  Manifest m;
  m.commit_id = "commit_00000001_0123456789ab";
  m.files["a.bin"] = FileRecord{3, "0123456789abcdef"};
  const nlohmann::json good = m.to_json();
  CHECK(Manifest::from_json(good, "m.json").files == m.files);

  auto bad = good;
  bad["write_count"] = "7";
  CHECK_THROWS_WITH_AS(Manifest::from_json(bad, "m.json"), doctest::Contains("write_count"),
                       StoreError);
  bad = good;
  bad["format_version"] = kCheckpointFormatVersion + 1;
  CHECK_THROWS_WITH_AS(Manifest::from_json(bad, "m.json"), doctest::Contains("format_version"),
                       StoreError);
  bad = good;
  bad["files"]["a.bin"]["xxh3"] = "XYZ";
  CHECK_THROWS_WITH_AS(Manifest::from_json(bad, "m.json"), doctest::Contains("xxh3"), StoreError);
  bad = good;
  bad["files"]["sub/../../x"] = {{"bytes", 1}, {"xxh3", "0123456789abcdef"}};
  CHECK_THROWS_WITH_AS(Manifest::from_json(bad, "m.json"), doctest::Contains(".."), StoreError);
  bad = good;
  bad["rank"] = 1;  // world_size is 1
  CHECK_THROWS_WITH_AS(Manifest::from_json(bad, "m.json"), doctest::Contains("rank"), StoreError);
  bad = good;
  bad["mode"] = "sometimes";
  CHECK_THROWS_WITH_AS(Manifest::from_json(bad, "m.json"), doctest::Contains("sometimes"),
                       StoreError);
  CHECK_THROWS_WITH_AS(Manifest::from_json(nlohmann::json::array(), "m.json"),
                       doctest::Contains("m.json"), StoreError);
}
