#include "app/store_inspect.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "checkpoint/store/catalog_file.hpp"
#include "stormrun/runtime/log.hpp"
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
  // A live run rewrites the file its previous catalog.json was in place (RankStore reuses it
  // as the next catalog's tmp file): a reader that kept the file open across two commits
  // could read a mix of two catalogs. The listing is taken from two reads in a row that agree.
  auto text = read_text(catalog);
  for (int read = 0; text && read < 8; ++read) {
    auto again = read_text(catalog);
    if (again == text) break;
    text = std::move(again);
  }
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

bool is_store(const fs::path& root) {
  std::error_code ec;
  return fs::exists(root / "catalog.json", ec) || !rank_dirs(root).empty();
}

namespace {

// True when `pid` runs on this host (a zombie does not: killed, not yet reaped).
bool process_alive(long long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  const auto stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  const auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return true;
  const char state = (*stat)[close + 2];
  return state != 'Z' && state != 'X';
}

}  // namespace

nlohmann::json lock_holder(const fs::path& root) {
  const auto text = read_text(root / "LOCK");
  if (!text) return nullptr;
  nlohmann::json holder = {{"host", nullptr},
                           {"pid", nullptr},
                           {"job", nullptr},
                           {"started_at", nullptr},
                           {"alive", nullptr}};
  try {
    const nlohmann::json lock = nlohmann::json::parse(*text);
    for (const char* key : {"host", "pid", "job", "started_at"})
      if (lock.contains(key)) holder[key] = lock.at(key);
    if (holder["host"].is_string() && holder["host"].get<std::string>() == runtime::host_name() &&
        holder["pid"].is_number_integer())
      holder["alive"] = process_alive(holder["pid"].get<long long>());
  } catch (const nlohmann::json::exception&) {
    holder["unreadable"] = true;
  }
  return holder;
}

nlohmann::json last_run(const fs::path& root,
                        const std::optional<workflow::GlobalCatalog>& catalog) {
  nlohmann::json out = {{"outcome", "unknown"},  {"exit", nullptr},     {"steps", nullptr},
                        {"started_at", nullptr}, {"ended_at", nullptr}, {"world_size", nullptr},
                        {"resumed", nullptr}};
  if (!catalog) {
    out["note"] = "no global catalog.json: not a store of `stormrun run`";
    return out;
  }
  nlohmann::json entry = nlohmann::json::object();
  if (catalog->runs.is_array() && !catalog->runs.empty() && catalog->runs.back().is_object())
    entry = catalog->runs.back();
  for (const char* key : {"exit", "steps", "started_at", "ended_at", "world_size", "resumed"})
    if (entry.contains(key)) out[key] = entry.at(key);
  if (entry.contains("exit") && entry.at("exit").is_number_integer()) {
    const int code = entry.at("exit").get<int>();
    out["outcome"] = code == 0 ? "complete" : code == 75 ? "stopped" : "failed";
    return out;
  }
  const nlohmann::json holder = lock_holder(root);
  if (!holder.is_null() && holder.at("alive") != false) {
    out["outcome"] = "in progress";
    if (holder.at("alive").is_null())
      out["note"] = "LOCK held by host " + holder.at("host").dump() +
                    " (not this host: in progress unless that job is gone)";
    return out;
  }
  out["outcome"] = "failed";
  out["note"] = std::string("the last start recorded no outcome and ") +
                (holder.is_null() ? "holds no LOCK" : "its LOCK's process is gone") +
                ": it was killed, or aborted by a failure on one rank; run the same command "
                "again to resume";
  return out;
}

}  // namespace stormrun::app
