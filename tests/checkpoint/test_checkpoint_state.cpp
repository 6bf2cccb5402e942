// Bound component state: binding handles, level gating, late filling and schema checks.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_test_support.hpp"

using namespace stormrun;
using namespace stormrun_test;
using namespace std::chrono_literals;

namespace {

/// Writes one row holding NoiseState{seed, step} (and FieldState when `field` is set).
std::string write_noise_row(const fs::path& root, std::uint64_t seed, std::int64_t step,
                            Warnings& warnings, int level = 2) {
  auto options = options_for(root, warnings);
  options.level = level;
  Checkpoint checkpoint(options);
  auto noise = checkpoint.bind(NoiseState{.seed = seed, .step = 0}, /*min_level=*/1);
  Session& session = checkpoint.new_session();
  noise->step = step;
  session.write({{"lead_time", Duration(std::chrono::hours(6 * step))}});
  return session.commit_id();
}

nlohmann::json read_manifest(const Checkpoint& checkpoint, const std::string& commit_id) {
  return nlohmann::json::parse(read_text(commit_dir(checkpoint, commit_id) / "manifest.json"));
}

}  // namespace

TEST_CASE("proxy metadata and rebinding") {
  TempDir tmp;
  Warnings warnings;
  write_noise_row(tmp / "ckpt", 11, 3, warnings);

  auto options = options_for(tmp / "ckpt", warnings);
  options.flush_interval = 2;
  options.staging_device = "cuda:1";
  Checkpoint checkpoint(options);
  auto noise = checkpoint.bind(NoiseState{}, 1);
  // Before a session: no metadata, no writes, but the checkpoint's settings.
  CHECK(noise.enabled());
  CHECK(noise.level() == 2);
  CHECK_FALSE(noise.loaded());
  CHECK(noise.metadata().empty());
  CHECK_FALSE(noise.lead_time().has_value());
  CHECK(noise.write_count() == 0);
  CHECK(noise.staging_device() == "cuda:1");

  SessionScope scope(checkpoint);
  CHECK(noise.loaded());
  CHECK(noise->seed == 11);
  CHECK(noise.lead_time() == Duration(18h));
  CHECK(&noise.metadata() == &scope->metadata());
  CHECK(noise.write_count() == 1);
  CHECK(noise.will_flush());  // write 2 will commit with flush_interval 2
  noise->step = 4;            // fields read and write through the handle
  scope->write({{"lead_time", Duration(24h)}});
  CHECK(noise.write_count() == 2);
  CHECK_FALSE(noise.will_flush());
  CHECK(noise.lead_time() == Duration(24h));

  // Moving a handle moves the binding; the moved-from handle is unusable.
  StateBinding<NoiseState> moved = std::move(noise);
  CHECK(moved->step == 4);
  CHECK_THROWS_AS(noise.enabled(), CheckpointError);

  // After the handle is destroyed the identity can be bound again.
  { StateBinding<NoiseState> gone = std::move(moved); }
  auto again = checkpoint.bind(NoiseState{.seed = 99}, 1);
  CHECK(again->seed == 99);  // the row's state went to the first binding, once
  CHECK_FALSE(again.loaded());
  CHECK(again.enabled());

  // A handle that outlives its checkpoint keeps its record and reads as disabled.
  std::optional<StateBinding<NoiseState>> survivor;
  {
    Checkpoint short_lived(options_for(tmp / "other", warnings));
    survivor.emplace(short_lived.bind(NoiseState{.seed = 5}, 0));
    CHECK(survivor->enabled());
  }
  CHECK((*survivor)->seed == 5);
  CHECK_FALSE(survivor->enabled());
  CHECK(survivor->metadata().empty());
}

