// A rank's catalog.json: its rows as JSON and back (docs/checkpoint-format.md, "Rank catalog").
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/store.hpp"

namespace stormrun::store_detail {

CatalogRow row_from_manifest(const Manifest& manifest);
nlohmann::json row_to_json(const CatalogRow& row);
/// StoreError naming `where` and the field when the row is malformed.
CatalogRow row_from_json(const nlohmann::json& json, const std::string& where);

/// A catalog or manifest written by a newer stormrun: never "repaired" over, always an error.
class UnsupportedFormat : public StoreError {
 public:
  using StoreError::StoreError;
};

/// The whole file: {"format_version": 1, "rank": R, "rows": [...]}.
std::string catalog_text(const std::vector<CatalogRow>& rows, int rank);
/// Parses catalog.json; StoreError (naming the file and field) when it is malformed,
/// UnsupportedFormat when its format_version is not ours.
std::vector<CatalogRow> parse_catalog(const std::string& text, const std::filesystem::path& where,
                                      int rank);

/// Oldest first: by saved_at (strictly increasing within a rank dir), then write_count, id.
void sort_rows(std::vector<CatalogRow>& rows);

}  // namespace stormrun::store_detail
