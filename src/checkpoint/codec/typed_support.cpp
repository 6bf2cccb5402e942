// Out-of-line helpers of the typed Codec<T> traits (bits/codec_impl.hpp): error messages,
// key paths and exact integer scaling.
#include <cstdint>
#include <string>
#include <string_view>

#include "stormrun/codec.hpp"

namespace stormrun::detail {

std::string child_where(std::string_view where, std::string_view key) {
  std::string out(where);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string index_where(std::string_view where, std::size_t index) {
  return std::string(where) + "[" + std::to_string(index) + "]";
}

std::int64_t checked_element_count(const std::vector<std::int64_t>& shape, std::string_view where) {
  std::int64_t count = 1;
  for (const auto extent : shape) {
    if (extent < 0) {
      throw CodecError(std::string(where) + ": negative array extent " + std::to_string(extent));
    }
    if (__builtin_mul_overflow(count, extent, &count)) {
      throw CodecError(std::string(where) + ": array element count overflows int64");
    }
  }
  return count;
}

void throw_out_of_range(std::string_view where, std::string_view value,
                        std::string_view type_name) {
  throw CodecError(std::string(where) + ": value " + std::string(value) +
                   " cannot be represented exactly as " + std::string(type_name));
}

void throw_codec_error(const std::string& message) {
  throw CodecError(message);
}

std::optional<std::int64_t> scale_exact(std::int64_t value, std::intmax_t num, std::intmax_t den) {
  // num/den is reduced (std::ratio), so value*num/den is an integer only when den divides
  // value; dividing first also avoids an intermediate overflow.
  if (den <= 0 || num <= 0 || value % den != 0) return std::nullopt;
  std::int64_t out = 0;
  if (__builtin_mul_overflow(value / den, num, &out)) return std::nullopt;
  return out;
}

}  // namespace stormrun::detail
