#include "store/json_fields.hpp"

#include "stormrun/store.hpp"

namespace stormrun::store_detail {

JsonFields::JsonFields(const nlohmann::json& json, std::string where)
    : json_(json), where_(std::move(where)) {
  if (!json_.is_object()) {
    throw StoreError(where_ + ": expected a JSON object, found " + json_.type_name());
  }
}

void JsonFields::fail(const std::string& key, const std::string& what) const {
  throw StoreError(where_ + ": field '" + key + "' " + what);
}

const nlohmann::json& JsonFields::required(const std::string& key) const {
  const auto it = json_.find(key);
  if (it == json_.end()) fail(key, "is missing");
  return *it;
}

std::string JsonFields::string(const std::string& key) const {
  const auto& v = required(key);
  if (!v.is_string()) fail(key, std::string("must be a string, found ") + v.type_name());
  return v.get<std::string>();
}

std::int64_t JsonFields::integer(const std::string& key, std::int64_t min_value) const {
  const auto& v = required(key);
  if (!v.is_number_integer()) fail(key, std::string("must be an integer, found ") + v.type_name());
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    fail(key, "is too large");
  }
  const auto value = v.get<std::int64_t>();
  if (value < min_value)
    fail(key, "must be >= " + std::to_string(min_value) + ", found " + std::to_string(value));
  return value;
}

const nlohmann::json& JsonFields::object(const std::string& key) const {
  const auto& v = required(key);
  if (!v.is_object()) fail(key, std::string("must be an object, found ") + v.type_name());
  return v;
}

std::map<std::string, std::string> JsonFields::string_map(const std::string& key) const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : object(key).items()) {
    if (!v.is_string())
      fail(key + "." + k, std::string("must be a string, found ") + v.type_name());
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

std::map<std::string, std::int64_t> JsonFields::integer_map(const std::string& key) const {
  std::map<std::string, std::int64_t> out;
  for (const auto& [k, v] : object(key).items()) {
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() &&
         v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
      fail(key + "." + k, std::string("must be a 64-bit integer, found ") + v.dump());
    }
    out.emplace(k, v.get<std::int64_t>());
  }
  return out;
}

bool is_commit_id(const std::string& id) {
  // commit_<write_count, at least 8 digits>_<12 hex>
  constexpr std::string_view prefix = "commit_";
  if (id.size() < prefix.size() + 8 + 1 + 12 || id.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  const std::size_t us = id.rfind('_');
  if (us == std::string::npos || id.size() - us - 1 != 12 || us < prefix.size() + 8) return false;
  for (std::size_t i = prefix.size(); i < us; ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  for (std::size_t i = us + 1; i < id.size(); ++i) {
    const char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace stormrun::store_detail
