// Sessions, writes, flushes, retention and selection of the checkpoint API
// (earth2studio-checkpointing.md, "Tests in the PR").
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "checkpoint/checkpoint_test_support.hpp"

using namespace stormrun;
using namespace stormrun_test;
using namespace std::chrono_literals;

TEST_CASE("contexts and the no-checkpoint session") {
  TempDir tmp;
  Warnings warnings;

  SUBCASE("a scope on an empty store opens a new session, a later scope the newest row") {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    CHECK(checkpoint.enabled());
    CHECK_FALSE(checkpoint.has_session());
    CHECK_THROWS_WITH_AS(checkpoint.session(), doctest::Contains("no active session"),
                         CheckpointError);
    {
      SessionScope scope(checkpoint);
      CHECK(checkpoint.has_session());
      CHECK_FALSE(scope->exists());
      CHECK(scope->commit_id().empty());
      CHECK(scope->write_count() == 0);
      scope->write({{"lead_time", Duration(6h)}});
      CHECK(scope->exists());
      CHECK_FALSE(scope->commit_id().empty());
    }
    CHECK_FALSE(checkpoint.has_session());
    // A write outside any session is an error, not a silent no-op.
    Session& stale = checkpoint.new_session();
    checkpoint.close_session();
    CHECK_THROWS_AS(stale.write(), CheckpointError);

    SessionScope again(checkpoint);
    CHECK(again->exists());
    CHECK(again->write_count() == 1);
    CHECK(again->lead_time() == Duration(6h));
    CHECK(again->commit_id() == checkpoint.catalog().back().commit_id);
  }

  SUBCASE("a scope never commits on its own; closing with pending writes warns") {
    auto options = options_for(tmp / "ckpt", warnings);
    options.flush_interval = std::nullopt;
    Checkpoint checkpoint(options);
    {
      SessionScope scope(checkpoint);
      scope->write({{"lead_time", Duration(6h)}});
      CHECK(checkpoint.catalog().empty());
    }
    CHECK(checkpoint.catalog().empty());
    CHECK(warnings.contains("uncommitted"));
  }

  SUBCASE("the disabled checkpoint has the same interface and does nothing") {
    Checkpoint checkpoint = Checkpoint::disabled();
    CHECK_FALSE(checkpoint.enabled());
    CHECK(checkpoint.root().empty());
    CHECK(checkpoint.rank_dir().empty());
    CHECK(checkpoint.catalog().empty());
    auto noise = checkpoint.bind(NoiseState{.seed = 3, .step = 1}, /*min_level=*/0);
    CHECK_FALSE(noise.enabled());
    CHECK_FALSE(noise.loaded());
    CHECK(noise->seed == 3);
    {
      SessionScope scope(checkpoint);
      CHECK_FALSE(scope->exists());
      scope->write({{"lead_time", Duration(6h)}});
      scope->record_unit("member_000", 1);
      scope->flush({{"done", true}});
      CHECK(scope->write_count() == 0);
      CHECK(scope->metadata().empty());
      CHECK_FALSE(scope->exists());
      CHECK_FALSE(scope->will_flush());
      CHECK_FALSE(noise.will_flush());
    }
    Session& selected = checkpoint.select(5);  // no rows to select: a new, empty session
    CHECK_FALSE(selected.exists());
    CHECK(checkpoint.catalog().empty());
    CHECK(warnings.lines.empty());
  }
}

