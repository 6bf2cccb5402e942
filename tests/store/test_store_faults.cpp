// Crash safety: a process killed right after any step of a commit (fault injection) leaves
// a store that reopens without error, keeps every complete row and verifies.
#include <doctest/doctest.h>

#include "store_test_util.hpp"

using namespace stormrun;
using namespace stormrun::test;
namespace fs = std::filesystem;

namespace {

bool has_write_count(const RankStore& store, std::int64_t wc) {
  for (const auto& r : store.rows()) {
    if (r.write_count == wc) return true;
  }
  return false;
}

int crash_second_commit(const fs::path& root, CommitStep step, const RetentionPolicy& policy,
                        CommitLayout layout) {
  return run_in_child([&] {
    ::setenv("STORMRUN_FAULT_INJECT", to_string(step).c_str(), 1);
    RankStore store(root, 0, quiet());
    commit_row(store, 2, {{"member", "0"}}, policy, layout);
  });
}

}  // namespace

TEST_CASE("a crash after every commit step leaves a consistent store (directory and pack)") {
  for (const CommitLayout layout : {CommitLayout::Directory, CommitLayout::Pack})
    for (const CheckpointMode mode : {CheckpointMode::Overwrite, CheckpointMode::Append}) {
      for (const CommitStep step : all_commit_steps()) {
        CAPTURE(layout == CommitLayout::Pack);
        CAPTURE(to_string(mode));
        CAPTURE(to_string(step));
        TempDir tmp;
        const RetentionPolicy policy{mode, 0};
        {
          RankStore store(tmp.path(), 0, quiet());
          // The older commit in the other layout: a store may hold both.
          commit_row(store, 1, {{"member", "0"}}, policy,
                     layout == CommitLayout::Pack ? CommitLayout::Directory : CommitLayout::Pack);
        }
        CHECK(crash_second_commit(tmp.path(), step, policy, layout) == 86);

        Warnings w;
        RankStore after(tmp.path(), 0, w.sink());
        // The new row exists once the rename happened (re-added when the catalog missed it);
        // the old row survives until retention has moved it away.
        const bool new_expected = step >= CommitStep::Renamed;
        const bool old_expected =
            !(mode == CheckpointMode::Overwrite && step >= CommitStep::RetentionRenamed);
        CHECK(has_write_count(after, 2) == new_expected);
        CHECK(has_write_count(after, 1) == old_expected);
        for (const auto& row : after.rows()) {
          CHECK_NOTHROW(after.open_commit(row.commit_id));
        }
        CHECK(tmp_entries(after.dir()).empty());
        // The old commit is a pack when the new one is a directory: retention turns a pack
        // into a spare file (.tmp_spare_*, removed without a warning, like the catalog's tmp
        // file, which is a spare too), and renames a directory aside to .tmp_delete_ for the
        // reaper (a leftover reported when removed).
        const bool old_is_pack = layout == CommitLayout::Directory;
        if (step < CommitStep::Renamed ||
            (mode == CheckpointMode::Overwrite && !old_is_pack &&
             step >= CommitStep::RetentionRenamed && step < CommitStep::RetentionDone)) {
          CHECK(w.any_contains(".tmp_"));  // staging or moved-away commit removed
        }
        if (old_is_pack) CHECK_FALSE(w.any_contains(".tmp_delete_"));
        CHECK_FALSE(w.any_contains(".tmp_spare_"));
        CHECK(spare_entries(after.dir()).empty());
        CHECK(spare_entries(after.dir() / "commits").empty());
        if (step >= CommitStep::Renamed && step <= CommitStep::CatalogTmpWritten) {
          CHECK(w.any_contains("re-added"));  // renamed, but the catalog did not list it yet
        }
        if (mode == CheckpointMode::Overwrite && step == CommitStep::RetentionRenamed) {
          CHECK(w.any_contains("dropped row"));  // its dir left commits/ before the catalog
        }
        // The repairs were written back: a second open has nothing left to fix.
        Warnings w2;
        RankStore again(tmp.path(), 0, w2.sink());
        CHECK(w2.messages.empty());
        CHECK(again.rows().size() == after.rows().size());

        // And the store keeps working: the next commit applies retention as usual.
        commit_row(again, 3, {{"member", "0"}}, policy, layout);
        CHECK(has_write_count(again, 3));
        CHECK(again.rows().size() ==
              (mode == CheckpointMode::Overwrite ? 1U : after.rows().size() + 1));
      }
    }
}

TEST_CASE("a crash before retention keeps both commits; retention finishes later") {
  TempDir tmp;
  const RetentionPolicy overwrite{CheckpointMode::Overwrite, 0};
  {
    RankStore store(tmp.path(), 0, quiet());
    commit_row(store, 1, {}, overwrite);
  }
  CHECK(run_in_child([&] {
          ::setenv("STORMRUN_FAULT_INJECT", "commits_synced", 1);
          RankStore store(tmp.path(), 0, quiet());
          commit_row(store, 2, {}, overwrite);
        }) == 86);
  RankStore store(tmp.path(), 0, quiet());
  CHECK(write_counts(store) == std::vector<std::int64_t>{1, 2});
  for (const auto& row : store.rows())
    CHECK(store.verify(row.commit_id).empty());
  commit_row(store, 3, {}, overwrite);
  CHECK(write_counts(store) == std::vector<std::int64_t>{3});
  CHECK(std::distance(fs::directory_iterator(store.dir() / "commits"), fs::directory_iterator()) ==
        1);
}

TEST_CASE("a half-deleted commit never looks complete") {
  TempDir tmp;
  RankStore store(tmp.path(), 0, quiet());
  const auto old_row = commit_row(store, 1, {}, {});
  commit_row(store, 2, {}, {});
  // What a crash in the middle of deleting the old commit leaves: the dir moved to its
  // .tmp_ name with some files already removed, the catalog still listing it.
  const fs::path moved = store.dir() / (".tmp_delete_" + old_row.commit_id);
  fs::rename(store.dir() / "commits" / old_row.commit_id, moved);
  fs::remove(moved / kArrayPath);
  Warnings w;
  RankStore after(tmp.path(), 0, w.sink());
  CHECK(write_counts(after) == std::vector<std::int64_t>{2});
  CHECK_FALSE(fs::exists(moved));
  CHECK(w.any_contains("dropped row " + old_row.commit_id));
}
