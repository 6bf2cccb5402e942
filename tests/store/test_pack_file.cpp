// Pack commits (checkpoint format 3): the pack file itself, and commits that are packs —
// round trip, damage, reconcile, retention and a store holding both layouts.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <xxhash.h>

#include "checkpoint/store/commit_check.hpp"
#include "checkpoint/store/durable_io.hpp"
#include "checkpoint/store/pack_file.hpp"
#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;
using namespace stormrun::store_detail;
namespace fs = std::filesystem;

namespace {

using Members = std::vector<std::pair<std::string, std::string>>;

fs::path write_pack(const fs::path& path, const Members& members) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644));
  REQUIRE(fd.valid());
  PackWriter writer(fd.get(), path);
  for (const auto& [rel, content] : members) {
    // Two parts, to show that a member is their concatenation.
    const std::size_t half = content.size() / 2;
    const std::string first = content.substr(0, half), second = content.substr(half);
    const std::span<const std::byte> parts[] = {as_bytes(first), as_bytes(second)};
    const FileRecord record = writer.add(rel, parts);
    CHECK(record.bytes == content.size());
    CHECK(record.xxh3 == hex64(XXH3_64bits(content.data(), content.size())));
  }
  const std::uint64_t size = writer.finish();
  fd.close(path);
  CHECK(fs::file_size(path) == size);
  return path;
}

PackReader open_pack(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY));
  REQUIRE(fd.valid());
  return PackReader(std::move(fd), fs::file_size(path), path);
}

