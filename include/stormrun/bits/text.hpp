// Small text helpers shared by every room: joining lists and the canonical, locale-free
// spelling of numbers and times used in messages, fingerprints and unit names. Local.
#pragma once

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "stormrun/value.hpp"

namespace stormrun::text {

/// Items joined by `separator` ("h,u,v").
inline std::string join(const std::vector<std::string>& items, const std::string& separator = ",") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

namespace detail {
// strerror_r is the GNU one (returns the text) under _GNU_SOURCE, else the XSI one (fills
// the buffer, returns 0): each overload takes one of the two results.
inline const char* strerror_result(const char* text, const char*) {
  return text;
}
inline const char* strerror_result(int failed, const char* buffer) {
  return failed == 0 ? buffer : "unknown error";
}
}  // namespace detail

/// The C library's text for errno value `err` ("No such file or directory"), safe to call
/// from several threads at once (std::strerror is not: the commit thread and the main
/// thread both report system errors).
inline std::string errno_text(int err) {
  char buffer[256] = {};
  return detail::strerror_result(strerror_r(err, buffer, sizeof buffer), buffer);
}

/// Each line on its own indented line ("\n  a\n  b"), for lists inside an error message.
inline std::string indented_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += "\n  " + line;
  return out;
}

/// Shortest text that reads back as the same double ("21600", "0.5", "inf").
inline std::string number_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

/// format_utc without the fractional seconds when they are zero ("2026-01-01T00:00:00Z").
inline std::string short_utc(TimePoint t) {
  std::string text = format_utc(t);
  const std::string zero_fraction = ".000000000Z";
  if (text.size() > zero_fraction.size() &&
      text.compare(text.size() - zero_fraction.size(), zero_fraction.size(), zero_fraction) == 0)
    text = text.substr(0, text.size() - zero_fraction.size()) + "Z";
  return text;
}

}  // namespace stormrun::text
