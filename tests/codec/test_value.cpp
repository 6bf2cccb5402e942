// Value kinds, as<T>() errors, display text, dtypes and UTC time text.
#include <doctest/doctest.h>

#include <chrono>
#include <limits>

#include "stormrun/value.hpp"

using namespace stormrun;
using namespace std::chrono;

TEST_CASE("Value: kind names of every alternative") {
  CHECK(Value().kind() == "null");
  CHECK(Value(true).kind() == "bool");
  CHECK(Value(-3).kind() == "int64");
  CHECK(Value(3u).kind() == "uint64");
  CHECK(Value(0.5).kind() == "float64");
  CHECK(Value("x").kind() == "string");
  CHECK(Value(TimePoint{}).kind() == "time");
  CHECK(Value(Duration{5}).kind() == "duration");
  CHECK(Value(Value::List{}).kind() == "list");
  CHECK(Value(Value::Map{}).kind() == "map");
  CHECK(Value(NdArray{}).kind() == "ndarray");
}

TEST_CASE("Value::as names what was asked for and what is held") {
  const Value v("hello");
  CHECK(v.as<std::string>() == "hello");
  try {
    (void)v.as<double>("metadata.lead_time");
    FAIL("as<double> on a string must throw");
  } catch (const CodecError& error) {
    const std::string text = error.what();
    CHECK(text.find("metadata.lead_time") != std::string::npos);
    CHECK(text.find("float64") != std::string::npos);
    CHECK(text.find("string") != std::string::npos);
  }
}

TEST_CASE("Value::to_display") {
  CHECK(Value().to_display() == "null");
  CHECK(Value(false).to_display() == "false");
  CHECK(Value(std::numeric_limits<std::int64_t>::min()).to_display() == "-9223372036854775808");
  CHECK(Value(0.1).to_display() == "0.1");
  CHECK(Value(-std::numeric_limits<double>::infinity()).to_display() == "-inf");
  CHECK(Value(Duration(hours(6))).to_display() == "6h");
  CHECK(Value(Duration(minutes(90))).to_display() == "90min");
  CHECK(Value(Duration(1500)).to_display() == "1500ns");
  CHECK(Value(Value::List{1, 2}).to_display() == "[1, 2]");
  CHECK(Value(Value::Map{{"a", 1}}).to_display() == "{a: 1}");
  NdArray a;
  a.dtype = DType::Float32;
  a.shape = {2, 3};
  a.data.resize(24);
  CHECK(Value(a).to_display() == "<f4[2,3]");
  Value::List many(20, Value(0));
  CHECK(Value(many).to_display().find("(20 items)") != std::string::npos);
}

TEST_CASE("dtype tables agree with numpy descr strings") {
  CHECK(dtype_descr(DType::Float64) == "<f8");
  CHECK(dtype_descr(DType::Bool) == "|b1");
  CHECK(dtype_descr(DType::UInt8) == "|u1");
  CHECK(dtype_descr(DType::Int16) == "<i2");
  CHECK(dtype_size(DType::UInt64) == 8);
  CHECK(dtype_name(DType::Float32) == "float32");
  for (const DType d :
       {DType::Bool, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8,
        DType::UInt16, DType::UInt32, DType::UInt64, DType::Float32, DType::Float64}) {
    CHECK(dtype_from_descr(dtype_descr(d)) == d);
  }
  CHECK_THROWS_WITH_AS(dtype_from_descr(">f8"), doctest::Contains("big-endian"), CodecError);
  CHECK_THROWS_WITH_AS(dtype_from_descr("|O"), doctest::Contains("object"), CodecError);
  CHECK_THROWS_WITH_AS(dtype_from_descr("<c16"), doctest::Contains("unsupported"), CodecError);
  static_assert(dtype_of<double>() == DType::Float64);
  static_assert(dtype_of<float>() == DType::Float32);
  static_assert(dtype_of<std::uint8_t>() == DType::UInt8);
  static_assert(dtype_of<std::int64_t>() == DType::Int64);
  static_assert(dtype_of<long long>() == DType::Int64);
  static_assert(dtype_of<bool>() == DType::Bool);
}

TEST_CASE("format_utc / parse_utc: nanoseconds, fixed width, Z") {
  const TimePoint t = sys_days(year{2026} / 11 / 29) + hours(1) + minutes(52) + seconds(25) +
                      nanoseconds(123456789);
  CHECK(format_utc(t) == "2026-11-29T01:52:25.123456789Z");
  CHECK(parse_utc("2026-11-29T01:52:25.123456789Z") == t);
  CHECK(parse_utc("2026-11-29T01:52:25.123456789+00:00") == t);
  CHECK(parse_utc("2026-11-29T01:52:25Z") == t - nanoseconds(123456789));
  CHECK(parse_utc("2026-11-29T01:52:25.5Z") == t - nanoseconds(123456789) + milliseconds(500));
  CHECK(format_utc(TimePoint{}) == "1970-01-01T00:00:00.000000000Z");
  // Before the epoch and at the int64 limits.
  const TimePoint before = sys_days(year{1969} / 12 / 31) + hours(23) + nanoseconds(1);
  CHECK(parse_utc(format_utc(before)) == before);
  const TimePoint lo{nanoseconds(std::numeric_limits<std::int64_t>::min())};
  const TimePoint hi{nanoseconds(std::numeric_limits<std::int64_t>::max())};
  CHECK(parse_utc(format_utc(lo)) == lo);
  CHECK(parse_utc(format_utc(hi)) == hi);
  CHECK(format_utc(hi) == "2262-04-11T23:47:16.854775807Z");
}

TEST_CASE("format_utc_seconds: the store's precisions (seconds, microseconds), truncated") {
  const std::int64_t s = 1'795'917'145;  // 2026-11-29T01:52:25Z
  CHECK(format_utc_seconds(s, 0, 0) == "2026-11-29T01:52:25Z");
  CHECK(format_utc_seconds(s, 123'456'789, 0) == "2026-11-29T01:52:25Z");
  CHECK(format_utc_seconds(s, 123'456'789, 6) == "2026-11-29T01:52:25.123456Z");
  CHECK(format_utc_seconds(s, 123'456'789, 9) ==
        format_utc(TimePoint(seconds(s)) + nanoseconds(123'456'789)));
  CHECK(format_utc_seconds(-1, 999'999'000, 6) == "1969-12-31T23:59:59.999999Z");
  // Beyond TimePoint's years 1677..2262 (a saved_at from the clock of a far-off year).
  CHECK(format_utc_seconds(253'402'300'799, 999'999'000, 6) == "9999-12-31T23:59:59.999999Z");
  CHECK_THROWS_AS(format_utc_seconds(s, 1'000'000'000, 6), std::invalid_argument);
  CHECK_THROWS_AS(format_utc_seconds(s, 0, 10), std::invalid_argument);
}

TEST_CASE("parse_utc rejects malformed text") {
  for (const char* bad :
       {"", "2026-11-29", "2026-11-29T01:52:25", "2026-11-29T01:52:25+01:00",
        "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T01:60:00Z",
        "2026-11-29T01:52:60Z", "2026-11-29T01:52:25.Z", "2026-11-29T01:52:25.1234567891Z",
        "2026-11-29 01:52:25Z", "2026-11-29T01:52:25Zjunk", "2300-01-01T00:00:00Z",
        "1600-01-01T00:00:00Z", "+026-11-29T01:52:25Z"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_utc(bad), doctest::Contains("malformed UTC time"), CodecError);
  }
}
