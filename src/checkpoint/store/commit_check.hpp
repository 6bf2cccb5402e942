// Verification of a commit (a directory, or a pack file of format 3): its manifest and every
// file's size and checksum.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pack_file.hpp"
#include "stormrun/store.hpp"

namespace stormrun::store_detail {

/// The files of one commit: commits/<id> is a directory of files (every format) or one
/// regular file, a pack of them (format 3). Every reader of a commit goes through this.
class CommitFiles {
 public:
  /// StoreError naming `commit_path` when it is missing, a symlink, neither a directory nor
  /// a regular file, or a file that is not a valid pack.
  explicit CommitFiles(std::filesystem::path commit_path);
  const std::filesystem::path& path() const { return path_; }
  bool packed() const { return pack_.has_value(); }
  /// The bytes of `relpath` (all of them, or the first `limit`). A pack member is checked
  /// against the pack's index; a caller with a FileRecord checks it as well. StoreError
  /// naming path()/relpath when it is missing or cannot be read.
  std::vector<std::byte> read(const std::string& relpath) const;
  std::vector<std::byte> head(const std::string& relpath, std::size_t limit) const;
  /// Why `relpath` does not match `record` ("" when it does).
  std::string check(const std::string& relpath, const FileRecord& record) const;

 private:
  std::filesystem::path path_;
  std::optional<PackReader> pack_;
};

/// Reads and validates the commit's manifest.json (no symlinks; commit_id must equal the
/// commit's name, rank must equal `rank`); StoreError naming the manifest otherwise.
Manifest read_manifest(const CommitFiles& commit, int rank);
Manifest read_manifest(const std::filesystem::path& commit_dir, int rank);
/// A manifest's text, parsed and checked as read_manifest does (without the directory
/// checks); StoreError naming `where` when it is not a valid manifest.
Manifest parse_manifest(std::string_view text, const std::filesystem::path& where);

/// Every problem of a commit (directory or pack); `manifest` receives the manifest when it parsed.
std::vector<Problem> check_commit(const std::filesystem::path& commit_dir, int rank,
                                  std::optional<Manifest>* manifest);

}  // namespace stormrun::store_detail
