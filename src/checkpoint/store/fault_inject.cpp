#include "store/fault_inject.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>

#include "stormrun/test_kill.hpp"

namespace stormrun {

namespace {

constexpr std::array kSteps = {
    CommitStep::FilesWritten,     CommitStep::FilesSynced,       CommitStep::ManifestWritten,
    CommitStep::StagingSynced,    CommitStep::Renamed,           CommitStep::CommitsDirSynced,
    CommitStep::RetentionRenamed, CommitStep::CatalogTmpWritten, CommitStep::CatalogRenamed,
    CommitStep::CatalogDirSynced, CommitStep::RetentionDone,
};

}  // namespace

std::string to_string(CommitStep step) {
  switch (step) {
    case CommitStep::FilesWritten:
      return "files_written";
    case CommitStep::FilesSynced:
      return "files_synced";
    case CommitStep::ManifestWritten:
      return "manifest_written";
    case CommitStep::StagingSynced:
      return "staging_synced";
    case CommitStep::Renamed:
      return "renamed";
    case CommitStep::CommitsDirSynced:
      return "commits_synced";
    case CommitStep::CatalogTmpWritten:
      return "catalog_tmp_written";
    case CommitStep::CatalogRenamed:
      return "catalog_renamed";
    case CommitStep::CatalogDirSynced:
      return "catalog_synced";
    case CommitStep::RetentionRenamed:
      return "retention_renamed";
    case CommitStep::RetentionDone:
      return "retention_done";
  }
  return "unknown";
}

std::vector<CommitStep> all_commit_steps() {
  return {kSteps.begin(), kSteps.end()};
}

namespace store_detail {

FaultPlan FaultPlan::from_env() {
  FaultPlan plan;
  const char* value = std::getenv("STORMRUN_FAULT_INJECT");
  if (value == nullptr || *value == '\0') return plan;
  std::string names;
  for (const CommitStep s : kSteps) {
    if (to_string(s) == value) {
      plan.step_ = s;
      return plan;
    }
    names += (names.empty() ? "" : ", ") + to_string(s);
  }
  throw StoreError(std::string("STORMRUN_FAULT_INJECT='") + value +
                   "' names no commit step; use one of: " + names);
}

void FaultPlan::after(CommitStep step) const {
  if (test_kill_armed()) test_kill_point("commit-" + to_string(step));
  if (step_ == step) ::_exit(kFaultExitCode);
}

}  // namespace store_detail
}  // namespace stormrun
