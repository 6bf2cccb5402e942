// The checkpoint codec: Values to JSON (+ .npy files for arrays) and back, and the typed
// conversion of C++ values to Values. Loading never executes code: every encoded form is
// a tagged, closed set of data types; anything else is a CodecError naming the value.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/value.hpp"

namespace stormrun {

/// Serialise an array as a numpy .npy v1.0 file (no pickle; readable by numpy.load).
std::vector<std::byte> npy_encode(const NdArray& array);
/// The part of npy_encode(array) before the payload (magic, version, header dict, padding):
/// npy_encode(array) == npy_header(array) followed by array.bytes(). CodecError when the
/// payload size does not match dtype and shape. Lets a writer store the payload from where
/// it lies instead of concatenating it into a new buffer.
std::vector<std::byte> npy_header(const NdArray& array);
/// Parse a .npy file; CodecError naming `name` on a bad header, object dtype, Fortran
/// order, big-endian data or a size that does not match the header.
NdArray npy_decode(std::span<const std::byte> bytes, std::string_view name);
/// What a .npy file's header declares, checked against the file's size: the same checks as
/// npy_decode without reading the payload. `head` holds the file's first bytes, at least its
/// whole header (at most kNpyMaxHeadBytes); CodecError naming `name` otherwise.
struct NpyLayout {
  DType dtype{};
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;  ///< where the payload starts
};
NpyLayout npy_layout(std::span<const std::byte> head, std::uint64_t file_size,
                     std::string_view name);
/// The longest .npy header there is (version 2/3 lengths aside): magic, version, a 65535-byte
/// dict — what a verifier reads to call npy_layout on a file of version 1.0.
inline constexpr std::size_t kNpyMaxHeadBytes = 10 + 65535;

/// Where the encoder puts array payloads: it stores `bytes` under a relative path derived
/// from `suggested_relpath` and returns the relative path actually used.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual std::string put(std::string_view suggested_relpath, std::span<const std::byte> bytes) = 0;
  /// Stores the concatenation of `parts` as one file, like put(). This default copies the
  /// parts into one buffer; a sink that can write them in sequence should override it, so
  /// that a large payload goes to disk from where it lies (encode_value writes every array
  /// as {npy header, payload} through this).
  virtual std::string put_parts(std::string_view suggested_relpath,
                                std::span<const std::span<const std::byte>> parts);
};

/// Where the decoder gets array payloads from; implementations verify size and checksum
/// before returning (CodecError / StoreError otherwise).
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual std::vector<std::byte> get(std::string_view relpath) = 0;
};

/// Encode a Value as JSON. Arrays are written through `sink` as .npy files under
/// `array_prefix` (e.g. "states/stormrun.SweState/"), referenced from the JSON with their
/// dtype and shape. Non-finite floats, uint64, time points and durations are tagged.
/// Without a sink (nullptr) an array is a CodecError (metadata must stay inline).
nlohmann::json encode_value(const Value& value, BlobSink* sink, std::string_view array_prefix);

/// Decode JSON written by encode_value. `where` names the value in errors (e.g.
/// "manifest.json: states.stormrun.SweState.h"). Array references are loaded through
/// `source` and checked against the recorded dtype and shape.
Value decode_value(const nlohmann::json& json, BlobSource* source, std::string_view where);

/// Metadata (string-keyed, inline) to and from a JSON object.
nlohmann::json encode_metadata(const Metadata& metadata);
Metadata decode_metadata(const nlohmann::json& json, std::string_view where);

/// Typed conversion between C++ values and Values. Specialised for: bool, integer types,
/// float, double, std::string, TimePoint, Duration (any std::chrono::duration),
/// std::vector<T>, std::map<std::string, T>, std::optional<T>, Array<T> (n-d numeric
/// array), and every struct declared with STORMRUN_STATE (nested structs included).
/// Using any other type fails to compile with a message naming it.
///   static Value to_value(const T&);
///   static T from_value(const Value&, std::string_view where);   // CodecError on mismatch
///   static std::string type_name();   // canonical type spelling that enters schema hashes
template <class T, class Enable = void>
struct Codec;

namespace detail {

/// How many ArrayBorrowScopes are alive on this thread.
inline thread_local int array_borrow_depth = 0;

/// While one is alive on this thread, Codec<Array<T>>::to_value returns NdArrays that borrow
/// the Array's bytes (NdArray::borrowed) instead of copying them (bool arrays excepted:
/// std::vector<bool> has no bytes to borrow). Only for a caller that encodes the Value
/// before the source Array can change or die: the checkpoint commit (BoundState::save).
class ArrayBorrowScope {
 public:
  ArrayBorrowScope() { ++array_borrow_depth; }
  ~ArrayBorrowScope() { --array_borrow_depth; }
  ArrayBorrowScope(const ArrayBorrowScope&) = delete;
  ArrayBorrowScope& operator=(const ArrayBorrowScope&) = delete;
};

}  // namespace detail

template <class T>
Value to_value(const T& v) {
  return Codec<T>::to_value(v);
}
template <class T>
T from_value(const Value& v, std::string_view where) {
  return Codec<T>::from_value(v, where);
}

}  // namespace stormrun

#include "stormrun/bits/codec_impl.hpp"
