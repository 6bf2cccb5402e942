// JSON encoding of Values: exact round trips (through dumped text), the tagged forms, arrays
// through a blob store, metadata, and refusal of every unknown or forged form.
#include <doctest/doctest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "codec/codec_test_support.hpp"
#include "stormrun/codec.hpp"

using namespace stormrun;
using json = nlohmann::json;
using namespace std::chrono;

namespace {

/// Bitwise equality (NaN payloads, -0.0) on top of Value's operator==.
bool identical(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  if (a.is<double>()) {
    return std::bit_cast<std::uint64_t>(a.as<double>()) ==
           std::bit_cast<std::uint64_t>(b.as<double>());
  }
  if (a.is<Value::List>()) {
    const auto& x = a.as<Value::List>();
    const auto& y = b.as<Value::List>();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!identical(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is<Value::Map>()) {
    const auto& x = a.as<Value::Map>();
    const auto& y = b.as<Value::Map>();
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      if (i->first != j->first || !identical(i->second, j->second)) return false;
    }
    return true;
  }
  return a == b;
}

/// encode → dump → parse → decode, as the store does.
Value through_text(const Value& v, test::MemoryBlobs* blobs = nullptr) {
  const std::string text = encode_value(v, blobs, "states/test/").dump();
  return decode_value(json::parse(text), blobs, "test");
}

NdArray f8_array(std::vector<std::int64_t> shape, const std::vector<double>& values) {
  NdArray a;
  a.shape = std::move(shape);
  a.data = test::as_bytes_vector(values);
  return a;
}

}  // namespace

TEST_CASE("every scalar kind round-trips exactly through JSON text, edge values included") {
  const double quiet_nan = std::numeric_limits<double>::quiet_NaN();
  const double payload_nan = std::bit_cast<double>(std::uint64_t{0x7ff000000000dead});
  const double negative_nan = std::bit_cast<double>(std::uint64_t{0xfff8000000000001});
  const std::vector<Value> values = {
      Value(),
      Value(true),
      Value(false),
      Value(std::int64_t{0}),
      Value(std::numeric_limits<std::int64_t>::min()),
      Value(std::numeric_limits<std::int64_t>::max()),
      Value(std::uint64_t{0}),
      Value(std::uint64_t{5}),
      Value(std::numeric_limits<std::uint64_t>::max()),
      Value(0.0),
      Value(-0.0),
      Value(0.1),
      Value(1.0),
      Value(1e300),
      Value(std::numeric_limits<double>::denorm_min()),
      Value(-std::numeric_limits<double>::denorm_min()),
      Value(std::numeric_limits<double>::min()),
      Value(std::numeric_limits<double>::max()),
      Value(std::numeric_limits<double>::lowest()),
      Value(std::numeric_limits<double>::epsilon()),
      Value(2.0 / 3.0),
      Value(std::numeric_limits<double>::infinity()),
      Value(-std::numeric_limits<double>::infinity()),
      Value(quiet_nan),
      Value(payload_nan),
      Value(negative_nan),
      Value(""),
      Value("ünïcødé ☂ 𝄞 \"quoted\" \\ \n\t\x01"),
      Value(TimePoint{}),
      Value(TimePoint(nanoseconds(std::numeric_limits<std::int64_t>::min()))),
      Value(sys_days(year{2026} / 1 / 2) + nanoseconds(3)),
      Value(Duration(0)),
      Value(Duration(hours(6))),
      Value(Duration(std::numeric_limits<std::int64_t>::min())),
      Value(Value::List{}),
      Value(Value::Map{}),
  };
  for (const auto& v : values) {
    CAPTURE(v.kind());
    CAPTURE(v.to_display());
    CHECK(identical(through_text(v), v));
  }
}

TEST_CASE("doubles round-trip bit-exactly over many bit patterns") {
  // A spread of exponents and mantissas (deterministic), both signs.
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const double d = std::bit_cast<double>(state);
    const Value back = through_text(Value(d));
    REQUIRE(back.is<double>());
    REQUIRE(std::bit_cast<std::uint64_t>(back.as<double>()) == state);
    ++checked;
  }
  CHECK(checked == 20000);
}