TEST_CASE("flush interval, overwrite and manual flush prune old commits") {
  TempDir tmp;
  Warnings warnings;

  SUBCASE("overwrite mode with a flush interval of 2 keeps only the newest commit") {
    auto options = options_for(tmp / "ckpt", warnings);
    options.mode = CheckpointMode::Overwrite;
    options.flush_interval = 2;
    Checkpoint checkpoint(options);
    Session& session = checkpoint.new_session();
    CHECK_FALSE(session.will_flush());
    session.write();
    CHECK(checkpoint.catalog().empty());
    CHECK_FALSE(session.exists());
    CHECK(session.will_flush());
    session.write({{"lead_time", Duration(12h)}});
    REQUIRE(checkpoint.catalog().size() == 1);
    const std::string first = session.commit_id();
    CHECK(checkpoint.catalog()[0].write_count == 2);
    session.write();
    session.write();
    REQUIRE(checkpoint.catalog().size() == 1);
    CHECK(checkpoint.catalog()[0].write_count == 4);
    CHECK(session.commit_id() != first);
    CHECK_FALSE(fs::exists(commit_dir(checkpoint, first)));
    CHECK(commit_count(checkpoint.rank_dir()) == 1);
  }

  SUBCASE("flush_interval none commits only on flush; an empty flush does nothing") {
    auto options = options_for(tmp / "ckpt", warnings);
    options.mode = CheckpointMode::Overwrite;
    options.flush_interval = std::nullopt;
    Checkpoint checkpoint(options);
    Session& session = checkpoint.new_session();
    session.flush();  // nothing pending, no metadata
    CHECK(checkpoint.catalog().empty());
    for (int i = 0; i < 5; ++i) {
      CHECK_FALSE(session.will_flush());
      session.write();
    }
    CHECK(checkpoint.catalog().empty());
    session.flush();
    REQUIRE(checkpoint.catalog().size() == 1);
    CHECK(checkpoint.catalog()[0].write_count == 5);
    const std::string first = session.commit_id();

    session.flush();  // nothing pending again
    CHECK(session.commit_id() == first);

    session.flush({{"finished", true}});  // metadata alone makes a new row
    REQUIRE(checkpoint.catalog().size() == 1);
    CHECK(session.commit_id() != first);
    CHECK(session.metadata().at("finished") == Value(true));
    CHECK_FALSE(fs::exists(commit_dir(checkpoint, first)));
    CHECK(commit_count(checkpoint.rank_dir()) == 1);
  }

  SUBCASE("append keeps the rows of each write up to history_size") {
    auto options = options_for(tmp / "ckpt", warnings);
    options.mode = CheckpointMode::Append;
    options.history_size = 0;  // unlimited
    Checkpoint checkpoint(options);
    Session& session = checkpoint.new_session();
    for (int i = 0; i < 4; ++i)
      session.write();
    CHECK(checkpoint.catalog().size() == 4);
    CHECK(commit_count(checkpoint.rank_dir()) == 4);
  }
}

TEST_CASE("append with history size and positional select") {
  TempDir tmp;
  Warnings warnings;
  auto options = options_for(tmp / "ckpt", warnings);
  options.mode = CheckpointMode::Append;
  options.history_size = 2;
  Checkpoint checkpoint(options);
  Session& session = checkpoint.new_session();
  for (int i = 1; i <= 4; ++i)
    session.write({{"lead_time", Duration(std::chrono::hours(6 * i))}});
  const auto rows = checkpoint.catalog();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].write_count == 3);
  CHECK(rows[1].write_count == 4);
  CHECK(commit_count(checkpoint.rank_dir()) == 2);

  CHECK(checkpoint.select(0).write_count() == 3);
  CHECK(checkpoint.session().lead_time() == Duration(18h));
  CHECK(checkpoint.select(-1).write_count() == 4);
  CHECK(checkpoint.select(-2).commit_id() == rows[0].commit_id);
  CHECK(checkpoint.select(1).commit_id() == rows[1].commit_id);
  CHECK_THROWS_WITH_AS(checkpoint.select(2), "position 2 out of range for 2 rows", CheckpointError);
  CHECK_THROWS_WITH_AS(checkpoint.select(-3), "position -3 out of range for 2 rows",
                       CheckpointError);

  SUBCASE("resuming from an older row continues its write count") {
    Session& older = checkpoint.select(0);
    older.write();
    CHECK(older.write_count() == 4);
    CHECK(checkpoint.catalog().size() == 2);
  }

  SUBCASE("rows and retention are per label set") {
    { Checkpoint released = std::move(checkpoint); }  // releases the store's LOCK
    CHECK_THROWS_WITH_AS(checkpoint.catalog(), "use of a moved-from Checkpoint", CheckpointError);
    auto labelled = options;
    labelled.labels = {{"start_time", "2026-01-01T00:00:00Z"}};
    Checkpoint other(labelled);
    CHECK(other.catalog().empty());  // the unlabelled rows are not this label set's
    Session& s = other.new_session();
    for (int i = 0; i < 3; ++i)
      s.write();
    REQUIRE(other.catalog().size() == 2);
    for (const auto& row : other.catalog())
      CHECK(row.labels == labelled.labels);
    CHECK(commit_count(other.rank_dir()) == 4);  // 2 unlabelled + 2 labelled
  }
}

