// Asynchronous commits (CheckpointOptions::async_commits, the default): the state is captured
// at the write, the commit runs on a background thread, at most one is in flight, its error
// surfaces at the next write/flush/wait with the original message, close and destruction
// report it, flush and wait return only when the row is durable, retention still holds.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_test_support.hpp"

using namespace stormrun;
using namespace stormrun_test;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kBigValues = 1 << 20;  // 8 MiB: the commit is still running after write()

CheckpointOptions async_options(const fs::path& root, Warnings& warnings) {
  auto options = options_for(root, warnings);
  CHECK(options.async_commits);  // the default
  options.history_size = 0;
  return options;
}

void fill(FieldState& state, std::int64_t step) {
  state.step = step;
  state.fields.shape = {kBigValues};
  state.fields.data.assign(std::size_t(kBigValues), double(step));
}

/// Reads the FieldState of `row` back through a fresh checkpoint of `root`.
FieldState restore(const fs::path& root, std::int64_t position, Warnings& warnings) {
  Checkpoint reader(options_for(root, warnings));
  auto field = reader.bind(FieldState{}, 0);
  reader.select(position);
  return *field;
}

/// Makes the next commits of `checkpoint` fail: commits/ becomes a file.
void break_commits(const Checkpoint& checkpoint) {
  fs::remove_all(checkpoint.rank_dir() / "commits");
  write_text(checkpoint.rank_dir() / "commits", "not a directory");
}

void repair_commits(const Checkpoint& checkpoint) {
  fs::remove(checkpoint.rank_dir() / "commits");
  fs::create_directory(checkpoint.rank_dir() / "commits");
}

}  // namespace

TEST_CASE("asynchronous commits save the state as it was at the write") {
  TempDir tmp;
  Warnings warnings;
  {
    Checkpoint checkpoint(async_options(tmp / "ckpt", warnings));
    auto field = checkpoint.bind(FieldState{}, 0);
    Session& session = checkpoint.new_session();
    for (std::int64_t step = 1; step <= 4; ++step) {
      fill(*field, step);
      session.write({{"step", step}});
      // Changed at once, while the commit of `step` may still be running: the row must
      // hold the values of the write, not these.
      field->fields.data.assign(std::size_t(kBigValues), -1.0);
      field->step = -1;
    }
    checkpoint.wait();
    CHECK(checkpoint.last_commit_seconds() > 0);
    const std::vector<CatalogRow> rows = checkpoint.catalog();
    REQUIRE(rows.size() == 4);
    for (std::size_t i = 0; i < rows.size(); ++i)
      CHECK(rows[i].write_count == std::int64_t(i + 1));  // commit order kept: one in flight
    CHECK(session.exists());
    CHECK(session.commit_id() == rows.back().commit_id);
  }
  CHECK(warnings.lines.empty());
  for (std::int64_t position = 0; position < 4; ++position) {
    const FieldState saved = restore(tmp / "ckpt", position, warnings);
    CHECK(saved.step == position + 1);
    REQUIRE(saved.fields.data.size() == std::size_t(kBigValues));
    CHECK(saved.fields.data.front() == double(position + 1));
    CHECK(saved.fields.data.back() == double(position + 1));
  }
}

TEST_CASE("flush and wait return when the row is durable; retention after the newer commit") {
  TempDir tmp;
  Warnings warnings;
  auto options = async_options(tmp / "ckpt", warnings);
  options.history_size = 2;
  Checkpoint checkpoint(options);
  auto field = checkpoint.bind(FieldState{}, 0);
  Session& session = checkpoint.new_session();
  for (std::int64_t step = 1; step <= 5; ++step) {
    fill(*field, step);
    session.write({{"step", step}});
  }
  session.flush();  // nothing pending: waits for the commit in flight
  // On disk, without going through the checkpoint: the newest two commits, complete.
  CHECK(commit_count(checkpoint.rank_dir()) == 2);
  const auto catalog = nlohmann::json::parse(read_text(checkpoint.rank_dir() / "catalog.json"));
  REQUIRE(catalog.at("rows").size() == 2);
  CHECK(catalog.at("rows").back().at("write_count") == 5);
  CHECK(restore(tmp / "ckpt", -1, warnings).step == 5);

  fill(*field, 6);
  session.write({{"step", 6}});
  session.flush({{"note", "end"}});  // pending metadata: a commit of its own, durable at return
  const auto rows = checkpoint.catalog();
  REQUIRE(rows.size() == 2);
  CHECK(rows.back().write_count == 6);
  CHECK(rows.back().metadata.contains("note"));
  CHECK(commit_count(checkpoint.rank_dir()) == 2);
}

