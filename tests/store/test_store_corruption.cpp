// Damaged stores: every kind of damage is detected and named, and repairs are reported.
#include <doctest/doctest.h>

#include "checkpoint/store/catalog_file.hpp"
#include "checkpoint/store/commit_check.hpp"
#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;
namespace fs = std::filesystem;

namespace {

struct OneCommit {
  TempDir tmp;
  std::string id;
  fs::path dir;  // the commit dir
  fs::path rank_dir;
  OneCommit() {
    RankStore store(tmp.path(), 0, quiet());
    id = commit_row(store, 1, {}, {}).commit_id;
    rank_dir = store.dir();
    dir = rank_dir / "commits" / id;
  }
  RankStore open(Warnings& w) const { return RankStore(tmp.path(), 0, w.sink()); }
};

bool problems_name(const std::vector<Problem>& problems, const fs::path& path,
                   const std::string& what) {
  for (const auto& p : problems) {
    if (p.path == path && p.what.find(what) != std::string::npos) return true;
  }
  return false;
}

void rewrite_manifest(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(read_file(dir / "manifest.json"));
  edit(j);
  write_file(dir / "manifest.json", j.dump());
}

}  // namespace

TEST_CASE("a flipped bit in a state file is detected and named") {
  OneCommit c;
  Warnings w;
  RankStore store = c.open(w);
  VerifiedCommit opened = store.open_commit(c.id);  // valid until damaged
  std::string bytes = read_file(c.dir / kArrayPath);
  bytes[100] = static_cast<char>(bytes[100] ^ 0x04);
  write_file(c.dir / kArrayPath, bytes);

  const auto problems = store.verify(c.id);
  REQUIRE(problems.size() == 1);
  CHECK(problems_name(problems, c.dir / kArrayPath, "checksum"));
  CHECK_THROWS_WITH_AS(store.open_commit(c.id), doctest::Contains(kArrayPath.c_str()), StoreError);
  // get() re-checks what it returns, even on a commit verified earlier.
  CHECK_THROWS_WITH_AS(opened.get(kArrayPath),
                       doctest::Contains((c.dir / kArrayPath).string().c_str()), StoreError);
  CHECK_NOTHROW(opened.get(kStatePath));
}

TEST_CASE("a truncated or deleted file is detected and named") {
  OneCommit c;
  Warnings w;
  RankStore store = c.open(w);
  fs::resize_file(c.dir / kArrayPath, 100);
  fs::remove(c.dir / kStatePath);
  const auto problems = store.verify(c.id);
  CHECK(problems.size() == 2);
  CHECK(problems_name(problems, c.dir / kArrayPath, "has 100 bytes"));
  CHECK(problems_name(problems, c.dir / kStatePath, "missing"));
  CHECK_THROWS_WITH_AS(store.open_commit(c.id), doctest::Contains(kStatePath.c_str()), StoreError);
}

TEST_CASE("a bad manifest is detected; a rebuild skips it with a warning") {
  OneCommit c;
  write_file(c.dir / "manifest.json", "{\"format_version\": 1, \"name\": ");
  Warnings w;
  RankStore store = c.open(w);
  const auto problems = store.verify(c.id);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == c.dir / "manifest.json");
  CHECK(problems[0].what.find("not valid JSON") != std::string::npos);
  CHECK_THROWS_WITH_AS(store.open_commit(c.id), doctest::Contains("manifest.json"), StoreError);

  fs::remove(c.rank_dir / "catalog.json");
  Warnings w2;
  RankStore rebuilt = c.open(w2);
  CHECK(rebuilt.rows().empty());
  CHECK(w2.any_contains((c.dir / "manifest.json").string()));
  CHECK(fs::exists(c.dir));  // never deleted: it may be repairable by hand
}

