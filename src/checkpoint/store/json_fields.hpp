// Typed access to the fields of a JSON object with errors that name the file and field, so
// a damaged manifest or catalog is reported as "<file>: field 'x' must be ...".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace stormrun::store_detail {

class JsonFields {
 public:
  /// `where` names the file (and object) in errors; StoreError when `json` is no object.
  JsonFields(const nlohmann::json& json, std::string where);

  const nlohmann::json& required(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::int64_t integer(const std::string& key, std::int64_t min_value) const;
  const nlohmann::json& object(const std::string& key) const;
  std::map<std::string, std::string> string_map(const std::string& key) const;
  std::map<std::string, std::int64_t> integer_map(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  const std::string& where() const { return where_; }

 private:
  const nlohmann::json& json_;
  std::string where_;
};

/// True when `id` has the form commit_<8+ digits>_<12 lower-case hex digits>.
bool is_commit_id(const std::string& id);

}  // namespace stormrun::store_detail
