// ISO 8601 UTC text of TimePoints and of the store's on-disk times: fixed-width output (so
// that text order is time order), strict input.
#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>
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
  // Split by hand (toward the past): std::chrono::floor can overflow int64 nanoseconds near
  // the lower limit.
  constexpr std::int64_t kNsPerSecond = 1'000'000'000;
  std::int64_t seconds_since_epoch = t.time_since_epoch().count() / kNsPerSecond;
  std::int64_t ns = t.time_since_epoch().count() % kNsPerSecond;
  if (ns < 0) {
    ns += kNsPerSecond;
    --seconds_since_epoch;
  }
  return format_utc_seconds(seconds_since_epoch, ns, 9);
}

std::string format_utc_seconds(std::int64_t seconds_since_epoch, std::int64_t nanoseconds_part,
                               int fraction_digits) {
  if (nanoseconds_part < 0 || nanoseconds_part >= 1'000'000'000 || fraction_digits < 0 ||
      fraction_digits > 9) {
    throw std::invalid_argument("format_utc_seconds: nanoseconds " +
                                std::to_string(nanoseconds_part) + " (0..999999999) or " +
                                std::to_string(fraction_digits) + " fraction digits (0..9)");
  }
  constexpr std::int64_t kSecondsPerDay = 86'400;
  std::int64_t day_count = seconds_since_epoch / kSecondsPerDay;
  std::int64_t second_of_day = seconds_since_epoch % kSecondsPerDay;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDay;
    --day_count;
  }
  const year_month_day ymd{sys_days(days(day_count))};
  const hh_mm_ss<std::chrono::seconds> tod{std::chrono::seconds(second_of_day)};
  std::array<char, 48> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%09lld",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<long long>(nanoseconds_part));
  std::string text = buffer.data();
  const std::size_t fraction_start = text.find('.');
  text.resize(fraction_digits == 0 ? fraction_start : fraction_start + 1 + fraction_digits);
  return text + "Z";
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
      static_cast<std::int64_t>(sys_days(ymd).time_since_epoch().count()) * 86400 +
      std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + s;
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
