// libFuzzer target: a rank's catalog.json as text (docs/checkpoint-format.md, "Rank catalog").
#include "checkpoint/store/catalog_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = stormrun::fuzz::text_of(data, size);
  stormrun::fuzz::refuses_cleanly(
      [&] { (void)stormrun::store_detail::parse_catalog(text, "fuzz/catalog.json", 0); });
  return 0;
}