TEST_CASE("a damaged catalog is rebuilt from the manifests with a warning") {
  OneCommit c;
  RankStore first(c.tmp.path(), 0, quiet());
  const auto before = first.rows();
  write_file(c.rank_dir / "catalog.json", "{ not json");
  Warnings w;
  RankStore store = c.open(w);
  REQUIRE(store.rows().size() == 1);
  CHECK(store.rows()[0].commit_id == before[0].commit_id);
  CHECK(store.rows()[0].saved_at == before[0].saved_at);
  CHECK(store.rows()[0].metadata == before[0].metadata);
  CHECK(w.any_contains("catalog.json is damaged"));
  // Written back: valid JSON again.
  CHECK(nlohmann::json::accept(read_file(c.rank_dir / "catalog.json")));

  // A catalog with a wrongly typed field counts as damaged too.
  write_file(c.rank_dir / "catalog.json",
             R"({"format_version": 1, "rank": 0, "rows": [{"commit_id": 5}]})");
  Warnings w2;
  CHECK(c.open(w2).rows().size() == 1);
  CHECK(w2.any_contains("commit_id"));

  // A missing catalog is rebuilt as well.
  fs::remove(c.rank_dir / "catalog.json");
  Warnings w3;
  CHECK(c.open(w3).rows().size() == 1);
  CHECK(w3.any_contains("missing"));
}

// Found by fuzz_catalog (tests/fuzz/regressions/catalog/number-overflow.json): a number too
// large for a double is not a JSON syntax error to nlohmann but an out_of_range exception,
// which escaped the catalog's and the manifest's readers uncaught (the process ended).
TEST_CASE("a catalog or manifest holding a number out of range is damaged, not a crash") {
  OneCommit c;
  write_file(c.rank_dir / "catalog.json", R"({"format_version": 1, "rank": 0, "rows": 4e2489})");
  Warnings w;
  CHECK(c.open(w).rows().size() == 1);
  CHECK(w.any_contains("catalog.json is damaged"));
  CHECK_THROWS_AS(store_detail::parse_catalog(R"({"rows": 4e2489})", "catalog.json", 0),
                  StoreError);
  CHECK_THROWS_WITH_AS(store_detail::parse_manifest(R"({"format_version": 1e99999})", "m.json"),
                       doctest::Contains("m.json: not valid JSON"), StoreError);
  write_file(c.dir / "manifest.json", R"({"format_version": 2, "write_count": 1e400})");
  CHECK_THROWS_AS(store_detail::read_manifest(c.dir, 0), StoreError);
}

TEST_CASE("a catalog of a newer format is an error, never overwritten") {
  OneCommit c;
  const std::string newer = R"({"format_version": 4, "rank": 0, "rows": []})";
  write_file(c.rank_dir / "catalog.json", newer);
  Warnings w;
  CHECK_THROWS_WITH_AS(c.open(w), doctest::Contains("format_version 4"), StoreError);
  CHECK(read_file(c.rank_dir / "catalog.json") == newer);
}

TEST_CASE("stale staging dirs are removed with a warning") {
  OneCommit c;
  fs::create_directories(c.rank_dir / ".tmp_commit_00000002_aaaaaaaaaaaa" / "states");
  write_file(c.rank_dir / ".tmp_commit_00000002_aaaaaaaaaaaa" / "states" / "x.npy", "partial");
  Warnings w;
  RankStore store = c.open(w);
  CHECK_FALSE(fs::exists(c.rank_dir / ".tmp_commit_00000002_aaaaaaaaaaaa"));
  CHECK(w.any_contains(".tmp_commit_00000002_aaaaaaaaaaaa"));
  CHECK(store.rows().size() == 1);

  // A staging dir still being filled by this process is left alone by a refresh.
  StagedCommit live = store.stage(3);
  store.refresh();
  RankStore other = c.open(w);
  CHECK(fs::exists(live.dir()));
}

