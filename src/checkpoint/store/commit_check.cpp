#include "store/commit_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "store/durable_io.hpp"
#include "store/posix_file.hpp"

namespace stormrun::store_detail {

namespace fs = std::filesystem;

Manifest parse_manifest(std::string_view text, const fs::path& where) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number overflow
    throw StoreError(where.string() + ": not valid JSON (" + e.what() + ")");
  }
  return Manifest::from_json(json, where);
}

CommitFiles::CommitFiles(fs::path commit_path) : path_(std::move(commit_path)) {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
    throw StoreError(path_.string() + ": commit directory is missing (or not a directory)");
  }
  if (S_ISDIR(st.st_mode)) return;
  Fd fd(::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) throw_errno("cannot open commit pack", path_, errno);
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat commit pack", path_, errno);
  if (!S_ISREG(st.st_mode)) {
    throw StoreError(path_.string() + ": commit directory is missing (or not a directory)");
  }
  pack_.emplace(std::move(fd), static_cast<std::uint64_t>(st.st_size), path_);
}

std::vector<std::byte> CommitFiles::read(const std::string& relpath) const {
  if (pack_) return pack_->read(relpath);
  const fs::path where = path_ / relpath;
  BeneathFile file = open_file_beneath(path_, relpath);
  if (!file.error.empty()) throw StoreError(where.string() + ": " + file.error);
  return read_exactly(file.fd.get(), file.size, where);
}

std::vector<std::byte> CommitFiles::head(const std::string& relpath, std::size_t limit) const {
  if (pack_) return pack_->head(relpath, limit);
  const fs::path where = path_ / relpath;
  BeneathFile file = open_file_beneath(path_, relpath);
  if (!file.error.empty()) throw StoreError(where.string() + ": " + file.error);
  return read_exactly(file.fd.get(),
                      static_cast<std::size_t>(std::min<std::uint64_t>(file.size, limit)), where);
}

std::string CommitFiles::check(const std::string& relpath, const FileRecord& record) const {
  if (pack_) {
    const auto it = pack_->members().find(relpath);
    if (it == pack_->members().end()) return "missing (the pack has no such member)";
    if (it->second.bytes != record.bytes) {
      return "has " + std::to_string(it->second.bytes) + " bytes, manifest.json records " +
             std::to_string(record.bytes);
    }
    const std::string digest = pack_->hash(relpath);
    if (digest != record.xxh3) {
      return "checksum xxh3 " + digest + " does not match manifest.json's " + record.xxh3 +
             " (file damaged)";
    }
    return "";
  }
  BeneathFile file = open_file_beneath(path_, relpath);
  if (!file.error.empty()) return file.error;
  if (file.size != record.bytes) {
    return "has " + std::to_string(file.size) + " bytes, manifest.json records " +
           std::to_string(record.bytes);
  }
  std::uint64_t seen = 0;
  const std::string digest = hash_fd(file.fd.get(), path_ / relpath, seen);
  if (seen != record.bytes) {
    return "changed size while being read (" + std::to_string(seen) + " bytes)";
  }
  if (digest != record.xxh3) {
    return "checksum xxh3 " + digest + " does not match manifest.json's " + record.xxh3 +
           " (file damaged)";
  }
  return "";
}

Manifest read_manifest(const CommitFiles& commit, int rank) {
  const fs::path where = commit.path() / "manifest.json";
  const auto bytes = commit.read("manifest.json");
  Manifest m = parse_manifest(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), where);
  const std::string name = commit.path().filename().string();
  if (m.commit_id != name) {
    throw StoreError(where.string() + ": commit_id '" + m.commit_id +
                     "' does not match its directory name '" + name + "'");
  }
  if (m.rank != rank) {
    throw StoreError(where.string() + ": rank " + std::to_string(m.rank) +
                     " does not match its directory " + rank_dir_name(rank));
  }
  if (commit.packed() && m.format_version < kPackFormatVersion) {
    throw StoreError(where.string() + ": format_version " + std::to_string(m.format_version) +
                     " in a pack (packs are format " + std::to_string(kPackFormatVersion) + ")");
  }
  return m;
}

Manifest read_manifest(const fs::path& commit_dir, int rank) {
  return read_manifest(CommitFiles(commit_dir), rank);
}

std::vector<Problem> check_commit(const fs::path& commit_dir, int rank,
                                  std::optional<Manifest>* manifest) {
  std::vector<Problem> problems;
  std::optional<CommitFiles> files;
  std::optional<Manifest> m;
  try {
    files.emplace(commit_dir);
  } catch (const StoreError& e) {
    std::string what = e.what();
    if (what.rfind(commit_dir.string() + ": ", 0) == 0)
      what.erase(0, commit_dir.string().size() + 2);
    problems.push_back({commit_dir, what});
    return problems;
  }
  try {
    m = read_manifest(*files, rank);
  } catch (const StoreError& e) {
    problems.push_back({commit_dir / "manifest.json", e.what()});
    return problems;
  }
  for (const auto& [rel, record] : m->files) {
    try {
      if (std::string why = files->check(rel, record); !why.empty()) {
        problems.push_back({commit_dir / rel, std::move(why)});
      }
    } catch (const StoreError& e) {
      problems.push_back({commit_dir / rel, e.what()});
    }
  }
  if (manifest) *manifest = std::move(m);
  return problems;
}

}  // namespace stormrun::store_detail
