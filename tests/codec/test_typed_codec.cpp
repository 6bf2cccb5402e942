// Typed Codec<T>: every supported type converts to a Value and back exactly, loading checks
// ranges, kinds, dtypes and exactness, and type_name() gives the schema spelling.
#include <doctest/doctest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codec/codec_test_support.hpp"
#include "stormrun/codec.hpp"

using namespace stormrun;
using namespace std::chrono;
using json = nlohmann::json;

namespace {

/// to_value → JSON text (+ .npy blobs) → from_value, as a checkpoint does.
template <class T>
T round_trip(const T& v) {
  test::MemoryBlobs blobs;
  const std::string text = encode_value(to_value(v), &blobs, "p/").dump();
  return from_value<T>(decode_value(json::parse(text), &blobs, "t"), "t");
}

template <class T>
void check_integer_limits() {
  CAPTURE(Codec<T>::type_name());
  CHECK(round_trip(std::numeric_limits<T>::min()) == std::numeric_limits<T>::min());
  CHECK(round_trip(std::numeric_limits<T>::max()) == std::numeric_limits<T>::max());
  CHECK(round_trip(T{0}) == T{0});
}

}  // namespace

TEST_CASE("integers of every width: limits round-trip, out of range is refused") {
  check_integer_limits<std::int8_t>();
  check_integer_limits<std::int16_t>();
  check_integer_limits<std::int32_t>();
  check_integer_limits<std::int64_t>();
  check_integer_limits<std::uint8_t>();
  check_integer_limits<std::uint16_t>();
  check_integer_limits<std::uint32_t>();
  check_integer_limits<std::uint64_t>();
  check_integer_limits<long>();
  check_integer_limits<unsigned long long>();

  CHECK(Codec<std::int8_t>::type_name() == "int8");
  CHECK(Codec<std::uint16_t>::type_name() == "uint16");
  CHECK(Codec<long long>::type_name() == "int64");
  CHECK(Codec<std::uint64_t>::type_name() == "uint64");
  CHECK(to_value(std::uint64_t{3}).kind() == "uint64");
  CHECK(to_value(std::uint32_t{3}).kind() == "int64");

  CHECK_THROWS_WITH_AS(
      from_value<std::uint8_t>(Value(256), "state.count"),
      doctest::Contains("state.count: value 256 cannot be represented exactly as uint8"),
      CodecError);
  CHECK_THROWS_AS(from_value<std::int8_t>(Value(-129), "x"), CodecError);
  CHECK_THROWS_AS(from_value<std::uint32_t>(Value(-1), "x"), CodecError);
  CHECK_THROWS_AS(from_value<std::int64_t>(Value(std::numeric_limits<std::uint64_t>::max()), "x"),
                  CodecError);
  CHECK(from_value<std::int64_t>(Value(std::uint64_t{5}), "x") == 5);
  CHECK(from_value<std::uint64_t>(Value(5), "x") == 5u);
  CHECK_THROWS_WITH_AS(from_value<int>(Value(1.0), "x"),
                       doctest::Contains("x: expected int32, found float64"), CodecError);
  CHECK_THROWS_AS(from_value<int>(Value(true), "x"), CodecError);
}

