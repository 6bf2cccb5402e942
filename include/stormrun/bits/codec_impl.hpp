// Codec<T> specialisations for the supported C++ types (codec.hpp). STORMRUN_STATE structs
// get theirs in state_impl.hpp.
#pragma once

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace stormrun {

static_assert(std::endian::native == std::endian::little,
              "stormrun stores arrays little-endian and copies them as raw bytes");

namespace detail {

/// "where" plus a child: "where.key" / "where[3]".
std::string child_where(std::string_view where, std::string_view key);
std::string index_where(std::string_view where, std::size_t index);

/// Checked product of a shape (CodecError naming `where` on a negative extent or overflow).
std::int64_t checked_element_count(const std::vector<std::int64_t>& shape, std::string_view where);

[[noreturn]] void throw_out_of_range(std::string_view where, std::string_view value,
                                     std::string_view type_name);
[[noreturn]] void throw_codec_error(const std::string& message);

/// Exact rational scaling of an integer: value * num / den as int64, or nullopt when the
/// result is not an integer or does not fit.
std::optional<std::int64_t> scale_exact(std::int64_t value, std::intmax_t num, std::intmax_t den);

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;

}  // namespace detail

/// Unsupported types land here and stop the build with this message; the compiler's
/// "required from" note names the type (e.g. "Codec<std::set<int> >").
template <class T, class Enable>
struct Codec {
  static_assert(detail::always_false<T>,
                "stormrun::Codec<T>: T is not a checkpointable type. Supported: bool, integers, "
                "float, double, std::string, TimePoint, std::chrono::duration, std::vector<T>, "
                "std::map<std::string, T>, std::optional<T>, stormrun::Array<T> and structs "
                "declared with STORMRUN_STATE");
};

template <>
struct Codec<bool> {
  static Value to_value(bool v) { return Value(v); }
  static bool from_value(const Value& v, std::string_view where) {
    return v.as<bool>(std::string(where));
  }
  static std::string type_name() { return "bool"; }
};

/// Integers of every width. Signed types and unsigned types narrower than 64 bits are held
/// as int64 (plain JSON numbers); 64-bit unsigned types as uint64. Loading accepts either
/// integer kind and checks the range of T.
template <class T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                 !detail::is_character_v<T>>> {
  static Value to_value(T v) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8) {
      return Value(static_cast<std::uint64_t>(v));
    } else {
      return Value(static_cast<std::int64_t>(v));
    }
  }
  static T from_value(const Value& v, std::string_view where) {
    if (const auto* i = std::get_if<std::int64_t>(&v.storage())) {
      if (std::in_range<T>(*i)) return static_cast<T>(*i);
      detail::throw_out_of_range(where, std::to_string(*i), type_name());
    }
    if (const auto* u = std::get_if<std::uint64_t>(&v.storage())) {
      if (std::in_range<T>(*u)) return static_cast<T>(*u);
      detail::throw_out_of_range(where, std::to_string(*u), type_name());
    }
    detail::throw_kind_mismatch(where, type_name(), v);
  }
  static std::string type_name() {
    return (std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
  }
};

template <>
struct Codec<double> {
  static Value to_value(double v) { return Value(v); }
  static double from_value(const Value& v, std::string_view where) {
    return v.as<double>(std::string(where));
  }
  static std::string type_name() { return "float64"; }
};

/// float is held as float64 (exact); loading requires the value to be exactly a float.
template <>
struct Codec<float> {
  static Value to_value(float v) { return Value(static_cast<double>(v)); }
  static float from_value(const Value& v, std::string_view where) {
    const double d = v.as<double>(std::string(where));
    const auto f = static_cast<float>(d);
    if (std::isnan(d) || static_cast<double>(f) == d) return f;
    detail::throw_out_of_range(where, v.to_display(), type_name());
  }
  static std::string type_name() { return "float32"; }
};

template <>
struct Codec<std::string> {
  static Value to_value(const std::string& v) { return Value(v); }
  static std::string from_value(const Value& v, std::string_view where) {
    return v.as<std::string>(std::string(where));
  }
  static std::string type_name() { return "string"; }
};

