// RankStore: one rank's directory of commits and its catalog; commit sequence, reconcile and
// retention (docs/checkpoint-format.md).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <set>

#include "store/catalog_file.hpp"
#include "store/commit_check.hpp"
#include "store/durable_io.hpp"
#include "store/json_fields.hpp"
#include "store/posix_file.hpp"
#include "store/staging.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/test_kill.hpp"

namespace stormrun {

namespace fs = std::filesystem;
using namespace store_detail;

struct RankStore::Impl {
  fs::path root;
  fs::path dir;
  fs::path commits;
  fs::path catalog;
  int rank = 0;
  WarningSink warn;
  std::vector<CatalogRow> rows;
  std::shared_ptr<StagingRegistry> registry = StagingRegistry::process_wide();
  /// Removes the directories of commits dropped by retention in the background (their
  /// removal is housekeeping: they were renamed to .tmp_ names and left the catalog
  /// first); yields the errors it met.
  std::future<std::vector<std::string>> reaper;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (reaper.valid()) reaper.wait();
    release_spares();
  }

  /// Files kept to be overwritten instead of freed and allocated again. Freeing a file's
  /// blocks costs a synchronous trim on a file system mounted with `discard` (≈ 0.2 ms an
  /// unlink on the build VM's ext4), allocating new ones costs again, and a small commit is
  /// little more than that: so the packs retention drops become the staging files of later
  /// pack commits, and the catalog's previous file the next catalog's tmp file. Named
  /// `.tmp_spare_*` (never a commit; removed quietly by reconcile when a run leaves them)
  /// and unlinked when the store is closed.
  ///
  /// A dropped pack is renamed to a spare in commits/, not fsynced: until a later fsync of
  /// commits/ has made that rename durable, a power cut may bring the dropped commit's name
  /// back, so its file must still hold that commit. It waits in spares_pending until then,
  /// and only spares_ready are overwritten.
  std::vector<fs::path> spares_ready;
  std::vector<fs::path> spares_pending;
  fs::path catalog_spare;  ///< holds an older catalog; rewritten by the next commit
  static constexpr std::size_t kMaxSpares = 2;

  void commits_dir_synced() {
    spares_ready.insert(spares_ready.end(), spares_pending.begin(), spares_pending.end());
    spares_pending.clear();
  }
  void forget_spare(const fs::path& spare) {
    ::unlink(spare.c_str());
    registry->remove(spare.string());
  }
  void release_spares() noexcept {
    for (auto* list : {&spares_ready, &spares_pending}) {
      for (const fs::path& spare : *list)
        forget_spare(spare);
      list->clear();
    }
    if (!catalog_spare.empty()) forget_spare(catalog_spare);
    catalog_spare.clear();
  }
  /// A spare to stage a pack in, renamed to `staging` and opened for writing; -1 if none.
  int take_spare(const fs::path& staging);
  /// Writes `text` to a file beside catalog.json that publish_catalog() then puts in place:
  /// the catalog spare when there is one, else a new tmp file.
  fs::path stage_catalog(const std::string& text);
  /// Puts the file stage_catalog() wrote in place of catalog.json: exchanged with the old
  /// one (renameat2 RENAME_EXCHANGE, atomic like a rename), which becomes the catalog spare;
  /// a plain rename where the file system cannot exchange.
  void publish_catalog(const fs::path& tmp);
  /// Removes a file stage_catalog() wrote (a failed commit).
  void discard_catalog(const fs::path& tmp) {
    if (tmp == catalog_spare) catalog_spare.clear();
    forget_spare(tmp);
  }

