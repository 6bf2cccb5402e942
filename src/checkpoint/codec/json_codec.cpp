// Values to JSON and back: a closed set of forms (docs/value-encoding.md). Plain JSON for
// null, bool, int64, finite float64, string, list and map; one-key tagged objects for the
// rest; arrays as references to .npy files. Anything else is refused on load.
#include <bit>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

#include "stormrun/codec.hpp"

namespace stormrun {

namespace {

using json = nlohmann::json;

constexpr std::string_view kTagUInt64 = "$uint64";
constexpr std::string_view kTagFloat64 = "$float64";
constexpr std::string_view kTagTime = "$time";
constexpr std::string_view kTagDuration = "$duration_ns";
constexpr std::string_view kTagNpy = "$npy";
// Deeper nesting than this is refused instead of risking the stack on a hostile file.
constexpr int kMaxDepth = 200;
// The bits numpy and C++ use for a default quiet NaN; other NaNs keep their exact payload.
constexpr std::uint64_t kCanonicalNaN = 0x7ff8000000000000ULL;

[[noreturn]] void fail(std::string_view where, const std::string& why) {
  throw CodecError(std::string(where) + ": " + why);
}

/// A map key that starts with '$' gets one more '$' so that it never reads as a tag.
std::string escape_key(const std::string& key) {
  return key.starts_with('$') ? "$" + key : key;
}
bool is_tag_key(std::string_view key) {
  return key.starts_with('$') && !key.starts_with("$$");
}

/// Strict UTF-8 check (no overlong forms, surrogates or code points above U+10FFFF), so that
/// every string the encoder accepts can be dumped as JSON and read back unchanged.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string hex8(std::string_view text) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return std::string(buffer, 8);
}

/// A key as a file-name component: [A-Za-z0-9_-] kept; otherwise (or when long) the cleaned
/// text plus a hash of the original, so that distinct keys give distinct names.
std::string file_component(std::string_view key) {
  std::string clean;
  bool changed = key.empty() || key.size() > 64;
  for (const char c : key.substr(0, 48)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    clean += ok ? c : '_';
    changed = changed || !ok;
  }
  return changed ? clean + "-" + hex8(key) : clean;
}

class Encoder {
 public:
  Encoder(BlobSink* sink, std::string_view prefix, bool metadata)
      : sink_(sink), prefix_(prefix), metadata_(metadata) {}

