// Internal parts of the run driver (run.hpp): the start-up decision and the output layout.
// Every collective here is agreed: a failure one rank sees ends every rank alike
// (runtime/agreement.hpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "stormrun/io/output.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/config.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow::run_detail {

/// What every phase of one start needs, computed once per rank.
struct StartContext {
  std::filesystem::path root;    ///< absolute checkpoint root; empty with --no-checkpoint
  std::filesystem::path output;  ///< absolute output path
  Fingerprint fingerprint;       ///< fingerprint(config): hashes a file: initial condition
  std::string fingerprint_hash;  ///< fingerprint_hash(fingerprint)

  /// Local. The paths made absolute and the fingerprint computed (once: it re-reads the
  /// initial-condition file).
  static StartContext of(const RunConfig& config);
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

/// The lead-time step between outputs (--dt). Local.
inline Duration lead_step(const RunConfig& config) {
  return std::chrono::duration_cast<Duration>(
      std::chrono::seconds(static_cast<std::int64_t>(config.dt_seconds)));
}

/// The datasets, coordinates and fingerprint attributes of this run's output file. Local.
io::OutputLayout output_layout(const RunConfig& config, const StartContext& context);

/// Local. Every setting the ranks of one run must share, as canonical text: the fingerprint's
/// and those outside it (output and store paths, checkpoint options, batch size, device,
/// stop and resume settings, quiet, overwrite) and the build id of the binary
/// (runtime/build_id.hpp).
std::map<std::string, std::string> shared_settings(const RunConfig& config,
                                                   const StartContext& context);

/// Collective over rt (phase "options"): every rank's shared_settings() compared with rank
/// 0's in one gather. Any difference (a node-local INI file, STORMRUN_* not exported to
/// every node, an MPMD launch) ends every rank with exit 2, rank 0 naming each setting that
/// differs with the ranks, hosts and values.
void agree_on_settings(const RunConfig& config, const StartContext& context,
                       const runtime::Runtime& rt);

/// Local. Checks that depend on the world size (exit 2 before anything is written):
/// statistics need all members resident; --stop-after-steps needs a checkpoint. Every rank
/// finds the same; the caller agrees on it.
runtime::Outcome precheck(const RunConfig& config, int world_size);

/// Collective over rt (phase "store"): rank dirs summarised by all ranks, rank 0 decides
/// (fingerprint, resume mode, restart plan, what to do with the output file), everyone gets
/// the decision. A refusal (exit 3) is reported by rank 0 and thrown on every rank as
/// runtime::AgreedFailure; so is a failure of any rank to read the store.
Decision coordinate(const RunConfig& config, const StartContext& context,
                    const runtime::Runtime& rt);
/// Local: rank 0's part of coordinate() — every rank's gathered summaries (each a JSON array
/// of {"summary": DirSummary} or {"error": text}) parsed, sorted and decided. A refusal is
/// the returned Decision's exit_code and message, never an exception.
Decision decide_gathered(const RunConfig& config, const StartContext& context,
                         const std::vector<std::string>& gathered);

// Collective over rt: `work` runs on the ranks where `here` holds (rank 0 alone for the
// coordinator's own writes: LOCK, global catalog; every rank for its own store, model and
// initial states); an exception there is that rank's failure with `code`. Then every rank
// agrees on how it went (with the test fault point of `phase`) before anyone goes on.
/// `point` names this step for the test fault point (runtime::injected_fault); default the
/// phase. `on_stop`: what a stop signal on some rank does here (the step loop's own steps
/// go on to the step boundary, where the stop is agreed with a commit).
template <class Work>
void agreed_step(const runtime::Runtime& rt, const std::string& phase, int code, bool here,
                 Work&& work, const std::string& point = "",
                 runtime::OnStop on_stop = runtime::OnStop::End) {
  runtime::Outcome outcome;
  if (here) {
    try {
      work();
    } catch (const std::exception& e) {
      outcome = {code, e.what()};
    }
  }
  if (!outcome.failed())
    outcome = runtime::injected_fault(point.empty() ? phase : point, rt.rank(), code);
  runtime::agree_or_throw(rt.comm(), phase, outcome, on_stop);
}

}  // namespace stormrun::workflow::run_detail
