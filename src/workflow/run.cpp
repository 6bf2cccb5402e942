// The run driver (run.hpp), read top to bottom as DESIGN.md §2: start-up phases, each one
// call into its room and each agreed by every rank (runtime/agreement.hpp); the forecast
// (forecast.cpp); the shut-down.
#include "stormrun/workflow/run.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "forecast.hpp"
#include "run_start.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/io/output.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/log.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;
using namespace run_detail;

namespace {

std::string utc_now() {
  return format_utc(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
}

// ---- the global catalog's record of this start (rank 0 writes it) ---------------------

void mark_running(GlobalCatalog& c, const StartContext& context, const std::string& output_state) {
  c.fingerprint = context.fingerprint;
  c.fingerprint_hash = context.fingerprint_hash;
  c.output = context.output.string();
  c.output_state = output_state;
  c.status = "running";
}

// Collective (phase "output"): the output created atomically, or reopened and checked
// against this run (a mismatch or an unreadable file refuses the run with nothing changed).
void open_output(const RunConfig& config, const StartContext& context, const Decision& decision,
                 const runtime::Runtime& rt, std::optional<io::OutputFile>& output) {
  // This rank's own readiness first: nobody enters the collective open alone.
  runtime::agree_or_throw(rt.comm(), "output",
                          runtime::injected_fault("output", rt.rank(), kExitFailure));
  const io::OutputLayout layout = output_layout(config, context);
  const bool reopen = decision.output_action == OutputAction::Reopen;
  runtime::Outcome outcome;
  try {
    if (reopen)
      output.emplace(io::OutputFile::open_existing(rt.comm(), context.output, layout));
    else
      output.emplace(io::OutputFile::create(rt.comm(), context.output, layout,
                                            decision.output_action == OutputAction::Replace));
  } catch (const io::OutputError& e) {
    outcome = reopen
                  ? runtime::Outcome{kExitMismatch, "output " + context.output.string() +
                                                        " does not belong to this run: " + e.what()}
                  : runtime::Outcome{kExitFailure, "output " + context.output.string() +
                                                       " cannot be created: " + e.what()};
  }
  if (!outcome.failed()) outcome = runtime::injected_fault("output-open", rt.rank(), kExitFailure);
  const int code = runtime::agree(rt.comm(), "output", outcome);
  if (code == 0) return;
  // The ranks that opened the file can close it only together (a collective close).
  if (rt.any(!output.has_value())) {
    if (output) {
      runtime::log_error(rt.rank(),
                         "the output is open here but not on every rank; a "
                         "collective close cannot complete, so the job is aborted");
      MPI_Abort(rt.comm(), code);
    }
  } else {
    output->close();
  }
  output.reset();
  throw runtime::AgreedFailure(code);
}

}  // namespace

int run(const RunConfig& config, runtime::Runtime& rt) {
  StartContext context;  // the paths and the fingerprint, once per rank per start
  agreed_step(rt, "options", kExitUsage, true, [&] { context = StartContext::of(config); });
  const WarningSink warn = [&rt](const std::string& message) { rt.warn(message); };
  agree_on_settings(config, context, rt);
  runtime::agree_or_throw(rt.comm(), "options", precheck(config, rt.size()));

  // Phase "store": the LOCK (held by rank 0 from the decision to the end; the ranks'
  // checkpoints share it as one job), the coordinator's decision, and for a new output the
  // global catalog's "creating" mark, so that a crash while the file is built leaves a store
  // that says the partial file is ours to build again.
  std::optional<DirLock> lock;
  agreed_step(rt, "store", kExitMismatch, rt.rank() == 0, [&] {
    if (!context.root.empty() && fs::is_directory(context.root))
      lock.emplace(DirLock::acquire(context.root, warn));
  });
  const Decision decision = coordinate(config, context, rt);
  if (rt.rank() == 0)
    for (const std::string& warning : decision.plan.warnings)
      rt.warn(warning);
  const std::int64_t units_done_at_start =
      std::count_if(decision.plan.units.begin(), decision.plan.units.end(),
                    [&](const UnitPlan& p) { return p.first_step > config.nsteps; });
  nlohmann::json run_entry = {
      {"started_at", utc_now()},          {"world_size", rt.size()},
      {"batch_size", config.batch_size},  {"device", rt.device_text()},
      {"resumed", decision.plan.resumed}, {"units_done_at_start", units_done_at_start}};
  const bool recorded = !context.root.empty();
  agreed_step(
      rt, "store", kExitMismatch, rt.rank() == 0,
      [&] {
        if (!recorded || decision.output_action == OutputAction::Reopen) return;
        fs::create_directories(context.root);
        if (!lock) lock.emplace(DirLock::acquire(context.root, warn));
        update_global_catalog(context.root,
                              [&](GlobalCatalog& c) { mark_running(c, context, "creating"); });
      },
      "store-mark");

  // A failure on one rank from here on must not unwind through the collective close of the
  // output (the other ranks would never join it): it aborts the job while the file is open.
  // An agreed failure unwinds on every rank together, closing the file collectively.
  std::optional<io::OutputFile> output;
  try {
    open_output(config, context, decision, rt, output);
    // The global catalog records this start only once the output is known to be this run's.
    agreed_step(
        rt, "output", kExitFailure, rt.rank() == 0,
        [&] {
          if (!recorded) return;
          update_global_catalog(context.root, [&](GlobalCatalog& c) {
            mark_running(c, context, "ready");
            c.runs.push_back(run_entry);
          });
        },
        "output-ready");
    rt.info("stormrun: " + to_string(config.workflow) + " run of " +
            std::to_string(config.unit_count()) + " work units (" +
            std::to_string(config.start_times.size()) + " start times x " +
            std::to_string(config.nensemble) + " members), " + std::to_string(config.nsteps) +
            " steps of " + std::to_string(static_cast<long long>(config.dt_seconds)) + " s on " +
            std::to_string(rt.size()) + " ranks, " + rt.device_text() + "; " +
            (decision.plan.resumed
                 ? "resuming (" + std::to_string(units_done_at_start) + " units already complete)"
                 : std::string("new run")) +
            "; output " + context.output.string());

    const ForecastResult result = forecast(config, rt, context, decision, *output);
    const int code = result.code;
    // Collective and agreed: a close that fails on some ranks (the disk full at the last
    // flush) ends every rank with exit 1, the failing ranks' messages printed.
    try {
      output->close();
    } catch (const io::CollectiveOutputError& e) {
      output.reset();
      runtime::agree_or_throw(
          rt.comm(), "close",
          e.failed_here() ? runtime::Outcome{kExitFailure, e.what()} : runtime::Outcome{});
      throw;
    }

    // Phase "finish": the global catalog says how this start ended.
    agreed_step(rt, "finish", kExitFailure, rt.rank() == 0, [&] {
      if (!recorded) return;
      run_entry["ended_at"] = utc_now();
      run_entry["exit"] = code;
      run_entry["steps"] = result.steps;
      update_global_catalog(context.root, [&](GlobalCatalog& c) {
        c.status = code == kExitStoppedEarly ? "stopped" : "complete";
        if (!c.runs.empty()) c.runs.back() = run_entry;
      });
    });
    if (code == kExitStoppedEarly)
      rt.info("stormrun: stopped after " + std::to_string(result.steps) + " steps (" +
              result.stop_reason + "); the checkpoint in " + context.root.string() +
              " is durable: run the same command again to resume");
    else
      rt.info("stormrun: run complete; output " + context.output.string());
    return code;
  } catch (const runtime::AgreedFailure&) {
    // Every rank unwinds together: the output's destructor closes it collectively.
    throw;
  } catch (const std::exception& e) {
    runtime::log_error(rt.rank(), e.what());
    MPI_Abort(rt.comm(), kExitFailure);
  }
  return kExitFailure;
}

}  // namespace stormrun::workflow