  void join_reaper() {
    if (!reaper.valid()) return;
    for (const auto& error : reaper.get())
      warning(error);
  }
  void warning(const std::string& message) const {
    if (warn) warn(message);
  }
  void reconcile();
  void write_catalog(const FaultPlan* fault);
  std::string next_saved_at() const;
  /// Rows of `newest`'s label set beyond what `policy` keeps, oldest first.
  std::vector<std::string> retention_victims(const CatalogRow& newest,
                                             const RetentionPolicy& policy) const;
  struct Moved {
    std::vector<std::string> ids;             ///< commits no longer in commits/ (rows to drop)
    std::vector<std::filesystem::path> dirs;  ///< their .tmp_delete_ dirs, to remove
    bool unlinked = false;                    ///< a pack was unlinked (nothing to reap)
  };
  enum class OnError { Throw, Warn };
  /// `recycle`: dropped packs become spares (a commit's retention) instead of being unlinked.
  Moved move_away(const std::vector<std::string>& ids, OnError on_error, bool recycle = false);
  void drop_rows(const std::vector<std::string>& ids);
  enum class Removal { Now, Background };
  void reap(std::vector<std::filesystem::path> dirs, Removal how);
};

namespace {

CommitStep catalog_step(ReplaceStep step) {
  switch (step) {
    case ReplaceStep::TmpWritten:
      return CommitStep::CatalogTmpWritten;
    case ReplaceStep::Renamed:
      return CommitStep::CatalogRenamed;
    case ReplaceStep::DirSynced:
      break;
  }
  return CommitStep::CatalogDirSynced;
}

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

// Whole (tmp file + rename), never fsynced: the catalog is an index that the next open
// rebuilds from the manifests when a power cut lost it (docs/checkpoint-format.md).
void RankStore::Impl::write_catalog(const FaultPlan* fault) {
  const fs::path tmp = write_tmp_beside(catalog, catalog_text(rows, rank));
  if (fault) fault->after(catalog_step(ReplaceStep::TmpWritten));
  try {
    rename_checked(tmp, catalog);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (fault) fault->after(catalog_step(ReplaceStep::Renamed));
  if (fault) fault->after(catalog_step(ReplaceStep::DirSynced));
}

void RankStore::Impl::reconcile() {
  create_directories_durable(commits);
  test_kill_point("store-dirs-created");

  // Staging and deletion leftovers of an interrupted commit: never valid, so removed.
  // Staging dirs lie in commits/ (a commit's rename then stays inside one directory); the
  // rank dir holds commits being deleted, catalog tmp files, and the staging dirs of older
  // stormrun versions.
  for (const fs::path& where : {dir, commits}) {
    for (const auto& entry : fs::directory_iterator(where)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(".tmp_", 0) != 0 || registry->contains(entry.path().string())) continue;
      const std::string err = remove_all_quietly(entry.path());
      if (err.empty() && name.rfind(".tmp_spare_", 0) == 0) {
        // A file kept for reuse (Impl::spares_ready) by a run that did not close its store:
        // it holds nothing a commit or the catalog needs.
      } else if (err.empty()) {
        warning("removed stale " + entry.path().string() + " (left by an interrupted commit)");
      } else {
        warning("could not remove stale " + entry.path().string() + ": " + err);
      }
    }
  }

  std::map<std::string, fs::path> on_disk;
  for (const auto& entry : fs::directory_iterator(commits)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".tmp_", 0) == 0) continue;  // being staged or deleted by this process
    if (!entry.is_symlink() && (entry.is_directory() || entry.is_regular_file()) &&
        is_commit_id(name)) {
      on_disk.emplace(name, entry.path());  // a directory, or a pack (format 3)
    } else {
      warning("ignoring " + entry.path().string() +
              ": not a commit (commits/ holds only commit_<8 digits>_<12 hex> dirs and packs)");
    }
  }

  std::vector<CatalogRow> loaded;
  std::string damage;
  bool missing = false;
  struct stat st {};
  if (::lstat(catalog.c_str(), &st) != 0) {
    if (errno != ENOENT) throw_errno("cannot stat", catalog, errno);
    missing = true;
  } else {
    try {
      loaded = parse_catalog(read_text_file(catalog), catalog, rank);
    } catch (const UnsupportedFormat&) {
      throw;  // written by another stormrun version: never rewritten by this one
    } catch (const StoreError& e) {
      damage = e.what();
    }
  }

  std::vector<CatalogRow> result;
  bool changed = false;
  if (!missing && damage.empty()) {
    std::set<std::string> listed;
    for (auto& row : loaded) {
      if (!on_disk.contains(row.commit_id)) {
        warning(catalog.string() + ": dropped row " + row.commit_id + " because its directory " +
                (commits / row.commit_id).string() + " is gone");
        changed = true;
      } else if (!listed.insert(row.commit_id).second) {
        warning(catalog.string() + ": dropped a duplicate row of " + row.commit_id);
        changed = true;
      } else {
        result.push_back(std::move(row));
      }
    }
    for (const auto& [id, path] : on_disk) {
      if (listed.contains(id)) continue;
      // Never deleted: a commit renamed into commits/ is complete; it only missed the
      // catalog update (a crash between the rename and the catalog write).
      try {
        result.push_back(row_from_manifest(read_manifest(path, rank)));
        warning("re-added commit " + path.string() +
                ": it is complete on disk but catalog.json did not list it");
        changed = true;
      } catch (const StoreError& e) {
        warning("commit " + path.string() + " is not in catalog.json and cannot be re-added (" +
                e.what() + "); left in place");
      }
    }
  } else {
    for (const auto& [id, path] : on_disk) {
      try {
        result.push_back(row_from_manifest(read_manifest(path, rank)));
      } catch (const StoreError& e) {
        warning("skipped commit " + path.string() + " while rebuilding catalog.json: " + e.what());
      }
    }
    if (!damage.empty()) {
      warning("catalog.json is damaged (" + damage + "); rebuilt it from " +
              plural(result.size(), "commit manifest"));
    } else if (!on_disk.empty()) {
      warning(catalog.string() + " is missing; rebuilt it from " +
              plural(result.size(), "commit manifest"));
    }
    changed = true;
  }
  sort_rows(result);
  rows = std::move(result);
  if (changed) write_catalog(nullptr);
}

