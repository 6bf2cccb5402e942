// The inside of a StagedCommit, shared by staged_commit.cpp and rank_store.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <optional>

#include "store/fault_inject.hpp"
#include "store/pack_file.hpp"
#include "store/posix_file.hpp"
#include "stormrun/store.hpp"

namespace stormrun::store_detail {

/// Paths of the staging dirs that are still being filled in this process (by any
/// RankStore), so that a reconcile never removes them as stale.
class StagingRegistry {
 public:
  static const std::shared_ptr<StagingRegistry>& process_wide();
  void add(const std::string& path);
  void remove(const std::string& path);
  bool contains(const std::string& path) const;

 private:
  mutable std::mutex mutex_;
  std::set<std::string> names_;
};

}  // namespace stormrun::store_detail

namespace stormrun {

struct StagedCommit::Impl {
  std::filesystem::path rank_dir;
  std::filesystem::path dir;  ///< rank_dir / "commits" / ".tmp_<commit_id>" (older writers:
                              ///< rank_dir / ".tmp_<commit_id>")
  std::string commit_id;
  std::int64_t write_count = 0;
  std::map<std::string, FileRecord> files;
  /// Sub-directories created by put(), fsynced before the rename so that every file's
  /// directory entry is durable too.
  std::set<std::filesystem::path> subdirs;
  store_detail::FaultPlan fault;
  /// CommitLayout::Pack: `dir` is the staging file, written through `pack`.
  store_detail::Fd pack_fd;
  std::optional<store_detail::PackWriter> pack;
  /// The staging file is a spare (an earlier pack's file, RankStore::Impl::spares_ready):
  /// its old bytes past the new pack's end are cut off before its fsync.
  bool recycled = false;
  bool sealed = false;  ///< renamed into commits/: the staging dir no longer exists
  std::shared_ptr<store_detail::StagingRegistry> registry;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl();
};

}  // namespace stormrun
