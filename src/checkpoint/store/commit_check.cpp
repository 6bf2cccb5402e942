#include "store/commit_check.hpp"

#include <sys/stat.h>

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

Manifest read_manifest(const fs::path& commit_dir, int rank) {
  const fs::path where = commit_dir / "manifest.json";
  BeneathFile file = open_file_beneath(commit_dir, "manifest.json");
  if (!file.error.empty()) throw StoreError(where.string() + ": " + file.error);
  const auto bytes = read_exactly(file.fd.get(), file.size, where);
  Manifest m = parse_manifest(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), where);
  const std::string dir_name = commit_dir.filename().string();
  if (m.commit_id != dir_name) {
    throw StoreError(where.string() + ": commit_id '" + m.commit_id +
                     "' does not match its directory name '" + dir_name + "'");
  }
  if (m.rank != rank) {
    throw StoreError(where.string() + ": rank " + std::to_string(m.rank) +
                     " does not match its directory " + rank_dir_name(rank));
  }
  return m;
}

std::string check_file(const fs::path& commit_dir, const std::string& relpath,
                       const FileRecord& record) {
  BeneathFile file = open_file_beneath(commit_dir, relpath);
  if (!file.error.empty()) return file.error;
  if (file.size != record.bytes) {
    return "has " + std::to_string(file.size) + " bytes, manifest.json records " +
           std::to_string(record.bytes);
  }
  std::uint64_t seen = 0;
  const std::string digest = hash_fd(file.fd.get(), commit_dir / relpath, seen);
  if (seen != record.bytes) {
    return "changed size while being read (" + std::to_string(seen) + " bytes)";
  }
  if (digest != record.xxh3) {
    return "checksum xxh3 " + digest + " does not match manifest.json's " + record.xxh3 +
           " (file damaged)";
  }
  return "";
}

std::vector<Problem> check_commit(const fs::path& commit_dir, int rank,
                                  std::optional<Manifest>* manifest) {
  std::vector<Problem> problems;
  struct stat st {};
  if (::lstat(commit_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    problems.push_back({commit_dir, "commit directory is missing (or not a directory)"});
    return problems;
  }
  std::optional<Manifest> m;
  try {
    m = read_manifest(commit_dir, rank);
  } catch (const StoreError& e) {
    problems.push_back({commit_dir / "manifest.json", e.what()});
    return problems;
  }
  for (const auto& [rel, record] : m->files) {
    try {
      if (std::string why = check_file(commit_dir, rel, record); !why.empty()) {
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
