// Retention: overwrite keeps the newest row per label set, append the newest history_size.
#include <doctest/doctest.h>

#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::int64_t> counts_for(const RankStore& store, const Labels& labels) {
  std::vector<std::int64_t> out;
  for (const auto& r : store.rows()) {
    if (r.labels == labels) out.push_back(r.write_count);
  }
  return out;
}

std::size_t commit_dirs(const RankStore& store) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(store.dir() / "commits"), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("overwrite keeps only the newest row of each label set") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const RetentionPolicy overwrite{CheckpointMode::Overwrite, 5};  // history_size is ignored
  const Labels a{{"member", "0"}};
  const Labels b{{"member", "1"}};
  commit_row(store, 1, a, overwrite);
  commit_row(store, 1, b, overwrite);
  commit_row(store, 2, a, overwrite);
  commit_row(store, 3, a, overwrite);
  CHECK(counts_for(store, a) == std::vector<std::int64_t>{3});
  CHECK(counts_for(store, b) == std::vector<std::int64_t>{1});
  CHECK(commit_dirs(store) == 2);
  store.refresh();  // waits for the background removal of the dropped commits
  CHECK(tmp_entries(store.dir()).empty());
  RankStore reopened(tmp.path(), 0, quiet());
  CHECK(reopened.rows().size() == 2);
}

TEST_CASE("append keeps the newest history_size rows of each label set") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const RetentionPolicy append2{CheckpointMode::Append, 2};
  const Labels a{{"member", "0"}};
  const Labels b{{"member", "1"}};
  for (int wc = 1; wc <= 5; ++wc)
    commit_row(store, wc, a, append2);
  for (int wc = 1; wc <= 3; ++wc)
    commit_row(store, wc, b, append2);
  CHECK(counts_for(store, a) == std::vector<std::int64_t>{4, 5});
  CHECK(counts_for(store, b) == std::vector<std::int64_t>{2, 3});
  CHECK(commit_dirs(store) == 4);
  for (const auto& r : store.rows())
    CHECK(store.verify(r.commit_id).empty());
}

TEST_CASE("append with history_size 0 keeps everything") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  for (int wc = 1; wc <= 4; ++wc)
    commit_row(store, wc, {}, {CheckpointMode::Append, 0});
  CHECK(write_counts(store) == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(commit_row(store, 5, {}, {CheckpointMode::Append, -1}),
                       doctest::Contains("history_size"), StoreError);
}

TEST_CASE("retention keeps the commit just made even when its write_count is lower") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const RetentionPolicy overwrite{CheckpointMode::Overwrite, 0};
  commit_row(store, 9, {}, overwrite);
  const auto row = commit_row(store, 1, {}, overwrite);  // a new batch restarts its count
  REQUIRE(store.rows().size() == 1);
  CHECK(store.rows()[0].commit_id == row.commit_id);
}

TEST_CASE("remove deletes a commit and its row") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const auto first = commit_row(store, 1, {}, {});
  commit_row(store, 2, {}, {});
  store.remove(first.commit_id);
  CHECK(write_counts(store) == std::vector<std::int64_t>{2});
  CHECK_FALSE(fs::exists(store.dir() / "commits" / first.commit_id));
  CHECK(tmp_entries(store.dir()).empty());
  Warnings w;
  RankStore reopened(tmp.path(), 0, w.sink());
  CHECK(write_counts(reopened) == std::vector<std::int64_t>{2});
  CHECK(w.messages.empty());
  CHECK_THROWS_AS(store.remove("../x"), StoreError);
}
