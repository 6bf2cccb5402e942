// libFuzzer target: a commit pack (checkpoint format 3, docs/checkpoint-format.md "Pack
// commits") as bytes — its footer, index and members read as a reader of the store reads
// them: every member's bytes (checked against the index), its head and its hash, and the
// manifest member parsed and checked.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include <xxhash.h>

#include "checkpoint/store/commit_check.hpp"
#include "checkpoint/store/pack_file.hpp"
#include "fuzz_support.hpp"

namespace {

/// The input in an anonymous in-memory file: the reader works on a file descriptor.
stormrun::store_detail::Fd memory_file(const std::uint8_t* data, std::size_t size) {
  const int fd = ::memfd_create("fuzz_pack", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  return stormrun::store_detail::Fd(fd);
}

/// The pack's checks and reads, as a reader of the store makes them.
void read_pack(const std::uint8_t* data, std::size_t size) {
  using namespace stormrun::store_detail;
  stormrun::fuzz::refuses_cleanly([&] {
    const PackReader pack(memory_file(data, size), size, "fuzz/commit_00000001_000000000000");
    for (const auto& entry : pack.members()) {
      const std::string& rel = entry.first;  // a structured binding cannot be captured (C++17)
      (void)pack.head(rel, 128);
      (void)pack.hash(rel);
      stormrun::fuzz::refuses_cleanly([&] {
        const auto bytes = pack.read(rel);
        if (rel == "manifest.json") {
          (void)parse_manifest(
              std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
              "fuzz/manifest.json");
        }
      });
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  read_pack(data, size);
  // Again with the footer's index checksum made to match (where the footer's bounds allow):
  // a mutated index then gets past the checksum, so the index's own checks are fuzzed too.
  using stormrun::store_detail::kPackFooterBytes;
  if (size < kPackFooterBytes) return 0;
  std::vector<std::uint8_t> fixed(data, data + size);
  std::uint8_t* footer = fixed.data() + size - kPackFooterBytes;
  const auto word = [](const std::uint8_t* at) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
      v = (v << 8) | at[i];
    return v;
  };
  const std::uint64_t offset = word(footer + 8), length = word(footer + 16);
  const std::uint64_t data_end = size - kPackFooterBytes;
  if (offset > data_end || length != data_end - offset) return 0;
  std::uint64_t hash = XXH3_64bits(fixed.data() + offset, length);
  for (int i = 0; i < 8; ++i, hash >>= 8)
    footer[24 + i] = static_cast<std::uint8_t>(hash & 0xff);
  read_pack(fixed.data(), fixed.size());
  return 0;
}
