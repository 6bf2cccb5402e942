#include "store/pack_file.hpp"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "store/durable_io.hpp"

namespace stormrun::store_detail {

namespace fs = std::filesystem;

namespace {

// Members are gathered in memory up to this much; a larger member goes out on its own.
constexpr std::size_t kGather = std::size_t{4} << 20;

void put_u64(std::byte* out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
}

std::uint64_t get_u64(const std::byte* in) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | std::to_integer<std::uint64_t>(in[i]);
  return value;
}

void pread_exactly(int fd, std::byte* out, std::size_t size, std::uint64_t offset,
                   const fs::path& path) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot read", path, errno);
    if (n == 0) {
      throw StoreError(path.string() + ": ended at byte " + std::to_string(offset + done) +
                       " while reading (the file shrank)");
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

bool has_pack_magic(std::span<const std::byte> footer) {
  return footer.size() >= sizeof kPackMagic &&
         std::memcmp(footer.data(), kPackMagic, sizeof kPackMagic) == 0;
}

PackWriter::PackWriter(int fd, fs::path path) : fd_(fd), path_(std::move(path)) {}

void PackWriter::flush() {
  if (buffer_.empty()) return;
  write_all(fd_, buffer_, path_);
  buffer_.clear();
}

void PackWriter::append(std::span<const std::byte> bytes) {
  if (buffer_.size() + bytes.size() > kGather) {
    flush();
    if (bytes.size() > kGather) {
      write_all(fd_, bytes, path_);
      offset_ += bytes.size();
      return;
    }
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  offset_ += bytes.size();
}

FileRecord PackWriter::add(const std::string& relpath,
                           std::span<const std::span<const std::byte>> parts) {
  if (finished_) throw StoreError(path_.string() + ": pack already finished");
  if (members_.contains(relpath)) {
    throw StoreError(path_.string() + ": the pack already has a member " + relpath);
  }
  static constexpr std::byte zeros[kPackAlign] = {};
  if (const std::size_t pad = (kPackAlign - offset_ % kPackAlign) % kPackAlign; pad != 0) {
    append(std::span(zeros, pad));
  }
  const std::uint64_t start = offset_;
  const HashState state = new_hash_state();
  std::uint64_t bytes = 0;
  for (const auto part : parts) {
    XXH3_64bits_update(state.get(), part.data(), part.size());
    append(part);
    bytes += part.size();
  }
  FileRecord record;
  record.bytes = bytes;
  record.xxh3 = hex64(XXH3_64bits_digest(state.get()));
  members_.emplace(relpath, Entry{start, record});
  return record;
}

std::uint64_t PackWriter::finish() {
  if (finished_) throw StoreError(path_.string() + ": pack already finished");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [path, entry] : members_) {
    list.push_back({{"path", path},
                    {"offset", entry.offset},
                    {"bytes", entry.record.bytes},
                    {"xxh3", entry.record.xxh3}});
  }
  const std::string index = nlohmann::json{{"members", list}}.dump();
  const auto index_bytes = std::as_bytes(std::span(index.data(), index.size()));
  const std::uint64_t index_offset = offset_;
  append(index_bytes);
  std::byte footer[kPackFooterBytes];
  std::memcpy(footer, kPackMagic, sizeof kPackMagic);
  put_u64(footer + 8, index_offset);
  put_u64(footer + 16, index.size());
  put_u64(footer + 24, XXH3_64bits(index.data(), index.size()));
  append(footer);
  flush();
  finished_ = true;
  return offset_;
}

PackReader::PackReader(Fd fd, std::uint64_t size, fs::path path)
    : fd_(std::move(fd)), size_(size), path_(std::move(path)) {
  const auto bad = [this](const std::string& why) {
    return StoreError(path_.string() + ": not a valid commit pack (" + why + ")");
  };
  if (size_ < kPackFooterBytes) {
    throw bad("it has " + std::to_string(size_) + " bytes, less than a pack's " +
              std::to_string(kPackFooterBytes) + "-byte footer");
  }
  std::byte footer[kPackFooterBytes];
  pread_exactly(fd_.get(), footer, sizeof footer, size_ - kPackFooterBytes, path_);
  if (!has_pack_magic(footer)) throw bad("its last 32 bytes do not start with the pack magic");
  const std::uint64_t index_offset = get_u64(footer + 8);
  const std::uint64_t index_length = get_u64(footer + 16);
  const std::uint64_t index_hash = get_u64(footer + 24);
  const std::uint64_t data_end = size_ - kPackFooterBytes;
  if (index_offset > data_end || index_length != data_end - index_offset) {
    throw bad("its footer puts the index at " + std::to_string(index_offset) + "+" +
              std::to_string(index_length) + ", not just before the footer at " +
              std::to_string(data_end));
  }
  std::string index(index_length, '\0');
  pread_exactly(fd_.get(), reinterpret_cast<std::byte*>(index.data()), index.size(), index_offset,
                path_);
  if (XXH3_64bits(index.data(), index.size()) != index_hash) {
    throw bad("its index does not match the footer's checksum (file damaged)");
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(index);
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("its index is not valid JSON: ") + e.what());
  }
  if (!json.is_object() || !json.contains("members") || !json["members"].is_array()) {
    throw bad("its index has no \"members\" list");
  }
  std::uint64_t end = 0;  // members are listed in path order; their bytes must not overlap
  std::map<std::uint64_t, std::uint64_t> extents;
  for (const auto& m : json["members"]) {
    if (!m.is_object() || !m.contains("path") || !m["path"].is_string() || !m.contains("offset") ||
        !m["offset"].is_number_unsigned() || !m.contains("bytes") ||
        !m["bytes"].is_number_unsigned() || !m.contains("xxh3") || !m["xxh3"].is_string()) {
      throw bad("an index entry lacks path, offset, bytes or xxh3");
    }
    const std::string rel = m["path"].get<std::string>();
    if (rel != "manifest.json") {
      if (const std::string why = relpath_error(rel); !why.empty()) {
        throw bad("member '" + rel + "': the path " + why);
      }
    }
    PackMember member{m["offset"].get<std::uint64_t>(), m["bytes"].get<std::uint64_t>(),
                      m["xxh3"].get<std::string>()};
    if (member.offset > index_offset || member.bytes > index_offset - member.offset) {
      throw bad("member '" + rel + "' lies outside the data (" + std::to_string(member.offset) +
                "+" + std::to_string(member.bytes) + ")");
    }
    if (member.bytes > 0 && !extents.emplace(member.offset, member.offset + member.bytes).second) {
      throw bad("two members overlap at byte " + std::to_string(member.offset));
    }
    if (!members_.emplace(rel, std::move(member)).second) {
      throw bad("member '" + rel + "' is listed twice");
    }
  }
  for (const auto& [from, to] : extents) {
    if (from < end) throw bad("two members overlap at byte " + std::to_string(from));
    end = to;
  }
}

const PackMember& PackReader::member(const std::string& relpath) const {
  const auto it = members_.find(relpath);
  if (it == members_.end()) {
    throw StoreError((path_ / relpath).string() + ": missing (the pack has no such member)");
  }
  return it->second;
}

std::vector<std::byte> PackReader::read(const std::string& relpath) const {
  const PackMember& m = member(relpath);
  std::vector<std::byte> bytes(m.bytes);
  pread_exactly(fd_.get(), bytes.data(), bytes.size(), m.offset, path_);
  const std::string digest = hex64(XXH3_64bits(bytes.data(), bytes.size()));
  if (digest != m.xxh3) {
    throw StoreError((path_ / relpath).string() + ": checksum xxh3 " + digest +
                     " does not match the pack index's " + m.xxh3 + " (file damaged)");
  }
  return bytes;
}

std::vector<std::byte> PackReader::head(const std::string& relpath, std::size_t limit) const {
  const PackMember& m = member(relpath);
  std::vector<std::byte> bytes(static_cast<std::size_t>(std::min<std::uint64_t>(m.bytes, limit)));
  pread_exactly(fd_.get(), bytes.data(), bytes.size(), m.offset, path_);
  return bytes;
}

std::string PackReader::hash(const std::string& relpath) const {
  const PackMember& m = member(relpath);
  const HashState state = new_hash_state();
  std::vector<std::byte> buf(std::min<std::uint64_t>(m.bytes, kGather));
  for (std::uint64_t done = 0; done < m.bytes;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), m.bytes - done));
    pread_exactly(fd_.get(), buf.data(), n, m.offset + done, path_);
    XXH3_64bits_update(state.get(), buf.data(), n);
    done += n;
  }
  return hex64(XXH3_64bits_digest(state.get()));
}

}  // namespace stormrun::store_detail
