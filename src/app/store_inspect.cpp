#include "app/store_inspect.hpp"

#include <fstream>
#include <sstream>

#include "checkpoint/store/catalog_file.hpp"
#include "stormrun/workflow/ledger.hpp"
#include "workflow/ledger_detail.hpp"

namespace stormrun::app {

namespace fs = std::filesystem;

std::vector<fs::path> rank_dirs(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw StoreError(root.string() + ": not a directory (expected a checkpoint store root)");
  }
  return workflow::list_rank_dirs(root);
}

namespace {

std::optional<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

RankListing read_rank_listing(const fs::path& rank_dir) {
  RankListing listing;
  listing.dir = rank_dir;
  listing.rank = workflow::detail::rank_of_dir_name(rank_dir.filename().string()).value();
  const fs::path catalog = rank_dir / "catalog.json";
  const auto text = read_text(catalog);
  if (!text) {
    listing.catalog_problem = "catalog.json is missing (rebuilt from the manifests on next open)";
    return listing;
  }
  try {
    listing.rows = store_detail::parse_catalog(*text, catalog, listing.rank);
  } catch (const StoreError& e) {
    listing.catalog_problem = e.what();
  }
  return listing;
}

}  // namespace stormrun::app