std::string text(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

void patch(const fs::path& path, std::uint64_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string pack_error(const fs::path& path) {
  try {
    open_pack(path);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

/// A pack whose index is `index` (a valid footer for it), after `data`.
fs::path forge_pack(const fs::path& path, const std::string& data, const std::string& index) {
  std::string bytes = data + index;
  std::string footer(kPackFooterBytes, '\0');
  std::memcpy(footer.data(), kPackMagic, sizeof kPackMagic);
  const auto put = [&](std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      footer[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(8, data.size());
  put(16, index.size());
  put(24, XXH3_64bits(index.data(), index.size()));
  write_file(path, bytes + footer);
  return path;
}

}  // namespace

TEST_CASE("a pack holds its members, aligned, and reads each back checked") {
  TempDir tmp;
  const std::string big(3 << 20, 'b');         // gathered with the others
  const std::string huge((5 << 20) + 3, 'h');  // written on its own, past the gather buffer
  const Members members{{"manifest.json", "{\"m\": 1}\n"},
                        {"states/a.json", "{\"x\": 1}"},
                        {"states/a/h.npy", big},
                        {"states/b/huge.npy", huge},
                        {"states/empty.json", ""}};
  const fs::path path = write_pack(tmp.path() / "p", members);
  const PackReader pack = open_pack(path);
  REQUIRE(pack.members().size() == members.size());
  for (const auto& member : members) {
    const std::string& rel = member.first;  // CAPTURE cannot capture a structured binding
    const std::string& content = member.second;
    CAPTURE(rel);
    const PackMember& m = pack.members().at(rel);
    CHECK(m.offset % kPackAlign == 0);
    CHECK(m.bytes == content.size());
    CHECK(text(pack.read(rel)) == content);
    CHECK(pack.hash(rel) == m.xxh3);
    CHECK(text(pack.head(rel, 4)) == content.substr(0, 4));
  }
  CHECK_THROWS_WITH_AS(pack.read("states/none.json"), doctest::Contains("no such member"),
                       StoreError);
}

TEST_CASE("a damaged or forged pack is refused, naming the file and what is wrong") {
  TempDir tmp;
  const Members members{{"manifest.json", "{}"}, {"states/a.npy", std::string(1000, 'a')}};
  const fs::path good = write_pack(tmp.path() / "good", members);
  const std::uint64_t size = fs::file_size(good);
  const auto copy = [&](const std::string& name) {
    const fs::path p = tmp.path() / name;
    fs::copy_file(good, p);
    return p;
  };

  SUBCASE("a member's byte flipped: the index opens, the member's checksum fails") {
    const fs::path p = copy("flipped");
    const PackMember m = open_pack(p).members().at("states/a.npy");
    patch(p, m.offset + 10, "Z");
    const PackReader pack = open_pack(p);
    CHECK_THROWS_WITH_AS(pack.read("states/a.npy"),
                         doctest::Contains("does not match the pack index"), StoreError);
    CHECK(pack.hash("states/a.npy") != m.xxh3);
  }
  SUBCASE("the index damaged") {
    const fs::path p = copy("index");
    patch(p, size - kPackFooterBytes - 5, "#");
    CHECK(pack_error(p).find("index does not match the footer's checksum") != std::string::npos);
  }
  SUBCASE("truncated: a torn write of the tail") {
    const fs::path p = copy("short");
    fs::resize_file(p, size - 7);
    const std::string error = pack_error(p);
    CHECK(error.find(p.string()) != std::string::npos);
    CHECK(error.find("not a valid commit pack") != std::string::npos);
  }
  SUBCASE("empty, or shorter than a footer") {
    const fs::path p = tmp.path() / "empty";
    write_file(p, "");
    CHECK(pack_error(p).find("less than a pack's 32-byte footer") != std::string::npos);
  }
  SUBCASE("no magic") {
    const fs::path p = copy("magic");
    patch(p, size - kPackFooterBytes, "XX");
    CHECK(pack_error(p).find("pack magic") != std::string::npos);
  }
  SUBCASE("an index that points outside the data, overlaps, repeats or escapes") {
    const std::string data(128, 'd');
    CHECK(
        pack_error(forge_pack(tmp.path() / "f1", data,
                              R"({"members":[{"path":"a","offset":100,"bytes":100,"xxh3":"0"}]})"))
            .find("lies outside the data") != std::string::npos);
    CHECK(pack_error(forge_pack(tmp.path() / "f2", data,
                                R"({"members":[{"path":"a","offset":0,"bytes":64,"xxh3":"0"},)"
                                R"({"path":"b","offset":32,"bytes":64,"xxh3":"0"}]})"))
              .find("overlap") != std::string::npos);
    CHECK(pack_error(forge_pack(tmp.path() / "f2b", data,
                                R"({"members":[{"path":"a","offset":0,"bytes":64,"xxh3":"0"},)"
                                R"({"path":"b","offset":0,"bytes":8,"xxh3":"0"}]})"))
              .find("overlap") != std::string::npos);
    CHECK(pack_error(forge_pack(tmp.path() / "f3", data,
                                R"({"members":[{"path":"a","offset":0,"bytes":1,"xxh3":"0"},)"
                                R"({"path":"a","offset":64,"bytes":1,"xxh3":"0"}]})"))
              .find("listed twice") != std::string::npos);
    CHECK(pack_error(forge_pack(tmp.path() / "f4", data,
                                R"({"members":[{"path":"../x","offset":0,"bytes":1,"xxh3":"0"}]})"))
              .find("member '../x'") != std::string::npos);
    CHECK(pack_error(forge_pack(tmp.path() / "f5", data, R"({"members":[{"path":"a"}]})"))
              .find("lacks path, offset, bytes or xxh3") != std::string::npos);
    CHECK(pack_error(forge_pack(tmp.path() / "f6", data, "[1,2")).find("not valid JSON") !=
          std::string::npos);
  }
}

TEST_CASE("a pack commit is one file in commits/ and round-trips like a directory commit") {
  TempDir tmp;
  Warnings w;
  RankStore store(tmp.path(), 0, w.sink());
  const CatalogRow row =
      commit_row(store, 4, {{"member", "1"}}, {CheckpointMode::Append, 0}, CommitLayout::Pack);
  const fs::path pack = store.dir() / "commits" / row.commit_id;
  CHECK(fs::is_regular_file(fs::symlink_status(pack)));
  CHECK(tmp_entries(store.dir() / "commits").empty());
  VerifiedCommit commit = store.open_commit(row.commit_id);
  CHECK(commit.manifest().format_version == kPackFormatVersion);
  CHECK(commit.manifest().files.size() == 2);
  CHECK(text(commit.get(kStatePath)) == "{\"step\": 4}");
  CHECK(text(commit.get(kArrayPath)) == std::string(4096, 'e'));
  CHECK(store.verify(row.commit_id).empty());
  CHECK(w.messages.empty());

  // The pack holds exactly the directory layout's files, manifest.json included.
  const PackReader reader = open_pack(pack);
  std::vector<std::string> names;
  for (const auto& [rel, m] : reader.members())
    names.push_back(rel);
  std::vector<std::string> want{"manifest.json", kArrayPath, kStatePath};
  std::sort(want.begin(), want.end());
  CHECK(names == want);

  RankStore again(tmp.path(), 0, w.sink());
  REQUIRE(again.rows().size() == 1);
  CHECK(again.rows()[0].commit_id == row.commit_id);
  CHECK(w.messages.empty());
}

TEST_CASE("a store holds directory and pack commits side by side; retention removes both") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const RetentionPolicy keep2{CheckpointMode::Append, 2};
  const auto a = commit_row(store, 1, {}, keep2, CommitLayout::Directory);
  const auto b = commit_row(store, 2, {}, keep2, CommitLayout::Pack);
  const auto c = commit_row(store, 3, {}, keep2, CommitLayout::Directory);
  CHECK(write_counts(store) == std::vector<std::int64_t>{2, 3});
  const auto d = commit_row(store, 4, {}, keep2, CommitLayout::Pack);
  CHECK(write_counts(store) == std::vector<std::int64_t>{3, 4});
  RankStore again(tmp.path(), 0, quiet());  // reaper joined: removals done
  CHECK_FALSE(fs::exists(store.dir() / "commits" / a.commit_id));
  CHECK_FALSE(fs::exists(store.dir() / "commits" / b.commit_id));
  CHECK(fs::is_directory(store.dir() / "commits" / c.commit_id));
  CHECK(fs::is_regular_file(store.dir() / "commits" / d.commit_id));
  for (const auto& row : again.rows())
    CHECK(again.verify(row.commit_id).empty());
  again.remove(d.commit_id);
  CHECK(write_counts(again) == std::vector<std::int64_t>{3});
  CHECK_FALSE(fs::exists(again.dir() / "commits" / d.commit_id));
}

TEST_CASE("reconcile re-adds a pack the catalog missed and removes a half-written staging pack") {
  TempDir tmp;
  const RetentionPolicy all{CheckpointMode::Append, 0};
  fs::path catalog;
  std::string only_first;
  std::string second;
  {
    RankStore store(tmp.path(), 0, quiet());
    commit_row(store, 1, {}, all, CommitLayout::Pack);
    catalog = store.dir() / "catalog.json";
    only_first = read_file(catalog);
    second = commit_row(store, 2, {}, all, CommitLayout::Pack).commit_id;
    // A crash between the rename and the catalog: the old catalog, the new pack on disk.
    write_file(catalog, only_first);
    // And a staging pack cut short by a crash.
    write_file(store.dir() / "commits" / ".tmp_commit_00000003_aaaaaaaaaaaa", "SRPA");
  }
  Warnings w;
  RankStore store(tmp.path(), 0, w.sink());
  CHECK(write_counts(store) == std::vector<std::int64_t>{1, 2});
  CHECK(w.any_contains("re-added commit"));
  CHECK(w.any_contains("removed stale"));
  CHECK(tmp_entries(store.dir() / "commits").empty());
  CHECK(store.verify(second).empty());
}

TEST_CASE("a damaged pack commit is reported by verify and refused by open_commit") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const auto row = commit_row(store, 1, {}, {}, CommitLayout::Pack);
  const fs::path pack = store.dir() / "commits" / row.commit_id;
  const PackMember m = open_pack(pack).members().at(kArrayPath);

  SUBCASE("a state byte flipped") {
    patch(pack, m.offset + 100, "!");
    const auto problems = store.verify(row.commit_id);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].path == pack / kArrayPath);
    CHECK(problems[0].what.find("checksum xxh3") != std::string::npos);
    CHECK_THROWS_WITH_AS(store.open_commit(row.commit_id), doctest::Contains("file damaged"),
                         StoreError);
  }
  SUBCASE("cut short") {
    fs::resize_file(pack, m.offset + 10);
    const auto problems = store.verify(row.commit_id);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].what.find("not a valid commit pack") != std::string::npos);
    // The catalog still lists it, yet a reopen does not fail: the damaged row is kept for
    // the restart logic to skip (as a damaged directory commit is).
    CHECK_NOTHROW(RankStore(tmp.path(), 0, quiet()));
  }
  SUBCASE("a symlink in its place") {
    const fs::path elsewhere = tmp.path() / "elsewhere";
    fs::rename(pack, elsewhere);
    fs::create_symlink(elsewhere, pack);
    const auto problems = store.verify(row.commit_id);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].what.find("missing (or not a directory)") != std::string::npos);
  }
}