TEST_CASE("the closed set of JSON forms") {
  CHECK(encode_value(Value(std::int64_t{-3}), nullptr, "") == json(-3));
  CHECK(encode_value(Value(std::uint64_t{7}), nullptr, "") == json::parse(R"({"$uint64": "7"})"));
  CHECK(encode_value(Value(-std::numeric_limits<double>::infinity()), nullptr, "") ==
        json::parse(R"({"$float64": "-inf"})"));
  CHECK(encode_value(Value(std::numeric_limits<double>::quiet_NaN()), nullptr, "") ==
        json::parse(R"({"$float64": "nan"})"));
  CHECK(encode_value(Value(std::bit_cast<double>(std::uint64_t{0x7ff000000000dead})), nullptr,
                     "") == json::parse(R"({"$float64": "nan:0x7ff000000000dead"})"));
  CHECK(encode_value(Value(sys_days(year{2026} / 11 / 29)), nullptr, "") ==
        json::parse(R"({"$time": "2026-11-29T00:00:00.000000000Z"})"));
  CHECK(encode_value(Value(Duration(hours(6))), nullptr, "") ==
        json::parse(R"({"$duration_ns": 21600000000000})"));
  CHECK(encode_value(Value(Value::Map{{"$ref", 1}, {"$$x", 2}, {"a", 3}}), nullptr, "") ==
        json::parse(R"({"$$ref": 1, "$$$x": 2, "a": 3})"));
  CHECK(encode_value(Value(-0.0), nullptr, "").dump() == "-0.0");
  CHECK(encode_value(Value(1.0), nullptr, "").dump() == "1.0");
}

TEST_CASE("nested maps and lists, and map keys starting with '$', round-trip") {
  const Value v(Value::Map{
      {"$npy", "not an array"},
      {"$$", Value::List{1, Value::Map{{"$time", "text"}}}},
      {"$", Value()},
      {"", Value("empty key")},
      {"nested",
       Value::Map{{"deeper", Value::Map{{"list", Value::List{Value::List{}, Value::Map{}}}}}}},
      {"ключ", Value(std::uint64_t{1})},
  });
  CHECK(identical(through_text(v), v));
}

TEST_CASE("arrays are written as .npy through the sink and checked on load") {
  test::MemoryBlobs blobs;
  const NdArray h = f8_array({2, 2}, {1, 2, 3, 4});
  NdArray empty;
  empty.dtype = DType::Int32;
  empty.shape = {0, 3};
  const Value v(Value::Map{{"h", h}, {"list", Value::List{empty, h}}, {"a b", h}, {"a_b", h}});
  const json encoded = encode_value(v, &blobs, "states/test/");
  CHECK(encoded["h"] ==
        json::parse(R"({"$npy": "states/test/h.npy", "dtype": "<f8", "shape": [2, 2]})"));
  CHECK(encoded["list"][0]["$npy"] == "states/test/list.0.npy");
  CHECK(encoded["list"][0]["shape"] == json::parse("[0, 3]"));
  // Keys that are not file-name safe get distinct, safe names.
  const std::string spaced = encoded["a b"]["$npy"];
  CHECK(spaced.starts_with("states/test/a_b-"));
  CHECK(encoded["a_b"]["$npy"] == "states/test/a_b.npy");
  CHECK(blobs.files.size() == 5);
  CHECK(npy_decode(blobs.files.at("states/test/h.npy"), "h") == h);
  CHECK(identical(decode_value(json::parse(encoded.dump()), &blobs, "s"), v));

  SUBCASE("dtype mismatch against the record is refused with the name") {
    json forged = encoded;
    forged["h"]["dtype"] = "<f4";
    CHECK_THROWS_WITH_AS(
        decode_value(forged, &blobs, "manifest.json: states.x"),
        doctest::Contains("manifest.json: states.x.h: array file states/test/h.npy holds <f8[2,2] "
                          "but the manifest records <f4[2,2]"),
        CodecError);
  }
  SUBCASE("shape mismatch against the record is refused with the name") {
    json forged = encoded;
    forged["h"]["shape"] = json::parse("[4]");
    CHECK_THROWS_WITH_AS(decode_value(forged, &blobs, "s"),
                         doctest::Contains("s.h: array file states/test/h.npy holds <f8[2,2]"),
                         CodecError);
  }
  SUBCASE("a damaged payload is refused") {
    blobs.files.at("states/test/h.npy").pop_back();
    CHECK_THROWS_WITH_AS(decode_value(encoded, &blobs, "s"), doctest::Contains("truncated"),
                         CodecError);
  }
  SUBCASE("an array without a sink or source is refused") {
    CHECK_THROWS_WITH_AS((void)encode_value(Value(h), nullptr, ""), doctest::Contains("blob sink"),
                         CodecError);
    CHECK_THROWS_WITH_AS((void)decode_value(encoded, nullptr, "s"),
                         doctest::Contains("needs a blob source"), CodecError);
  }
  SUBCASE("an array whose data does not match its shape is refused on encode") {
    NdArray bad = h;
    bad.data.pop_back();
    test::MemoryBlobs other;
    CHECK_THROWS_WITH_AS((void)encode_value(Value(Value::Map{{"bad", bad}}), &other, "p/"),
                         doctest::Contains("value.bad"), CodecError);
  }
}