std::string RankStore::Impl::next_saved_at() const {
  std::string now = utc_now_iso_micros();
  // saved_at orders the rows, so keep it strictly increasing within the rank dir even if
  // the clock went back (a requeued job on a node whose clock is behind).
  long long newest = 0;
  long long current = 0;
  if (!rows.empty() && parse_iso_micros(rows.back().saved_at, newest) &&
      parse_iso_micros(now, current) && current <= newest) {
    now = format_iso_micros(newest + 1);
  }
  return now;
}

std::vector<std::string> RankStore::Impl::retention_victims(const CatalogRow& newest,
                                                            const RetentionPolicy& policy) const {
  const std::size_t keep = policy.mode == CheckpointMode::Overwrite
                               ? 1
                               : static_cast<std::size_t>(policy.history_size);  // 0 = all
  std::vector<std::string> victims;
  if (keep == 0) return victims;
  std::vector<const CatalogRow*> same;
  for (const auto& r : rows) {
    if (r.labels == newest.labels) same.push_back(&r);
  }
  // rows are oldest first; the commit just made is never a victim.
  for (std::size_t i = 0; i + keep < same.size(); ++i) {
    if (same[i]->commit_id != newest.commit_id) victims.push_back(same[i]->commit_id);
  }
  return victims;
}

RankStore::Impl::Moved RankStore::Impl::move_away(const std::vector<std::string>& ids,
                                                  OnError on_error, bool recycle) {
  // A directory is renamed to a ".tmp_" name first: a half-deleted commit then never looks
  // complete, and reconcile removes the leftover if we crash before its removal finishes. A
  // pack is one file, whose unlink is atomic already: it goes at once (no reaper), or is
  // renamed to a spare that a later pack commit overwrites.
  Moved moved;
  const auto failed = [&](const std::string& what, const fs::path& path, int err) {
    if (on_error == OnError::Throw) throw_errno(what, path, err);
    warning(what + " " + path.string() + ": " + stormrun::text::errno_text(err) + "; it is kept");
  };
  for (const auto& id : ids) {
    const fs::path path = commits / id;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (recycle && spares_ready.size() + spares_pending.size() < kMaxSpares) {
        const fs::path spare = commits / (".tmp_spare_" + random_hex(12));
        registry->add(spare.string());
        if (::rename(path.c_str(), spare.c_str()) == 0) {
          moved.ids.push_back(id);
          spares_pending.push_back(spare);
          continue;
        }
        registry->remove(spare.string());
      }
      if (::unlink(path.c_str()) == 0 || errno == ENOENT) {
        moved.ids.push_back(id);
        moved.unlinked = true;
      } else {
        failed("cannot remove old commit", path, errno);
      }
      continue;
    }
    const fs::path tmp = dir / (".tmp_delete_" + id);
    registry->add(tmp.string());  // a concurrent reconcile must leave it to us
    if (::rename(path.c_str(), tmp.c_str()) == 0) {
      moved.ids.push_back(id);
      moved.dirs.push_back(tmp);
      continue;
    }
    const int err = errno;
    registry->remove(tmp.string());
    if (err == ENOENT) {
      moved.ids.push_back(id);  // already gone: only its row is left to drop
    } else {
      failed("cannot move away old commit", path, err);
    }
  }
  return moved;
}

