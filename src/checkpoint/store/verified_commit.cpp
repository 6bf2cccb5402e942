// VerifiedCommit: reads the files of a verified commit (a directory or a pack), re-checking
// each one it returns.
#include "store/commit_check.hpp"
#include "store/durable_io.hpp"
#include "store/posix_file.hpp"
#include "stormrun/store.hpp"

#include <xxhash.h>

namespace stormrun {

namespace fs = std::filesystem;
using namespace store_detail;

VerifiedCommit::VerifiedCommit(fs::path dir, Manifest manifest)
    : dir_(std::move(dir)), manifest_(std::move(manifest)) {}

std::vector<std::byte> VerifiedCommit::get(std::string_view relpath) {
  const std::string rel(relpath);
  const fs::path path = dir_ / rel;
  if (const std::string why = relpath_error(rel); !why.empty()) {
    throw StoreError("cannot read '" + rel + "' from commit " + dir_.string() + ": the path " +
                     why);
  }
  const auto it = manifest_.files.find(rel);
  if (it == manifest_.files.end()) {
    throw StoreError(path.string() + ": not a file of commit " + manifest_.commit_id +
                     " (its manifest.json does not list it)");
  }
  // Re-checked now, not only when the commit was opened: the file may have changed since.
  auto bytes = store_detail::CommitFiles(dir_).read(rel);
  if (bytes.size() != it->second.bytes) {
    throw StoreError(path.string() + ": has " + std::to_string(bytes.size()) +
                     " bytes, manifest.json records " + std::to_string(it->second.bytes));
  }
  const std::string digest = hex64(XXH3_64bits(bytes.data(), bytes.size()));
  if (digest != it->second.xxh3) {
    throw StoreError(path.string() + ": checksum xxh3 " + digest +
                     " does not match manifest.json's " + it->second.xxh3 + " (file damaged)");
  }
  return bytes;
}

}  // namespace stormrun
