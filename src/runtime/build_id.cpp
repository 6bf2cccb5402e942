// build_id.hpp: the GNU build-id note of the main executable, read from its loaded program
// headers (no file is read); a hash of the executable's bytes when the note is missing.
#include "stormrun/runtime/build_id.hpp"

#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "xxhash.h"

namespace stormrun::runtime {

namespace {

std::string hex(const unsigned char* bytes, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < size; ++i) {
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text;
}

// dl_iterate_phdr callback: the first object is the main executable; its PT_NOTE segments
// are searched for NT_GNU_BUILD_ID.
int find_note(dl_phdr_info* info, std::size_t, void* data) {
  auto* out = static_cast<std::string*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    // The loader gives the segment as an address (an integer): the cast is the point here.
    const auto* p = reinterpret_cast<const unsigned char*>(  // NOLINT(performance-no-int-to-ptr)
        info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const unsigned char* name = p + sizeof note;
      const unsigned char* desc = name + ((note.n_namesz + 3) & ~3u);
      if (desc + note.n_descsz > end) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
          std::memcmp(name, "GNU", 4) == 0) {
        *out = hex(desc, note.n_descsz);
        return 1;
      }
      p = desc + ((note.n_descsz + 3) & ~3u);
    }
  }
  return 1;  // only the first object (the executable) is looked at
}

std::string compute() {
  std::string id;
  dl_iterate_phdr(find_note, &id);
  if (!id.empty()) return id;
  std::ifstream exe("/proc/self/exe", std::ios::binary);
  if (!exe) return "unknown";
  const std::vector<char> bytes{std::istreambuf_iterator<char>(exe),
                                std::istreambuf_iterator<char>()};
  char text[32];
  std::snprintf(text, sizeof text, "sha:%016llx",
                static_cast<unsigned long long>(XXH3_64bits(bytes.data(), bytes.size())));
  return text;
}

}  // namespace

const std::string& build_id() {
  static const std::string id = compute();
  return id;
}

}  // namespace stormrun::runtime
