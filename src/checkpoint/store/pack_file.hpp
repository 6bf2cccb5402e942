// A pack: the files of one small commit in one regular file (checkpoint format 3,
// docs/checkpoint-format.md "Pack commits"). A commit that is one file costs one fsync of
// its bytes and one of commits/ (a directory commit costs one per file and directory).
//
// Layout: the members' bytes, each starting at a multiple of 64; then the index, compact
// JSON {"members":[{"path":..,"offset":..,"bytes":..,"xxh3":..}, ...]}; then a 32-byte
// footer of little-endian words: the magic "SRPACK\0\3", the index's offset, its length and
// its XXH3-64. A reader trusts nothing it has not checked: the footer's magic and bounds,
// the index's checksum, every member's bounds (inside the data, no overlap, a safe path),
// and each member's XXH3 when it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "posix_file.hpp"
#include "stormrun/store.hpp"

namespace stormrun::store_detail {

inline constexpr std::size_t kPackFooterBytes = 32;
inline constexpr std::size_t kPackAlign = 64;
/// The first 8 bytes of the footer.
inline constexpr char kPackMagic[8] = {'S', 'R', 'P', 'A', 'C', 'K', '\0', '\3'};

/// Writes a pack to an open, empty file; small members are gathered in memory and go out in
/// one write() with the index. Nothing is fsynced here (the caller does, once).
class PackWriter {
 public:
  PackWriter(int fd, std::filesystem::path path);
  /// Appends a member (the concatenation of `parts`); returns its size and XXH3. The caller
  /// has checked the path (relpath_error) and that it is new.
  FileRecord add(const std::string& relpath, std::span<const std::span<const std::byte>> parts);
  /// Writes what is buffered, the index and the footer; returns the pack's size.
  std::uint64_t finish();
  bool contains(const std::string& relpath) const { return members_.contains(relpath); }

 private:
  struct Entry {
    std::uint64_t offset;
    FileRecord record;
  };
  void append(std::span<const std::byte> bytes);
  void flush();
  int fd_;
  std::filesystem::path path_;
  std::uint64_t offset_ = 0;  ///< bytes of the pack so far (written + buffered)
  std::vector<std::byte> buffer_;
  std::map<std::string, Entry> members_;
  bool finished_ = false;
};

/// A member as the index records it.
struct PackMember {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  std::string xxh3;
};

/// Reads a pack through its file descriptor (kept open). StoreError naming the pack when
/// the footer or index is not valid.
class PackReader {
 public:
  PackReader(Fd fd, std::uint64_t size, std::filesystem::path path);
  const std::map<std::string, PackMember>& members() const { return members_; }
  const std::filesystem::path& path() const { return path_; }
  /// The member's bytes, checked against the index's XXH3 ("" error) or why not.
  std::vector<std::byte> read(const std::string& relpath) const;
  /// The first `limit` bytes of the member (fewer when it is shorter), unchecked.
  std::vector<std::byte> head(const std::string& relpath, std::size_t limit) const;
  /// XXH3-64 (hex) of the member's bytes as they are on disk now.
  std::string hash(const std::string& relpath) const;

 private:
  const PackMember& member(const std::string& relpath) const;
  Fd fd_;
  std::uint64_t size_;
  std::filesystem::path path_;
  std::map<std::string, PackMember> members_;
};

/// True when the last 8 bytes of a footer-sized tail start with the pack magic (a cheap
/// test before PackReader: "is this regular file a pack at all").
bool has_pack_magic(std::span<const std::byte> footer);

}  // namespace stormrun::store_detail
