// Fixtures of the ledger tests: real rank directories written through the Checkpoint API
// (rows with units, the level-2 UnitStates record the run writes, and a fingerprint), a
// content hash of a directory tree, and small file helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/checkpoint.hpp"
#include "stormrun/workflow/ledger.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace ledger_test {

namespace fs = std::filesystem;
using TempDir = stormrun_test_support::TempDir;
using stormrun::Array;
using stormrun::model::Grid;
using stormrun::workflow::UnitStates;

inline const Grid kGrid{4, 8};
inline const std::vector<std::string> kVariables = {"h", "u", "v"};
inline const std::string kModel = "persistence";
inline const std::string kFingerprint = "0123456789abcdef";
/// The state id of UnitStates on disk.
inline const std::string kStateId = "stormrun.workflow.ParkedStates";

/// The test value of (unit, variable, point) at `step`: distinct per unit and step, with
/// bit patterns a wrong copy would change.
inline double field_value(const std::string& unit, std::int64_t step, std::size_t variable,
                          std::int64_t point) {
  double salt = 0;
  for (const char c : unit)
    salt = salt * 1.01 + double(static_cast<unsigned char>(c));
  return salt + double(step) * 1000.0 + double(variable) * 100.0 + 1.0 / double(point + 3);
}

/// The fields of `units` at their steps: [unit, variable, nlat, nlon].
inline Array<double> fields_of(const std::vector<std::string>& units,
                               const std::vector<std::int64_t>& steps) {
  Array<double> a;
  a.shape = {std::int64_t(units.size()), std::int64_t(kVariables.size()), kGrid.nlat, kGrid.nlon};
  for (std::size_t u = 0; u < units.size(); ++u)
    for (std::size_t v = 0; v < kVariables.size(); ++v)
      for (std::int64_t p = 0; p < kGrid.points(); ++p)
        a.data.push_back(field_value(units[u], steps[u], v, p));
  return a;
}

/// A UnitStates record of `units`, each at its own step.
inline UnitStates unit_states(const std::vector<std::string>& units,
                              const std::vector<std::int64_t>& steps) {
  return {kModel, kVariables, units, steps, fields_of(units, steps)};
}
/// A UnitStates record of `units`, all at `step`.
inline UnitStates unit_states(const std::vector<std::string>& units, std::int64_t step) {
  return unit_states(units, std::vector<std::int64_t>(units.size(), step));
}

/// One row to commit.
struct RowSpec {
  std::map<std::string, std::int64_t> units{};  ///< recorded with Session::record_unit
  std::optional<UnitStates> states{};           ///< the level-2 record (empty when unset)
  std::string fingerprint = kFingerprint;       ///< "" → no "fingerprint" metadata
};

/// Commits `rows` (one commit each, in order) into ROOT/rank_<rank> as rank `rank` of
/// `world_size` at checkpoint `level`, keeping every row, as directory commits (or packs
/// below `pack_below_bytes`). Returns the commit ids.
inline std::vector<std::string> write_rows(const fs::path& root, int rank, int world_size,
                                           int level, const std::vector<RowSpec>& rows,
                                           std::uint64_t pack_below_bytes = 0) {
  stormrun::CheckpointOptions options;
  options.name = "ledger-test";
  options.path = root;
  options.rank = rank;
  options.world_size = world_size;
  options.level = level;
  options.history_size = 0;
  options.warn = [](const std::string&) {};
  // Directory commits, so that tests can reach and damage one file of a commit; the
  // ledger reads packs (format 3) through the same code (test_store_root.cpp).
  options.pack_below_bytes = pack_below_bytes;
  stormrun::Checkpoint checkpoint(options);
  auto states = checkpoint.bind(UnitStates{}, 2);
  stormrun::Session& session = checkpoint.new_session();
  std::vector<std::string> ids;
  for (const RowSpec& row : rows) {
    *states = row.states.value_or(UnitStates{});
    for (const auto& [unit, step] : row.units)
      session.record_unit(unit, step);
    stormrun::Metadata metadata;
    if (!row.fingerprint.empty()) metadata["fingerprint"] = row.fingerprint;
    session.write(metadata);
    ids.push_back(session.commit_id());
  }
  return ids;
}

using stormrun_test_support::flip_byte;
using stormrun_test_support::read_text;
using stormrun_test_support::write_text;

/// The .npy file of a commit's state record's fields.
inline fs::path fields_file(const fs::path& commit_dir, const std::string& state_id = kStateId) {
  const auto manifest = nlohmann::json::parse(read_text(commit_dir / "manifest.json"));
  for (const auto& [rel, record] : manifest.at("files").items()) {
    if (rel.rfind("states/" + state_id + "/", 0) == 0 && rel.ends_with(".npy"))
      return commit_dir / rel;
  }
  throw std::runtime_error("no .npy of state " + state_id + " in " + commit_dir.string());
}

/// Every entry below `root` with its type, size, mode, mtime and content: equal before and
/// after an operation exactly when it changed nothing.
inline std::string tree_fingerprint(const fs::path& root) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path& path = it->path();
    const auto status = fs::symlink_status(path);
    std::string line = std::to_string(int(status.type())) + " " +
                       std::to_string(int(status.permissions())) + " " +
                       std::to_string(fs::last_write_time(path).time_since_epoch().count());
    if (fs::is_regular_file(status)) line += " " + read_text(path);
    entries[fs::relative(path, root).string()] = line;
  }
  std::string out;
  for (const auto& [path, line] : entries)
    out += path + "\n" + line + "\n";
  return out;
}

}  // namespace ledger_test
