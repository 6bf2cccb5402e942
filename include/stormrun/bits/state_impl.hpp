// Implementation of state.hpp: the STORMRUN_STATE preprocessor machinery, the Codec of
// state structs, schema text and hash, and the all-or-nothing state conversion.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#define STORMRUN_PP_FE_1(M, C, x) M(C, x)
#define STORMRUN_PP_FE_2(M, C, x, ...) M(C, x), STORMRUN_PP_FE_1(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_3(M, C, x, ...) M(C, x), STORMRUN_PP_FE_2(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_4(M, C, x, ...) M(C, x), STORMRUN_PP_FE_3(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_5(M, C, x, ...) M(C, x), STORMRUN_PP_FE_4(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_6(M, C, x, ...) M(C, x), STORMRUN_PP_FE_5(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_7(M, C, x, ...) M(C, x), STORMRUN_PP_FE_6(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_8(M, C, x, ...) M(C, x), STORMRUN_PP_FE_7(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_9(M, C, x, ...) M(C, x), STORMRUN_PP_FE_8(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_10(M, C, x, ...) M(C, x), STORMRUN_PP_FE_9(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_11(M, C, x, ...) M(C, x), STORMRUN_PP_FE_10(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_12(M, C, x, ...) M(C, x), STORMRUN_PP_FE_11(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_13(M, C, x, ...) M(C, x), STORMRUN_PP_FE_12(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_14(M, C, x, ...) M(C, x), STORMRUN_PP_FE_13(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_15(M, C, x, ...) M(C, x), STORMRUN_PP_FE_14(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_16(M, C, x, ...) M(C, x), STORMRUN_PP_FE_15(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_17(M, C, x, ...) M(C, x), STORMRUN_PP_FE_16(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_18(M, C, x, ...) M(C, x), STORMRUN_PP_FE_17(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_19(M, C, x, ...) M(C, x), STORMRUN_PP_FE_18(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_20(M, C, x, ...) M(C, x), STORMRUN_PP_FE_19(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_21(M, C, x, ...) M(C, x), STORMRUN_PP_FE_20(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_22(M, C, x, ...) M(C, x), STORMRUN_PP_FE_21(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_23(M, C, x, ...) M(C, x), STORMRUN_PP_FE_22(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_24(M, C, x, ...) M(C, x), STORMRUN_PP_FE_23(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_25(M, C, x, ...) M(C, x), STORMRUN_PP_FE_24(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_26(M, C, x, ...) M(C, x), STORMRUN_PP_FE_25(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_27(M, C, x, ...) M(C, x), STORMRUN_PP_FE_26(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_28(M, C, x, ...) M(C, x), STORMRUN_PP_FE_27(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_29(M, C, x, ...) M(C, x), STORMRUN_PP_FE_28(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_30(M, C, x, ...) M(C, x), STORMRUN_PP_FE_29(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_31(M, C, x, ...) M(C, x), STORMRUN_PP_FE_30(M, C, __VA_ARGS__)
#define STORMRUN_PP_FE_32(M, C, x, ...) M(C, x), STORMRUN_PP_FE_31(M, C, __VA_ARGS__)
#define STORMRUN_PP_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, \
                         _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30,  \
                         _31, _32, NAME, ...)                                                   \
  NAME
// The trailing `unused` keeps the pick macro's `...` non-empty (pedantic C++).
#define STORMRUN_PP_FOR_EACH(M, C, ...)                                                        \
  STORMRUN_PP_PICK(__VA_ARGS__, STORMRUN_PP_FE_32, STORMRUN_PP_FE_31, STORMRUN_PP_FE_30,       \
                   STORMRUN_PP_FE_29, STORMRUN_PP_FE_28, STORMRUN_PP_FE_27, STORMRUN_PP_FE_26, \
                   STORMRUN_PP_FE_25, STORMRUN_PP_FE_24, STORMRUN_PP_FE_23, STORMRUN_PP_FE_22, \
                   STORMRUN_PP_FE_21, STORMRUN_PP_FE_20, STORMRUN_PP_FE_19, STORMRUN_PP_FE_18, \
                   STORMRUN_PP_FE_17, STORMRUN_PP_FE_16, STORMRUN_PP_FE_15, STORMRUN_PP_FE_14, \
                   STORMRUN_PP_FE_13, STORMRUN_PP_FE_12, STORMRUN_PP_FE_11, STORMRUN_PP_FE_10, \
                   STORMRUN_PP_FE_9, STORMRUN_PP_FE_8, STORMRUN_PP_FE_7, STORMRUN_PP_FE_6,     \
                   STORMRUN_PP_FE_5, STORMRUN_PP_FE_4, STORMRUN_PP_FE_3, STORMRUN_PP_FE_2,     \
                   STORMRUN_PP_FE_1, unused)                                                   \
  (M, C, __VA_ARGS__)

