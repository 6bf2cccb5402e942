// The rank directories of a store root: listing them and pruning those of an earlier run
// on more ranks.
#include <algorithm>
#include <limits>
#include <system_error>

#include "ledger_detail.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;

namespace detail {

std::optional<int> rank_of_dir_name(const std::string& name) {
  constexpr std::string_view prefix = "rank_";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  long long rank = 0;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    rank = rank * 10 + (name[i] - '0');
    if (rank > std::numeric_limits<int>::max()) return std::nullopt;
  }
  // Only the canonical spelling: "rank_12" or "rank_0000012" are not store directories.
  if (rank_dir_name(static_cast<int>(rank)) != name) return std::nullopt;
  return static_cast<int>(rank);
}

}  // namespace detail

namespace {

constexpr std::string_view kPrunedPrefix = ".pruned_";

struct RankDir {
  int rank;
  fs::path path;
};

std::vector<RankDir> rank_dirs_of(const fs::path& root) {
  std::vector<RankDir> dirs;
  std::error_code ec;
  const fs::file_status root_status = fs::status(root, ec);
  if (ec || !fs::exists(root_status)) return dirs;
  if (!fs::is_directory(root_status)) {
    throw StoreError("checkpoint dir " + root.string() +
                     " is not a directory; pass a directory to --checkpoint-dir");
  }
  fs::directory_iterator it(root, ec);
  if (ec) throw StoreError("cannot list checkpoint dir " + root.string() + ": " + ec.message());
  for (const auto& entry : it) {
    const auto rank = detail::rank_of_dir_name(entry.path().filename().string());
    // A symlinked rank dir is not ours to read or prune (the store never makes one).
    if (!rank || entry.is_symlink() || !entry.is_directory()) continue;
    dirs.push_back({*rank, entry.path()});
  }
  std::sort(dirs.begin(), dirs.end(),
            [](const RankDir& a, const RankDir& b) { return a.rank < b.rank; });
  return dirs;
}

void remove_tree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    throw StoreError("cannot remove " + path.string() + ": " + ec.message() +
                     "; remove it by hand (it is no longer part of the checkpoint)");
  }
}

}  // namespace

std::vector<fs::path> list_rank_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  for (auto& dir : rank_dirs_of(root))
    out.push_back(std::move(dir.path));
  return out;
}

std::vector<fs::path> prune_rank_dirs(const fs::path& root, int world_size) {
  if (world_size < 1) {
    throw std::invalid_argument("prune_rank_dirs: world size must be >= 1, got " +
                                std::to_string(world_size));
  }
  std::set<int> keep;
  for (int r = 0; r < world_size; ++r)
    keep.insert(r);
  return prune_rank_dirs(root, keep);
}

std::vector<fs::path> prune_rank_dirs(const fs::path& root, const std::set<int>& keep) {
  if (keep.empty()) throw std::invalid_argument("prune_rank_dirs: no rank dir to keep");
  std::vector<fs::path> removed;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return removed;

  // Leftovers of a prune that crashed after its rename: already out of the store.
  {
    fs::directory_iterator it(root, ec);
    if (ec) throw StoreError("cannot list checkpoint dir " + root.string() + ": " + ec.message());
    std::vector<fs::path> stale;
    for (const auto& entry : it) {
      const std::string name = entry.path().filename().string();
      if (name.compare(0, kPrunedPrefix.size(), kPrunedPrefix) == 0 &&
          detail::rank_of_dir_name(name.substr(kPrunedPrefix.size()))) {
        stale.push_back(entry.path());
      }
    }
    for (const auto& path : stale)
      remove_tree(path);
  }

  // Renamed first, all of them, then one fsync of ROOT: from then on no reader sees a
  // half-deleted rank dir, whatever happens during the slow removal.
  std::vector<fs::path> renamed;
  for (const auto& dir : rank_dirs_of(root)) {
    if (keep.contains(dir.rank)) continue;
    const fs::path target = root / (std::string(kPrunedPrefix) + rank_dir_name(dir.rank));
    fs::rename(dir.path, target, ec);
    if (ec) {
      throw StoreError("cannot rename " + dir.path.string() + " to " + target.string() +
                       " while pruning rank dirs of an earlier run: " + ec.message());
    }
    removed.push_back(dir.path);
    renamed.push_back(target);
  }
  if (renamed.empty()) return removed;
  fsync_dir(root);
  for (const auto& path : renamed)
    remove_tree(path);
  return removed;
}

}  // namespace stormrun::workflow
