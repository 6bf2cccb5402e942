// StagedCommit: the staging directory of one commit, filled file by file.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "store/durable_io.hpp"
#include "store/posix_file.hpp"
#include "store/staging.hpp"

namespace stormrun {

namespace fs = std::filesystem;
using namespace store_detail;

namespace store_detail {

const std::shared_ptr<StagingRegistry>& StagingRegistry::process_wide() {
  static const auto registry = std::make_shared<StagingRegistry>();
  return registry;
}

namespace {

// One spelling per directory, however the store root was given ("ckpt", "./ckpt", ...).
std::string registry_key(const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  return (ec ? fs::path(path) : abs).lexically_normal().string();
}

}  // namespace

void StagingRegistry::add(const std::string& path) {
  const std::lock_guard lock(mutex_);
  names_.insert(registry_key(path));
}
void StagingRegistry::remove(const std::string& path) {
  const std::lock_guard lock(mutex_);
  names_.erase(registry_key(path));
}
bool StagingRegistry::contains(const std::string& path) const {
  const std::lock_guard lock(mutex_);
  return names_.contains(registry_key(path));
}

}  // namespace store_detail

StagedCommit::Impl::~Impl() {
  if (!sealed) remove_all_quietly(dir);
  if (registry) registry->remove(dir.string());
}

StagedCommit::StagedCommit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StagedCommit::StagedCommit(StagedCommit&&) noexcept = default;
StagedCommit& StagedCommit::operator=(StagedCommit&&) noexcept = default;
StagedCommit::~StagedCommit() = default;

StagedCommit::Impl& StagedCommit::live() const {
  if (!impl_) throw StoreError("StagedCommit used after it was moved from or committed");
  return *impl_;
}

const std::string& StagedCommit::commit_id() const {
  return live().commit_id;
}
const fs::path& StagedCommit::dir() const {
  return live().dir;
}
const std::map<std::string, FileRecord>& StagedCommit::files() const {
  return live().files;
}

std::string StagedCommit::put(std::string_view relpath, std::span<const std::byte> bytes) {
  const std::span<const std::byte> parts[] = {bytes};
  return put_parts(relpath, parts);
}

// Writes and hashes the parts in sequence: an array's payload goes to disk from the bound
// record it lies in, with no copy into a joined buffer (BlobSink::put_parts' default).
std::string StagedCommit::put_parts(std::string_view relpath,
                                    std::span<const std::span<const std::byte>> parts) {
  Impl& s = live();
  std::string rel(relpath);
  if (const std::string why = relpath_error(rel); !why.empty()) {
    throw StoreError("cannot stage '" + rel + "' in " + s.dir.string() + ": the path " + why);
  }
  if (s.files.contains(rel)) {
    throw StoreError("cannot stage '" + rel + "' in " + s.dir.string() +
                     ": the commit already has a file with that path");
  }
  if (s.pack) {
    // A pack's members are gathered and written with its index; commit() fsyncs it once.
    for (const auto& [done, record] : s.files) {
      if (rel.rfind(done + "/", 0) == 0 || done.rfind(rel + "/", 0) == 0) {
        throw StoreError("cannot stage '" + rel + "' in " + s.dir.string() + ": '" + done +
                         "' is a file of the commit, and a file cannot also be a directory");
      }
    }
    FileRecord record = s.pack->add(rel, parts);
    s.fault.after(CommitStep::FilesWritten);
    s.files.emplace(rel, std::move(record));
    return rel;
  }
  // Create the parent directories one by one (relpath_error ruled out ".." and "/").
  fs::path parent = s.dir;
  const fs::path relp(rel);
  for (auto it = relp.begin(); std::next(it) != relp.end(); ++it) {
    parent /= *it;
    if (::mkdir(parent.c_str(), 0755) == 0) {
      s.subdirs.insert(parent);
    } else if (errno != EEXIST) {
      throw_errno("cannot create directory", parent, errno);
    }
  }
  const fs::path path = s.dir / relp;
  Fd fd = open_checked(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
  FileRecord record;
  record.bytes = 0;
  for (const auto part : parts)
    record.bytes += part.size();
  record.xxh3 = write_sync_hashed(
      fd.get(), parts, path, [&s] { s.fault.after(CommitStep::FilesWritten); }, kFsyncCommitFile);
  fd.close(path);
  s.fault.after(CommitStep::FilesSynced);
  s.files.emplace(rel, std::move(record));
  return rel;
}

}  // namespace stormrun