TEST_CASE("manifest paths that escape the commit dir are rejected") {
  for (const std::string bad : {"../x", "/etc/passwd", "states/../../x"}) {
    CAPTURE(bad);
    OneCommit c;
    rewrite_manifest(c.dir, [&](nlohmann::json& j) {
      j["files"][bad] = {{"bytes", 4}, {"xxh3", "0123456789abcdef"}};
    });
    Warnings w;
    RankStore store = c.open(w);
    const auto problems = store.verify(c.id);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].path == c.dir / "manifest.json");
    CHECK(problems[0].what.find(bad) != std::string::npos);
    CHECK_THROWS_AS(store.open_commit(c.id), StoreError);
  }
}

TEST_CASE("symlinks inside a commit are rejected even when their target matches") {
  OneCommit c;
  // Same bytes outside the commit: a reader that followed the link would accept them.
  const fs::path outside = c.tmp.path() / "outside.npy";
  fs::copy_file(c.dir / kArrayPath, outside);
  fs::remove(c.dir / kArrayPath);
  fs::create_symlink(outside, c.dir / kArrayPath);
  Warnings w;
  RankStore store = c.open(w);
  auto problems = store.verify(c.id);
  REQUIRE(problems.size() == 1);
  CHECK(problems_name(problems, c.dir / kArrayPath, "symbolic link"));

  // A symlinked directory on the way is refused too.
  const fs::path outside_dir = c.tmp.path() / "outside_states";
  fs::copy(c.dir / "states", outside_dir,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove_all(c.dir / "states");
  fs::create_symlink(outside_dir, c.dir / "states");
  problems = store.verify(c.id);
  CHECK(problems.size() == 2);
  CHECK(problems_name(problems, c.dir / kStatePath, "symbolic link"));

  VerifiedCommit unchecked(
      c.dir, Manifest::from_json(nlohmann::json::parse(read_file(c.dir / "manifest.json")),
                                 c.dir / "manifest.json"));
  CHECK_THROWS_WITH_AS(unchecked.get(kStatePath), doctest::Contains("symbolic link"), StoreError);
}

TEST_CASE("a complete commit missing from the catalog is re-added, a vanished one dropped") {
  OneCommit c;
  std::string second;
  {
    RankStore store(c.tmp.path(), 0, quiet());
    second = commit_row(store, 2, {}, {}).commit_id;
  }
  // Catalog that lists only the second commit: the first must come back.
  auto catalog = nlohmann::json::parse(read_file(c.rank_dir / "catalog.json"));
  catalog["rows"].erase(0);
  write_file(c.rank_dir / "catalog.json", catalog.dump());
  Warnings w;
  RankStore store = c.open(w);
  CHECK(write_counts(store) == std::vector<std::int64_t>{1, 2});
  CHECK(w.any_contains("re-added commit"));
  CHECK(w.any_contains(c.id));

  fs::remove_all(c.rank_dir / "commits" / second);
  Warnings w2;
  RankStore after = c.open(w2);
  CHECK(write_counts(after) == std::vector<std::int64_t>{1});
  CHECK(w2.any_contains("dropped row " + second));
}

TEST_CASE("verify of a missing commit or a bad id names it") {
  OneCommit c;
  Warnings w;
  RankStore store = c.open(w);
  const auto missing = store.verify("commit_00000009_000000000000");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].what.find("missing") != std::string::npos);
  CHECK(store.verify("../../etc").size() == 1);
  CHECK_THROWS_WITH_AS(store.open_commit("../../etc"), doctest::Contains("not a commit id"),
                       StoreError);
}

TEST_CASE("a staging dir being filled is kept however the store root is spelled") {
  TempDir tmp;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(tmp.path());
  {
    RankStore relative("ckpt", 0, quiet());
    StagedCommit live = relative.stage(1);
    Warnings w;
    RankStore absolute(tmp.path() / "ckpt", 0, w.sink());
    CHECK(
        fs::is_directory(tmp.path() / "ckpt" / "rank_000000" / "commits" / live.dir().filename()));
    CHECK(w.messages.empty());
  }
  fs::current_path(old_cwd);
}
