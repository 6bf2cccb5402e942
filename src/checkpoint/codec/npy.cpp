// numpy .npy files (format 1.0 written; 1.0, 2.0 and 3.0 read). The header is a Python dict
// literal; it is parsed here as data (three known keys, literal values), never evaluated.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stormrun/codec.hpp"

namespace stormrun {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// numpy pads the header so that the data starts on a 64-byte boundary (numpy.lib.format).
constexpr std::size_t kAlign = 64;

std::string shape_literal(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ',';
  return text + ")";
}

/// Parser of the header dict: {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  struct Header {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::int64_t> shape;
  };

  Header parse() {
    Header header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (seen_descr) fail("key 'descr' given twice");
        seen_descr = true;
        if (peek() != '\'' && peek() != '"') {
          fail("'descr' is not a simple dtype string (structured dtypes are not supported)");
        }
        header.descr = string_literal();
      } else if (key == "fortran_order") {
        if (seen_order) fail("key 'fortran_order' given twice");
        seen_order = true;
        header.fortran_order = boolean_literal();
      } else if (key == "shape") {
        if (seen_shape) fail("key 'shape' given twice");
        seen_shape = true;
        header.shape = shape_tuple();
      } else {
        fail("unknown header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' after the value of '" + key + "'");
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("trailing characters after the header dict");
    if (!seen_descr || !seen_order || !seen_shape) {
      fail("header dict must have the keys 'descr', 'fortran_order' and 'shape'");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw CodecError(std::string(name_) + ": bad .npy header: " + why + " (at offset " +
                     std::to_string(pos_) + " of \"" + std::string(text_) + "\")");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      // Escapes never occur in the keys and dtype strings we accept; refusing them keeps
      // this a literal reader.
      if (text_[pos_] == '\\') fail("escape sequences are not supported in header strings");
      out += text_[pos_++];
    }
    expect(quote);
    return out;
  }
  bool boolean_literal() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> shape_tuple() {
    std::vector<std::int64_t> shape;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("shape entries must be non-negative integers");
      std::int64_t extent = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(extent, std::int64_t{10}, &extent) ||
            __builtin_add_overflow(extent, std::int64_t{peek() - '0'}, &extent)) {
          fail("shape entry overflows int64");
        }
        ++pos_;
      }
      shape.push_back(extent);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in shape");
    }
    // Python spells a 1-tuple "(3,)"; "(3)" is an int, not a tuple.
    expect(')');
    return shape;
  }

  std::string_view text_;
  std::string_view name_;
  std::size_t pos_ = 0;
};

[[noreturn]] void bad_npy(std::string_view name, const std::string& why) {
  throw CodecError(std::string(name) + ": not a valid .npy file: " + why);
}

}  // namespace

std::vector<std::byte> npy_header(const NdArray& array) {
  const std::int64_t count = detail::checked_element_count(array.shape, "npy_encode");
  const std::size_t expected_bytes = static_cast<std::size_t>(count) * dtype_size(array.dtype);
  if (array.bytes().size() != expected_bytes) {
    throw CodecError("npy_encode: array " + dtype_descr(array.dtype) + shape_literal(array.shape) +
                     " needs " + std::to_string(expected_bytes) + " bytes but holds " +
                     std::to_string(array.bytes().size()));
  }
  // Same text and padding as numpy.lib.format.write_array_header_1_0, so that the files are
  // byte-identical to numpy.save's.
  std::string header = "{'descr': '" + dtype_descr(array.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape_literal(array.shape) + ", }";
  const std::size_t prefix = kMagic.size() + 2 + 2;  // magic, version, uint16 length
  const std::size_t unpadded = prefix + header.size() + 1;
  const std::size_t padding = kAlign - unpadded % kAlign;
  header.append(padding == kAlign ? 0 : padding, ' ');
  header += '\n';
  if (header.size() > 0xFFFF) {
    throw CodecError("npy_encode: header of " + std::to_string(header.size()) +
                     " bytes exceeds the .npy 1.0 limit (shape has too many dimensions)");
  }
  std::vector<std::byte> out;
  out.reserve(prefix + header.size());
  const auto append = [&out](const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::byte*>(data);
    out.insert(out.end(), bytes, bytes + size);
  };
  append(kMagic.data(), kMagic.size());
  const unsigned char version_and_length[4] = {1, 0,
                                               static_cast<unsigned char>(header.size() & 0xFF),
                                               static_cast<unsigned char>(header.size() >> 8)};
  append(version_and_length, sizeof version_and_length);
  append(header.data(), header.size());
  return out;
}

std::vector<std::byte> npy_encode(const NdArray& array) {
  std::vector<std::byte> out = npy_header(array);
  const auto payload = array.bytes();
  out.reserve(out.size() + payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

NpyLayout npy_layout(std::span<const std::byte> head, std::uint64_t file_size,
                     std::string_view name) {
  if (head.size() < 10 || std::memcmp(head.data(), kMagic.data(), kMagic.size()) != 0) {
    bad_npy(name, "missing the \\x93NUMPY magic");
  }
  const auto major = std::to_integer<unsigned>(head[6]);
  const auto minor = std::to_integer<unsigned>(head[7]);
  std::size_t header_len = 0;
  std::size_t header_start = 0;
  if (major == 1 && minor == 0) {
    header_len =
        std::to_integer<std::size_t>(head[8]) | (std::to_integer<std::size_t>(head[9]) << 8);
    header_start = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (head.size() < 12) bad_npy(name, "truncated header length");
    header_len = 0;
    for (int i = 3; i >= 0; --i) {
      header_len = (header_len << 8) | std::to_integer<std::size_t>(head[8 + i]);
    }
    header_start = 12;
  } else {
    bad_npy(name,
            "unsupported format version " + std::to_string(major) + "." + std::to_string(minor));
  }
  if (head.size() - header_start < header_len) bad_npy(name, "truncated header");
  const std::string_view header_text(reinterpret_cast<const char*>(head.data() + header_start),
                                     header_len);
  const auto header = HeaderParser(header_text, name).parse();

  if (header.fortran_order) {
    bad_npy(name, "Fortran-ordered arrays are not supported (save a C-contiguous array)");
  }
  DType dtype{};
  try {
    dtype = dtype_from_descr(header.descr);
  } catch (const CodecError& error) {
    bad_npy(name, error.what());
  }
  const std::int64_t count = detail::checked_element_count(header.shape, name);
  std::size_t payload_bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(count), dtype_size(dtype), &payload_bytes)) {
    bad_npy(name, "array size overflows");
  }
  const std::uint64_t available = file_size - header_start - header_len;
  if (file_size < header_start + header_len || available != payload_bytes) {
    bad_npy(name, "header promises " + std::to_string(payload_bytes) + " data bytes (" +
                      header.descr + shape_literal(header.shape) + ") but the file holds " +
                      std::to_string(available) +
                      (available < payload_bytes ? " (truncated)" : " (trailing bytes)"));
  }
  return {dtype, header.shape, header_start + header_len};
}

NdArray npy_decode(std::span<const std::byte> bytes, std::string_view name) {
  const NpyLayout layout = npy_layout(bytes, bytes.size(), name);
  NdArray array;
  array.dtype = layout.dtype;
  array.shape = layout.shape;
  const auto* data = bytes.data() + layout.data_offset;
  array.data.assign(data, bytes.data() + bytes.size());
  return array;
}

}  // namespace stormrun
