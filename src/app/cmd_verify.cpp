// `stormrun verify DIR`: checks every commit of every rank against its manifest (sizes and
// xxh3 checksums), the catalogs against the commits, and reports each problem. Exit 0 when
// clean, 1 otherwise. Read-only.
#include <boost/program_options.hpp>

#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/store_inspect.hpp"
#include "checkpoint/store/commit_check.hpp"
#include "stormrun/io/output.hpp"
#include "stormrun/workflow/config.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::app {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct VerifyReport {
  std::size_t commits = 0;
  std::size_t valid = 0;
  std::vector<Problem> problems;
  std::vector<std::string> notes;
  std::optional<std::string> diverged;  ///< "diverged at step N: ..." of a run that diverged
};

void verify_rank(const fs::path& rank_dir, VerifyReport& report) {
  const RankListing listing = read_rank_listing(rank_dir);
  if (listing.catalog_problem) {
    report.problems.push_back({rank_dir / "catalog.json", *listing.catalog_problem});
  }
  std::set<std::string> listed;
  for (const auto& row : listing.rows)
    listed.insert(row.commit_id);

  std::set<std::string> present;
  const fs::path commits = rank_dir / "commits";
  if (fs::is_directory(commits)) {
    for (const auto& entry : fs::directory_iterator(commits)) {
      const std::string id = entry.path().filename().string();
      if (id.rfind(".tmp_", 0) == 0) {
        report.notes.push_back(entry.path().string() +
                               ": interrupted deletion (removed on next open)");
        continue;
      }
      ++report.commits;
      present.insert(id);
      std::optional<Manifest> manifest;
      auto problems = store_detail::check_commit(entry.path(), listing.rank, &manifest);
      if (problems.empty()) problems = workflow::check_commit_arrays(entry.path(), *manifest);
      if (problems.empty()) ++report.valid;
      report.problems.insert(report.problems.end(), problems.begin(), problems.end());
      if (problems.empty() && !listing.catalog_problem && !listed.count(id)) {
        report.problems.push_back(
            {entry.path(), "complete commit not listed in catalog.json (re-added on next open)"});
      }
    }
  }
  for (const auto& id : listed) {
    if (!present.count(id)) {
      report.problems.push_back(
          {rank_dir / "catalog.json", "lists " + id + " but commits/" + id + " does not exist"});
    }
  }
  for (const auto& entry : fs::directory_iterator(rank_dir)) {
    if (entry.path().filename().string().rfind(".tmp_", 0) == 0) {
      report.notes.push_back(entry.path().string() +
                             ": staging left by an interrupted commit (removed on next open)");
    }
  }
}

// The ledger (newest valid row of every rank dir, highest step per unit) and its agreement
// with the output file: the fingerprint, and every claimed step written.
void verify_ledger(const std::vector<fs::path>& dirs,
                   const std::optional<workflow::GlobalCatalog>& catalog,
                   std::optional<fs::path> output, VerifyReport& report) {
  std::map<std::string, io::ClaimedSteps> claims;
  for (const fs::path& dir : dirs) {
    const workflow::DirSummary summary = workflow::summarise_rank_dir(dir);
    if (!summary.row) continue;
    if (catalog && !summary.row->fingerprint.empty() &&
        summary.row->fingerprint != catalog->fingerprint_hash)
      report.problems.push_back(
          {summary.row->commit_dir, "written by run fingerprint " + summary.row->fingerprint +
                                        ", the global catalog's is " + catalog->fingerprint_hash});
    for (const auto& [unit, step] : summary.row->units) {
      const auto start_member = workflow::parse_unit_name(unit);
      if (!start_member) continue;  // a library user's own unit names: no output to check
      const io::ClaimedSteps claim{.start = start_member->first,
                                   .member = start_member->second,
                                   .last_step = step,
                                   .claimed_by = summary.row->commit_dir.string()};
      auto [it, inserted] = claims.emplace(unit, claim);
      if (!inserted && it->second.last_step < step) it->second = claim;
    }
  }
  if (catalog) {
    std::int64_t finished = 0;
    const auto nsteps =
        catalog->fingerprint.count("nsteps") ? std::stoll(catalog->fingerprint.at("nsteps")) : -1;
    for (const auto& [unit, claim] : claims)
      finished += claim.last_step == nsteps;
    report.notes.push_back("ledger: " + std::to_string(claims.size()) + " unit(s) recorded, " +
                           std::to_string(finished) + " finished; run status '" + catalog->status +
                           "'");
  }
  if (catalog && catalog->status == "diverged") {
    // Not damage: the run ended on a non-finite state and kept the steps before it.
    std::string what = "diverged";
    if (!catalog->runs.empty() && catalog->runs.back().contains("diverged")) {
      const nlohmann::json& d = catalog->runs.back()["diverged"];
      what = "diverged at step " + std::to_string(d.value("step", std::int64_t(-1))) + " (" +
             d.value("message", std::string("the model diverged")) + ")";
    }
    report.diverged = what;
  }
  if (!output && catalog && !catalog->output.empty()) {
    output = catalog->output;
    // A moved run directory: the output lies where it was relative to the store.
    if (!catalog->output_from_store.empty() && !dirs.empty() && !fs::exists(*output)) {
      const fs::path moved = (fs::absolute(dirs.front()).parent_path() / catalog->output_from_store)
                                 .lexically_normal();
      if (fs::exists(moved)) output = moved;
    }
  }
  if (!output) {
    if (!claims.empty())
      report.notes.push_back("no output file to check (no global catalog; give --output FILE)");
    return;
  }
  if (!fs::exists(*output)) {
    report.problems.push_back({*output, "output file missing"});
    return;
  }
  try {
    if (catalog) {
      const auto [hash, settings] = io::OutputFile::read_fingerprint(*output);
      if (hash != catalog->fingerprint_hash)
        report.problems.push_back(
            {*output, "fingerprint " + hash + ", the store's run is " + catalog->fingerprint_hash});
    }
    std::vector<io::ClaimedSteps> list;
    list.reserve(claims.size());
    for (const auto& [unit, claim] : claims)
      list.push_back(claim);
    for (const std::string& problem : io::check_claimed_steps(*output, list))
      report.problems.push_back({*output, problem});
    const io::OutputEvidence evidence = io::read_output_evidence(*output);
    report.notes.push_back(
        "output " + output->string() + " (output format " + std::to_string(evidence.format) +
        "): every claimed step of " + std::to_string(list.size()) + " unit(s) checked" +
        (evidence.has_checksums ? " against the step checksums, every written step's bytes "
                                  "against its checksum"
                                : " for the NaN fill (a format-1 file has no step checksums)"));
  } catch (const std::exception& e) {
    report.problems.push_back({*output, e.what()});
  }
}

}  // namespace

