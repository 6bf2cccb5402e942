// JSON forms of the ledger's records: summaries and the plan travel between ranks as JSON
// strings (MPI gather/broadcast), so each must read back exactly as it was written.
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

using nlohmann::json;

namespace {

/// A field that is not what the record needs (raised inside parse_record, which names it).
class BadField : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs `parse`, turning nlohmann's type and key errors (and BadField) into one naming the
/// record.
template <class F>
auto parse_record(const char* what, const json& j, F&& parse) {
  try {
    return parse(j);
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("malformed ") + what + " JSON (" + e.what() +
                                "): " + j.dump().substr(0, 200));
  } catch (const BadField& e) {
    throw std::invalid_argument(std::string("malformed ") + what + " JSON (" + e.what() +
                                "): " + j.dump().substr(0, 200));
  }
}

/// `value` as a T: a JSON integer in T's range. nlohmann's get<T>() converts a number that
/// only parsed as a float (1e73) by a cast whose result is undefined; this refuses it.
template <class T>
T integer_value(const json& value, const std::string& key) {
  if (!value.is_number_integer()) throw BadField("'" + key + "' is not an integer");
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      throw BadField("'" + key + "' is out of range");
    return static_cast<T>(u);
  }
  const auto v = value.get<std::int64_t>();
  if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
      v > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
    throw BadField("'" + key + "' is out of range");
  return static_cast<T>(v);
}

template <class T>
T integer_field(const json& in, const char* key) {
  return integer_value<T>(in.at(key), key);
}

}  // namespace

json StateSource::to_json() const {
  return {{"commit_dir", commit_dir.string()},
          {"rank", rank},
          {"commit_id", commit_id},
          {"step", step}};
}

StateSource StateSource::from_json(const json& j) {
  return parse_record("StateSource", j, [](const json& in) {
    StateSource s;
    s.commit_dir = in.at("commit_dir").get<std::string>();
    s.rank = integer_field<int>(in, "rank");
    s.commit_id = in.at("commit_id").get<std::string>();
    s.step = integer_field<std::int64_t>(in, "step");
    return s;
  });
}

json RowSummary::to_json() const {
  json states_json = json::object();
  for (const auto& [unit, source] : states)
    states_json[unit] = source.to_json();
  return {{"commit_dir", commit_dir.string()},
          {"rank", rank},
          {"commit_id", commit_id},
          {"saved_at", saved_at},
          {"fingerprint", fingerprint},
          {"units", units},
          {"states", states_json}};
}

RowSummary RowSummary::from_json(const json& j) {
  return parse_record("RowSummary", j, [](const json& in) {
    RowSummary r;
    r.commit_dir = in.at("commit_dir").get<std::string>();
    r.rank = integer_field<int>(in, "rank");
    r.commit_id = in.at("commit_id").get<std::string>();
    r.saved_at = in.at("saved_at").get<std::string>();
    r.fingerprint = in.at("fingerprint").get<std::string>();
    for (const auto& [unit, step] : in.at("units").items())
      r.units[unit] = integer_value<std::int64_t>(step, "units." + unit);
    for (const auto& [unit, source] : in.at("states").items())
      r.states.emplace(unit, StateSource::from_json(source));
    return r;
  });
}

json DirSummary::to_json() const {
  return {
      {"dir", dir.string()}, {"row", row ? row->to_json() : json(nullptr)}, {"warnings", warnings}};
}

DirSummary DirSummary::from_json(const json& j) {
  return parse_record("DirSummary", j, [](const json& in) {
    DirSummary d;
    d.dir = in.at("dir").get<std::string>();
    if (const json& row_json = in.at("row"); !row_json.is_null())
      d.row = RowSummary::from_json(row_json);
    d.warnings = in.at("warnings").get<std::vector<std::string>>();
    return d;
  });
}

json RestartPlan::to_json() const {
  json units_json = json::array();
  for (const UnitPlan& unit : units) {
    units_json.push_back({{"index", unit.index},
                          {"first_step", unit.first_step},
                          {"source", unit.source ? unit.source->to_json() : json(nullptr)}});
  }
  return {{"units", units_json}, {"warnings", warnings}, {"resumed", resumed}};
}

RestartPlan RestartPlan::from_json(const json& j) {
  return parse_record("RestartPlan", j, [](const json& in) {
    RestartPlan plan;
    for (const json& unit_json : in.at("units")) {
      UnitPlan unit;
      unit.index = integer_field<std::int64_t>(unit_json, "index");
      unit.first_step = integer_field<std::int64_t>(unit_json, "first_step");
      if (const json& source = unit_json.at("source"); !source.is_null())
        unit.source = StateSource::from_json(source);
      plan.units.push_back(std::move(unit));
    }
    plan.warnings = in.at("warnings").get<std::vector<std::string>>();
    plan.resumed = in.at("resumed").get<bool>();
    return plan;
  });
}

}  // namespace stormrun::workflow
