// ROOT/catalog.json: the coordinator's record of the run that owns the store
// (docs/checkpoint-format.md, "Global catalog").
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "checkpoint/store/json_fields.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/store.hpp"
#include "stormrun/test_kill.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// 2: the store's manifests carry their own checksum (docs/checkpoint-format.md, "Format
// versions"); a store of format 1 is read and, once this stormrun writes, becomes 2.
constexpr int kGlobalCatalogFormat = 2;
constexpr int kOldestGlobalCatalogFormat = 1;
const std::set<std::string> kOutputStates = {"creating", "ready"};
/// What replace_file_durable names its tmp file beside ROOT/catalog.json.
constexpr const char* kTmpPrefix = ".tmp_catalog.json.";
const std::set<std::string> kStatuses = {"running", "stopped", "complete", "diverged", "failed"};

fs::path catalog_path(const fs::path& root) {
  return root / "catalog.json";
}

}  // namespace

json GlobalCatalog::to_json() const {
  // Always the writer's format: rows this stormrun adds are of its checkpoint format.
  json j = {{"format", kGlobalCatalogFormat},
            {"fingerprint_hash", fingerprint_hash},
            {"fingerprint", fingerprint},
            {"output", output},
            {"output_state", output_state},
            {"status", status},
            {"runs", runs}};
  if (!output_from_store.empty()) j["output_from_store"] = output_from_store;
  return j;
}

std::string output_from_store(const fs::path& root, const fs::path& output) {
  return output.lexically_relative(root).generic_string();
}

bool is_store_output(const GlobalCatalog& catalog, const fs::path& root, const fs::path& output) {
  return catalog.output == output.string() ||
         (!catalog.output_from_store.empty() &&
          catalog.output_from_store == output_from_store(root, output));
}

GlobalCatalog GlobalCatalog::from_json(const json& j, const fs::path& where) {
  const std::string what = where.string();
  try {
    const store_detail::JsonFields f(j, what);
    GlobalCatalog c;
    c.format = static_cast<int>(f.integer("format", 1));
    if (c.format < kOldestGlobalCatalogFormat || c.format > kGlobalCatalogFormat) {
      f.fail("format", "is " + std::to_string(c.format) + "; this stormrun reads store formats " +
                           std::to_string(kOldestGlobalCatalogFormat) + " to " +
                           std::to_string(kGlobalCatalogFormat) + " (written by " +
                           (c.format > kGlobalCatalogFormat ? "a newer" : "another") +
                           " stormrun version: resume with the stormrun that wrote it, or give "
                           "another --checkpoint-dir and --output)");
    }
    c.fingerprint_hash = f.string("fingerprint_hash");
    c.fingerprint = f.string_map("fingerprint");
    c.output = f.string("output");
    if (j.contains("output_from_store")) c.output_from_store = f.string("output_from_store");
    c.output_state = f.string("output_state");
    if (!kOutputStates.contains(c.output_state))
      f.fail("output_state", "must be \"creating\" or \"ready\", found \"" + c.output_state + "\"");
    c.status = f.string("status");
    if (!kStatuses.contains(c.status)) {
      f.fail(
          "status",
          "must be \"running\", \"stopped\", \"complete\", \"diverged\" or \"failed\", found \"" +
              c.status + "\"");
    }
    c.runs = f.required("runs");
    if (!c.runs.is_array())
      f.fail("runs", std::string("must be an array, found ") + c.runs.type_name());
    return c;
  } catch (const StoreError& e) {
    throw RestartMismatch(std::string("global checkpoint catalog ") + e.what() +
                          "; it cannot be used: move the checkpoint dir aside to start anew");
  }
}

std::optional<GlobalCatalog> read_global_catalog(const fs::path& root) {
  const fs::path path = catalog_path(root);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw RestartMismatch("global checkpoint catalog " + path.string() +
                          " cannot be opened: " + stormrun::text::errno_text(errno));
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad())
    throw RestartMismatch("global checkpoint catalog " + path.string() + ": read failed");
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // a syntax error, or a number out of range
    throw GlobalCatalogDamaged("global checkpoint catalog " + path.string() +
                               " is not valid JSON (" + e.what() +
                               "); move the checkpoint dir aside to start anew");
  }
  return GlobalCatalog::from_json(doc, path);
}

fs::path set_aside_global_catalog(const fs::path& root) {
  const auto now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  std::string stamp = format_utc(now);
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  fs::path aside = root / ("catalog.json.damaged-" + stamp);
  fs::rename(catalog_path(root), aside);
  fsync_dir(root);
  return aside;
}

void write_global_catalog(const fs::path& root, const GlobalCatalog& catalog) {
  // Tmp files of a replace that crashed: only rank 0 of the job holding LOCK writes here,
  // so none of them can belong to a live writer.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTmpPrefix, 0) == 0) fs::remove(entry.path(), ec);
  }
  test_kill_point("global-catalog-before-write");
  replace_file_durable(catalog_path(root), catalog.to_json().dump(2) + "\n");
  test_kill_point("global-catalog-after-write");
}

void update_global_catalog(const fs::path& root, const std::function<void(GlobalCatalog&)>& edit) {
  std::optional<GlobalCatalog> catalog = read_global_catalog(root);
  if (!catalog) catalog.emplace();
  edit(*catalog);
  write_global_catalog(root, *catalog);
}

}  // namespace stormrun::workflow