TEST_CASE("round trip fills the record and the catalog") {
  TempDir tmp;
  Warnings warnings;
  std::string commit_id;
  {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    auto noise = checkpoint.bind(NoiseState{.seed = 7}, 1);
    SessionScope scope(checkpoint);
    for (int step = 1; step <= 3; ++step) {
      noise->step = step;
      scope->write({{"lead_time", Duration(std::chrono::hours(6 * step))}});
    }
    commit_id = scope->commit_id();
  }
  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  const auto rows = checkpoint.catalog();
  REQUIRE(rows.size() == 3);  // default append, history 3
  const CatalogRow& row = rows.back();
  CHECK(row.commit_id == commit_id);
  CHECK(row.write_count == 3);
  CHECK(row.rank == 0);
  CHECK(row.world_size == 1);
  CHECK(row.state_ids == std::vector<std::string>{"test.NoiseState"});
  CHECK(decode_metadata(row.metadata, "row").at("lead_time") == Value(Duration(18h)));
  CHECK_FALSE(row.saved_at.empty());

  const auto manifest = read_manifest(checkpoint, commit_id);
  CHECK(manifest.at("name") == "test-run");
  CHECK(manifest.at("states").at("test.NoiseState").at("schema_hash") == schema_hash<NoiseState>());

  auto noise = checkpoint.bind(NoiseState{}, 1);
  SessionScope scope(checkpoint);
  CHECK(noise.loaded());
  CHECK(noise->seed == 7);
  CHECK(noise->step == 3);
  CHECK(scope->write_count() == 3);
}

TEST_CASE("state with arrays round trips and its .npy is in the commit") {
  TempDir tmp;
  Warnings warnings;
  FieldState saved;
  saved.model = "swe";
  saved.step = 5;
  saved.lead = 30h;
  saved.members = {0, 3, 4};
  saved.fields.shape = {2, 3, 4};
  for (int i = 0; i < 24; ++i)
    saved.fields.data.push_back(0.5 * i - 3.0);
  saved.fields.data[7] = -0.0;
  std::string commit_id;
  {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    auto field = checkpoint.bind(saved, 2);
    Session& session = checkpoint.new_session();
    session.write();
    commit_id = session.commit_id();
  }
  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  const fs::path dir = commit_dir(checkpoint, commit_id);
  std::vector<fs::path> npy_files;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "states"))
    if (entry.path().extension() == ".npy") npy_files.push_back(entry.path());
  REQUIRE(npy_files.size() == 1);
  CHECK(read_text(npy_files[0]).substr(0, 6) == "\x93NUMPY");
  // Written from the bound record (header and payload as parts, no copy), the file is
  // byte for byte the .npy of the field (numpy.save's bytes, tests/codec/test_npy.cpp).
  const auto expected = npy_encode(to_value(saved.fields).as<NdArray>());
  CHECK(read_text(npy_files[0]) ==
        std::string(reinterpret_cast<const char*>(expected.data()), expected.size()));
  const auto manifest = read_manifest(checkpoint, commit_id);
  const std::string relative = fs::relative(npy_files[0], dir).generic_string();
  CHECK(manifest.at("files").contains(relative));

  auto field = checkpoint.bind(FieldState{}, 2);
  SessionScope scope(checkpoint);
  REQUIRE(field.loaded());
  CHECK(field->model == "swe");
  CHECK(field->step == 5);
  CHECK(field->lead == Duration(30h));
  CHECK(field->members == saved.members);
  CHECK(field->fields.shape == saved.fields.shape);
  // Bit-exact, including the sign of zero.
  CHECK(std::memcmp(field->fields.data.data(), saved.fields.data.data(), 24 * sizeof(double)) == 0);
}

