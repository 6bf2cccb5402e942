// A self-describing value that the checkpoint codec can store without executing code on
// load: null, bool, integers, floats, strings, UTC time points, durations, lists,
// string-keyed maps and numeric n-d arrays (stored as .npy files beside the manifest).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace stormrun {

/// UTC instant with nanosecond resolution.
using TimePoint = std::chrono::sys_time<std::chrono::nanoseconds>;
/// Signed duration with nanosecond resolution (lead times, intervals).
using Duration = std::chrono::nanoseconds;

/// Raised when a value cannot be encoded or decoded; the message names the value.
class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Element types of an NdArray; names follow numpy's .npy descr ("<f8", "<i4", "|u1", "|b1").
enum class DType {
  Bool,
  Int8,
  Int16,
  Int32,
  Int64,
  UInt8,
  UInt16,
  UInt32,
  UInt64,
  Float32,
  Float64
};

/// numpy descr string of a dtype ("<f8"), and the dtype of a descr (CodecError when unknown).
std::string dtype_descr(DType dtype);
DType dtype_from_descr(const std::string& descr);
std::size_t dtype_size(DType dtype);
/// Schema spelling of a dtype: "bool", "int8".."int64", "uint8".."uint64", "float32", "float64".
std::string dtype_name(DType dtype);
/// The DType of a C++ arithmetic type, e.g. dtype_of<double>() == DType::Float64.
template <class T>
constexpr DType dtype_of();

/// A dense, C-ordered, little-endian numeric array (the payload of a .npy file).
struct NdArray {
  DType dtype = DType::Float64;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;  ///< exactly product(shape) * dtype_size(dtype) bytes
  /// When non-empty, the payload is these bytes, owned by someone else, and `data` is empty.
  /// Only the checkpoint commit makes such arrays (BoundState::save): it encodes the Value
  /// straight away while the bound record is not touched, and copying a large record into
  /// fresh memory first would cost more than writing it to disk (memmove plus a page fault
  /// per page). A copy of a borrowing NdArray borrows the same bytes.
  std::span<const std::byte> borrowed{};

  /// The payload: `borrowed` when set, else `data`. Read the payload through this.
  std::span<const std::byte> bytes() const {
    return borrowed.empty() ? std::span<const std::byte>(data) : borrowed;
  }
  std::int64_t element_count() const;
  /// Equal dtype, shape and payload bytes, whether owned or borrowed.
  bool operator==(const NdArray& other) const {
    const auto mine = bytes();
    const auto theirs = other.bytes();
    return dtype == other.dtype && shape == other.shape &&
           std::equal(mine.begin(), mine.end(), theirs.begin(), theirs.end());
  }
};

/// A typed n-d array for state structs (e.g. a model's fields): C order, shape is the
/// extent per dimension, data.size() == product(shape). Stored as NdArray / .npy. A
/// default-constructed Array is empty (shape {0}), so a state saved before it is filled
/// encodes; shape {} would be a 0-d array of one element.
template <class T>
struct Array {
  std::vector<std::int64_t> shape{0};
  std::vector<T> data;
  bool operator==(const Array&) const = default;
};

/// A checkpointable value. Maps are ordered by key so that encoding is deterministic.
class Value {
 public:
  using List = std::vector<Value>;
  using Map = std::map<std::string, Value>;
  using Storage = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double,
                               std::string, TimePoint, Duration, List, Map, NdArray>;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(long i) : v_(static_cast<std::int64_t>(i)) {}
  Value(long long i) : v_(static_cast<std::int64_t>(i)) {}
  Value(unsigned u) : v_(static_cast<std::uint64_t>(u)) {}
  Value(unsigned long u) : v_(static_cast<std::uint64_t>(u)) {}
  Value(unsigned long long u) : v_(static_cast<std::uint64_t>(u)) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(TimePoint t) : v_(t) {}
  Value(Duration d) : v_(d) {}
  Value(List l) : v_(std::move(l)) {}
  Value(Map m) : v_(std::move(m)) {}
  Value(NdArray a) : v_(std::move(a)) {}

  const Storage& storage() const { return v_; }
  Storage& storage() { return v_; }

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  template <class T>
  bool is() const {
    return std::holds_alternative<T>(v_);
  }
  /// The held alternative; CodecError naming `what` and the held kind when it is another.
  template <class T>
  const T& as(const std::string& what = "value") const;

  /// Kind name for messages: "null", "bool", "int64", "uint64", "float64", "string",
  /// "time", "duration", "list", "map", "ndarray".
  std::string kind() const;
  /// Short human rendering for tables and messages (arrays as "<f8[2,3]").
  std::string to_display() const;

  bool operator==(const Value&) const = default;

 private:
  Storage v_;
};

/// Metadata of a catalog row: string-keyed values (kept inline in JSON, no arrays).
using Metadata = std::map<std::string, Value>;

/// ISO 8601 UTC rendering with nanoseconds ("2026-11-29T01:52:25.123456789Z") and parsing
/// (accepts "Z" or "+00:00", fractional seconds of 0..9 digits; CodecError when malformed).
std::string format_utc(TimePoint t);
TimePoint parse_utc(const std::string& text);
/// The same spelling for `seconds` since the epoch plus `nanoseconds` (0..999999999), with
/// `fraction_digits` (0..9) digits of the second, truncated, and no '.' for 0
/// ("2026-11-29T01:52:25Z"): the on-disk times of other precisions, beyond TimePoint's range.
std::string format_utc_seconds(std::int64_t seconds, std::int64_t nanoseconds, int fraction_digits);

}  // namespace stormrun

#include "stormrun/bits/value_impl.hpp"
