// `stormrun verify DIR`: checks every commit of every rank against its manifest (sizes and
// xxh3 checksums), the catalogs against the commits, and reports each problem. Exit 0 when
// clean, 1 otherwise. Read-only.
#include <boost/program_options.hpp>

#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/store_inspect.hpp"
#include "checkpoint/store/commit_check.hpp"

namespace stormrun::app {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct VerifyReport {
  std::size_t commits = 0;
  std::size_t valid = 0;
  std::vector<Problem> problems;
  std::vector<std::string> notes;
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

}  // namespace

int run_verify(const Args& args) {
  po::options_description visible(
      "usage: stormrun verify DIR\n\n"
      "Checks the checkpoint store DIR: every commit's manifest and every file's size and\n"
      "xxh3 checksum, and that each rank's catalog.json agrees with its commits. Prints each\n"
      "problem with the file at fault. Exit 0 when clean, 1 when any problem is found.\n"
      "Read-only: nothing is locked, repaired or written.\n\noptions");
  visible.add_options()("help,h", "print this help")("quiet,q", "print only problems");
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
  try {
    read_global_catalog(root);
  } catch (const StoreError& e) {
    report.problems.push_back({root / "catalog.json", e.what()});
  }
  for (const auto& dir : dirs)
    verify_rank(dir, report);

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
  return report.problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace stormrun::app
