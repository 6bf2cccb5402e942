// Shared by the libFuzzer targets (tests/fuzz/README.md): the input as text or JSON, and the
// rule every target checks. A parser of untrusted bytes may refuse them only with its
// documented error: a std::runtime_error naming the file or record at fault (StoreError,
// CheckpointError, RestartMismatch...), or the ledger's std::invalid_argument "malformed
// <record> JSON". Anything else is a finding: a crash, a sanitizer report, a hang, or an
// escaping std::out_of_range, std::length_error, nlohmann::json::exception... (an error
// the parser did not turn into its own message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace stormrun::fuzz {

inline std::string text_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// The input as JSON, or nullopt when it is not JSON (the JSON library's own parser is
/// not what these targets test).
inline std::optional<nlohmann::json> json_of(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

/// Runs `parse`; a std::runtime_error or std::invalid_argument is the parser's documented
/// refusal; any other exception escapes, and libFuzzer reports it as a crash.
template <class F>
void refuses_cleanly(F&& parse) {
  try {
    parse();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace stormrun::fuzz