  json encode(const Value& value, const std::string& where, const std::string& stem, int depth) {
    if (depth > kMaxDepth) fail(where, "nesting deeper than " + std::to_string(kMaxDepth));
    return std::visit(
        [&](const auto& held) -> json {
          using T = std::decay_t<decltype(held)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            return nullptr;
          } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t>) {
            return held;
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            return json::object({{kTagUInt64, std::to_string(held)}});
          } else if constexpr (std::is_same_v<T, double>) {
            return encode_double(held);
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!valid_utf8(held)) fail(where, "string is not valid UTF-8");
            return held;
          } else if constexpr (std::is_same_v<T, TimePoint>) {
            return json::object({{kTagTime, format_utc(held)}});
          } else if constexpr (std::is_same_v<T, Duration>) {
            return json::object({{kTagDuration, held.count()}});
          } else if constexpr (std::is_same_v<T, Value::List>) {
            json out = json::array();
            for (std::size_t i = 0; i < held.size(); ++i) {
              out.push_back(encode(held[i], where + "[" + std::to_string(i) + "]",
                                   join(stem, std::to_string(i)), depth + 1));
            }
            return out;
          } else if constexpr (std::is_same_v<T, Value::Map>) {
            json out = json::object();
            for (const auto& [key, item] : held) {
              if (!valid_utf8(key)) fail(where, "map key is not valid UTF-8");
              out[escape_key(key)] =
                  encode(item, where + "." + key, join(stem, file_component(key)), depth + 1);
            }
            return out;
          } else {
            return encode_array(held, where, stem);
          }
        },
        value.storage());
  }

 private:
  static std::string join(const std::string& stem, const std::string& component) {
    return stem.empty() ? component : stem + "." + component;
  }

  static json encode_double(double d) {
    if (std::isfinite(d)) return d;  // nlohmann prints the shortest text that reads back exactly
    if (std::isinf(d)) return json::object({{kTagFloat64, d > 0 ? "inf" : "-inf"}});
    const auto bits = std::bit_cast<std::uint64_t>(d);
    if (bits == kCanonicalNaN) return json::object({{kTagFloat64, "nan"}});
    char text[32];
    std::snprintf(text, sizeof text, "nan:0x%016llx", static_cast<unsigned long long>(bits));
    return json::object({{kTagFloat64, text}});
  }

  json encode_array(const NdArray& array, const std::string& where, const std::string& stem) {
    if (sink_ == nullptr) {
      fail(where, metadata_ ? "metadata must stay inline: arrays are not allowed in metadata "
                              "(save arrays in a bound state)"
                            : "an array needs a blob sink to be written to");
    }
    std::vector<std::byte> header;
    try {
      header = npy_header(array);
    } catch (const CodecError& error) {
      fail(where, error.what());
    }
    std::string name = stem.empty() ? "value" : stem;
    if (name.size() > 180) name = name.substr(0, 160) + "-" + hex8(name);
    std::string unique = name;
    for (int n = 2; used_.count(unique) != 0; ++n)
      unique = name + "~" + std::to_string(n);
    used_.insert(unique);
    // Header and payload as two parts: the payload (often a borrowed view of a bound record,
    // hundreds of MiB) goes to the sink from where it lies, not through a concatenated copy.
    const std::span<const std::byte> parts[] = {header, array.bytes()};
    const std::string relpath = sink_->put_parts(prefix_ + unique + ".npy", parts);
    json shape = json::array();
    for (const auto extent : array.shape)
      shape.push_back(extent);
    return json::object(
        {{kTagNpy, relpath}, {"dtype", dtype_descr(array.dtype)}, {"shape", std::move(shape)}});
  }

  BlobSink* sink_;
  std::string prefix_;
  bool metadata_;
  std::set<std::string> used_;
};

class Decoder {
 public:
  Decoder(BlobSource* source, bool metadata) : source_(source), metadata_(metadata) {}