#define STORMRUN_STATE_FIELD_(Type, field)              \
  ::stormrun::StateField<Type, decltype(Type::field)> { \
#field, &Type::field                                \
  }

namespace stormrun {

namespace detail {

template <class T>
constexpr std::size_t state_field_count() {
  return std::tuple_size_v<decltype(StateTraits<T>::fields())>;
}

/// Field names of a state, in declaration order.
template <class T>
constexpr auto state_field_names() {
  return std::apply(
      [](const auto&... field) {
        return std::array<std::string_view, sizeof...(field)>{field.name...};
      },
      StateTraits<T>::fields());
}

template <class T>
constexpr bool state_field_names_unique() {
  auto names = state_field_names<T>();
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = i + 1; j < names.size(); ++j) {
      if (names[i] == names[j]) return false;
    }
  }
  return true;
}

template <class T>
constexpr void check_state_declaration() {
  static_assert(state_field_names_unique<T>(), "STORMRUN_STATE lists a field twice");
  static_assert(!StateTraits<T>::name.empty(), "STORMRUN_STATE needs a non-empty identity");
}

/// XXH3-64 of the text as 16 lower-case hex digits (out of line: xxhash stays private).
std::string schema_text_hash(std::string_view schema_text);

[[noreturn]] void throw_schema_error(const std::string& message);

}  // namespace detail

template <CheckpointState T>
std::string schema_string() {
  detail::check_state_declaration<T>();
  // Fields sorted by name: a state is stored as a map, so declaration order is irrelevant
  // and reordering the fields in the macro keeps the hash.
  std::vector<std::pair<std::string_view, std::string>> fields;
  std::apply(
      [&](const auto&... field) {
        (fields.emplace_back(
             field.name,
             Codec<std::remove_cvref_t<decltype(std::declval<T&>().*(field.member))>>::type_name()),
         ...);
      },
      StateTraits<T>::fields());
  std::sort(fields.begin(), fields.end());
  std::string text(StateTraits<T>::name);
  text += '{';
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) text += ',';
    text += fields[i].first;
    text += ':';
    text += fields[i].second;
  }
  text += '}';
  return text;
}

template <CheckpointState T>
std::string schema_hash() {
  return detail::schema_text_hash(schema_string<T>());
}

template <CheckpointState T>
Value state_to_value(const T& state) {
  detail::check_state_declaration<T>();
  Value::Map map;
  std::apply(
      [&](const auto&... field) {
        (map.emplace(std::string(field.name),
                     Codec<std::remove_cvref_t<decltype(state.*(field.member))>>::to_value(
                         state.*(field.member))),
         ...);
      },
      StateTraits<T>::fields());
  return Value(std::move(map));
}

template <CheckpointState T>
void state_from_value(const Value& value, T& out, std::string_view where) {
  detail::check_state_declaration<T>();
  const std::string identity(StateTraits<T>::name);
  const auto* map = std::get_if<Value::Map>(&value.storage());
  if (map == nullptr) {
    detail::throw_schema_error(std::string(where) + ": state '" + identity +
                               "' must be a map of its fields, found " + value.kind());
  }
  // 1. The saved field set must equal the declared one.
  const auto names = detail::state_field_names<T>();
  for (const auto name : names) {
    if (map->find(std::string(name)) == map->end()) {
      detail::throw_schema_error(std::string(where) + ": state '" + identity + "' field '" +
                                 std::string(name) +
                                 "' is declared but was not saved (the struct changed since "
                                 "the checkpoint was written; start a new checkpoint)");
    }
  }
  for (const auto& [key, item] : *map) {
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      detail::throw_schema_error(std::string(where) + ": state '" + identity +
                                 "' has a saved field '" + key +
                                 "' that the struct does not declare (the struct changed since "
                                 "the checkpoint was written; start a new checkpoint)");
    }
  }
  // 2. Convert every field into a copy; a type mismatch leaves `out` untouched.
  T filled = out;
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              using F = std::remove_cvref_t<decltype(filled.*(field.member))>;
              const std::string name(field.name);
              try {
                filled.*(field.member) =
                    Codec<F>::from_value(map->at(name), detail::child_where(where, name));
              } catch (const SchemaError&) {
                throw;  // a nested state already names its identity and field
              } catch (const CodecError& error) {
                detail::throw_schema_error("state '" + identity + "' field '" + name + "' (" +
                                           Codec<F>::type_name() + "): " + error.what());
              }
            }(),
            ...);
      },
      StateTraits<T>::fields());
  // 3. All fields converted: publish.
  out = std::move(filled);
}

/// Nested STORMRUN_STATE structs: stored as a map, typed by their full schema text.
template <class T>
requires CheckpointState<T> struct Codec<T, void> {
  static Value to_value(const T& v) { return state_to_value(v); }
  static T from_value(const Value& v, std::string_view where) {
    T out{};
    state_from_value(v, out, where);
    return out;
  }
  static std::string type_name() { return schema_string<T>(); }
};

}  // namespace stormrun
