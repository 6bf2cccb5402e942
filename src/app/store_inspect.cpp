#include "app/store_inspect.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "checkpoint/store/catalog_file.hpp"

namespace stormrun::app {

namespace fs = std::filesystem;

std::vector<fs::path> rank_dirs(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw StoreError(root.string() + ": not a directory (expected a checkpoint store root)");
  }
  static const std::regex kRankDir("rank_[0-9]{6}");
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory() && std::regex_match(entry.path().filename().string(), kRankDir)) {
      dirs.push_back(entry.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
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
  listing.rank = std::stoi(rank_dir.filename().string().substr(5));
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

std::optional<nlohmann::json> read_global_catalog(const fs::path& root) {
  const auto text = read_text(root / "catalog.json");
  if (!text) return std::nullopt;
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    throw StoreError((root / "catalog.json").string() + ": not valid JSON: " + e.what());
  }
}

}  // namespace stormrun::app
