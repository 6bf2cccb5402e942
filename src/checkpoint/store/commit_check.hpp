// Verification of a commit directory: its manifest and every file's size and checksum.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stormrun/store.hpp"

namespace stormrun::store_detail {

/// Reads and validates dir/manifest.json (no symlinks; commit_id must equal the directory
/// name, rank must equal `rank`); StoreError naming the manifest otherwise.
Manifest read_manifest(const std::filesystem::path& commit_dir, int rank);
/// A manifest's text, parsed and checked as read_manifest does (without the directory
/// checks); StoreError naming `where` when it is not a valid manifest.
Manifest parse_manifest(std::string_view text, const std::filesystem::path& where);

/// Why the file `relpath` of a commit does not match `record` ("" when it does).
std::string check_file(const std::filesystem::path& commit_dir, const std::string& relpath,
                       const FileRecord& record);

/// Every problem of a commit directory; `manifest` receives the manifest when it parsed.
std::vector<Problem> check_commit(const std::filesystem::path& commit_dir, int rank,
                                  std::optional<Manifest>* manifest);

}  // namespace stormrun::store_detail
