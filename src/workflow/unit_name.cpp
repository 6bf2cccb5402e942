// Work unit names, "<ISO start>/m<member>" (config.hpp): written and read back here only.
#include <exception>

#include "stormrun/bits/text.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

namespace {

constexpr std::string_view kMemberMark = "/m";

}  // namespace

std::string unit_name(TimePoint start, std::int64_t member) {
  std::string digits = std::to_string(member);
  if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
  return text::short_utc(start) + std::string(kMemberMark) + digits;
}

std::optional<std::pair<TimePoint, std::int64_t>> parse_unit_name(const std::string& name) {
  const auto mark = name.rfind(kMemberMark);
  if (mark == std::string::npos) return std::nullopt;
  try {
    const TimePoint start = parse_utc(name.substr(0, mark));
    const std::int64_t member = std::stoll(name.substr(mark + kMemberMark.size()));
    // Only the spelling unit_name writes: not "+00:00", "/m+3" or "/m3 " (not a run's unit).
    if (member < 0 || unit_name(start, member) != name) return std::nullopt;
    return std::pair(start, member);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace stormrun::workflow
