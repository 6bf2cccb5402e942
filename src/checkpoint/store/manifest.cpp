// manifest.json of a commit: serialisation and validation (docs/checkpoint-format.md).
#include <span>
#include <string>

#include "store/json_fields.hpp"
#include "store/posix_file.hpp"
#include "stormrun/store.hpp"

namespace stormrun {

namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(CheckpointMode mode) {
  return mode == CheckpointMode::Overwrite ? "overwrite" : "append";
}

CheckpointMode parse_checkpoint_mode(const std::string& text) {
  if (text == "overwrite") return CheckpointMode::Overwrite;
  if (text == "append") return CheckpointMode::Append;
  throw StoreError("checkpoint mode '" + text + "' is not one of: overwrite, append");
}

namespace {

/// XXH3-64 (hex) of the compact JSON text of `j` without its "checksum" (nlohmann::json
/// objects keep their keys sorted, so the text is canonical).
std::string manifest_checksum(json j) {
  j.erase("checksum");
  const std::string text = j.dump();
  return xxh3_hex(std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace

json Manifest::to_json() const {
  json states_json = json::object();
  for (const auto& [id, s] : states) {
    states_json[id] = {{"path", s.path}, {"schema_hash", s.schema_hash}};
  }
  json files_json = json::object();
  for (const auto& [rel, f] : files)
    files_json[rel] = {{"bytes", f.bytes}, {"xxh3", f.xxh3}};
  json j{{"format_version", format_version},
         {"name", name},
         {"commit_id", commit_id},
         {"mode", to_string(mode)},
         {"rank", rank},
         {"world_size", world_size},
         {"labels", labels},
         {"metadata", metadata},
         {"write_count", write_count},
         {"saved_at", saved_at},
         {"states", std::move(states_json)},
         {"units", units},
         {"files", std::move(files_json)}};
  if (format_version >= 2) j["checksum"] = manifest_checksum(j);
  return j;
}

namespace {

bool is_xxh3_hex(const std::string& s) {
  if (s.size() != 16) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Manifest Manifest::from_json(const json& j, const fs::path& where) {
  const store_detail::JsonFields f(j, where.string());
  Manifest m;
  m.format_version = static_cast<int>(f.integer("format_version", 1));
  if (m.format_version < kOldestCheckpointFormatVersion ||
      m.format_version > kCheckpointFormatVersion) {
    f.fail("format_version", "is " + std::to_string(m.format_version) +
                                 ", but this stormrun reads checkpoint format versions " +
                                 std::to_string(kOldestCheckpointFormatVersion) + " to " +
                                 std::to_string(kCheckpointFormatVersion) +
                                 "; use a stormrun that matches the checkpoint");
  }
  m.name = f.string("name");
  m.commit_id = f.string("commit_id");
  if (!store_detail::is_commit_id(m.commit_id)) {
    f.fail("commit_id", "'" + m.commit_id + "' is not of the form commit_<8 digits>_<12 hex>");
  }
  const std::string mode = f.string("mode");
  if (mode != "overwrite" && mode != "append") {
    f.fail("mode", "'" + mode + "' is not one of: overwrite, append");
  }
  m.mode = parse_checkpoint_mode(mode);
  const auto world = f.integer("world_size", 1);
  const auto rank = f.integer("rank", 0);
  if (world > INT32_MAX) f.fail("world_size", "is too large");
  if (rank >= world) {
    f.fail("rank", std::to_string(rank) + " is not below world_size " + std::to_string(world));
  }
  m.rank = static_cast<int>(rank);
  m.world_size = static_cast<int>(world);
  m.labels = f.string_map("labels");
  m.metadata = f.object("metadata");
  m.write_count = f.integer("write_count", 0);
  m.saved_at = f.string("saved_at");
  m.units = f.integer_map("units");

  for (const auto& [rel, rec] : f.object("files").items()) {
    if (const std::string why = store_detail::relpath_error(rel); !why.empty()) {
      f.fail("files", "has path '" + rel + "' that " + why);
    }
    const store_detail::JsonFields rf(rec, where.string() + ": files." + rel);
    FileRecord r;
    r.bytes = static_cast<std::uint64_t>(rf.integer("bytes", 0));
    r.xxh3 = rf.string("xxh3");
    if (!is_xxh3_hex(r.xxh3)) rf.fail("xxh3", "'" + r.xxh3 + "' is not 16 lower-case hex digits");
    m.files.emplace(rel, std::move(r));
  }
  for (const auto& [id, rec] : f.object("states").items()) {
    const store_detail::JsonFields sf(rec, where.string() + ": states." + id);
    StateRecord s;
    s.path = sf.string("path");
    s.schema_hash = sf.string("schema_hash");
    if (const std::string why = store_detail::relpath_error(s.path); !why.empty()) {
      sf.fail("path", "'" + s.path + "' " + why);
    }
    if (!m.files.contains(s.path)) {
      sf.fail("path", "'" + s.path + "' is not one of the commit's files");
    }
    m.states.emplace(id, std::move(s));
  }
  // From version 2 the manifest carries its own checksum: an edited or damaged manifest
  // is never believed (its commit is skipped as damaged). Version 1 had none.
  if (m.format_version >= 2) {
    const std::string recorded = f.string("checksum");
    if (!is_xxh3_hex(recorded))
      f.fail("checksum", "'" + recorded + "' is not 16 lower-case hex digits");
    const std::string actual = manifest_checksum(j);
    if (actual != recorded)
      f.fail("checksum", "is " + recorded + ", but the manifest's content hashes to " + actual +
                             " (the manifest was edited or damaged)");
  }
  return m;
}

}  // namespace stormrun
