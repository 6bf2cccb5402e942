// Summarising one rank directory of any earlier world size, strictly read-only: several
// ranks of the new run may read it at once, and RankStore would repair (write) it.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "checkpoint/store/catalog_file.hpp"
#include "checkpoint/store/commit_check.hpp"
#include "checkpoint/store/json_fields.hpp"
#include "ledger_detail.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/codec.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;

namespace {

/// A commit that may be the newest row: ordered as the store orders rows.
struct Candidate {
  std::string saved_at;
  std::int64_t write_count = 0;
  std::string commit_id;
  bool operator<(const Candidate& other) const {
    return std::tie(saved_at, write_count, commit_id) <
           std::tie(other.saved_at, other.write_count, other.commit_id);
  }
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StoreError(path.string() + ": cannot open: " + stormrun::text::errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw StoreError(path.string() + ": read failed");
  return text.str();
}

/// The catalog's rows; none (with a warning) when it is missing or damaged: the commits on
/// disk are then the only candidates, as when RankStore rebuilds a catalog.
std::vector<CatalogRow> catalog_rows(const fs::path& rank_dir, int rank,
                                     std::vector<std::string>& warnings) {
  const fs::path catalog = rank_dir / "catalog.json";
  struct stat st {};
  if (::lstat(catalog.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    warnings.push_back("cannot read " + catalog.string() + " (" +
                       stormrun::text::errno_text(errno) + "); considering the commits on disk");
    return {};
  }
  try {
    return store_detail::parse_catalog(read_text(catalog), catalog, rank);
  } catch (const store_detail::UnsupportedFormat& e) {
    throw RestartMismatch(std::string(e.what()));
  } catch (const StoreError& e) {
    warnings.push_back(catalog.string() + " is damaged (" + e.what() +
                       "); considering the commits on disk");
    return {};
  }
}

/// Every candidate commit: the catalog's rows, plus complete commits it does not list (a
/// crash between a commit's rename and the catalog replace leaves one).
std::vector<Candidate> candidates(const fs::path& rank_dir, int rank,
                                  std::vector<std::string>& warnings) {
  std::map<std::string, Candidate> by_id;
  for (const CatalogRow& row : catalog_rows(rank_dir, rank, warnings))
    by_id.emplace(row.commit_id, Candidate{row.saved_at, row.write_count, row.commit_id});

  const fs::path commits = rank_dir / "commits";
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(commits, ec))) {
    fs::directory_iterator it(commits, ec);
    if (ec) throw StoreError("cannot list " + commits.string() + ": " + ec.message());
    for (const auto& entry : it) {
      const std::string id = entry.path().filename().string();
      if (by_id.contains(id) || !store_detail::is_commit_id(id) || entry.is_symlink() ||
          !(entry.is_directory() || entry.is_regular_file())) {  // a dir or a pack
        continue;
      }
      try {
        const Manifest m = store_detail::read_manifest(entry.path(), rank);
        by_id.emplace(id, Candidate{m.saved_at, m.write_count, id});
      } catch (const StoreError& e) {
        warnings.push_back("commit " + entry.path().string() +
                           " is not in catalog.json and its manifest cannot be read (" + e.what() +
                           "); skipped");
      }
    }
  }
  std::vector<Candidate> out;
  out.reserve(by_id.size());
  for (auto& [id, candidate] : by_id)
    out.push_back(std::move(candidate));
  std::sort(out.begin(), out.end());
  return out;
}

std::string fingerprint_of(const Manifest& manifest, const fs::path& commit_dir) {
  const std::string where = (commit_dir / "manifest.json").string() + ": metadata";
  const Metadata metadata = decode_metadata(manifest.metadata, where);
  const auto it = metadata.find("fingerprint");
  if (it == metadata.end()) return "";
  return it->second.as<std::string>(where + ".fingerprint");
}

/// What a verified commit says: its units, fingerprint and where each held state lies.
RowSummary summarise_commit(const fs::path& commit_dir, Manifest manifest) {
  if (const auto problems = check_commit_arrays(commit_dir, manifest); !problems.empty())
    throw StoreError(problems.front().path.string() + ": " + problems.front().what);
  RowSummary row;
  row.commit_dir = commit_dir;
  row.rank = manifest.rank;
  row.commit_id = manifest.commit_id;
  row.saved_at = manifest.saved_at;
  row.fingerprint = fingerprint_of(manifest, commit_dir);
  row.units = manifest.units;

  VerifiedCommit commit(commit_dir, std::move(manifest));
  // Only the inline fields are decoded: the arrays are read (and re-verified) by load_states.
  if (commit.manifest().states.contains(detail::kUnitStatesId)) {
    const std::string id = detail::kUnitStatesId;
    const nlohmann::json json = detail::read_state_json(commit, id, schema_hash<UnitStates>());
    const std::string where = (commit_dir / commit.manifest().states.at(id).path).string();
    const auto units = from_value<std::vector<std::string>>(
        detail::inline_state_field(json, "units", where), where + ": units");
    const auto steps = from_value<std::vector<std::int64_t>>(
        detail::inline_state_field(json, "steps", where), where + ": steps");
    if (units.size() != steps.size()) {
      throw StoreError(where + ": lists " + std::to_string(units.size()) + " units but " +
                       std::to_string(steps.size()) + " steps");
    }
    for (std::size_t i = 0; i < units.size(); ++i) {
      const StateSource source{commit_dir, row.rank, row.commit_id, steps[i]};
      if (!row.states.emplace(units[i], source).second)
        throw StoreError(where + ": lists unit " + units[i] + " twice");
    }
  }
  return row;
}

}  // namespace

