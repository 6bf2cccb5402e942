// ISO 8601 UTC text of TimePoints: fixed-width output (so that text order is time order),
// strict input.
#include <array>
#include <chrono>
#include <cstdio>
#include <string>

#include "stormrun/value.hpp"

namespace stormrun {

namespace {

using namespace std::chrono;

[[noreturn]] void malformed(const std::string& text, const std::string& why) {
  throw CodecError("malformed UTC time '" + text + "': " + why +
                   " (expected YYYY-MM-DDTHH:MM:SS[.fffffffff] followed by Z or +00:00)");
}

}  // namespace

std::string format_utc(TimePoint t) {
  // Split by hand: std::chrono::floor<days> overflows int64 nanoseconds near the lower limit.
  constexpr std::int64_t kNsPerDay = 86'400'000'000'000;
  std::int64_t day_count = t.time_since_epoch().count() / kNsPerDay;
  std::int64_t ns_of_day = t.time_since_epoch().count() % kNsPerDay;
  if (ns_of_day < 0) {
    ns_of_day += kNsPerDay;
    --day_count;
  }
  const year_month_day ymd{sys_days(days(day_count))};
  const hh_mm_ss<nanoseconds> tod{nanoseconds(ns_of_day)};
  std::array<char, 48> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%09lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count()));
  return buffer.data();
}

TimePoint parse_utc(const std::string& text) {
  std::size_t pos = 0;
  auto digits = [&](std::size_t count, const char* part) {
    int value = 0;
    for (std::size_t i = 0; i < count; ++i, ++pos) {
      if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') {
        malformed(text,
                  std::string("expected ") + std::to_string(count) + " digits of the " + part);
      }
      value = value * 10 + (text[pos] - '0');
    }
    return value;
  };
  auto literal = [&](char c) {
    if (pos >= text.size() || text[pos] != c) {
      malformed(text, std::string("expected '") + c + "' at offset " + std::to_string(pos));
    }
    ++pos;
  };
  const int y = digits(4, "year");
  literal('-');
  const int mo = digits(2, "month");
  literal('-');
  const int d = digits(2, "day");
  literal('T');
  const int h = digits(2, "hour");
  literal(':');
  const int mi = digits(2, "minute");
  literal(':');
  const int s = digits(2, "second");
  long long fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++count > 9) malformed(text, "more than 9 fractional digits");
      fraction = fraction * 10 + (text[pos++] - '0');
    }
    if (count == 0) malformed(text, "'.' without fractional digits");
    for (; count < 9; ++count)
      fraction *= 10;
  }
  const std::string zone = text.substr(pos);
  if (zone != "Z" && zone != "+00:00") malformed(text, "time zone must be Z or +00:00");

  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) malformed(text, "no such date");
  if (h > 23 || mi > 59 || s > 59) malformed(text, "time of day out of range");
  // TimePoint holds int64 nanoseconds (years 1677..2262): check before converting.
  const std::int64_t seconds_since_epoch =
      static_cast<std::int64_t>(sys_days(ymd).time_since_epoch().count()) * 86400 + h * 3600 +
      mi * 60 + s;
  // Before the epoch, borrow one second so that the intermediate product stays in range
  // down to the very first representable nanosecond.
  const bool borrow = seconds_since_epoch < 0;
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(seconds_since_epoch + (borrow ? 1 : 0), std::int64_t{1'000'000'000},
                             &ns) ||
      __builtin_add_overflow(ns, static_cast<std::int64_t>(fraction) - (borrow ? 1'000'000'000 : 0),
                             &ns)) {
    malformed(text, "outside the nanosecond range of years 1677..2262");
  }
  return TimePoint(nanoseconds(ns));
}

}  // namespace stormrun