int RankStore::Impl::take_spare(const fs::path& staging) {
  while (!spares_ready.empty()) {
    const fs::path spare = spares_ready.back();
    spares_ready.pop_back();
    if (::rename(spare.c_str(), staging.c_str()) == 0) {
      registry->remove(spare.string());
      const int fd = ::open(staging.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) return fd;
      ::unlink(staging.c_str());
    } else {
      forget_spare(spare);
    }
  }
  return -1;
}

fs::path RankStore::Impl::stage_catalog(const std::string& text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  if (!catalog_spare.empty()) {
    const int fd = ::open(catalog_spare.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      Fd file(fd);
      try {
        write_all(file.get(), bytes, catalog_spare);
        if (::ftruncate(file.get(), static_cast<off_t>(text.size())) != 0)
          throw_errno("cannot truncate", catalog_spare, errno);
        file.close(catalog_spare);
        return catalog_spare;
      } catch (const StoreError&) {
        discard_catalog(catalog_spare);
        throw;
      }
    }
    forget_spare(catalog_spare);
    catalog_spare.clear();
  }
  fs::path tmp = dir / (".tmp_spare_catalog.json." + random_hex(12));
  registry->add(tmp.string());
  try {
    Fd file = open_checked(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    write_all(file.get(), bytes, tmp);
    file.close(tmp);
  } catch (...) {
    forget_spare(tmp);
    throw;
  }
  return tmp;
}

void RankStore::Impl::publish_catalog(const fs::path& tmp) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, catalog.c_str(), RENAME_EXCHANGE) == 0) {
    catalog_spare = tmp;  // it holds the previous catalog now
    return;
  }
  const int err = errno;
  if (tmp == catalog_spare) catalog_spare.clear();
  try {
    // No catalog.json to exchange with (ENOENT), or a file system without RENAME_EXCHANGE
    // (EINVAL): a plain rename over it. Any other error is the rename's own.
    if (err != ENOENT && err != EINVAL && err != ENOSYS) {
      throw StoreError("cannot rename " + tmp.string() + " to " + catalog.string() + ": " +
                       stormrun::text::errno_text(err));
    }
    rename_checked(tmp, catalog);
  } catch (...) {
    forget_spare(tmp);
    throw;
  }
  registry->remove(tmp.string());
}

void RankStore::Impl::drop_rows(const std::vector<std::string>& ids) {
  const std::set<std::string> gone(ids.begin(), ids.end());
  std::erase_if(rows, [&](const CatalogRow& r) { return gone.contains(r.commit_id); });
}

void RankStore::Impl::reap(std::vector<fs::path> dirs, Removal how) {
  join_reaper();
  if (dirs.empty()) return;
  auto remove_dirs = [dirs = std::move(dirs), registry = registry] {
    std::vector<std::string> errors;
    for (const auto& tmp : dirs) {
      if (const std::string err = remove_all_quietly(tmp); !err.empty() && fs::exists(tmp)) {
        errors.push_back("could not remove " + tmp.string() + ": " + err +
                         " (retried at the next open)");
      }
      registry->remove(tmp.string());
    }
    return errors;
  };
  if (how == Removal::Background) {
    // Freeing the blocks of a large commit can take longer than writing it (ext4 mounted
    // with discard trims them synchronously), and the dirs are invisible already.
    try {
      reaper = std::async(std::launch::async, remove_dirs);
      return;
    } catch (const std::system_error&) {
      // No thread to be had: remove them here.
    }
  }
  for (const auto& error : remove_dirs())
    warning(error);
}

