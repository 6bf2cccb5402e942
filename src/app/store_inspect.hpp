// Read-only inspection of a checkpoint store for `stormrun catalog` and `stormrun verify`:
// never repairs, locks or writes anything.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "stormrun/store.hpp"

namespace stormrun::app {

/// One rank directory of a store as found on disk.
struct RankListing {
  int rank = 0;
  std::filesystem::path dir;
  std::vector<CatalogRow> rows;                ///< from its catalog.json (empty when unreadable)
  std::optional<std::string> catalog_problem;  ///< why catalog.json could not be read
};

/// workflow::list_rank_dirs of `root`, which must exist: StoreError naming `root` when it is
/// not a directory. (The global catalog: workflow::read_global_catalog.)
std::vector<std::filesystem::path> rank_dirs(const std::filesystem::path& root);
/// Reads the catalog.json of one of those rank dirs without repairing it.
RankListing read_rank_listing(const std::filesystem::path& rank_dir);

}  // namespace stormrun::app
