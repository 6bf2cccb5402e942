// Internal pieces shared by the ledger's sources: rank directory names, and reading the
// level-2 UnitStates record of a commit without a Checkpoint (read-only, no LOCK, no repair).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/store.hpp"
#include "stormrun/value.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow::detail {

/// The rank of a directory named like rank_dir_name(rank) ("rank_000012"); nullopt for any
/// other name (".pruned_rank_000012", "rank_12", "rank_000012.bak").
std::optional<int> rank_of_dir_name(const std::string& name);

/// The state id of the level-2 record the run saves (UnitStates).
inline constexpr const char* kUnitStatesId = "stormrun.workflow.ParkedStates";

/// The JSON of state record `state_id` of `commit` (its file re-verified while read), after
/// checking that it was saved with `schema_hash`. RestartMismatch naming the commit when the
/// record is absent or has another schema; StoreError when its file is damaged or not JSON.
nlohmann::json read_state_json(VerifiedCommit& commit, const std::string& state_id,
                               const std::string& schema_hash);

/// Field `name` of a state record's JSON, decoded inline: for the small fields (model,
/// units, steps) so that a summary does not read the arrays. CodecError/StoreError naming
/// `where` when absent or of another type.
Value inline_state_field(const nlohmann::json& state_json, const std::string& name,
                         const std::string& where);

/// Decodes a commit's whole UnitStates record (arrays included, each file re-verified), after
/// checking that its units and steps pair up. RestartMismatch when the commit holds none.
UnitStates read_unit_states(VerifiedCommit& commit);

}  // namespace stormrun::workflow::detail