RankStore::RankStore(fs::path root, int rank, WarningSink warn) : impl_(std::make_shared<Impl>()) {
  if (rank < 0) throw StoreError("rank " + std::to_string(rank) + " is negative");
  impl_->root = std::move(root);
  impl_->rank = rank;
  impl_->dir = impl_->root / rank_dir_name(rank);
  impl_->commits = impl_->dir / "commits";
  impl_->catalog = impl_->dir / "catalog.json";
  impl_->warn = warn ? std::move(warn) : stderr_warnings(rank);
  refresh();
}

const fs::path& RankStore::dir() const {
  return impl_->dir;
}
int RankStore::rank() const {
  return impl_->rank;
}
const std::vector<CatalogRow>& RankStore::rows() const {
  return impl_->rows;
}

void RankStore::refresh() {
  impl_->join_reaper();
  try {
    impl_->reconcile();
  } catch (const fs::filesystem_error& e) {
    throw StoreError("cannot read checkpoint directory " + impl_->dir.string() + ": " + e.what());
  }
}

StagedCommit RankStore::stage(std::int64_t write_count, CommitLayout layout) {
  if (write_count < 0) {
    throw StoreError("cannot stage a commit with negative write_count " +
                     std::to_string(write_count));
  }
  powerloss_mark("commit-staged" + impl_->dir.string());
  char number[32];
  std::snprintf(number, sizeof number, "%08lld", static_cast<long long>(write_count));
  auto s = std::make_unique<StagedCommit::Impl>();
  s->rank_dir = impl_->dir;
  s->commit_id = std::string("commit_") + number + "_" + random_hex(12);
  // In commits/ itself: the rename that publishes the commit stays inside one directory, so
  // one fsync (of commits/) makes it durable.
  s->dir = impl_->commits / (".tmp_" + s->commit_id);
  s->write_count = write_count;
  s->fault = FaultPlan::from_env();
  impl_->registry->add(s->dir.string());
  s->registry = impl_->registry;
  if (layout == CommitLayout::Pack) {
    int fd = impl_->take_spare(s->dir);
    s->recycled = fd >= 0;
    if (fd < 0)
      fd = ::open(s->dir.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      s->sealed = true;  // nothing of ours to remove
      throw_errno("cannot create staging pack", s->dir, err);
    }
    s->pack_fd = Fd(fd);
    s->pack.emplace(fd, s->dir);
  } else if (::mkdir(s->dir.c_str(), 0755) != 0) {
    const int err = errno;
    s->sealed = true;  // nothing of ours to remove
    throw_errno("cannot create staging directory", s->dir, err);
  }
  return StagedCommit(std::move(s));
}