/// Any std::chrono::duration, held as int64 nanoseconds; converted exactly both ways
/// (CodecError when a value is not a whole number of nanoseconds, or does not fit).
template <class Rep, class Period>
struct Codec<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  // Period / nano as a reduced fraction: nanoseconds = count * num / den.
  using ToNano = std::ratio_divide<Period, std::nano>;

  static Value to_value(const D& v) {
    if constexpr (std::is_floating_point_v<Rep>) {
      const long double ns = static_cast<long double>(v.count()) * ToNano::num / ToNano::den;
      if (std::isfinite(ns) && std::trunc(ns) == ns && ns >= -9.223372036854775808e18L &&
          ns < 9.223372036854775808e18L) {
        const auto whole = static_cast<std::int64_t>(ns);
        if (from_nanoseconds(whole) == v) return Value(Duration(whole));
      }
      detail::throw_codec_error("duration " + std::to_string(v.count()) +
                                " is not exactly a whole number of nanoseconds in int64");
    } else {
      static_assert(std::is_integral_v<Rep>, "duration representation must be arithmetic");
      if (std::in_range<std::int64_t>(v.count())) {
        if (auto ns = detail::scale_exact(static_cast<std::int64_t>(v.count()), ToNano::num,
                                          ToNano::den)) {
          return Value(Duration(*ns));
        }
      }
      detail::throw_codec_error("duration of " + std::to_string(v.count()) + " ticks of " +
                                std::to_string(Period::num) + "/" + std::to_string(Period::den) +
                                " s is not a whole number of nanoseconds within int64");
    }
  }
  static D from_value(const Value& v, std::string_view where) {
    const Duration ns = v.as<Duration>(std::string(where));
    if constexpr (std::is_floating_point_v<Rep>) {
      const D d = from_nanoseconds(ns.count());
      const long double back = static_cast<long double>(d.count()) * ToNano::num / ToNano::den;
      if (back == static_cast<long double>(ns.count())) return d;
    } else {
      if (auto ticks = detail::scale_exact(ns.count(), ToNano::den, ToNano::num)) {
        if (std::in_range<Rep>(*ticks)) return D(static_cast<Rep>(*ticks));
      }
    }
    detail::throw_out_of_range(where, v.to_display(), "duration of this field's unit");
  }
  static std::string type_name() { return "duration"; }

 private:
  static D from_nanoseconds(std::int64_t ns) {
    return D(static_cast<Rep>(static_cast<long double>(ns) * ToNano::den / ToNano::num));
  }
};

/// System-clock time points of any duration, held as a TimePoint (nanoseconds), exactly.
template <class Dur>
struct Codec<std::chrono::time_point<std::chrono::system_clock, Dur>> {
  using TP = std::chrono::time_point<std::chrono::system_clock, Dur>;
  static Value to_value(const TP& t) {
    const Value since_epoch = Codec<Dur>::to_value(t.time_since_epoch());
    return Value(TimePoint(since_epoch.as<Duration>()));
  }
  static TP from_value(const Value& v, std::string_view where) {
    const TimePoint t = v.as<TimePoint>(std::string(where));
    return TP(Codec<Dur>::from_value(Value(t.time_since_epoch()), where));
  }
  static std::string type_name() { return "time"; }
};

template <class T, class A>
struct Codec<std::vector<T, A>> {
  static Value to_value(const std::vector<T, A>& v) {
    Value::List list;
    list.reserve(v.size());
    for (const auto& item : v)
      list.push_back(Codec<T>::to_value(item));
    return Value(std::move(list));
  }
  static std::vector<T, A> from_value(const Value& v, std::string_view where) {
    const auto& list = v.as<Value::List>(std::string(where));
    std::vector<T, A> out;
    out.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      out.push_back(Codec<T>::from_value(list[i], detail::index_where(where, i)));
    }
    return out;
  }
  static std::string type_name() { return "vector<" + Codec<T>::type_name() + ">"; }
};

