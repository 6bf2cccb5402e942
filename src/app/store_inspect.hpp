// Read-only inspection of a checkpoint store for `stormrun catalog` and `stormrun verify`:
// never repairs, locks or writes anything.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/store.hpp"

namespace stormrun::app {

/// One rank directory of a store as found on disk.
struct RankListing {
  int rank = 0;
  std::filesystem::path dir;
  std::vector<CatalogRow> rows;                ///< from its catalog.json (empty when unreadable)
  std::optional<std::string> catalog_problem;  ///< why catalog.json could not be read
};

/// The rank_NNNNNN directories of `root`, in rank order; StoreError naming `root` when it
/// is not a directory.
std::vector<std::filesystem::path> rank_dirs(const std::filesystem::path& root);
/// Reads one rank's catalog.json without repairing it.
RankListing read_rank_listing(const std::filesystem::path& rank_dir);
/// ROOT/catalog.json (the coordinator's global catalog), when present.
std::optional<nlohmann::json> read_global_catalog(const std::filesystem::path& root);

}  // namespace stormrun::app
