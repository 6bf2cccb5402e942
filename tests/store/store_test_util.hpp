// Helpers shared by the store tests: temp dirs, scoped environment, a standard commit, and
// running code in a forked child.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "stormrun/store.hpp"
#include "support/temp_dir.hpp"

namespace stormrun::test {

using TempDir = stormrun_test_support::TempDir;

/// Sets (or unsets, with nullopt) environment variables and restores them on destruction.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ScopedEnv(std::initializer_list<std::pair<const char*, std::optional<std::string>>> vars) {
    for (const auto& [k, v] : vars)
      set(k, v);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  void set(const std::string& name, const std::optional<std::string>& value) {
    if (!saved_.contains(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) {
      if (v) {
        ::setenv(k.c_str(), v->c_str(), 1);
      } else {
        ::unsetenv(k.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

/// Collects warnings for assertions.
struct Warnings {
  std::vector<std::string> messages;
  WarningSink sink() {
    return [this](const std::string& m) { messages.push_back(m); };
  }
  bool any_contains(const std::string& needle) const {
    for (const auto& m : messages) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& m : messages)
      out += m + "\n";
    return out;
  }
};

inline WarningSink quiet() {
  return [](const std::string&) {};
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

inline const std::string kStatePath = "states/test.State/fields.json";
inline const std::string kArrayPath = "states/test.State/h.npy";

/// Commits one row with two state files whose content depends on `write_count`.
inline CatalogRow commit_row(RankStore& store, std::int64_t write_count, const Labels& labels,
                             const RetentionPolicy& policy,
                             CommitLayout layout = CommitLayout::Directory) {
  StagedCommit staged = store.stage(write_count, layout);
  staged.put(kStatePath, as_bytes("{\"step\": " + std::to_string(write_count) + "}"));
  staged.put(kArrayPath, as_bytes(std::string(4096, static_cast<char>('a' + write_count % 26))));
  Manifest m;
  m.name = "test-run";
  m.mode = policy.mode;
  m.rank = store.rank();
  m.world_size = store.rank() + 1;
  m.labels = labels;
  m.metadata = {{"lead_time", write_count * 6}};
  m.write_count = write_count;
  m.states["test.State"] = StateRecord{kStatePath, "0123abcd"};
  m.units = {{"2024-01-01T00:00:00Z/0", write_count}};
  return store.commit(std::move(staged), std::move(m), policy);
}

inline std::vector<std::int64_t> write_counts(const RankStore& store) {
  std::vector<std::int64_t> out;
  for (const auto& r : store.rows())
    out.push_back(r.write_count);
  return out;
}

/// Runs `fn` in a forked child; returns its exit status (128 + signal when killed). The
/// child never returns into the test framework.
inline int run_in_child(const std::function<void()>& fn) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int code = 0;
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      code = 1;
    } catch (...) {
      code = 2;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Names in `dir` that start with ".tmp_".
/// The .tmp_ entries of `dir` (staging, deletion or catalog leftovers), without the spares an
/// open store keeps for reuse (.tmp_spare_*, see spare_entries).
inline std::vector<std::string> tmp_entries(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind(".tmp_", 0) == 0 && name.rfind(".tmp_spare_", 0) != 0) out.push_back(name);
  }
  return out;
}

/// The spare files (.tmp_spare_*) in `dir`.
inline std::vector<std::string> spare_entries(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind(".tmp_spare_", 0) == 0) out.push_back(name);
  }
  return out;
}

}  // namespace stormrun::test
