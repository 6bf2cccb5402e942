// `stormrun catalog DIR [--json]`: the outcome of the store's last run, and the rows of a
// checkpoint store, per rank, as a table (id, labels, metadata columns, write_count,
// saved_at) or as JSON. Exit 1 when DIR is not a store. Read-only.
#include <boost/program_options.hpp>

#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli.hpp"
#include "app/store_inspect.hpp"
#include "checkpoint/store/catalog_file.hpp"
#include "stormrun/codec.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::app {

namespace po = boost::program_options;

namespace {

std::string labels_text(const Labels& labels) {
  std::string s;
  for (const auto& [k, v] : labels)
    s += (s.empty() ? "" : ",") + k + "=" + v;
  return s.empty() ? "-" : s;
}

std::string metadata_cell(const CatalogRow& row, const std::string& key, const std::string& where) {
  if (!row.metadata.contains(key)) return "-";
  try {
    return decode_value(row.metadata.at(key), nullptr, where + "." + key).to_display();
  } catch (const CodecError&) {
    return row.metadata.at(key).dump();
  }
}

/// Prints rows as an aligned text table.
void print_table(std::ostream& os, const std::vector<std::vector<std::string>>& table) {
  std::vector<std::size_t> width;
  for (const auto& line : table) {
    width.resize(std::max(width.size(), line.size()));
    for (std::size_t c = 0; c < line.size(); ++c)
      width[c] = std::max(width[c], line[c].size());
  }
  for (const auto& line : table) {
    for (std::size_t c = 0; c < line.size(); ++c) {
      os << line[c];
      if (c + 1 < line.size()) os << std::string(width[c] - line[c].size() + 2, ' ');
    }
    os << "\n";
  }
}

void print_rank(std::ostream& os, const RankListing& listing) {
  os << listing.dir.filename().string() << ": " << listing.rows.size() << " row(s)\n";
  if (listing.catalog_problem) os << "  warning: " << *listing.catalog_problem << "\n";
  if (listing.rows.empty()) return;
  std::set<std::string> keys;
  for (const auto& row : listing.rows) {
    for (const auto& item : row.metadata.items())
      keys.insert(item.key());
  }
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header{"id", "labels"};
  header.insert(header.end(), keys.begin(), keys.end());
  header.insert(header.end(), {"write_count", "saved_at"});
  table.push_back(header);
  const std::string where = (listing.dir / "catalog.json").string();
  for (const auto& row : listing.rows) {
    std::vector<std::string> line{row.commit_id, labels_text(row.labels)};
    for (const auto& key : keys)
      line.push_back(metadata_cell(row, key, where));
    line.push_back(std::to_string(row.write_count));
    line.push_back(row.saved_at);
    table.push_back(std::move(line));
  }
  print_table(os, table);
}

}  // namespace

int run_catalog(const Args& args) {
  po::options_description visible(
      "usage: stormrun catalog DIR [--json]\n\n"
      "Prints the checkpoint store DIR: how its last run ended (complete, stopped, failed\n"
      "or in progress, with its exit code, steps and times), the global catalog written by\n"
      "the coordinator (when present) and each rank's rows (id, labels, metadata,\n"
      "write_count, saved_at), oldest first. Exit 0, or 1 when DIR is not a checkpoint store.\n"
      "Read-only: nothing is locked, repaired or written.\n\noptions");
  visible.add_options()("help,h", "print this help")(
      "json",
      "print JSON: {\"store\": DIR, \"status\": ..., \"last_run\": {\"outcome\": \"complete\"|\n"
      "\"stopped\"|\"failed\"|\"in progress\"|\"unknown\", \"exit\", \"steps\", \"started_at\",\n"
      "\"ended_at\", ...}, \"lock\": holder or null, \"global\": ..., \"ranks\":\n"
      "{\"rank_000000\": [rows...]}}");
  const DirCommand parsed = parse_dir_command("catalog", visible, args);
  if (parsed.exit_code) return *parsed.exit_code;
  const po::variables_map& vm = parsed.vm;
  const std::filesystem::path root = vm["dir"].as<std::string>();
  const auto dirs = rank_dirs(root);
  if (!is_store(root)) {
    std::cerr << "stormrun catalog: error: " << root.string()
              << ": not a stormrun checkpoint store (no catalog.json, no rank_NNNNNN "
                 "directories); give a store, e.g. <output>.ckpt\n";
    return kExitFailure;
  }
  const auto catalog = workflow::read_global_catalog(root);
  const nlohmann::json global = catalog ? catalog->to_json() : nlohmann::json();
  const nlohmann::json last = last_run(root, catalog);
  const nlohmann::json lock = lock_holder(root);
  if (vm.count("json")) {
    nlohmann::json out{{"store", root.string()},
                       {"status", catalog ? nlohmann::json(catalog->status) : nlohmann::json()},
                       {"last_run", last},
                       {"lock", lock},
                       {"global", global},
                       {"ranks", nlohmann::json::object()}};
    for (const auto& dir : dirs) {
      const auto listing = read_rank_listing(dir);
      auto rows = nlohmann::json::array();
      for (const auto& row : listing.rows)
        rows.push_back(store_detail::row_to_json(row));
      out["ranks"][dir.filename().string()] = rows;
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "checkpoint store " << root.string() << ": " << dirs.size() << " rank dir(s)\n";
  const auto text = [](const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.is_null() ? std::string("-") : v.dump();
  };
  std::cout << "last run: " << text(last["outcome"]);
  if (!last["exit"].is_null()) std::cout << " (exit " << text(last["exit"]) << ")";
  if (!last["steps"].is_null()) std::cout << ", " << text(last["steps"]) << " step(s)";
  if (!last["started_at"].is_null()) std::cout << ", started " << text(last["started_at"]);
  if (!last["ended_at"].is_null()) std::cout << ", ended " << text(last["ended_at"]);
  if (last.contains("note")) std::cout << "; " << text(last["note"]);
  std::cout << "\n";
  if (!lock.is_null())
    std::cout << "LOCK held by host " << text(lock["host"]) << " pid " << text(lock["pid"]) << " ("
              << text(lock["job"]) << ") since " << text(lock["started_at"]) << "\n";
  if (catalog) std::cout << "global catalog:\n" << global.dump(2) << "\n";
  for (const auto& dir : dirs)
    print_rank(std::cout, read_rank_listing(dir));
  return kExitOk;
}

}  // namespace stormrun::app