TEST_CASE("bool, string, float, double") {
  CHECK(round_trip(true));
  CHECK_FALSE(round_trip(false));
  CHECK(round_trip(std::string("ünïcødé")) == "ünïcødé");
  CHECK(round_trip(std::string()).empty());
  CHECK(std::bit_cast<std::uint64_t>(round_trip(-0.0)) == std::bit_cast<std::uint64_t>(-0.0));
  CHECK(round_trip(0.1) == 0.1);
  CHECK(round_trip(std::numeric_limits<double>::denorm_min()) ==
        std::numeric_limits<double>::denorm_min());
  CHECK(round_trip(0.1f) == 0.1f);
  CHECK(round_trip(std::numeric_limits<float>::denorm_min()) ==
        std::numeric_limits<float>::denorm_min());
  CHECK(round_trip(std::numeric_limits<float>::max()) == std::numeric_limits<float>::max());
  CHECK(std::isinf(round_trip(-std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
  CHECK_THROWS_WITH_AS(from_value<float>(Value(0.1), "f"),
                       doctest::Contains("cannot be represented exactly as float32"), CodecError);
  CHECK_THROWS_AS(from_value<double>(Value(1), "d"), CodecError);
  CHECK_THROWS_AS(from_value<bool>(Value(1), "b"), CodecError);
  CHECK_THROWS_AS(from_value<std::string>(Value(), "s"), CodecError);
  CHECK(Codec<float>::type_name() == "float32");
  CHECK(Codec<double>::type_name() == "float64");
  CHECK(Codec<std::string>::type_name() == "string");
  CHECK(Codec<bool>::type_name() == "bool");
}

TEST_CASE("durations of any unit convert exactly; inexact values are refused") {
  CHECK(round_trip(hours(6)) == hours(6));
  CHECK(round_trip(seconds(-21600)) == seconds(-21600));
  CHECK(round_trip(nanoseconds(std::numeric_limits<std::int64_t>::min())) ==
        nanoseconds(std::numeric_limits<std::int64_t>::min()));
  CHECK(round_trip(duration<std::int32_t, std::milli>(-7)) ==
        duration<std::int32_t, std::milli>(-7));
  CHECK(round_trip(duration<double>(1.5)) == duration<double>(1.5));
  CHECK(to_value(minutes(90)).as<Duration>() == minutes(90));
  CHECK(Codec<hours>::type_name() == "duration");

  // Not a whole number of nanoseconds, or beyond int64 nanoseconds.
  using picoseconds = duration<std::int64_t, std::pico>;
  CHECK(to_value(picoseconds(3000)).as<Duration>() == nanoseconds(3));
  CHECK_THROWS_WITH_AS((void)to_value(picoseconds(1)), doctest::Contains("not a whole number"),
                       CodecError);
  CHECK_THROWS_AS((void)to_value(hours(std::numeric_limits<std::int64_t>::max() / 1000)),
                  CodecError);
  CHECK_THROWS_AS((void)to_value(duration<double>(1e-10)), CodecError);
  CHECK_THROWS_AS((void)to_value(duration<double>(NAN)), CodecError);
  // Loading into a coarser unit requires an exact multiple.
  CHECK(from_value<seconds>(Value(Duration(seconds(5))), "d") == seconds(5));
  CHECK_THROWS_WITH_AS(from_value<seconds>(Value(Duration(1)), "state.dt"),
                       doctest::Contains("state.dt"), CodecError);
  CHECK_THROWS_AS(from_value<duration<std::int8_t>>(Value(Duration(seconds(1000))), "d"),
                  CodecError);
  CHECK_THROWS_AS(from_value<seconds>(Value(5), "d"), CodecError);
}

TEST_CASE("time points of the system clock") {
  const TimePoint t = sys_days(year{2026} / 11 / 29) + nanoseconds(123456789);
  CHECK(round_trip(t) == t);
  const sys_seconds s = sys_days(year{2000} / 1 / 1) + seconds(1);
  CHECK(round_trip(s) == s);
  CHECK(Codec<TimePoint>::type_name() == "time");
  CHECK_THROWS_AS(from_value<sys_seconds>(Value(t), "t"), CodecError);
  CHECK_THROWS_AS(from_value<TimePoint>(Value(Duration(1)), "t"), CodecError);
}

TEST_CASE("vector, map, optional, nested containers") {
  const std::vector<std::int64_t> completed = {0, 3, std::numeric_limits<std::int64_t>::min()};
  CHECK(round_trip(completed) == completed);
  CHECK(round_trip(std::vector<double>{}).empty());
  CHECK(round_trip(std::vector<bool>{true, false, true}) == std::vector<bool>{true, false, true});
  const std::map<std::string, std::vector<float>> m = {{"$a", {1.5f}}, {"b", {}}};
  CHECK(round_trip(m) == m);
  CHECK(round_trip(std::optional<int>()) == std::nullopt);
  CHECK(round_trip(std::optional<int>(4)) == 4);
  const std::vector<std::optional<std::map<std::string, std::uint64_t>>> nested = {
      std::nullopt,
      std::map<std::string, std::uint64_t>{{"x", std::numeric_limits<std::uint64_t>::max()}}};
  CHECK(round_trip(nested) == nested);

  CHECK(Codec<std::vector<double>>::type_name() == "vector<float64>");
  CHECK(Codec<std::map<std::string, std::int64_t>>::type_name() == "map<string,int64>");
  CHECK(Codec<std::optional<std::vector<std::string>>>::type_name() == "optional<vector<string>>");

  // A bad element is reported with its index / key.
  CHECK_THROWS_WITH_AS(from_value<std::vector<int>>(Value(Value::List{1, "two"}), "s.ids"),
                       doctest::Contains("s.ids[1]: expected int32, found string"), CodecError);
  CHECK_THROWS_WITH_AS(
      (from_value<std::map<std::string, int>>(Value(Value::Map{{"k", 1.0}}), "s.m")),
      doctest::Contains("s.m.k"), CodecError);
  CHECK_THROWS_AS(from_value<std::vector<int>>(Value(Value::Map{}), "v"), CodecError);
}

TEST_CASE("Array<T> to NdArray and back: dtype and size checked") {
  Array<double> field{{2, 3}, {0.1, -0.0, 1e-310, NAN, INFINITY, -1}};
  const auto back = round_trip(field);
  CHECK(back.shape == field.shape);
  REQUIRE(back.data.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(std::bit_cast<std::uint64_t>(back.data[i]) ==
          std::bit_cast<std::uint64_t>(field.data[i]));
  }
  const Array<std::int16_t> small{{4}, {-32768, 0, 1, 32767}};
  CHECK(round_trip(small) == small);
  const Array<bool> mask{{2, 2}, {true, false, false, true}};
  CHECK(round_trip(mask) == mask);
  const Array<float> empty{{0, 4}, {}};
  CHECK(round_trip(empty) == empty);
  const Array<std::uint64_t> scalar{{}, {std::numeric_limits<std::uint64_t>::max()}};
  CHECK(round_trip(scalar) == scalar);
  CHECK(Codec<Array<double>>::type_name() == "array<float64>");
  CHECK(Codec<Array<std::uint8_t>>::type_name() == "array<uint8>");

  const Value v = to_value(field);
  CHECK(v.as<NdArray>().dtype == DType::Float64);
  CHECK_THROWS_WITH_AS(
      from_value<Array<float>>(v, "state.h"),
      doctest::Contains("state.h: array dtype is float64 (<f8), expected float32 (<f4)"),
      CodecError);
  NdArray short_data = v.as<NdArray>();
  short_data.data.resize(40);
  CHECK_THROWS_AS(from_value<Array<double>>(Value(short_data), "s"), CodecError);
  CHECK_THROWS_WITH_AS((void)to_value(Array<double>{{2, 2}, {1.0}}),
                       doctest::Contains("shape holds 4 elements but data has 1"), CodecError);
  NdArray bad_bool;
  bad_bool.dtype = DType::Bool;
  bad_bool.shape = {1};
  bad_bool.data = {std::byte{2}};
  CHECK_THROWS_WITH_AS(from_value<Array<bool>>(Value(bad_bool), "m"),
                       doctest::Contains("not 0 or 1"), CodecError);
}
