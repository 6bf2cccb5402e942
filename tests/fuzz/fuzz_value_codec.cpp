// libFuzzer target: the value codec's JSON (docs/value-encoding.md): decode_value and
// decode_metadata of any JSON document, without array payloads.
#include "fuzz_support.hpp"
#include "stormrun/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = stormrun::fuzz::json_of(data, size);
  if (!j) return 0;
  stormrun::fuzz::refuses_cleanly([&] { (void)stormrun::decode_value(*j, nullptr, "fuzz"); });
  stormrun::fuzz::refuses_cleanly([&] { (void)stormrun::decode_metadata(*j, "fuzz"); });
  return 0;
}
