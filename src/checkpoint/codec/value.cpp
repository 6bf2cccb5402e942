// Value, DType and NdArray basics: kind names, display rendering, dtype tables.
#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include "stormrun/value.hpp"

namespace stormrun {

namespace {

struct DTypeInfo {
  DType dtype;
  const char* descr;
  const char* name;
  std::size_t size;
};

// One table for both directions so that descr, name and size can never disagree.
constexpr std::array<DTypeInfo, 11> kDTypes{{
    {DType::Bool, "|b1", "bool", 1},
    {DType::Int8, "|i1", "int8", 1},
    {DType::Int16, "<i2", "int16", 2},
    {DType::Int32, "<i4", "int32", 4},
    {DType::Int64, "<i8", "int64", 8},
    {DType::UInt8, "|u1", "uint8", 1},
    {DType::UInt16, "<u2", "uint16", 2},
    {DType::UInt32, "<u4", "uint32", 4},
    {DType::UInt64, "<u8", "uint64", 8},
    {DType::Float32, "<f4", "float32", 4},
    {DType::Float64, "<f8", "float64", 8},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  throw CodecError("invalid DType value " + std::to_string(static_cast<int>(dtype)));
}

std::string double_text(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), d);
  return std::string(buffer.data(), result.ptr);
}

std::string duration_text(Duration d) {
  using namespace std::chrono;
  const std::int64_t ns = d.count();
  // The largest unit that divides the value exactly: lead times read as "6h", not
  // "21600000000000ns".
  struct Unit {
    std::int64_t ns;
    const char* suffix;
  };
  constexpr std::array<Unit, 6> kUnits{{{86'400'000'000'000, "d"},
                                        {3'600'000'000'000, "h"},
                                        {60'000'000'000, "min"},
                                        {1'000'000'000, "s"},
                                        {1'000'000, "ms"},
                                        {1'000, "us"}}};
  if (ns != 0) {
    for (const auto& unit : kUnits) {
      if (ns % unit.ns == 0) return std::to_string(ns / unit.ns) + unit.suffix;
    }
  }
  return std::to_string(ns) + "ns";
}

}  // namespace

std::string dtype_descr(DType dtype) {
  return info(dtype).descr;
}
std::string dtype_name(DType dtype) {
  return info(dtype).name;
}
std::size_t dtype_size(DType dtype) {
  return info(dtype).size;
}

DType dtype_from_descr(const std::string& descr) {
  for (const auto& entry : kDTypes) {
    if (descr == entry.descr) return entry.dtype;
  }
  // Explain the common refusals instead of only listing what is accepted.
  if (descr.size() >= 2 && descr[0] == '>' && descr != ">u1" && descr != ">i1") {
    throw CodecError("dtype '" + descr +
                     "' is big-endian; stormrun reads little-endian ('<') only");
  }
  if (descr.find('O') != std::string::npos) {
    throw CodecError("dtype '" + descr + "' is a Python object dtype (pickle); refused");
  }
  std::string known;
  for (const auto& entry : kDTypes)
    known += std::string(known.empty() ? "" : ", ") + entry.descr;
  throw CodecError("unsupported dtype '" + descr + "' (supported: " + known + ")");
}

std::int64_t NdArray::element_count() const {
  std::int64_t count = 1;
  for (const auto extent : shape)
    count *= extent;
  return count;
}

std::string Value::kind() const {
  return std::visit(
      [](const auto& held) -> std::string {
        return std::string(detail::value_kind_name<std::decay_t<decltype(held)>>());
      },
      v_);
}

std::string Value::to_display() const {
  // Long lists and maps are cut so that a catalog table stays readable.
  constexpr std::size_t kMaxItems = 8;
  return std::visit(
      [&](const auto& held) -> std::string {
        using T = std::decay_t<decltype(held)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          return held ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          return std::to_string(held);
        } else if constexpr (std::is_same_v<T, double>) {
          return double_text(held);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return held;
        } else if constexpr (std::is_same_v<T, TimePoint>) {
          return format_utc(held);
        } else if constexpr (std::is_same_v<T, Duration>) {
          return duration_text(held);
        } else if constexpr (std::is_same_v<T, List>) {
          std::string text = "[";
          for (std::size_t i = 0; i < held.size() && i < kMaxItems; ++i) {
            if (i > 0) text += ", ";
            text += held[i].to_display();
          }
          if (held.size() > kMaxItems) text += ", ... (" + std::to_string(held.size()) + " items)";
          return text + "]";
        } else if constexpr (std::is_same_v<T, Map>) {
          std::string text = "{";
          std::size_t i = 0;
          for (const auto& [key, item] : held) {
            if (i == kMaxItems) {
              text += ", ... (" + std::to_string(held.size()) + " keys)";
              break;
            }
            if (i++ > 0) text += ", ";
            text += key + ": " + item.to_display();
          }
          return text + "}";
        } else {
          std::string text = dtype_descr(held.dtype) + "[";
          for (std::size_t i = 0; i < held.shape.size(); ++i) {
            if (i > 0) text += ",";
            text += std::to_string(held.shape[i]);
          }
          return text + "]";
        }
      },
      v_);
}

namespace detail {

void throw_kind_mismatch(std::string_view what, std::string_view expected, const Value& got) {
  throw CodecError(std::string(what) + ": expected " + std::string(expected) + ", found " +
                   got.kind() + " (" + got.to_display() + ")");
}

}  // namespace detail

}  // namespace stormrun