TEST_CASE("level 0 skips component state") {
  TempDir tmp;
  Warnings warnings;
  std::string commit_id;
  {
    auto options = options_for(tmp / "ckpt", warnings);
    options.level = 0;
    Checkpoint checkpoint(options);
    auto noise = checkpoint.bind(NoiseState{.seed = 1}, 1);
    auto field = checkpoint.bind(FieldState{}, 2);
    auto progress = checkpoint.bind(InnerState{.a = 9}, 0);  // min_level 0: always saved
    CHECK_FALSE(noise.enabled());
    CHECK_FALSE(field.enabled());
    CHECK(progress.enabled());
    Session& session = checkpoint.new_session();
    session.write({{"lead_time", Duration(6h)}});
    commit_id = session.commit_id();
    const auto manifest = read_manifest(checkpoint, commit_id);
    CHECK(manifest.at("states").size() == 1);
    CHECK(manifest.at("states").contains("test.InnerState"));
    CHECK_FALSE(fs::exists(commit_dir(checkpoint, commit_id) / "states" / "test.NoiseState.json"));
    CHECK(checkpoint.catalog().back().state_ids == std::vector<std::string>{"test.InnerState"});
    CHECK(session.lead_time() == Duration(6h));  // progress metadata is still recorded
  }
  {
    // Level 1 saves the min_level-1 state but not the level-2 one.
    auto options = options_for(tmp / "ckpt1", warnings);
    options.level = 1;
    Checkpoint checkpoint(options);
    auto noise = checkpoint.bind(NoiseState{.seed = 1}, 1);
    auto field = checkpoint.bind(FieldState{}, 2);
    checkpoint.new_session().write();
    CHECK(checkpoint.catalog().back().state_ids == std::vector<std::string>{"test.NoiseState"});
  }
  {
    // A level-2 state of a level-2 row is not restored at level 1.
    auto options = options_for(tmp / "ckpt2", warnings);
    {
      Checkpoint checkpoint(options);
      auto field = checkpoint.bind(FieldState{.model = "saved"}, 2);
      checkpoint.new_session().write();
    }
    options.level = 1;
    Checkpoint checkpoint(options);
    auto field = checkpoint.bind(FieldState{.model = "fresh"}, 2);
    SessionScope scope(checkpoint);
    CHECK(scope->exists());
    CHECK_FALSE(field.loaded());
    CHECK(field->model == "fresh");
  }
}

TEST_CASE("duplicate state type errors") {
  TempDir tmp;
  Warnings warnings;
  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  auto first = checkpoint.bind(NoiseState{.seed = 1}, 1);
  CHECK_THROWS_WITH_AS(checkpoint.bind(NoiseState{.seed = 2}, 1),
                       doctest::Contains("state collision: 'test.NoiseState'"), CheckpointError);
  // Another C++ type with the same identity collides too.
  CHECK_THROWS_WITH_AS(checkpoint.bind(NoiseStateV2{}, 1), doctest::Contains("test.NoiseState"),
                       CheckpointError);
  CHECK_THROWS_WITH_AS(checkpoint.bind(InnerState{}, 3), doctest::Contains("min_level 3"),
                       CheckpointError);
  CHECK(first->seed == 1);  // the failed binds left the first one alone
  {
    Checkpoint disabled = Checkpoint::disabled();
    auto a = disabled.bind(NoiseState{}, 1);
    CHECK_THROWS_AS(disabled.bind(NoiseState{}, 1), CheckpointError);
  }
  { StateBinding<NoiseState> released = std::move(first); }
  auto second = checkpoint.bind(NoiseState{.seed = 2}, 1);
  CHECK(second->seed == 2);
}

TEST_CASE("bind before a new session is adopted on enter") {
  TempDir tmp;
  Warnings warnings;
  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  auto noise = checkpoint.bind(NoiseState{.seed = 21}, 1);
  {
    SessionScope scope(checkpoint);  // empty store: a new session
    CHECK_FALSE(scope->exists());
    CHECK_FALSE(noise.loaded());
    CHECK(noise->seed == 21);
    noise->step = 8;
    scope->write();
  }
  CHECK(warnings.lines.empty());
  const auto manifest = read_manifest(checkpoint, checkpoint.catalog().back().commit_id);
  const std::string state_path = manifest.at("states").at("test.NoiseState").at("path");
  const auto saved = nlohmann::json::parse(
      read_text(commit_dir(checkpoint, checkpoint.catalog().back().commit_id) / state_path));
  CHECK(decode_value(saved, nullptr, "state") == state_to_value(NoiseState{.seed = 21, .step = 8}));
}

