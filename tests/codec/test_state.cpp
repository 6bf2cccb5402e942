// STORMRUN_STATE structs: schema text and hash, conversion, all-or-nothing restore.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codec/codec_test_support.hpp"
#include "stormrun/state.hpp"

using namespace stormrun;

namespace demo {
struct GaussianState {
  std::uint64_t seed = 0;
  std::int64_t step = 0;
};
struct Coordinates {
  std::vector<double> lat;
  std::vector<double> lon;
};
struct PersistenceState {
  Array<float> field;
  Coordinates coords;
  std::optional<stormrun::Duration> lead_time;
  std::map<std::string, std::int64_t> counters;
  std::string name;
};
}  // namespace demo
STORMRUN_STATE(demo::GaussianState, "stormrun.GaussianState", seed, step)
STORMRUN_STATE(demo::Coordinates, "stormrun.Coordinates", lat, lon)
STORMRUN_STATE(demo::PersistenceState, "stormrun.PersistenceState", field, coords, lead_time,
               counters, name)

// Variants of one struct, as a later version of a component might declare it.
struct Base {
  std::int64_t a = 0;
  double b = 0;
};
struct BaseSame {
  std::int64_t a = 0;
  double b = 0;
};
struct BaseReordered {
  double b = 0;
  std::int64_t a = 0;
};
struct BaseRenamed {
  std::int64_t a = 0;
  double c = 0;
};
struct BaseRetyped {
  std::int32_t a = 0;
  double b = 0;
};
struct BaseAdded {
  std::int64_t a = 0;
  double b = 0;
  bool extra = false;
};
struct InnerV1 {
  std::int64_t x = 0;
};
struct InnerV2 {
  double x = 0;
};
struct OuterV1 {
  InnerV1 inner;
};
struct OuterV2 {
  InnerV2 inner;
};
STORMRUN_STATE(Base, "test.Base", a, b)
STORMRUN_STATE(BaseSame, "test.Base", a, b)
STORMRUN_STATE(BaseReordered, "test.Base", b, a)
STORMRUN_STATE(BaseRenamed, "test.Base", a, c)
STORMRUN_STATE(BaseRetyped, "test.Base", a, b)
STORMRUN_STATE(BaseAdded, "test.Base", a, b, extra)
STORMRUN_STATE(InnerV1, "test.Inner", x)
STORMRUN_STATE(InnerV2, "test.Inner", x)
STORMRUN_STATE(OuterV1, "test.Outer", inner)
STORMRUN_STATE(OuterV2, "test.Outer", inner)

// The 32-field limit of the macro.
struct Wide {
  int f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16;
  int f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31, f32;
};
STORMRUN_STATE(Wide, "test.Wide", f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13,
               f14, f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30,
               f31, f32)

static_assert(CheckpointState<demo::GaussianState>);
static_assert(!CheckpointState<int>);

TEST_CASE("schema text: identity, fields sorted by name, nested structs expanded") {
  CHECK(schema_string<demo::GaussianState>() == "stormrun.GaussianState{seed:uint64,step:int64}");
  CHECK(schema_string<demo::PersistenceState>() ==
        "stormrun.PersistenceState{coords:stormrun.Coordinates{lat:vector<float64>,"
        "lon:vector<float64>},counters:map<string,int64>,field:array<float32>,"
        "lead_time:optional<duration>,name:string}");
  CHECK(std::tuple_size_v<decltype(StateTraits<Wide>::fields())> == 32);
  CHECK(schema_string<Wide>().find("f32:int32}") != std::string::npos);
}

