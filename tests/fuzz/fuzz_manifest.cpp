// libFuzzer target: a commit's manifest.json as bytes, parsed and checked as a reader of
// the store does (docs/checkpoint-format.md, "Manifest").
#include "checkpoint/store/commit_check.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = stormrun::fuzz::text_of(data, size);
  stormrun::fuzz::refuses_cleanly(
      [&] { (void)stormrun::store_detail::parse_manifest(text, "fuzz/manifest.json"); });
  return 0;
}