CatalogRow RankStore::commit(StagedCommit staged, Manifest manifest,
                             const RetentionPolicy& retention) {
  if (!staged.impl_) throw StoreError("RankStore::commit: the StagedCommit was already committed");
  // Owned here: when we throw before the rename, its destructor removes the staging dir.
  const std::unique_ptr<StagedCommit::Impl> s = std::move(staged.impl_);
  if (s->rank_dir != impl_->dir) {
    throw StoreError("staged commit " + s->commit_id + " belongs to " + s->rank_dir.string() +
                     ", not to " + impl_->dir.string());
  }
  if (retention.history_size < 0) {
    throw StoreError("history_size " + std::to_string(retention.history_size) +
                     " is negative (0 = unlimited)");
  }
  if (manifest.write_count != s->write_count) {
    throw StoreError("manifest write_count " + std::to_string(manifest.write_count) +
                     " differs from the staged commit's " + std::to_string(s->write_count) + " (" +
                     s->commit_id + ")");
  }
  if (manifest.rank != impl_->rank) {
    throw StoreError("manifest rank " + std::to_string(manifest.rank) + " differs from " +
                     impl_->dir.string());
  }
  const FaultPlan fault = FaultPlan::from_env();
  manifest.format_version = kCheckpointFormatVersion;
  manifest.commit_id = s->commit_id;
  manifest.files = s->files;
  manifest.saved_at = impl_->next_saved_at();
  const fs::path manifest_path = s->dir / "manifest.json";
  const nlohmann::json json = manifest.to_json();
  Manifest::from_json(json, manifest_path);  // what we write must read back
  if (s->files.empty()) {                    // put() reports these steps when there are files
    fault.after(CommitStep::FilesWritten);
    if (!s->pack) fault.after(CommitStep::FilesSynced);  // a pack's: with its one fsync
  }

  const std::string text = json.dump(2) + "\n";
  const auto text_bytes = std::as_bytes(std::span(text.data(), text.size()));
  if (s->pack) {
    // The manifest, the index and the footer go out with the members gathered so far; one
    // fsync makes the whole pack durable before the rename publishes it.
    const std::span<const std::byte> parts[] = {text_bytes};
    s->pack->add("manifest.json", parts);
    const std::uint64_t size = s->pack->finish();
    if (s->recycled && ::ftruncate(s->pack_fd.get(), static_cast<off_t>(size)) != 0)
      throw_errno("cannot truncate staging pack", s->dir, errno);
    fault.after(CommitStep::ManifestWritten);
    if (!fsync_skipped(kFsyncPack)) fsync_checked(s->pack_fd.get(), s->dir);
    s->pack_fd.close(s->dir);
    fault.after(CommitStep::FilesSynced);
    fault.after(CommitStep::StagingSynced);
  } else {
    {
      Fd fd = open_checked(manifest_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
      write_all(fd.get(), text_bytes, manifest_path);
      fd.close(manifest_path);
    }
    fault.after(CommitStep::ManifestWritten);
    // The manifest and every directory entry of the commit (files, sub-dirs, manifest) must
    // be durable before the rename publishes it. fsynced side by side: one journal commit.
    std::vector<LabeledPath> to_sync{{manifest_path, kFsyncManifest}};
    for (auto it = s->subdirs.rbegin(); it != s->subdirs.rend(); ++it)
      to_sync.push_back({*it, kFsyncSubdirs});
    to_sync.push_back({s->dir, kFsyncStaging});
    fsync_together_labeled(to_sync);
    fault.after(CommitStep::StagingSynced);
  }

  const fs::path target = impl_->commits / s->commit_id;
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0) {
    throw StoreError("cannot commit: " + target.string() + " already exists");
  }
  rename_checked(s->dir, target);
  s->sealed = true;
  fault.after(CommitStep::Renamed);

  // The commit is visible now; whatever fails below, the next open re-adds it.
  CatalogRow row = row_from_manifest(manifest);
  impl_->rows.push_back(row);
  sort_rows(impl_->rows);
  const auto on_disk_but = [&](const StoreError& e) {
    return StoreError("commit " + target.string() + " is on disk, but " + e.what() +
                      "; the next open of " + impl_->dir.string() + " re-adds it");
  };
  // The next catalog: the new row in, the rows retention drops out. It is an index that
  // reconcile rebuilds from the manifests (a commit it lacks is re-added, a row whose commit
  // is gone is dropped), so it is never fsynced: written here (a disk too full for it
  // withdraws the commit, below), renamed into place after retention.
  const std::vector<std::string> victims = impl_->retention_victims(row, retention);
  const auto catalog_without = [&](const std::vector<std::string>& ids) {
    std::vector<CatalogRow> next = impl_->rows;
    const std::set<std::string> gone(ids.begin(), ids.end());
    std::erase_if(next, [&](const CatalogRow& r) { return gone.contains(r.commit_id); });
    return catalog_text(next, impl_->rank);
  };
  fs::path catalog_tmp;
  try {
    catalog_tmp = impl_->stage_catalog(catalog_without(victims));
  } catch (const StoreError& e) {
    // Nothing is lost yet (no retention has run): the commit is withdrawn, renamed back
    // into its staging dir (removed with it), so that a failed commit (a disk that fills
    // just after the rename) leaves the rank dir exactly as before: its catalog lists the
    // previous commit as the newest, and nothing unlisted lies beside it. A crash in the
    // middle leaves a complete commit the next open re-adds, as before.
    std::erase_if(impl_->rows, [&](const CatalogRow& r) { return r.commit_id == row.commit_id; });
    if (::rename(target.c_str(), s->dir.c_str()) == 0) {
      s->sealed = false;
      throw StoreError("cannot commit " + target.string() + ": " + e.what() +
                       "; the commit was withdrawn and " + impl_->dir.string() +
                       " is as before it");
    }
    impl_->rows.push_back(row);
    sort_rows(impl_->rows);
    throw on_disk_but(e);
  }
  // The rename (inside commits/) is durable once commits/ is: from here the commit survives
  // a power loss.
  try {
    fsync_together_labeled({{impl_->commits, kFsyncCommitsDir}});
  } catch (const StoreError& e) {
    impl_->discard_catalog(catalog_tmp);
    throw on_disk_but(e);
  }
  impl_->commits_dir_synced();  // the spares of earlier commits' retention may be reused now
  fault.after(CommitStep::CommitsDirSynced);

  // Retention: the new commit is durable, so old ones may go. They leave commits/ first;
  // the catalog replace below then adds the new row and drops theirs in one atomic step.
  Impl::Moved moved = impl_->move_away(victims, Impl::OnError::Warn, /*recycle=*/true);
  fault.after(CommitStep::RetentionRenamed);
  impl_->drop_rows(moved.ids);
  // Retention's renames and the catalog's need no fsync: lost in a power cut, the old
  // commit is back (the next commit drops it again) and the old catalog is reconciled.
  try {
    if (moved.ids.size() != victims.size()) {  // some stayed: list them after all
      impl_->discard_catalog(catalog_tmp);
      catalog_tmp = impl_->stage_catalog(catalog_without(moved.ids));
    }
    fault.after(CommitStep::CatalogTmpWritten);
    impl_->publish_catalog(catalog_tmp);
    fault.after(CommitStep::CatalogRenamed);
    fault.after(CommitStep::CatalogDirSynced);  // nothing to sync: the catalog is an index
  } catch (const StoreError& e) {
    impl_->reap(std::move(moved.dirs), Impl::Removal::Background);
    throw on_disk_but(e);
  }
  powerloss_mark("commit-returned" + target.string());
  impl_->reap(std::move(moved.dirs), Impl::Removal::Background);
  fault.after(CommitStep::RetentionDone);
  return row;
}