TEST_CASE("schema hash: 16 hex digits; equal for equal declarations, different otherwise") {
  const std::string base = schema_hash<Base>();
  CHECK(base.size() == 16);
  CHECK(base.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(schema_hash<BaseSame>() == base);
  CHECK(schema_hash<BaseReordered>() == base);  // stored as a map: order is irrelevant
  CHECK(schema_hash<BaseRenamed>() != base);
  CHECK(schema_hash<BaseRetyped>() != base);
  CHECK(schema_hash<BaseAdded>() != base);
  CHECK(schema_hash<OuterV1>() != schema_hash<OuterV2>());
  // XXH3-64 of the schema text (known value of the public algorithm).
  CHECK(detail::schema_text_hash("") == "2d06800538d394c2");
}

TEST_CASE("state round trip through JSON and .npy, nested struct included") {
  demo::PersistenceState s;
  s.field = {{2, 2}, {1.5f, -0.0f, 3.25f, 1e-40f}};
  s.coords = {{-45.0, 45.0}, {0.0, 90.0, 180.0}};
  s.lead_time = std::chrono::hours(12);
  s.counters = {{"steps", 4}, {"$odd", -1}};
  s.name = "persistence";
  test::MemoryBlobs blobs;
  const auto encoded = encode_value(state_to_value(s), &blobs, "states/stormrun.PersistenceState/");
  CHECK(encoded["field"]["$npy"] == "states/stormrun.PersistenceState/field.npy");
  CHECK(blobs.files.size() == 1);
  demo::PersistenceState back;
  state_from_value(decode_value(nlohmann::json::parse(encoded.dump()), &blobs, "s"), back, "s");
  CHECK(back.field == s.field);
  CHECK(back.coords.lat == s.coords.lat);
  CHECK(back.coords.lon == s.coords.lon);
  CHECK(back.lead_time == s.lead_time);
  CHECK(back.counters == s.counters);
  CHECK(back.name == s.name);
  CHECK(to_value(s) == state_to_value(s));
  CHECK(Codec<demo::Coordinates>::type_name() == schema_string<demo::Coordinates>());
}

TEST_CASE("state_from_value is all or nothing and names the identity and field") {
  const demo::GaussianState original{.seed = 11, .step = 22};
  demo::GaussianState target{.seed = 1, .step = 2};

  SUBCASE("a missing field") {
    const Value saved(Value::Map{{"seed", Value(std::uint64_t{5})}});
    CHECK_THROWS_WITH_AS(
        state_from_value(saved, target, "commit_1/states/g.json"),
        doctest::Contains(
            "state 'stormrun.GaussianState' field 'step' is declared but was not saved"),
        SchemaError);
  }
  SUBCASE("an extra field") {
    Value::Map map = state_to_value(original).as<Value::Map>();
    map["stride"] = Value(1);
    CHECK_THROWS_WITH_AS(state_from_value(Value(map), target, "w"),
                         doctest::Contains("saved field 'stride'"), SchemaError);
  }
  SUBCASE("a mistyped field after a good one") {
    const Value saved(Value::Map{{"seed", Value(std::uint64_t{5})}, {"step", Value("x")}});
    CHECK_THROWS_WITH_AS(
        state_from_value(saved, target, "w"),
        doctest::Contains("state 'stormrun.GaussianState' field 'step' (int64): w.step"),
        SchemaError);
  }
  SUBCASE("not a map") {
    CHECK_THROWS_AS(state_from_value(Value(3), target, "w"), SchemaError);
  }
  SUBCASE("a nested state's mismatch") {
    OuterV1 outer{.inner = {.x = 9}};
    const Value saved(Value::Map{{"inner", Value(Value::Map{{"x", Value(1.5)}})}});
    CHECK_THROWS_WITH_AS(state_from_value(saved, outer, "w"),
                         doctest::Contains("state 'test.Inner' field 'x'"), SchemaError);
    CHECK(outer.inner.x == 9);
  }
  CHECK(target.seed == 1);
  CHECK(target.step == 2);

  state_from_value(state_to_value(original), target, "w");
  CHECK(target.seed == 11);
  CHECK(target.step == 22);
}

TEST_CASE("a struct saved under one declaration is refused by an incompatible one") {
  const Value saved = state_to_value(Base{.a = 1, .b = 2.5});
  BaseRenamed renamed{.a = 7, .c = 8};
  CHECK_THROWS_AS(state_from_value(saved, renamed, "w"), SchemaError);
  CHECK(renamed.a == 7);
  BaseRetyped retyped{.a = 3, .b = 4};
  // int64 1 fits int32, so the retyped struct can read it: the schema hash is what refuses it.
  CHECK(schema_hash<BaseRetyped>() != schema_hash<Base>());
  BaseAdded added{};
  CHECK_THROWS_WITH_AS(state_from_value(saved, added, "w"), doctest::Contains("'extra'"),
                       SchemaError);
  BaseReordered reordered{};
  state_from_value(saved, reordered, "w");
  CHECK(reordered.a == 1);
  CHECK(reordered.b == 2.5);
  (void)retyped;
}
