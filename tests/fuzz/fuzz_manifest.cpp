// libFuzzer target: a commit's manifest.json (docs/checkpoint-format.md, "Manifest").
#include "fuzz_support.hpp"
#include "stormrun/store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = stormrun::fuzz::json_of(data, size);
  if (!j) return 0;
  stormrun::fuzz::refuses_cleanly(
      [&] { (void)stormrun::Manifest::from_json(*j, "fuzz/manifest.json"); });
  return 0;
}
