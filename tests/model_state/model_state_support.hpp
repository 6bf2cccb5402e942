// Fixtures of the model-state tests: a unique temporary directory, checkpoint options for a
// serial test store, and deterministic test fields.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"
#include "stormrun/model/model.hpp"
#include "support/temp_dir.hpp"

namespace model_state_test {

namespace fs = std::filesystem;

using TempDir = stormrun_test_support::TempDir;

/// Options of a serial test store at `root`; warnings are collected into `warnings`.
inline stormrun::CheckpointOptions checkpoint_options(const fs::path& root, int level,
                                                      std::vector<std::string>* warnings) {
  stormrun::CheckpointOptions options;
  options.name = "model-state-test";
  options.path = root;
  options.level = level;
  options.rank = 0;
  options.world_size = 1;
  options.warn = [warnings](const std::string& line) {
    if (warnings) warnings->push_back(line);
  };
  return options;
}

/// A batch whose every value is distinct and depends on `salt` (bit patterns that a wrong
/// copy or a wrong step would change).
inline stormrun::model::FieldBatch test_batch(stormrun::model::Grid grid,
                                              std::vector<std::string> variables,
                                              std::int64_t members, double salt) {
  stormrun::model::FieldBatch batch(grid, std::move(variables), members);
  for (std::size_t i = 0; i < batch.data.size(); ++i)
    batch.data[i] = salt + 1.0 / double(i + 3) + double(i % 17) * 0.125;
  return batch;
}

inline bool same_bytes(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace model_state_test