template <class T, class C, class A>
struct Codec<std::map<std::string, T, C, A>> {
  static Value to_value(const std::map<std::string, T, C, A>& m) {
    Value::Map map;
    for (const auto& [key, item] : m)
      map.emplace(key, Codec<T>::to_value(item));
    return Value(std::move(map));
  }
  static std::map<std::string, T, C, A> from_value(const Value& v, std::string_view where) {
    const auto& map = v.as<Value::Map>(std::string(where));
    std::map<std::string, T, C, A> out;
    for (const auto& [key, item] : map) {
      out.emplace(key, Codec<T>::from_value(item, detail::child_where(where, key)));
    }
    return out;
  }
  static std::string type_name() { return "map<string," + Codec<T>::type_name() + ">"; }
};

/// std::nullopt is null; optional<optional<T>> is refused because its two empty states
/// would both be null.
template <class T>
struct Codec<std::optional<T>> {
  static_assert(!detail::is_optional_v<T>,
                "stormrun::Codec: std::optional<std::optional<T>> cannot be stored unambiguously");
  static Value to_value(const std::optional<T>& v) {
    return v ? Codec<T>::to_value(*v) : Value(nullptr);
  }
  static std::optional<T> from_value(const Value& v, std::string_view where) {
    if (v.is_null()) return std::nullopt;
    return Codec<T>::from_value(v, where);
  }
  static std::string type_name() { return "optional<" + Codec<T>::type_name() + ">"; }
};

/// Array<T> <-> NdArray (.npy): dtype and element count checked on load.
template <class T>
struct Codec<Array<T>> {
  static constexpr DType kDType = dtype_of<T>();

  static Value to_value(const Array<T>& a) {
    const std::int64_t count = detail::checked_element_count(a.shape, "array");
    if (static_cast<std::uint64_t>(count) != a.data.size()) {
      detail::throw_codec_error("Array<" + dtype_name(kDType) + ">: shape holds " +
                                std::to_string(count) + " elements but data has " +
                                std::to_string(a.data.size()));
    }
    NdArray out;
    out.dtype = kDType;
    out.shape = a.shape;
    if constexpr (std::is_same_v<T, bool>) {
      out.data.resize(a.data.size());
      for (std::size_t i = 0; i < a.data.size(); ++i) {
        out.data[i] = a.data[i] ? std::byte{1} : std::byte{0};
      }
    } else {
      const auto* bytes = reinterpret_cast<const std::byte*>(a.data.data());
      if (detail::array_borrow_depth > 0) {
        out.borrowed = std::span<const std::byte>(bytes, a.data.size() * sizeof(T));
      } else {
        // Copy from the byte range (no zero-fill first): fields are large.
        out.data.assign(bytes, bytes + a.data.size() * sizeof(T));
      }
    }
    return Value(std::move(out));
  }

  static Array<T> from_value(const Value& v, std::string_view where) {
    const auto& nd = v.as<NdArray>(std::string(where));
    if (nd.dtype != kDType) {
      detail::throw_codec_error(std::string(where) + ": array dtype is " + dtype_name(nd.dtype) +
                                " (" + dtype_descr(nd.dtype) + "), expected " + dtype_name(kDType) +
                                " (" + dtype_descr(kDType) + ")");
    }
    const std::int64_t count = detail::checked_element_count(nd.shape, where);
    const std::span<const std::byte> payload = nd.bytes();
    if (static_cast<std::uint64_t>(count) * sizeof(T) != payload.size()) {
      detail::throw_codec_error(std::string(where) + ": array of shape with " +
                                std::to_string(count) + " elements holds " +
                                std::to_string(payload.size()) + " bytes");
    }
    Array<T> out;
    out.shape = nd.shape;
    out.data.resize(static_cast<std::size_t>(count));
    if constexpr (std::is_same_v<T, bool>) {
      for (std::size_t i = 0; i < out.data.size(); ++i) {
        const auto byte = std::to_integer<unsigned>(payload[i]);
        if (byte > 1) {
          detail::throw_codec_error(std::string(where) + ": bool element " + std::to_string(i) +
                                    " has byte value " + std::to_string(byte) + " (not 0 or 1)");
        }
        out.data[i] = byte == 1;
      }
    } else if (count > 0) {
      std::memcpy(out.data.data(), payload.data(), payload.size());
    }
    return out;
  }

  static std::string type_name() { return "array<" + dtype_name(kDType) + ">"; }
};

}  // namespace stormrun
