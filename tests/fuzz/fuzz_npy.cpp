// libFuzzer target: the .npy reader (header and payload) of the value codec.
#include <span>

#include "fuzz_support.hpp"
#include "stormrun/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  stormrun::fuzz::refuses_cleanly([&] { (void)stormrun::npy_decode(bytes, "fuzz.npy"); });
  return 0;
}
