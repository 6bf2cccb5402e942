// The checkpoint on its store: options, default paths, rank directories, the LOCK,
// catalog rebuild and damaged rows.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>

#include "checkpoint/checkpoint_test_support.hpp"

using namespace stormrun;
using namespace stormrun_test;
using namespace std::chrono_literals;

namespace {

/// Sets (or unsets, with nullopt) environment variables for one test, restoring them after.
class EnvGuard {
 public:
  void set(const std::string& name, std::optional<std::string> value) {
    if (!saved_.contains(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value)
      ::setenv(name.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

/// Clears every variable rank detection reads, so that only what a test sets counts.
void clear_launcher_env(EnvGuard& env) {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                           "SLURM_PROCID", "SLURM_NTASKS", "RANK", "WORLD_SIZE", "LOCAL_RANK"})
    env.set(name, std::nullopt);
}

/// Commits rows holding NoiseState{seed, step = write} and returns their commit ids.
std::vector<std::string> write_rows(const fs::path& root, int count, Warnings& warnings) {
  Checkpoint checkpoint(options_for(root, warnings));
  auto noise = checkpoint.bind(NoiseState{.seed = 17}, 1);
  Session& session = checkpoint.new_session();
  std::vector<std::string> ids;
  for (int i = 1; i <= count; ++i) {
    noise->step = i;
    session.write({{"lead_time", Duration(std::chrono::hours(6 * i))}});
    ids.push_back(session.commit_id());
  }
  return ids;
}

fs::path noise_state_file(const fs::path& root, const std::string& commit_id) {
  return root / rank_dir_name(0) / "commits" / commit_id / "states" / "test.NoiseState.json";
}

}  // namespace

TEST_CASE("options validation errors name the option") {
  TempDir tmp;
  Warnings warnings;
  const auto valid = options_for(tmp / "ckpt", warnings);
  CHECK_NOTHROW(valid.validate());
  auto check_invalid = [&](auto mutate, const std::string& option, const std::string& value) {
    auto options = valid;
    mutate(options);
    CAPTURE(option);
    CHECK_THROWS_WITH_AS(options.validate(), doctest::Contains((option + " = " + value).c_str()),
                         CheckpointError);
    CHECK_THROWS_AS(Checkpoint{options}, CheckpointError);
  };
  check_invalid([](auto& o) { o.name = ""; }, "name", "''");
  check_invalid([](auto& o) { o.name = "a/b"; }, "name", "'a/b'");
  check_invalid([](auto& o) { o.name = ".."; }, "name", "'..'");
  check_invalid([](auto& o) { o.flush_interval = 0; }, "flush_interval", "0");
  check_invalid([](auto& o) { o.history_size = -1; }, "history_size", "-1");
  check_invalid([](auto& o) { o.level = 3; }, "level", "3");
  check_invalid([](auto& o) { o.level = -1; }, "level", "-1");
  check_invalid([](auto& o) { o.rank = -1; }, "rank", "-1");
  check_invalid([](auto& o) { o.world_size = 0; }, "world_size", "0");
  check_invalid([](auto& o) { o.rank = 2, o.world_size = 2; }, "rank", "2");
  check_invalid([](auto& o) { o.staging_device = "gpu"; }, "staging_device", "'gpu'");
  check_invalid([](auto& o) { o.staging_device = "cuda:x"; }, "staging_device", "'cuda:x'");
  auto ok = valid;
  ok.staging_device = "cuda:3";
  ok.flush_interval = std::nullopt;
  CHECK_NOTHROW(ok.validate());
}

TEST_CASE("defensive paths and catalog rebuild") {
  TempDir tmp;
  Warnings warnings;

  SUBCASE("a path that is a regular file is refused") {
    write_text(tmp / "file", "x");
    auto options = options_for(tmp / "file", warnings);
    CHECK_THROWS_WITH_AS(Checkpoint{options},
                         doctest::Contains(("path = " + (tmp / "file").string()).c_str()),
                         CheckpointError);
  }

  SUBCASE("the default path follows STORMRUN_CHECKPOINT_ROOT, then XDG_CACHE_HOME") {
    EnvGuard env;
    env.set("STORMRUN_CHECKPOINT_ROOT", (tmp / "roots").string());
    auto options = options_for({}, warnings);
    {
      Checkpoint checkpoint(options);
      CHECK(checkpoint.root() == tmp / "roots" / "test-run");
      CHECK(checkpoint.rank_dir() == tmp / "roots" / "test-run" / "rank_000000");
      CHECK(fs::is_directory(checkpoint.rank_dir()));
    }
    env.set("STORMRUN_CHECKPOINT_ROOT", std::nullopt);
    env.set("XDG_CACHE_HOME", (tmp / "cache").string());
    Checkpoint checkpoint(options);
    CHECK(checkpoint.root() == tmp / "cache" / "stormrun" / "checkpoints" / "test-run");
  }

  SUBCASE("a missing or unparseable catalog.json is rebuilt from the manifests") {
    const auto ids = write_rows(tmp / "ckpt", 3, warnings);
    const fs::path catalog = tmp / "ckpt" / rank_dir_name(0) / "catalog.json";
    REQUIRE(fs::exists(catalog));
    for (const std::string damage : {"missing", "garbage"}) {
      CAPTURE(damage);
      if (damage == "missing")
        fs::remove(catalog);
      else
        write_text(catalog, "{ not json");
      Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
      const auto rows = checkpoint.catalog();
      REQUIRE(rows.size() == 3);
      for (std::size_t i = 0; i < 3; ++i)
        CHECK(rows[i].commit_id == ids[i]);
      auto noise = checkpoint.bind(NoiseState{}, 1);
      SessionScope scope(checkpoint);
      CHECK(scope->commit_id() == ids.back());
      CHECK(noise->step == 3);
    }
  }

  SUBCASE("a leftover staging directory is ignored and removed") {
    write_rows(tmp / "ckpt", 1, warnings);
    const fs::path stale = tmp / "ckpt" / rank_dir_name(0) / ".tmp_commit_00000009_0123456789ab";
    fs::create_directories(stale / "states");
    write_text(stale / "manifest.json", "{}");
    Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
    CHECK(checkpoint.catalog().size() == 1);
    SessionScope scope(checkpoint);
    scope->write();
    CHECK_FALSE(fs::exists(stale));
  }
}

TEST_CASE("damaged newest row is skipped for the newest valid one, with a warning") {
  TempDir tmp;
  Warnings warnings;
  const auto ids = write_rows(tmp / "ckpt", 2, warnings);
  const fs::path damaged = noise_state_file(tmp / "ckpt", ids[1]);
  flip_byte(damaged);
  warnings.lines.clear();

  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  auto noise = checkpoint.bind(NoiseState{}, 1);
  Session& session = checkpoint.open_latest();
  CHECK(session.commit_id() == ids[0]);
  CHECK(session.write_count() == 1);
  CHECK(noise->step == 1);
  CHECK(warnings.contains(ids[1]));
  CHECK(warnings.contains(damaged.filename().string()));
  INFO(warnings.all());

  // Asking for the damaged row by position is an error, not a silent fallback.
  checkpoint.close_session();
  CHECK_THROWS_AS(checkpoint.select(1), StoreError);
  CHECK(checkpoint.select(-1).commit_id() == ids[0]);
}

TEST_CASE("small commits are packs; a damaged pack is skipped for the newest valid row") {
  // The library's default: a commit smaller than pack_below_bytes is one regular file.
  TempDir tmp;
  Warnings warnings;
  auto options = options_for(tmp / "ckpt", warnings);
  options.pack_below_bytes = kDefaultPackBelowBytes;
  std::vector<std::string> ids;
  {
    Checkpoint checkpoint(options);
    auto noise = checkpoint.bind(NoiseState{.seed = 17}, 1);
    Session& session = checkpoint.new_session();
    for (int i = 1; i <= 3; ++i) {
      noise->step = i;
      session.write();
      ids.push_back(session.commit_id());
    }
    for (const auto& id : ids)
      CHECK(fs::is_regular_file(commit_dir(checkpoint, id)));
  }
  const fs::path rank_dir = tmp / "ckpt" / rank_dir_name(0);
  CHECK(commit_count(rank_dir) == 3);

  // Damage the newest pack's first member (offset 0 is always member bytes): its row is
  // skipped with a warning naming it, and the row before it restores.
  {
    std::string bytes = read_text(rank_dir / "commits" / ids[2]);
    bytes[0] = static_cast<char>(bytes[0] ^ 0x5a);
    write_text(rank_dir / "commits" / ids[2], bytes);
  }
  warnings.lines.clear();
  {
    Checkpoint checkpoint(options);
    auto noise = checkpoint.bind(NoiseState{}, 1);
    Session& session = checkpoint.open_latest();
    CHECK(session.commit_id() == ids[1]);
    CHECK(noise->step == 2);
    CHECK(warnings.contains(ids[2]));
    INFO(warnings.all());
    CHECK(fs::exists(rank_dir / "commits" / ids[2]));  // never deleted
  }

  // A pack cut short (a full disk, a copy stopped half-way): no footer, skipped the same way.
  fs::resize_file(rank_dir / "commits" / ids[1], fs::file_size(rank_dir / "commits" / ids[1]) / 2);
  warnings.lines.clear();
  Checkpoint checkpoint(options);
  auto noise = checkpoint.bind(NoiseState{}, 1);
  Session& session = checkpoint.open_latest();
  CHECK(session.commit_id() == ids[0]);
  CHECK(noise->step == 1);
  CHECK(warnings.contains(ids[1]));
  INFO(warnings.all());
}

TEST_CASE("the commit layout follows the state's size, synchronous and asynchronous") {
  TempDir tmp;
  Warnings warnings;
  for (const bool async : {true, false}) {
    CAPTURE(async);
    auto options = options_for(tmp / (async ? "async" : "sync"), warnings);
    options.async_commits = async;
    options.pack_below_bytes = 4096;
    options.mode = CheckpointMode::Append;
    options.history_size = 0;  // keep every commit, to look at each
    Checkpoint checkpoint(options);
    auto field = checkpoint.bind(FieldState{}, 1);
    Session& session = checkpoint.new_session();
    std::vector<std::string> ids;
    const auto commit_with = [&](std::int64_t values) {
      field->fields = Array<double>{{values}, std::vector<double>(std::size_t(values), 1.5)};
      session.write();
      ids.push_back(session.commit_id());
    };
    commit_with(8);     // small: an asynchronous commit knows it, a synchronous one does not yet
    commit_with(8);     // small, and the commit before it was small: a pack either way
    commit_with(2048);  // 16 KiB: asynchronous knows; synchronous follows the commit before
    commit_with(2048);  // large after large: a directory either way
    checkpoint.wait();
    const auto packed = [&](std::size_t i) {
      return fs::is_regular_file(commit_dir(checkpoint, ids[i]));
    };
    CHECK(packed(0) == async);
    CHECK(packed(1));
    CHECK(packed(2) == !async);
    CHECK_FALSE(packed(3));
    checkpoint.close_session();
    Session& again = checkpoint.open_latest();  // every layout reads back
    CHECK(again.commit_id() == ids[3]);
    CHECK(field->fields.shape == std::vector<std::int64_t>{2048});
  }
}

TEST_CASE("all rows damaged is a clear error, never a restore of wrong bytes") {
  TempDir tmp;
  Warnings warnings;
  const auto ids = write_rows(tmp / "ckpt", 2, warnings);
  for (const auto& id : ids)
    flip_byte(noise_state_file(tmp / "ckpt", id));

  Checkpoint checkpoint(options_for(tmp / "ckpt", warnings));
  auto noise = checkpoint.bind(NoiseState{.seed = 1, .step = 2}, 1);
  CHECK_THROWS_WITH_AS(checkpoint.open_latest(), doctest::Contains("no valid row"),
                       CheckpointError);
  CHECK_FALSE(checkpoint.has_session());
  CHECK(noise->seed == 1);
  CHECK(noise->step == 2);
  CHECK_FALSE(noise.loaded());
}

TEST_CASE("rank detection and rank directories") {
  TempDir tmp;
  Warnings warnings;

  SUBCASE("explicit rank and world size") {
    auto options = options_for(tmp / "ckpt", warnings);
    options.rank = 2;
    options.world_size = 4;
    Checkpoint checkpoint(options);
    CHECK(checkpoint.rank_dir() == tmp / "ckpt" / "rank_000002");
    Session& session = checkpoint.new_session();
    session.write({{"rank", 2}});
    const CatalogRow row = checkpoint.catalog().back();
    CHECK(row.rank == 2);
    CHECK(row.world_size == 4);
    const auto manifest =
        nlohmann::json::parse(read_text(commit_dir(checkpoint, row.commit_id) / "manifest.json"));
    CHECK(manifest.at("rank") == 2);
    CHECK(manifest.at("world_size") == 4);
    CHECK_FALSE(fs::exists(tmp / "ckpt" / "rank_000000"));
  }

  SUBCASE("from the launcher's environment (RANK / WORLD_SIZE)") {
    EnvGuard env;
    clear_launcher_env(env);
    env.set("RANK", "1");
    env.set("WORLD_SIZE", "3");
    auto options = options_for(tmp / "ckpt", warnings);
    options.rank.reset();
    options.world_size.reset();
    Checkpoint checkpoint(options);
    CHECK(checkpoint.options().rank == 1);
    CHECK(checkpoint.options().world_size == 3);
    CHECK(checkpoint.rank_dir() == tmp / "ckpt" / "rank_000001");
    checkpoint.new_session().write();
    CHECK(checkpoint.catalog().back().world_size == 3);
  }

  SUBCASE("serial defaults: rank 0 of 1; a rank beyond the detected world is refused") {
    EnvGuard env;
    clear_launcher_env(env);
    auto options = options_for(tmp / "ckpt", warnings);
    options.rank.reset();
    options.world_size.reset();
    {
      Checkpoint checkpoint(options);
      CHECK(checkpoint.options().rank == 0);
      CHECK(checkpoint.options().world_size == 1);
    }
    options.rank = 1;
    CHECK_THROWS_WITH_AS(Checkpoint{options}, doctest::Contains("world_size"), CheckpointError);
  }
}

TEST_CASE("LOCK refusal surfaces through Checkpoint") {
  TempDir tmp;
  Warnings warnings;
  int ready[2];
  int release[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(release) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Another job: holds the store's LOCK until the parent closes `release`.
    ::close(ready[0]);
    ::close(release[1]);
    int status = 0;
    try {
      Checkpoint holder(options_for(tmp / "ckpt", warnings));
      const char ok = 'k';
      if (::write(ready[1], &ok, 1) != 1) status = 2;
      char byte;
      while (::read(release[0], &byte, 1) > 0) {
      }
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  CHECK_THROWS_AS(Checkpoint{options_for(tmp / "ckpt", warnings)}, LockError);
  ::close(release[1]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::close(ready[0]);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // Released by its holder: this job takes it now.
  CHECK_NOTHROW(Checkpoint{options_for(tmp / "ckpt", warnings)});
}