VerifiedCommit RankStore::open_commit(const std::string& commit_id) const {
  const fs::path dir = impl_->commits / commit_id;
  std::vector<Problem> problems;
  std::optional<Manifest> manifest;
  if (!is_commit_id(commit_id)) {
    problems = verify(commit_id);
  } else {
    problems = check_commit(dir, impl_->rank, &manifest);
  }
  if (problems.empty()) return VerifiedCommit(dir, std::move(*manifest));
  std::string text = "commit " + dir.string() + " is not valid:";
  for (const auto& p : problems)
    text += "\n  " + p.path.string() + ": " + p.what;
  throw StoreError(text);
}

std::vector<Problem> RankStore::verify(const std::string& commit_id) const {
  const fs::path dir = impl_->commits / commit_id;
  if (!is_commit_id(commit_id)) {
    return {{dir, "'" + commit_id + "' is not a commit id (commit_<8 digits>_<12 hex>)"}};
  }
  return check_commit(dir, impl_->rank, nullptr);
}

void RankStore::remove(const std::string& commit_id) {
  if (!is_commit_id(commit_id)) {
    throw StoreError("cannot remove '" + commit_id + "' from " + impl_->dir.string() +
                     ": not a commit id");
  }
  Impl::Moved moved = impl_->move_away({commit_id}, Impl::OnError::Throw);
  if (!moved.dirs.empty() || moved.unlinked) fsync_dir(impl_->commits);
  impl_->drop_rows(moved.ids);
  impl_->write_catalog(nullptr);
  impl_->reap(std::move(moved.dirs), Impl::Removal::Now);
}

}  // namespace stormrun