TEST_CASE("an asynchronous commit's error surfaces at the next write, flush or wait") {
  TempDir tmp;
  Warnings warnings;

  SUBCASE("next committing write: original error, this write rolled back, nothing lost") {
    Checkpoint checkpoint(async_options(tmp / "ckpt", warnings));
    auto field = checkpoint.bind(FieldState{}, 0);
    Session& session = checkpoint.new_session();
    fill(*field, 1);
    session.write({{"step", 1}});
    checkpoint.wait();
    const std::string first = session.commit_id();

    break_commits(checkpoint);
    fill(*field, 2);
    session.write({{"step", 2}});  // captured; fails on the background thread
    fill(*field, 3);
    std::string message;
    try {
      session.write({{"step", 3}});
    } catch (const StoreError& e) {
      message = e.what();
    }
    CHECK(message.find("commits") != std::string::npos);  // the store's own message
    CHECK(session.write_count() == 2);                    // write 3 rolled back, not write 2
    CHECK(session.metadata().at("step").as<std::int64_t>() == 2);
    CHECK(session.commit_id() == first);
    CHECK(checkpoint.catalog().size() == 1);

    // Reported once: the next flush tries again (and fails again while commits/ is broken).
    CHECK_THROWS_AS(session.flush(), StoreError);
    repair_commits(checkpoint);
    session.flush();
    const auto rows = checkpoint.catalog();
    REQUIRE_FALSE(rows.empty());
    CHECK(rows.back().write_count == 2);
    CHECK(restore(tmp / "ckpt", -1, warnings).step == 3);  // the record as it is now
  }

  SUBCASE("a write that does not commit surfaces a finished failure too") {
    auto options = async_options(tmp / "ckpt", warnings);
    options.flush_interval = 100;
    Checkpoint checkpoint(options);
    Session& session = checkpoint.new_session();
    break_commits(checkpoint);
    for (int i = 0; i < 100; ++i)
      session.write();  // the 100th commits, in the background, and fails
    // The next writes do not commit; one of them sees the finished failure (the commit of a
    // tiny row fails within milliseconds; 99 x 50 ms is a generous bound, not a timing).
    bool surfaced = false;
    while (!surfaced && !session.will_flush()) {
      try {
        session.write();
      } catch (const StoreError& e) {
        surfaced = std::string(e.what()).find("commits") != std::string::npos;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    CHECK(surfaced);
    CHECK_NOTHROW(checkpoint.wait());  // reported once
  }

  SUBCASE("wait() rethrows; close_session() and the destructor report it as a warning") {
    {
      Checkpoint checkpoint(async_options(tmp / "ckpt", warnings));
      Session& session = checkpoint.new_session();
      break_commits(checkpoint);
      session.write({{"step", 1}});
      CHECK_THROWS_AS(checkpoint.wait(), StoreError);
      session.write({{"step", 2}});
      checkpoint.close_session();
      CHECK(
          warnings.contains("the asynchronous commit of write 2 of checkpoint 'test-run' failed"));
      checkpoint.new_session().write({{"step", 3}});
      warnings.lines.clear();
    }  // destroyed with the failed commit of write 1 of the new session never waited for
    CHECK(warnings.contains("failed and was never waited for"));
  }

  SUBCASE("synchronous commits fail inside the write") {
    auto options = async_options(tmp / "ckpt", warnings);
    options.async_commits = false;
    Checkpoint checkpoint(options);
    Session& session = checkpoint.new_session();
    break_commits(checkpoint);
    CHECK_THROWS_AS(session.write({{"step", 1}}), StoreError);
    CHECK(session.write_count() == 0);
    CHECK(checkpoint.last_commit_seconds() == 0);
  }
}

// ---- gated publish (CheckpointOptions::gated_publish, the run driver's mode) -------------

namespace {

CheckpointOptions gated_options(const fs::path& root, Warnings& warnings) {
  auto options = async_options(root, warnings);
  options.gated_publish = true;
  return options;
}

/// Staging dirs (".tmp_<commit id>") left in the rank dir; pack spares do not count.
std::size_t staging_left(const fs::path& rank_dir) {
  std::size_t n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(rank_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".tmp_") && !name.starts_with(".tmp_spare")) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("gated publish: a captured commit is published only after release_commits()") {
  TempDir tmp;
  Warnings warnings;
  {
    Checkpoint checkpoint(gated_options(tmp / "ckpt", warnings));
    auto field = checkpoint.bind(FieldState{}, 0);
    Session& session = checkpoint.new_session();
    fill(*field, 1);
    session.write({{"step", 1}});  // captured, written, held at the gate
    // Not published however long it waits: the catalog (which waits for released commits
    // only) and the disk say so.
    std::this_thread::sleep_for(200ms);
    CHECK(checkpoint.catalog().empty());
    CHECK(commit_count(checkpoint.rank_dir()) == 0);
    CHECK_FALSE(session.exists());

    // The next capture waits only for the files of the one at the gate, and queues behind.
    fill(*field, 2);
    session.write({{"step", 2}});
    CHECK(commit_count(checkpoint.rank_dir()) == 0);

    checkpoint.release_commits();  // both: what they claim is durable elsewhere
    checkpoint.wait();
    const std::vector<CatalogRow> rows = checkpoint.catalog();
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].write_count == 1);  // published in capture order
    CHECK(rows[1].write_count == 2);
  }
  CHECK_MESSAGE(warnings.lines.empty(), warnings.all());
  CHECK(restore(tmp / "ckpt", 0, warnings).step == 1);
  CHECK(restore(tmp / "ckpt", 1, warnings).step == 2);
}

TEST_CASE("gated publish: flush() releases, and releases between captures keep the order") {
  TempDir tmp;
  Warnings warnings;
  Checkpoint checkpoint(gated_options(tmp / "ckpt", warnings));
  auto field = checkpoint.bind(FieldState{}, 0);
  Session& session = checkpoint.new_session();
  for (std::int64_t step = 1; step <= 5; ++step) {
    fill(*field, step);
    session.write({{"step", step}});
    checkpoint.release_commits();  // the run driver: at the next step's agreement
  }
  fill(*field, 6);
  session.write({{"step", 6}});  // held at the gate
  session.flush();               // says it is durable: published when flush returns
  CHECK(commit_count(checkpoint.rank_dir()) == 6);
  // A flush that commits (pending metadata) publishes its own commit before it returns.
  session.flush({{"note", "end"}});
  CHECK(commit_count(checkpoint.rank_dir()) == 7);
  const std::vector<CatalogRow> rows = checkpoint.catalog();
  REQUIRE(rows.size() == 7);
  for (std::size_t i = 0; i < 6; ++i)
    CHECK(rows[i].write_count == std::int64_t(i + 1));
  CHECK(rows.back().metadata.at("step") == 6);
}

TEST_CASE("gated publish: a commit never released is abandoned, not published") {
  TempDir tmp;
  Warnings warnings;
  fs::path rank_dir;
  SUBCASE("by the destructor (a run that failed before its output was shown durable)") {
    {
      Checkpoint checkpoint(gated_options(tmp / "ckpt", warnings));
      auto field = checkpoint.bind(FieldState{}, 0);
      Session& session = checkpoint.new_session();
      fill(*field, 1);
      session.write({{"step", 1}});
      checkpoint.release_commits();
      fill(*field, 2);
      session.write({{"step", 2}});  // never released
      rank_dir = checkpoint.rank_dir();
    }
    CHECK(warnings.contains("a captured commit was never released and is not published"));
  }
  SUBCASE("by close_session()") {
    Checkpoint checkpoint(gated_options(tmp / "ckpt", warnings));
    auto field = checkpoint.bind(FieldState{}, 0);
    Session& session = checkpoint.new_session();
    fill(*field, 1);
    session.write({{"step", 1}});
    checkpoint.release_commits();
    fill(*field, 2);
    session.write({{"step", 2}});
    checkpoint.close_session();
    CHECK(warnings.contains("a captured commit was never released and is not published"));
    CHECK(checkpoint.catalog().size() == 1);
    rank_dir = checkpoint.rank_dir();
    warnings.lines.clear();
    checkpoint.new_session().flush();  // nothing written: no commit, no warning
    CHECK(warnings.lines.empty());
  }
  CHECK(commit_count(rank_dir) == 1);
  CHECK(staging_left(rank_dir) == 0);  // the abandoned commit's staging is gone
  Warnings reader;
  CHECK(restore(tmp / "ckpt", -1, reader).step == 1);
}

TEST_CASE("gated publish: an older commit still at the gate is an error, not a hang") {
  TempDir tmp;
  Warnings warnings;
  Checkpoint checkpoint(gated_options(tmp / "ckpt", warnings));
  auto field = checkpoint.bind(FieldState{}, 0);
  Session& session = checkpoint.new_session();
  fill(*field, 1);
  session.write({{"step", 1}});
  fill(*field, 2);
  session.write({{"step", 2}});  // queued behind write 1, which is at the gate
  fill(*field, 3);
  std::string message;
  try {
    session.write({{"step", 3}});
  } catch (const CheckpointError& e) {
    message = e.what();
  }
  CHECK(message.find("the commit of write 1 was never released") != std::string::npos);
  CHECK(session.write_count() == 2);  // write 3 rolled back
  checkpoint.release_commits();
  checkpoint.wait();
  CHECK(checkpoint.catalog().size() == 2);
}

TEST_CASE("gated publish needs asynchronous commits") {
  TempDir tmp;
  Warnings warnings;
  auto options = gated_options(tmp / "ckpt", warnings);
  options.async_commits = false;
  CHECK_THROWS_WITH_AS(options.validate(), doctest::Contains("gated_publish"), CheckpointError);
}