std::vector<Problem> check_commit_arrays(const fs::path& commit_dir, const Manifest& manifest) {
  std::vector<Problem> problems;
  for (const auto& [relpath, record] : manifest.files) {
    if (fs::path(relpath).extension() != ".npy") continue;
    const fs::path path = commit_dir / relpath;
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(record.bytes, kNpyMaxHeadBytes));
    std::vector<std::byte> head;
    try {
      head = store_detail::CommitFiles(commit_dir).head(relpath, want);
    } catch (const StoreError&) {
    }
    if (head.size() != want) {
      problems.push_back({path, "cannot read its .npy header"});
      continue;
    }
    try {
      (void)npy_layout(head, record.bytes, relpath);
    } catch (const CodecError& e) {
      problems.push_back({path, e.what()});
    }
  }
  return problems;
}

std::vector<RowSummary> rank_dir_history(const fs::path& rank_dir) {
  const auto rank = detail::rank_of_dir_name(rank_dir.filename().string());
  if (!rank) return {};
  std::vector<std::string> warnings;  // already reported by summarise_rank_dir
  std::vector<RowSummary> rows;
  const std::vector<Candidate> all = candidates(rank_dir, *rank, warnings);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const fs::path commit_dir = rank_dir / "commits" / it->commit_id;
    std::optional<Manifest> manifest;
    if (!store_detail::check_commit(commit_dir, *rank, &manifest).empty()) continue;
    try {
      rows.push_back(summarise_commit(commit_dir, std::move(*manifest)));
    } catch (const std::exception&) {  // damaged: summarise_rank_dir names it
    }
  }
  return rows;
}

DirSummary summarise_rank_dir(const fs::path& rank_dir) {
  const auto rank = detail::rank_of_dir_name(rank_dir.filename().string());
  if (!rank) {
    throw std::invalid_argument("summarise_rank_dir: " + rank_dir.string() +
                                " is not a rank directory (rank_NNNNNN)");
  }
  DirSummary summary;
  summary.dir = rank_dir;
  const std::vector<Candidate> all = candidates(rank_dir, *rank, summary.warnings);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const fs::path commit_dir = rank_dir / "commits" / it->commit_id;
    std::optional<Manifest> manifest;
    const std::vector<Problem> problems = store_detail::check_commit(commit_dir, *rank, &manifest);
    std::string why;
    if (!problems.empty()) {
      why = problems.front().path.string() + ": " + problems.front().what;
      if (problems.size() > 1) why += " (and " + std::to_string(problems.size() - 1) + " more)";
    } else {
      try {
        summary.row = summarise_commit(commit_dir, std::move(*manifest));
        break;
      } catch (const std::exception& e) {  // StoreError, CodecError, RestartMismatch
        why = e.what();
      }
    }
    summary.warnings.push_back("skipped damaged checkpoint commit " + commit_dir.string() + " (" +
                               why + "); looking for an older row of " + rank_dir.string());
  }
  return summary;
}

}  // namespace stormrun::workflow
