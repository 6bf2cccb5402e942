// Shared fixtures of the checkpoint session tests: a temporary store root, a warning
// collector, test state records and small file helpers.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace stormrun_test {

namespace fs = std::filesystem;

using TempDir = stormrun_test_support::TempDir;

/// Collects warnings so that tests can assert on them.
struct Warnings {
  std::vector<std::string> lines;
  stormrun::WarningSink sink() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
  bool contains(const std::string& text) const {
    for (const auto& line : lines)
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& line : lines)
      out += line + "\n";
    return out;
  }
};

inline stormrun::CheckpointOptions options_for(const fs::path& root, Warnings& warnings) {
  stormrun::CheckpointOptions options;
  options.name = "test-run";
  options.path = root;
  options.rank = 0;
  options.world_size = 1;
  options.warn = warnings.sink();
  // Every commit a directory of files, so that tests can reach and damage one file; the
  // pack layout of small commits has its own tests (pack_options, tests/store).
  options.pack_below_bytes = 0;
  return options;
}

using stormrun_test_support::flip_byte;
using stormrun_test_support::read_text;
using stormrun_test_support::write_text;

inline fs::path commit_dir(const stormrun::Checkpoint& checkpoint, const std::string& commit_id) {
  return checkpoint.rank_dir() / "commits" / commit_id;
}

/// Number of commits of a rank, directories and packs (what retention leaves on disk).
inline std::size_t commit_count(const fs::path& rank_dir) {
  std::size_t count = 0;
  if (!fs::exists(rank_dir / "commits")) return 0;
  for (const auto& entry : fs::directory_iterator(rank_dir / "commits")) {
    const bool staged = entry.path().filename().string().rfind(".tmp_", 0) == 0;
    count += !staged && (entry.is_directory() || entry.is_regular_file()) ? 1 : 0;
  }
  return count;
}

}  // namespace stormrun_test

// Test state records (identities are what the checkpoint stores).
struct NoiseState {
  std::uint64_t seed = 0;
  std::int64_t step = 0;
};
STORMRUN_STATE(NoiseState, "test.NoiseState", seed, step)

/// Same identity as NoiseState with another field set: a changed schema.
struct NoiseStateV2 {
  std::uint64_t seed = 0;
  std::int64_t step = 0;
  double amplitude = 0.0;
};
STORMRUN_STATE(NoiseStateV2, "test.NoiseState", seed, step, amplitude)

struct FieldState {
  std::string model{};
  std::int64_t step = -1;
  stormrun::Duration lead{};
  std::vector<std::int64_t> members{};
  stormrun::Array<double> fields{{0}, {}};  // empty; Array{} would be a 0-d array of 1 value
};
STORMRUN_STATE(FieldState, "test.FieldState", model, step, lead, members, fields)

struct InnerState {
  std::int64_t a = 0;
};
STORMRUN_STATE(InnerState, "test.InnerState", a)

struct InnerStateV2 {
  double a = 0;
};
STORMRUN_STATE(InnerStateV2, "test.InnerState", a)

struct OuterState {
  InnerState inner;
  std::string tag;
};
STORMRUN_STATE(OuterState, "test.OuterState", inner, tag)

/// Same identity and field names as OuterState; only the nested record's field type differs.
struct OuterStateV2 {
  InnerStateV2 inner;
  std::string tag;
};
STORMRUN_STATE(OuterStateV2, "test.OuterState", inner, tag)