TEST_CASE("unknown and forged tags are refused, naming where and the key path") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"a": {"$pickle": "gASVCAAAAAAAAACMBHRlc3SULg=="}})", "unknown tag '$pickle'"},
      {R"j({"a": [1, {"$eval": "os.system('x')"}]})j", "x.a[1]: unknown tag '$eval'"},
      {R"({"$uint64": 5})", "needs a string"},
      {R"({"$uint64": "-1"})", "$uint64 needs"},
      {R"({"$uint64": "18446744073709551616"})", "$uint64 needs"},
      {R"({"$uint64": "007"})", "$uint64 needs"},
      {R"({"$uint64": "1", "extra": 2})", "exactly the keys"},
      {R"({"$uint64": "1", "$time": "2020-01-01T00:00:00Z"})", "two tags"},
      {R"({"$float64": "1.5"})", "$float64 needs"},
      {R"({"$float64": "nan:0x3ff0000000000000"})", "$float64 needs"},
      {R"({"$float64": "nan:0x7FF000000000DEAD"})", "$float64 needs"},
      {R"({"$time": "yesterday"})", "malformed UTC time"},
      {R"({"$time": 0})", "needs a string"},
      {R"({"$duration_ns": "6h"})", "int64 number"},
      {R"({"$duration_ns": 1.5})", "int64 number"},
      {R"({"$duration_ns": 18446744073709551615})", "int64 number"},
      {R"({"$npy": "a.npy", "dtype": "<f8"})", "exactly the keys"},
      {R"({"$npy": "a.npy", "dtype": "|O", "shape": [1]})", "object"},
      {R"({"$npy": "a.npy", "dtype": "<f8", "shape": [-1]})", "negative"},
      {R"({"$npy": "", "dtype": "<f8", "shape": [1]})", "empty"},
      {R"({"$npy": "missing.npy", "dtype": "<f8", "shape": [1]})", "no file missing.npy"},
      {R"(18446744073709551615)", "exceeds int64"},
  };
  test::MemoryBlobs blobs;
  for (const auto& [text, message] : cases) {
    const std::string input = text;  // clang 14 cannot capture a binding
    CAPTURE(input);
    CHECK_THROWS_WITH_AS((void)decode_value(json::parse(text), &blobs, "x"),
                         doctest::Contains(message.c_str()), CodecError);
  }
  // Binary JSON values (from CBOR etc.) are not part of the format.
  CHECK_THROWS_AS((void)decode_value(json::binary({1, 2}), &blobs, "x"), CodecError);
}

