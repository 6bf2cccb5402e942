// Read-only inspection of a checkpoint store for `stormrun catalog` and `stormrun verify`:
// never repairs, locks or writes anything.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/store.hpp"
#include "stormrun/workflow/ledger.hpp"

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

/// True when `root` holds a global catalog.json or a rank_NNNNNN directory: a store (a run
/// stopped before its first checkpoint has the catalog only).
bool is_store(const std::filesystem::path& root);

/// The last start of `stormrun run` on the store `root`, for scripts (`catalog --json`):
///   {"outcome": "complete" | "stopped" | "failed" | "in progress" | "unknown",
///    "exit": 0 | 75 | code | null, "steps": N | null, "started_at", "ended_at" (or null),
///    "world_size", "resumed", "note": why, when the outcome was not recorded}
/// from the global catalog's newest run entry (its "exit" recorded: 0 complete, 75 stopped,
/// else failed) and, when it recorded none, the LOCK: held by a live process (or one on
/// another host, which cannot be checked from here) → in progress; absent or left by a
/// process gone from this host → failed (killed, or aborted by a failure on one rank).
/// "unknown" without a global catalog (a store of the checkpoint library alone).
nlohmann::json last_run(const std::filesystem::path& root,
                        const std::optional<workflow::GlobalCatalog>& catalog);

/// ROOT/LOCK's holder ({"host", "pid", "job", "started_at", "alive": true | false | null
/// (another host)}), or null when there is no LOCK.
nlohmann::json lock_holder(const std::filesystem::path& root);

}  // namespace stormrun::app