  Value decode(const json& j, const std::string& where, int depth) {
    if (depth > kMaxDepth) fail(where, "nesting deeper than " + std::to_string(kMaxDepth));
    switch (j.type()) {
      case json::value_t::null:
        return Value();
      case json::value_t::boolean:
        return Value(j.get<bool>());
      case json::value_t::number_integer:
        return Value(j.get<std::int64_t>());
      case json::value_t::number_unsigned: {
        const auto u = j.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          fail(where, "integer " + std::to_string(u) +
                          " exceeds int64; an uint64 is written as {\"$uint64\": \"...\"}");
        }
        return Value(static_cast<std::int64_t>(u));
      }
      case json::value_t::number_float: {
        const auto d = j.get<double>();
        if (!std::isfinite(d)) fail(where, "non-finite number must be tagged $float64");
        return Value(d);
      }
      case json::value_t::string:
        return Value(j.get<std::string>());
      case json::value_t::array: {
        Value::List list;
        list.reserve(j.size());
        for (std::size_t i = 0; i < j.size(); ++i) {
          list.push_back(decode(j[i], where + "[" + std::to_string(i) + "]", depth + 1));
        }
        return Value(std::move(list));
      }
      case json::value_t::object:
        return decode_object(j, where, depth);
      default:
        fail(where, std::string("unsupported JSON value of type ") + j.type_name());
    }
  }

 private:
  Value decode_object(const json& j, const std::string& where, int depth) {
    std::string tag;
    for (const auto& [key, item] : j.items()) {
      if (!is_tag_key(key)) continue;
      if (!tag.empty()) fail(where, "object has two tags, '" + tag + "' and '" + key + "'");
      tag = key;
    }
    if (!tag.empty()) return decode_tagged(j, tag, where);
    Value::Map map;
    for (const auto& [key, item] : j.items()) {
      // "$$x" is the escaped spelling of the key "$x".
      std::string real = key.starts_with("$$") ? key.substr(1) : key;
      Value decoded = decode(item, where + "." + real, depth + 1);
      map.emplace(std::move(real), std::move(decoded));
    }
    return Value(std::move(map));
  }

  static void expect_keys(const json& j, std::initializer_list<std::string_view> keys,
                          const std::string& where, std::string_view tag) {
    bool ok = j.size() == keys.size();
    for (const auto key : keys)
      ok = ok && j.contains(key);
    if (!ok) {
      std::string expected;
      for (const auto key : keys)
        expected += (expected.empty() ? "" : ", ") + std::string(key);
      fail(where, "tagged form " + std::string(tag) + " must have exactly the keys " + expected +
                      ", found " + j.dump());
    }
  }

  static const std::string& string_operand(const json& j, std::string_view tag,
                                           const std::string& where) {
    const json& operand = j.at(std::string(tag));
    if (!operand.is_string()) {
      fail(where, std::string(tag) + " needs a string, found " + operand.dump());
    }
    return operand.get_ref<const std::string&>();
  }

  static std::int64_t int64_operand(const json& j, const std::string& where,
                                    std::string_view what) {
    if (j.is_number_integer() && !j.is_number_unsigned()) return j.get<std::int64_t>();
    if (j.is_number_unsigned() &&
        j.get<std::uint64_t>() <=
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(j.get<std::uint64_t>());
    }
    fail(where, std::string(what) + " must be an int64 number, found " + j.dump());
  }

  Value decode_tagged(const json& j, const std::string& tag, const std::string& where) {
    if (tag == kTagUInt64) {
      expect_keys(j, {kTagUInt64}, where, tag);
      const std::string& text = string_operand(j, tag, where);
      const bool canonical = !text.empty() && text.size() <= 20 &&
                             text.find_first_not_of("0123456789") == std::string::npos &&
                             (text == "0" || text[0] != '0');
      std::uint64_t value = 0;
      bool overflow = !canonical;
      for (const char c : text) {
        overflow = overflow || __builtin_mul_overflow(value, std::uint64_t{10}, &value) ||
                   __builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value);
      }
      if (overflow)
        fail(where, "$uint64 needs a decimal 0..18446744073709551615, found '" + text + "'");
      return Value(value);
    }
    if (tag == kTagFloat64) {
      expect_keys(j, {kTagFloat64}, where, tag);
      const std::string& text = string_operand(j, tag, where);
      if (text == "inf") return Value(std::numeric_limits<double>::infinity());
      if (text == "-inf") return Value(-std::numeric_limits<double>::infinity());
      if (text == "nan") return Value(std::bit_cast<double>(kCanonicalNaN));
      unsigned long long bits = 0;
      int consumed = 0;
      if (text.size() == 22 && text.starts_with("nan:0x") &&
          text.find_first_not_of("0123456789abcdef", 6) == std::string::npos &&
          std::sscanf(text.c_str() + 6, "%16llx%n", &bits, &consumed) == 1 && consumed == 16 &&
          std::isnan(std::bit_cast<double>(static_cast<std::uint64_t>(bits)))) {
        return Value(std::bit_cast<double>(static_cast<std::uint64_t>(bits)));
      }
      fail(where,
           "$float64 needs inf, -inf, nan or nan:0x<16 hex digits of a NaN>, found '" + text + "'");
    }
    if (tag == kTagTime) {
      expect_keys(j, {kTagTime}, where, tag);
      try {
        return Value(parse_utc(string_operand(j, tag, where)));
      } catch (const CodecError& error) {
        fail(where, error.what());
      }
    }
    if (tag == kTagDuration) {
      expect_keys(j, {kTagDuration}, where, tag);
      return Value(Duration(int64_operand(j.at(std::string(tag)), where, tag)));
    }
    if (tag == kTagNpy) return decode_array(j, where);
    fail(where, "unknown tag '" + tag +
                    "' (known: $uint64, $float64, $time, $duration_ns, $npy; "
                    "a map key starting with '$' is written as '$$...')");
  }

  Value decode_array(const json& j, const std::string& where) {
    expect_keys(j, {kTagNpy, "dtype", "shape"}, where, kTagNpy);
    if (source_ == nullptr) {
      fail(where, metadata_ ? "arrays are not allowed in metadata (metadata is inline only)"
                            : "an array reference needs a blob source to be read from");
    }
    const std::string& relpath = string_operand(j, kTagNpy, where);
    if (relpath.empty()) fail(where, "$npy path is empty");
    const json& dtype_json = j.at("dtype");
    if (!dtype_json.is_string()) fail(where, "dtype must be a string, found " + dtype_json.dump());
    DType dtype{};
    try {
      dtype = dtype_from_descr(dtype_json.get<std::string>());
    } catch (const CodecError& error) {
      fail(where, error.what());
    }
    const json& shape_json = j.at("shape");
    if (!shape_json.is_array()) fail(where, "shape must be a list, found " + shape_json.dump());
    std::vector<std::int64_t> shape;
    for (const auto& extent : shape_json) {
      const auto value = int64_operand(extent, where, "shape entry");
      if (value < 0) fail(where, "negative shape entry " + std::to_string(value));
      shape.push_back(value);
    }
    const auto bytes = source_->get(relpath);
    NdArray array = npy_decode(bytes, where + " (" + relpath + ")");
    if (array.dtype != dtype || array.shape != shape) {
      const auto shape_text = [](const std::vector<std::int64_t>& s) {
        std::string text = "[";
        for (std::size_t i = 0; i < s.size(); ++i)
          text += (i ? "," : "") + std::to_string(s[i]);
        return text + "]";
      };
      fail(where, "array file " + relpath + " holds " + dtype_descr(array.dtype) +
                      shape_text(array.shape) + " but the manifest records " + dtype_descr(dtype) +
                      shape_text(shape));
    }
    return Value(std::move(array));
  }

  BlobSource* source_;
  bool metadata_;
};

}  // namespace