TEST_CASE("bind before an existing session warns and fills late") {
  TempDir tmp;
  Warnings warnings;
  write_noise_row(tmp / "ckpt", 31, 6, warnings);
  REQUIRE(warnings.lines.empty());

  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  auto noise = checkpoint.bind(NoiseState{.seed = 1}, 1);
  CHECK(noise->seed == 1);  // nothing to fill from before a session
  {
    SessionScope scope(checkpoint);
    CHECK(noise.loaded());
    CHECK(noise->seed == 31);
    CHECK(noise->step == 6);
    CHECK(warnings.contains("test.NoiseState"));
    CHECK(warnings.contains("filled late"));
  }
  CHECK_FALSE(noise.loaded());  // no session, nothing loaded

  SUBCASE("binding while a restored session is active fills at once, without a warning") {
    { StateBinding<NoiseState> released = std::move(noise); }
    warnings.lines.clear();
    SessionScope scope(checkpoint);
    REQUIRE(scope->exists());
    auto late = checkpoint.bind(NoiseState{.seed = 2}, 1);
    CHECK(late.loaded());
    CHECK(late->seed == 31);
    CHECK(warnings.lines.empty());
  }

  SUBCASE("binding after the session's first commit does not restore the old row") {
    { StateBinding<NoiseState> released = std::move(noise); }
    warnings.lines.clear();
    SessionScope scope(checkpoint);
    scope->write();
    auto late = checkpoint.bind(NoiseState{.seed = 2}, 1);
    CHECK_FALSE(late.loaded());
    CHECK(late->seed == 2);
    CHECK(warnings.contains("bound after this session's first commit"));
  }
}

TEST_CASE("schema mismatch errors before filling") {
  TempDir tmp;
  Warnings warnings;
  write_noise_row(tmp / "ckpt", 41, 2, warnings);

  SUBCASE("a record bound before the session: the session is not opened") {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    auto changed = checkpoint.bind(NoiseStateV2{.seed = 5, .step = 6, .amplitude = 0.5}, 1);
    CHECK_THROWS_AS(checkpoint.open_latest(), SchemaError);
    CHECK_THROWS_WITH_AS(checkpoint.select(-1), doctest::Contains("schema hash"), SchemaError);
    CHECK_FALSE(checkpoint.has_session());
    CHECK(changed->seed == 5);
    CHECK(changed->step == 6);
    CHECK(changed->amplitude == 0.5);
    CHECK_FALSE(changed.loaded());
  }

  SUBCASE("a record bound during a restored session: not bound, the right type still binds") {
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    SessionScope scope(checkpoint);
    CHECK_THROWS_AS(checkpoint.bind(NoiseStateV2{}, 1), SchemaError);
    auto noise = checkpoint.bind(NoiseState{}, 1);
    CHECK(noise->seed == 41);
  }

  SUBCASE("nested records are checked too") {
    TempDir nested_tmp;
    {
      Checkpoint checkpoint(options_for(nested_tmp / "ckpt", warnings));
      auto outer = checkpoint.bind(OuterState{.inner = {.a = 3}, .tag = "x"}, 0);
      checkpoint.new_session().write();
    }
    CHECK(schema_hash<OuterState>() != schema_hash<OuterStateV2>());
    Checkpoint checkpoint(options_for(nested_tmp / "ckpt", warnings));
    auto outer = checkpoint.bind(OuterStateV2{.inner = {.a = 1.5}, .tag = "keep"}, 0);
    CHECK_THROWS_AS(checkpoint.open_latest(), SchemaError);
    CHECK(outer->inner.a == 1.5);
    CHECK(outer->tag == "keep");
  }
}