TEST_CASE("metadata round trip, unsupported objects rejected") {
  TempDir tmp;
  Warnings warnings;
  const TimePoint start = parse_utc("2026-07-01T06:00:00.123456789Z");
  const Metadata metadata{
      {"lead_time", Duration(42h + 30min)},
      {"completed_units", Value::List{Value(0), Value(1), Value(7)}},
      {"single_unit", Value::List{Value(std::int64_t{5})}},  // one element stays a list
      {"start_time", start},
      {"seed", Value(std::uint64_t{18446744073709551615ull})},
      {"amplitude", 0.25},
      {"overflow", std::numeric_limits<double>::infinity()},
      {"model", "swe"},
      {"finished", false},
      {"nothing", nullptr},
      {"nested", Value::Map{{"a", Value::List{Value("x"), Value(1.5)}}, {"b", Value(-3)}}},
  };
  {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    Session& session = checkpoint.new_session();
    session.record_unit("2026-07-01T06:00:00Z/member_007", 12);
    session.write(metadata);

    SUBCASE("an array in metadata is rejected at write, nothing changes") {
      NdArray array{DType::Float64, {2}, std::vector<std::byte>(16)};
      CHECK_THROWS_AS(session.write({{"field", array}}), CodecError);
      CHECK(session.write_count() == 1);
      CHECK_FALSE(session.metadata().contains("field"));
      CHECK_THROWS_AS(session.flush({{"field", array}}), CodecError);
      CHECK(checkpoint.catalog().size() == 1);
    }
  }
  Checkpoint reopened(options_for(tmp / "ckpt", warnings));
  SessionScope scope(reopened);
  REQUIRE(scope->exists());
  CHECK(scope->metadata() == metadata);
  CHECK(scope->lead_time() == Duration(42h + 30min));
  CHECK(scope->metadata().at("completed_units").as<Value::List>().size() == 3);
  CHECK(scope->metadata().at("single_unit").is<Value::List>());
  CHECK(scope->metadata().at("seed").as<std::uint64_t>() == 18446744073709551615ull);
  CHECK(scope->metadata().at("start_time").as<TimePoint>() == start);
  CHECK(scope->units().at("2026-07-01T06:00:00Z/member_007") == 12);
  CHECK(reopened.catalog().back().units == scope->units());
}

TEST_CASE("write rollback on commit failure") {
  TempDir tmp;
  Warnings warnings;

  SUBCASE("a state whose encoding throws rolls back write count, metadata and units") {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    auto field = checkpoint.bind(FieldState{}, 0);
    Session& session = checkpoint.new_session();
    session.write({{"lead_time", Duration(6h)}});
    REQUIRE(session.write_count() == 1);
    const std::string committed = session.commit_id();

    field->fields.shape = {2, 2};
    field->fields.data = {1.0, 2.0, 3.0};  // 3 values for 4 elements: cannot be encoded
    session.record_unit("member_000", 1);
    CHECK_THROWS_AS(session.write({{"lead_time", Duration(12h)}, {"extra", 1}}), CodecError);
    CHECK(session.write_count() == 1);
    CHECK(session.lead_time() == Duration(6h));
    CHECK_FALSE(session.metadata().contains("extra"));
    CHECK(session.units().at("member_000") == 1);  // recorded before the failed write
    CHECK(session.commit_id() == committed);
    CHECK(checkpoint.catalog().size() == 1);
    CHECK(commit_count(checkpoint.rank_dir()) == 1);

    CHECK_THROWS_AS(session.flush({{"extra", 2}}), CodecError);
    CHECK_FALSE(session.metadata().contains("extra"));

    field->fields.data.push_back(4.0);
    session.write({{"lead_time", Duration(12h)}});
    CHECK(session.write_count() == 2);
    CHECK(checkpoint.catalog().back().units.at("member_000") == 1);
  }

  SUBCASE("a store that cannot take the commit (commits/ is a file) rolls back too") {
    // Synchronous commits fail in the write() itself; test_checkpoint_async.cpp has the
    // asynchronous case, whose error surfaces at the next write, flush or wait.
    auto options = options_for(tmp / "ckpt", warnings);
    options.async_commits = false;
    Checkpoint checkpoint(options);
    Session& session = checkpoint.new_session();
    fs::remove_all(checkpoint.rank_dir() / "commits");
    write_text(checkpoint.rank_dir() / "commits", "not a directory");
    CHECK_THROWS(session.write({{"lead_time", Duration(6h)}}));
    CHECK(session.write_count() == 0);
    CHECK(session.metadata().empty());
    CHECK_FALSE(session.exists());
    CHECK(checkpoint.catalog().empty());
  }
}
