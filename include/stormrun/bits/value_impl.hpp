// Template parts of value.hpp: dtype_of<T>() and Value::as<T>().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace stormrun {

namespace detail {

template <class>
inline constexpr bool always_false = false;

/// Kind name of a Value alternative, matching Value::kind().
template <class T>
constexpr std::string_view value_kind_name() {
  if constexpr (std::is_same_v<T, std::monostate>)
    return "null";
  else if constexpr (std::is_same_v<T, bool>)
    return "bool";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "int64";
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return "uint64";
  else if constexpr (std::is_same_v<T, double>)
    return "float64";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, TimePoint>)
    return "time";
  else if constexpr (std::is_same_v<T, Duration>)
    return "duration";
  else if constexpr (std::is_same_v<T, Value::List>)
    return "list";
  else if constexpr (std::is_same_v<T, Value::Map>)
    return "map";
  else if constexpr (std::is_same_v<T, NdArray>)
    return "ndarray";
  else
    static_assert(always_false<T>, "stormrun::Value::as<T>: T is not an alternative of Value");
}

/// Out of line so that the message format lives in one place.
[[noreturn]] void throw_kind_mismatch(std::string_view what, std::string_view expected,
                                      const Value& got);

/// Plain `char` (and the wide/UTF character types) are text, not numbers: they are not
/// stored as integers so that their implementation-defined signedness never enters a file.
template <class T>
inline constexpr bool is_character_v =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

}  // namespace detail

template <class T>
constexpr DType dtype_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return DType::Bool;
  } else if constexpr (std::is_integral_v<U> && !detail::is_character_v<U>) {
    if constexpr (std::is_signed_v<U>) {
      if constexpr (sizeof(U) == 1)
        return DType::Int8;
      else if constexpr (sizeof(U) == 2)
        return DType::Int16;
      else if constexpr (sizeof(U) == 4)
        return DType::Int32;
      else if constexpr (sizeof(U) == 8)
        return DType::Int64;
      else
        static_assert(detail::always_false<U>,
                      "stormrun::dtype_of: no dtype for this integer width");
    } else {
      if constexpr (sizeof(U) == 1)
        return DType::UInt8;
      else if constexpr (sizeof(U) == 2)
        return DType::UInt16;
      else if constexpr (sizeof(U) == 4)
        return DType::UInt32;
      else if constexpr (sizeof(U) == 8)
        return DType::UInt64;
      else
        static_assert(detail::always_false<U>,
                      "stormrun::dtype_of: no dtype for this integer width");
    }
  } else if constexpr (std::is_same_v<U, float>) {
    static_assert(sizeof(float) == 4, "stormrun needs IEEE binary32 float");
    return DType::Float32;
  } else if constexpr (std::is_same_v<U, double>) {
    static_assert(sizeof(double) == 8, "stormrun needs IEEE binary64 double");
    return DType::Float64;
  } else {
    static_assert(detail::always_false<U>,
                  "stormrun::dtype_of<T>: T has no .npy dtype (use bool, a fixed-width integer, "
                  "float or double)");
  }
}

template <class T>
const T& Value::as(const std::string& what) const {
  if (const T* held = std::get_if<T>(&v_)) return *held;
  detail::throw_kind_mismatch(what, detail::value_kind_name<T>(), *this);
}

}  // namespace stormrun
