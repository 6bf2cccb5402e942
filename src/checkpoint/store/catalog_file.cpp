#include "store/catalog_file.hpp"

#include <algorithm>
#include <tuple>

#include "store/json_fields.hpp"

namespace stormrun::store_detail {

namespace fs = std::filesystem;
using nlohmann::json;

CatalogRow row_from_manifest(const Manifest& m) {
  CatalogRow row;
  row.commit_id = m.commit_id;
  row.labels = m.labels;
  row.metadata = m.metadata;
  row.write_count = m.write_count;
  row.saved_at = m.saved_at;
  row.rank = m.rank;
  row.world_size = m.world_size;
  for (const auto& [id, s] : m.states)
    row.state_ids.push_back(id);
  row.units = m.units;
  return row;
}

json row_to_json(const CatalogRow& row) {
  return json{
      {"commit_id", row.commit_id},     {"labels", row.labels},       {"metadata", row.metadata},
      {"write_count", row.write_count}, {"saved_at", row.saved_at},   {"rank", row.rank},
      {"world_size", row.world_size},   {"state_ids", row.state_ids}, {"units", row.units}};
}

CatalogRow row_from_json(const json& j, const std::string& where) {
  const JsonFields f(j, where);
  CatalogRow row;
  row.commit_id = f.string("commit_id");
  if (!is_commit_id(row.commit_id)) {
    f.fail("commit_id", "'" + row.commit_id + "' is not of the form commit_<8 digits>_<12 hex>");
  }
  row.labels = f.string_map("labels");
  row.metadata = f.object("metadata");
  row.write_count = f.integer("write_count", 0);
  row.saved_at = f.string("saved_at");
  const auto world = f.integer("world_size", 1);
  const auto rank = f.integer("rank", 0);
  if (world > INT32_MAX || rank >= world) {
    f.fail("rank", std::to_string(rank) + " is not below world_size " + std::to_string(world));
  }
  row.rank = static_cast<int>(rank);
  row.world_size = static_cast<int>(world);
  const auto& ids = f.required("state_ids");
  if (!ids.is_array()) f.fail("state_ids", "must be an array of strings");
  for (const auto& id : ids) {
    if (!id.is_string()) f.fail("state_ids", "must be an array of strings");
    row.state_ids.push_back(id.get<std::string>());
  }
  row.units = f.integer_map("units");
  return row;
}

std::string catalog_text(const std::vector<CatalogRow>& rows, int rank) {
  json out_rows = json::array();
  for (const auto& r : rows)
    out_rows.push_back(row_to_json(r));
  const json doc{{"format_version", kCheckpointFormatVersion}, {"rank", rank}, {"rows", out_rows}};
  return doc.dump(2) + "\n";
}

std::vector<CatalogRow> parse_catalog(const std::string& text, const fs::path& where, int rank) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // a syntax error, or a number out of range
    throw StoreError(where.string() + ": not valid JSON (" + e.what() + ")");
  }
  const JsonFields f(doc, where.string());
  const auto version = f.integer("format_version", 1);
  if (version < kOldestCheckpointFormatVersion || version > kCheckpointFormatVersion) {
    throw UnsupportedFormat(where.string() + ": format_version " + std::to_string(version) +
                            " is not supported (this stormrun reads checkpoint format versions " +
                            std::to_string(kOldestCheckpointFormatVersion) + " to " +
                            std::to_string(kCheckpointFormatVersion) +
                            "); use the stormrun version that wrote this checkpoint");
  }
  if (f.integer("rank", 0) != rank) {
    f.fail("rank", "does not match the directory's rank " + std::to_string(rank));
  }
  const auto& rows_json = f.required("rows");
  if (!rows_json.is_array()) f.fail("rows", "must be an array");
  std::vector<CatalogRow> rows;
  for (std::size_t i = 0; i < rows_json.size(); ++i) {
    rows.push_back(
        row_from_json(rows_json[i], where.string() + ": rows[" + std::to_string(i) + "]"));
  }
  return rows;
}

void sort_rows(std::vector<CatalogRow>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const CatalogRow& a, const CatalogRow& b) {
    return std::tie(a.saved_at, a.write_count, a.commit_id) <
           std::tie(b.saved_at, b.write_count, b.commit_id);
  });
}

}  // namespace stormrun::store_detail
