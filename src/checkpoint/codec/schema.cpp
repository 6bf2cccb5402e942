// Schema hashes of state structs (state.hpp): XXH3-64 of the canonical schema text.
#include <cstdio>
#include <string>
#include <string_view>

#include <xxhash.h>

#include "stormrun/state.hpp"

namespace stormrun::detail {

std::string schema_text_hash(std::string_view schema_text) {
  const XXH64_hash_t hash = XXH3_64bits(schema_text.data(), schema_text.size());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

void throw_schema_error(const std::string& message) {
  throw SchemaError(message);
}

}  // namespace stormrun::detail
