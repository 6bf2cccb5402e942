// Internal parts of the run driver (run.hpp): the start-up decision and the output layout.
#pragma once

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "stormrun/io/output.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/config.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow::run_detail {

struct StartContext {
  std::filesystem::path root;    ///< absolute checkpoint root; empty with --no-checkpoint
  std::filesystem::path output;  ///< absolute output path
};

enum class OutputAction { Create, Replace, Reopen };

/// What rank 0 decided; broadcast to every rank as JSON.
struct Decision {
  int exit_code = 0;  ///< non-zero: refuse with `message`, nothing written
  std::string message;
  OutputAction output_action = OutputAction::Create;
  RestartPlan plan;
  nlohmann::json to_json() const;
  static Decision from_json(const nlohmann::json& json);
};

/// The datasets, coordinates and fingerprint attributes of this run's output file.
io::OutputLayout output_layout(const RunConfig& config);

/// Checks that depend on the world size (exit 2 before anything is written): statistics
/// need all members resident; --stop-after-steps needs a checkpoint. Rank 0 prints.
std::optional<int> precheck(const RunConfig& config, const runtime::Runtime& rt);

/// Collective: rank dirs summarised by all ranks, rank 0 decides (fingerprint, resume
/// mode, restart plan, what to do with the output file), everyone gets the decision.
Decision coordinate(const RunConfig& config, const StartContext& context,
                    const runtime::Runtime& rt);

}  // namespace stormrun::workflow::run_detail
