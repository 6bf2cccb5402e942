// Reading the run's level-2 UnitStates record straight from a verified commit: the same
// decoding the checkpoint session does when it restores a bound state, without binding.
#include <utility>

#include "ledger_detail.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow::detail {

namespace {

std::string commit_where(const VerifiedCommit& commit) {
  return commit.dir().string();
}

}  // namespace

nlohmann::json read_state_json(VerifiedCommit& commit, const std::string& state_id,
                               const std::string& schema_hash) {
  const auto it = commit.manifest().states.find(state_id);
  if (it == commit.manifest().states.end()) {
    throw RestartMismatch("checkpoint commit " + commit_where(commit) + " holds no state '" +
                          state_id + "'");
  }
  const StateRecord& record = it->second;
  const std::filesystem::path where = commit.dir() / record.path;
  if (record.schema_hash != schema_hash) {
    throw RestartMismatch("state '" + state_id + "' in " + where.string() +
                          " was saved with schema hash " + record.schema_hash +
                          ", this stormrun reads schema hash " + schema_hash +
                          " (written by another stormrun version); resume with the version "
                          "that wrote it, or start a new checkpoint directory");
  }
  const std::vector<std::byte> bytes = commit.get(record.path);  // size and checksum re-checked
  try {
    return nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                                 reinterpret_cast<const char*>(bytes.data() + bytes.size()));
  } catch (const nlohmann::json::exception& e) {
    throw StoreError("state '" + state_id + "' in " + where.string() + " is not valid JSON (" +
                     e.what() + ")");
  }
}

Value inline_state_field(const nlohmann::json& state_json, const std::string& name,
                         const std::string& where) {
  const std::string field_where = where + ": " + name;
  if (!state_json.is_object() || !state_json.contains(name)) {
    throw CodecError(field_where + ": field is missing from the saved state");
  }
  // No BlobSource: these fields are inline; an array reference here is refused.
  return decode_value(state_json.at(name), nullptr, field_where);
}

UnitStates read_unit_states(VerifiedCommit& commit) {
  const nlohmann::json json = read_state_json(commit, kUnitStatesId, schema_hash<UnitStates>());
  const std::string where =
      (commit.dir() / commit.manifest().states.at(kUnitStatesId).path).string();
  const Value value = decode_value(json, &commit, where);
  UnitStates out{};
  state_from_value(value, out, where);
  if (out.steps.size() != out.units.size()) {
    throw StoreError(where + ": lists " + std::to_string(out.units.size()) + " units but " +
                     std::to_string(out.steps.size()) + " steps");
  }
  return out;
}

}  // namespace stormrun::workflow::detail