TEST_CASE("hostile nesting depth is refused instead of overflowing the stack") {
  std::string text;
  for (int i = 0; i < 300; ++i)
    text += '[';
  for (int i = 0; i < 300; ++i)
    text += ']';
  CHECK_THROWS_WITH_AS((void)decode_value(json::parse(text), nullptr, "x"),
                       doctest::Contains("nesting deeper"), CodecError);
}

TEST_CASE("invalid UTF-8 is refused on encode, naming the key") {
  CHECK_THROWS_WITH_AS((void)encode_value(Value(Value::Map{{"name", "\xff\xfe"}}), nullptr, ""),
                       doctest::Contains("value.name: string is not valid UTF-8"), CodecError);
  CHECK_THROWS_AS((void)encode_value(Value("\xed\xa0\x80"), nullptr, ""), CodecError);  // surrogate
  CHECK_THROWS_AS((void)encode_value(Value("\xc0\x80"), nullptr, ""), CodecError);      // overlong
  CHECK_THROWS_AS((void)encode_value(Value("\xe2\x82"), nullptr, ""), CodecError);      // cut
  CHECK_THROWS_AS((void)encode_value(Value(Value::Map{{"\x80", 1}}), nullptr, ""), CodecError);
  CHECK_NOTHROW((void)encode_value(Value("\xf0\x9d\x84\x9e"), nullptr, ""));
}

TEST_CASE("metadata: inline values round-trip exactly, arrays refused") {
  const Metadata metadata = {
      {"lead_time", Value(Duration(hours(42)))},
      {"completed_units", Value(Value::List{0, 1, 2, std::numeric_limits<std::int64_t>::max()})},
      {"start_time", Value(sys_days(year{2026} / 11 / 29) + hours(6))},
      {"score", Value(std::numeric_limits<double>::quiet_NaN())},
      {"$weird", Value("dollar key")},
      {"note", Value("ünïcødé")},
  };
  const json encoded = encode_metadata(metadata);
  CHECK(encoded["lead_time"] == json::parse(R"({"$duration_ns": 151200000000000})"));
  CHECK(encoded["completed_units"] == json::parse("[0, 1, 2, 9223372036854775807]"));
  const Metadata back =
      decode_metadata(json::parse(encoded.dump()), "catalog.json: rows[0].metadata");
  REQUIRE(back.size() == metadata.size());
  CHECK(back.at("lead_time").as<Duration>() == hours(42));
  CHECK(back.at("completed_units") == metadata.at("completed_units"));
  CHECK(back.at("start_time") == metadata.at("start_time"));
  CHECK(std::isnan(back.at("score").as<double>()));
  CHECK(back.at("$weird") == Value("dollar key"));
  CHECK(back.at("note") == Value("ünïcødé"));

  CHECK_THROWS_WITH_AS((void)encode_metadata({{"field", Value(f8_array({1}, {1.0}))}}),
                       doctest::Contains("metadata.field: metadata must stay inline"), CodecError);
  CHECK_THROWS_WITH_AS(
      (void)encode_metadata({{"l", Value(Value::List{Value(f8_array({1}, {1.0}))})}}),
      doctest::Contains("metadata.l[0]"), CodecError);
  CHECK_THROWS_WITH_AS(
      (void)decode_metadata(
          json::parse(R"({"x": {"$npy": "a.npy", "dtype": "<f8", "shape": [1]}})"),
          "catalog.json: rows[3].metadata"),
      doctest::Contains("catalog.json: rows[3].metadata.x: arrays are not allowed in metadata"),
      CodecError);
  CHECK_THROWS_WITH_AS((void)decode_metadata(json::parse("[1]"), "m"),
                       doctest::Contains("m: metadata must be a JSON object"), CodecError);
  CHECK_THROWS_WITH_AS((void)decode_metadata(json::parse(R"({"$uint64": "1"})"), "m"),
                       doctest::Contains("metadata must be a map"), CodecError);
}