int run_verify(const Args& args) {
  po::options_description visible(
      "usage: stormrun verify DIR [--output FILE]\n\n"
      "Checks the checkpoint store DIR: every commit's manifest and every file's size and\n"
      "xxh3 checksum, and that each rank's catalog.json agrees with its commits. For a store\n"
      "of `stormrun run`, also the ledger (the newest valid row of every rank dir) against\n"
      "the output file (the global catalog's, or FILE): its fingerprint, every (member,\n"
      "step) a row claims is written (its step checksum is not 0), and every written\n"
      "step's fields still match their checksum. Prints each problem with the file at\n"
      "fault. Exit 0 when clean, 1 when any problem is found, 4 when the store is intact\n"
      "but its run diverged (\"DIVERGED DIR: diverged at step N (...)\").\n"
      "Read-only: nothing is locked, repaired or written.\n\noptions");
  visible.add_options()("help,h", "print this help")("quiet,q", "print only problems")(
      "output", po::value<std::string>(), "the output file to check (default: the store's)");
  const DirCommand parsed = parse_dir_command("verify", visible, args);
  if (parsed.exit_code) return *parsed.exit_code;
  const po::variables_map& vm = parsed.vm;
  const fs::path root = vm["dir"].as<std::string>();
  const bool quiet = vm.count("quiet") > 0;
  VerifyReport report;
  const auto dirs = rank_dirs(root);
  if (dirs.empty()) {
    report.problems.push_back(
        {root, "no rank_NNNNNN directories: not a stormrun checkpoint store"});
  }
  std::optional<workflow::GlobalCatalog> catalog;
  bool catalog_readable = true;
  try {
    catalog = workflow::read_global_catalog(root);
  } catch (const std::exception& e) {
    report.problems.push_back({root / "catalog.json", e.what()});
    catalog_readable = false;
  }
  for (const auto& dir : dirs)
    verify_rank(dir, report);
  if (!dirs.empty() && catalog_readable)
    verify_ledger(
        dirs, catalog,
        vm.count("output") ? std::optional<fs::path>(vm["output"].as<std::string>()) : std::nullopt,
        report);

  for (const auto& problem : report.problems) {
    std::cout << "PROBLEM " << problem.path.string() << ": " << problem.what << "\n";
  }
  if (!quiet) {
    for (const auto& note : report.notes)
      std::cout << "note    " << note << "\n";
    std::cout << "verify " << root.string() << ": " << dirs.size() << " rank dir(s), "
              << report.commits << " commit(s), " << report.valid << " valid, "
              << report.problems.size() << " problem(s)\n";
  }
  if (report.diverged)
    std::cout << "DIVERGED " << root.string() << ": " << *report.diverged << "\n";
  if (!report.problems.empty()) return kExitFailure;
  return report.diverged ? kExitDiverged : kExitOk;
}

}  // namespace stormrun::app