TEST_CASE("CommitFiles reads a directory commit and a pack commit alike") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  for (const CommitLayout layout : {CommitLayout::Directory, CommitLayout::Pack}) {
    const auto row = commit_row(store, 7, {}, {CheckpointMode::Append, 0}, layout);
    const CommitFiles files(store.dir() / "commits" / row.commit_id);
    CHECK(files.packed() == (layout == CommitLayout::Pack));
    const Manifest m = read_manifest(files, 0);
    CHECK(m.commit_id == row.commit_id);
    for (const auto& [rel, record] : m.files) {
      CHECK(files.check(rel, record).empty());
      CHECK(files.read(rel).size() == record.bytes);
      CHECK(files.head(rel, 3).size() == std::min<std::uint64_t>(3, record.bytes));
    }
    FileRecord wrong = m.files.at(kStatePath);
    wrong.bytes += 1;
    CHECK(files.check(kStatePath, wrong).find("manifest.json records") != std::string::npos);
    CHECK_THROWS_AS(files.read("states/none"), StoreError);
  }
}

namespace {

/// A pack commit of one file of `bytes` bytes (overwrite: each one drops the one before).
CatalogRow commit_sized(RankStore& store, std::int64_t write_count, std::size_t bytes) {
  StagedCommit staged = store.stage(write_count, CommitLayout::Pack);
  staged.put(kArrayPath, as_bytes(std::string(bytes, static_cast<char>('a' + write_count % 26))));
  Manifest m;
  m.name = "test-run";
  m.mode = CheckpointMode::Overwrite;
  m.rank = store.rank();
  m.world_size = 1;
  m.write_count = write_count;
  m.units = {{"2024-01-01T00:00:00Z/0", write_count}};
  return store.commit(std::move(staged), std::move(m), {CheckpointMode::Overwrite, 0});
}

ino_t inode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("dropped packs are reused as staging files once their rename is durable") {
  TempDir tmp;
  const fs::path commits = tmp.path() / "rank_000000" / "commits";
  {
    RankStore store(tmp.path(), 0, quiet());
    const auto c1 = commit_sized(store, 1, 65536);  // larger than the packs after it
    const ino_t first = inode_of(commits / c1.commit_id);
    const auto c2 = commit_sized(store, 2, 1000);
    // c1 became a spare after c2 was durable; its rename is durable only with the next fsync
    // of commits/, so c3 (staged before that fsync) cannot have it.
    const auto c3 = commit_sized(store, 3, 1000);
    CHECK(inode_of(commits / c3.commit_id) != first);
    CHECK(spare_entries(commits).size() == 2);  // c1 (ready) and c2 (until the next fsync)
    const auto c4 = commit_sized(store, 4, 1000);
    CHECK(inode_of(commits / c4.commit_id) == first);  // c1's file, overwritten
    // What was c1 past the new pack's end is cut off: the pack verifies, reads back whole.
    CHECK(fs::file_size(commits / c4.commit_id) < 65536);
    CHECK(store.verify(c4.commit_id).empty());
    const std::vector<std::byte> bytes = store.open_commit(c4.commit_id).get(kArrayPath);
    CHECK(bytes.size() == 1000);
    CHECK(std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{'e'}; }));
    CHECK(write_counts(store) == std::vector<std::int64_t>{4});
    CHECK(spare_entries(commits).size() == 2);  // never more than two
    // catalog.json was exchanged with the spare each time, and reads back whole.
    CHECK(spare_entries(store.dir()).size() == 1);
    Warnings w;
    RankStore reader(tmp.path(), 0, w.sink());  // leaves this process's spares alone
    CHECK(w.messages.empty());
    CHECK(write_counts(reader) == std::vector<std::int64_t>{4});
    CHECK(spare_entries(commits).size() == 2);
  }
  // Closed: the spares are unlinked.
  CHECK(spare_entries(commits).empty());
  CHECK(spare_entries(tmp.path() / "rank_000000").empty());

  // A run killed with spares on disk: the next open removes them without a warning.
  CHECK(run_in_child([&] {
          RankStore store(tmp.path(), 0, quiet());
          for (int i = 5; i <= 8; ++i)
            commit_sized(store, i, 1000);
          ::_exit(spare_entries(commits).size() == 2 ? 0 : 1);
        }) == 0);
  Warnings w;
  RankStore after(tmp.path(), 0, w.sink());
  CHECK(w.messages.empty());
  CHECK(write_counts(after) == std::vector<std::int64_t>{8});
  CHECK(spare_entries(commits).empty());
  CHECK(spare_entries(after.dir()).empty());
  CHECK(after.verify(after.rows().back().commit_id).empty());
}