std::string BlobSink::put_parts(std::string_view suggested_relpath,
                                std::span<const std::span<const std::byte>> parts) {
  std::size_t total = 0;
  for (const auto part : parts)
    total += part.size();
  std::vector<std::byte> joined;
  joined.reserve(total);
  for (const auto part : parts)
    joined.insert(joined.end(), part.begin(), part.end());
  return put(suggested_relpath, joined);
}

nlohmann::json encode_value(const Value& value, BlobSink* sink, std::string_view array_prefix) {
  return Encoder(sink, array_prefix, false).encode(value, "value", "", 0);
}

Value decode_value(const nlohmann::json& json, BlobSource* source, std::string_view where) {
  return Decoder(source, false).decode(json, std::string(where), 0);
}

nlohmann::json encode_metadata(const Metadata& metadata) {
  return Encoder(nullptr, "", true).encode(Value(metadata), "metadata", "", 0);
}

Metadata decode_metadata(const nlohmann::json& json, std::string_view where) {
  if (!json.is_object()) {
    fail(where, std::string("metadata must be a JSON object, found ") + json.type_name());
  }
  Value value = Decoder(nullptr, true).decode(json, std::string(where), 0);
  if (!value.is<Value::Map>()) fail(where, "metadata must be a map, found " + value.kind());
  return std::move(std::get<Value::Map>(value.storage()));
}

}  // namespace stormrun
