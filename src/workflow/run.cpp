// The run driver (run.hpp), read top to bottom as DESIGN.md §2: start-up phases, each one
// call into its room and each agreed by every rank (runtime/agreement.hpp); the forecast
// (forecast.cpp); the shut-down.
#include "stormrun/workflow/run.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "forecast.hpp"
#include "input_checks.hpp"
#include "run_start.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/io/output.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/runtime/watchdog.hpp"

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
  c.output_from_store = output_from_store(context.root, context.output);
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

fs::path output_lock_path(const fs::path& output) {
  return output.parent_path() / (output.filename().string() + ".lock");
}

// Rank 0's record of this start in the global catalog, kept while the run holds the store.
// (bugprone-exception-escape reads nlohmann::json's noexcept move as throwing, through the
// library's own invariant checks; no member here throws when moved.)
struct StartRecord {     // NOLINT(bugprone-exception-escape)
  nlohmann::json entry;  // this start's entry of GlobalCatalog::runs
  bool decided = false;  // the coordinator accepted the store: a stop may be recorded in it
  bool marked = false;   // this start has written the catalog: a failure is recorded too
  bool pushed = false;   // `entry` is in the catalog's runs
  bool ended = false;    // the end is recorded (phase "finish")
};

// Rank 0, local, never throws: how this start ended (0 complete, 75 stopped, else failed),
// in the global catalog, so that `stormrun catalog --json` tells scripts. A stop is recorded
// once the store is known to be this run's; a failure only in a catalog this start has
// already written (a refused store or output is left as it was).
void record_end(const fs::path& root, StartRecord& record, int code, std::int64_t steps,
                const runtime::Runtime& rt) {
  if (rt.rank() != 0 || root.empty() || record.ended) return;
  if (!(record.marked || (record.decided && code == kExitStoppedEarly))) return;
  if (!fs::exists(root / "catalog.json")) return;
  try {
    record.entry["ended_at"] = utc_now();
    record.entry["exit"] = code;
    record.entry["steps"] = steps;
    update_global_catalog(root, [&](GlobalCatalog& c) {
      c.status = code == kExitOk ? "complete" : code == kExitStoppedEarly ? "stopped" : "failed";
      if (record.pushed && !c.runs.empty())
        c.runs.back() = record.entry;
      else
        c.runs.push_back(record.entry);
    });
    record.pushed = true;
  } catch (const std::exception& e) {
    rt.warn("cannot record the end of this run (exit " + std::to_string(code) + ") in " +
            (root / "catalog.json").string() + ": " + e.what());
  }
}

// "0-3, 7": ranks in ascending order, runs of consecutive ones as ranges.
std::string rank_ranges(const std::vector<int>& ranks) {
  std::string out;
  for (std::size_t i = 0; i < ranks.size();) {
    std::size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1)
      ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(ranks[i]) +
           (j > i ? (j == i + 1 ? ", " : "-") + std::to_string(ranks[j]) : "");
    i = j + 1;
  }
  return out;
}

// Collective. On the CPU path the asynchronous commit's thread and the output's deferred
// fsync run beside the model step, on the rank's CPUs: a rank bound to one CPU (mpirun's
// default for 1-2 ranks, srun --cpus-per-task=1) shares it with them, and its committing
// steps pay for the commit's CPU work (docs/performance.md, "Where the commit threads run").
// Rank 0 says so once, naming the ranks and where the first one runs.
void note_one_cpu_ranks(const RunConfig& config, const runtime::Runtime& rt) {
  const bool shares = config.checkpoint && !config.sync_commits &&
                      rt.backend() == model::Backend::Cpu && runtime::allowed_cpu_count() == 1;
  const std::vector<std::string> where =
      rt.gather(shares ? runtime::host_name() + " CPU " + std::to_string(sched_getcpu()) : "");
  std::vector<int> ranks;
  for (std::size_t r = 0; r < where.size(); ++r)
    if (!where[r].empty()) ranks.push_back(int(r));
  if (ranks.empty()) return;
  runtime::log_note(
      0, std::string(ranks.size() == 1 ? "rank " : "ranks ") + rank_ranges(ranks) + " (of " +
             std::to_string(rt.size()) + ") " + (ranks.size() == 1 ? "is" : "are") +
             " bound to one CPU" + (ranks.size() == 1 ? "" : " each") + " (rank " +
             std::to_string(ranks.front()) + ": " + where[std::size_t(ranks.front())] +
             "): the asynchronous commits' threads share it with the model step, which then "
             "pays for their work at every commit; give each rank a second CPU (srun "
             "--cpus-per-task=2, mpirun --map-by slot:PE=2; docs/performance.md, \"Where the "
             "commit threads run\")");
}

// Rank 0, local: exit 5 (thrown) when the last `limit` starts recorded in the store all began
// from `progress` (the sum over units of the first step to compute) and so committed nothing
// new: rerunning again would not help. Starts recorded before this count (no
// "progress_at_start") end the chain.
void check_progress(const fs::path& root, std::int64_t progress, int limit) {
  if (limit <= 0 || root.empty()) return;
  const auto catalog = read_global_catalog(root);
  if (!catalog || !catalog->runs.is_array()) return;
  const auto& runs = catalog->runs;
  if (runs.size() < std::size_t(limit)) return;
  std::vector<std::string> seen;
  for (std::size_t i = runs.size() - std::size_t(limit); i < runs.size(); ++i) {
    const auto& run = runs[i];
    if (!run.is_object() || !run.contains("progress_at_start") ||
        run["progress_at_start"] != progress)
      return;
    const std::string exit =
        run.contains("exit") ? run["exit"].dump() : std::string("none recorded (killed)");
    seen.push_back(run.value("started_at", std::string("?")) + " exit " + exit);
  }
  std::string list;
  for (const std::string& item : seen)
    list += (list.empty() ? "" : "; ") + item;
  throw std::runtime_error(
      "no progress: the last " + std::to_string(limit) + " runs of the store " + root.string() +
      " all started from the same committed steps as this one and committed nothing new (" + list +
      "); not running again (exit 5): find out why from their messages and `stormrun catalog "
      "--json " +
      root.string() + "`, then run again with --max-no-progress 0 (or a larger N)");
}

// Collective: the phases from the store's LOCK to the end, with `lock` and `output_lock`
// held by rank 0 (the caller releases them on every path).
int run_locked(const RunConfig& config, runtime::Runtime& rt, const StartContext& context,
               std::optional<DirLock>& lock, StartRecord& record) {
  const WarningSink warn = [&rt](const std::string& message) { rt.warn(message); };
  const Decision decision = coordinate(config, context, rt);
  record.decided = true;
  if (rt.rank() == 0)
    for (const std::string& warning : decision.plan.warnings)
      rt.warn(warning);
  const std::int64_t units_done_at_start =
      std::count_if(decision.plan.units.begin(), decision.plan.units.end(),
                    [&](const UnitPlan& p) { return p.first_step > config.nsteps; });
  std::int64_t progress_at_start = 0;
  for (const UnitPlan& p : decision.plan.units)
    progress_at_start += p.first_step;
  record.entry = {{"started_at", utc_now()},
                  {"world_size", rt.size()},
                  {"batch_size", config.batch_size},
                  {"device", rt.device_text()},
                  {"resumed", decision.plan.resumed},
                  {"units_done_at_start", units_done_at_start},
                  {"progress_at_start", progress_at_start}};
  const bool recorded = !context.root.empty();
  const bool all_done = units_done_at_start == std::int64_t(decision.plan.units.size());
  agreed_step(
      rt, "store", kExitNoProgress, rt.rank() == 0 && recorded && !all_done,
      [&] { check_progress(context.root, progress_at_start, config.max_no_progress); },
      "store-progress");
  agreed_step(
      rt, "store", kExitMismatch, rt.rank() == 0,
      [&] {
        if (!recorded || decision.output_action == OutputAction::Reopen) return;
        fs::create_directories(context.root);
        if (!lock) lock.emplace(DirLock::acquire(context.root, warn));
        record.marked = true;
        update_global_catalog(context.root,
                              [&](GlobalCatalog& c) { mark_running(c, context, "creating"); });
      },
      "store-mark");
  // The store exists now: every rank's heartbeat goes there, for the hang watchdog to name
  // the ranks it lost (watchdog.hpp).
  if (auto* watchdog = runtime::Watchdog::current(); watchdog && recorded)
    watchdog->configure(
        {.timeout_s = config.hang_timeout_s, .heartbeat_dir = context.root / "heartbeat"});

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
          record.marked = true;
          update_global_catalog(context.root, [&](GlobalCatalog& c) {
            mark_running(c, context, "ready");
            c.runs.push_back(record.entry);
          });
          record.pushed = true;
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

    note_one_cpu_ranks(config, rt);
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

    // Phase "finish": the global catalog says how this start ended. A stop signal from here
    // on does not change the outcome (0 finished, 75 stopped): OnStop::Continue.
    runtime::Outcome outcome;
    if (rt.rank() == 0 && recorded) {
      try {
        record.entry["ended_at"] = utc_now();
        record.entry["exit"] = code;
        record.entry["steps"] = result.steps;
        if (code == kExitDiverged)
          record.entry["diverged"] = {{"step", result.diverged_step},
                                      {"message", result.divergence}};
        update_global_catalog(context.root, [&](GlobalCatalog& c) {
          c.status = code == kExitStoppedEarly ? "stopped"
                     : code == kExitDiverged   ? "diverged"
                                               : "complete";
          if (!c.runs.empty()) c.runs.back() = record.entry;
        });
        record.ended = true;  // recorded: nothing more to say on any path
        runtime::note_finished();
      } catch (const std::exception& e) {
        outcome = {kExitFailure, e.what()};
      }
    }
    if (!outcome.failed()) outcome = runtime::injected_fault("finish", rt.rank(), kExitFailure);
    runtime::agree_or_throw(rt.comm(), "finish", outcome, runtime::OnStop::Continue);
    if (code == kExitDiverged)
      rt.info("stormrun: diverged at step " + std::to_string(result.diverged_step) +
              "; the checkpoint in " + context.root.string() + " keeps the steps before it");
    else if (code == kExitStoppedEarly)
      rt.info("stormrun: stopped after " + std::to_string(result.steps) + " steps (" +
              result.stop_reason + "); the checkpoint in " + context.root.string() +
              " is durable: run the same command again to resume");
    else
      rt.info("stormrun: run complete; output " + context.output.string());
    if (result.slowest_step_s > 0 || result.slowest_commit_s > 0) {
      // SLURM's warning signal must leave one step and one commit, plus the slack of its
      // coarse timers (signals up to a minute early, limits half a minute late).
      const double need = result.slowest_step_s + result.slowest_commit_s;
      const auto at = std::int64_t(std::max(60.0, std::ceil((2 * need + 30) / 10) * 10));
      char line[256];
      std::snprintf(line, sizeof line,
                    "stormrun: slowest step %.2f s, slowest commit %.2f s: under SLURM submit with "
                    "--signal=B:USR1@%lld (docs/slurm.md)",
                    result.slowest_step_s, result.slowest_commit_s, static_cast<long long>(at));
      rt.info(line);
    }
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

}  // namespace

namespace {

// Local (every rank reads the store's catalog itself): `given`, computing the model dynamics
// its store was made with when --model-dynamics is not given and this stormrun still
// computes them, so that a store made by an older stormrun is continued bit-identically.
// Anything unreadable is left to the coordinator.
RunConfig with_store_dynamics(const RunConfig& given, const runtime::Runtime& rt) {
  RunConfig config = given;
  if (!config.model_dynamics.empty() || !config.checkpoint || config.resume == ResumeMode::Never)
    return config;
  try {
    const auto catalog = read_global_catalog(config.checkpoint_dir);
    if (!catalog) return config;
    const auto model = catalog->fingerprint.find("model");
    if (model == catalog->fingerprint.end() || model->second != config.model) return config;
    const auto stored = catalog->fingerprint.find("model_dynamics");
    const std::string version = stored == catalog->fingerprint.end() ? "1" : stored->second;
    const model::ModelSpec& spec = model::find_model(config.model);
    if (version == spec.dynamics ||
        std::find(spec.supported_dynamics.begin(), spec.supported_dynamics.end(), version) ==
            spec.supported_dynamics.end())
      return config;
    config.model_dynamics = version;
    if (rt.rank() == 0)
      runtime::log_note(0, "the store " + config.checkpoint_dir.string() +
                               " was computed with the " + config.model + " model's dynamics " +
                               version + "; this run continues it with them (the newest are " +
                               spec.dynamics + ", for new runs; docs/model.md)");
  } catch (const std::exception&) {
  }
  return config;
}

}  // namespace

int run(const RunConfig& given, runtime::Runtime& rt) {
  const RunConfig config = with_store_dynamics(given, rt);
  StartContext context;  // the paths and the fingerprint, once per rank per start
  agreed_step(rt, "options", kExitUsage, true, [&] { context = StartContext::of(config); });
  const WarningSink warn = [&rt](const std::string& message) { rt.warn(message); };
  agree_on_settings(config, context, rt);
  check_inputs(config, context, rt);  // sizes and initial states: exit 2, nothing created
  runtime::agree_or_throw(rt.comm(), "options", precheck(config, rt.size()));

  // Phase "store": the LOCK (held by rank 0 from the decision to the end; the ranks'
  // checkpoints share it as one job) and the output's lock (<output>.lock: no other run
  // creates, replaces or appends to the file while this one may write it, whatever its
  // store), the coordinator's decision, and for a new output the global catalog's "creating"
  // mark, so that a crash while the file is built leaves a store that says the partial file
  // is ours to build again. Both locks are released on every path out of here: a return, an
  // agreed failure or stop (the destructors, on unwinding); a crash leaves them to the
  // stale-lock recovery of the next run.
  std::optional<DirLock> lock;
  std::optional<DirLock> output_lock;
  agreed_step(rt, "store", kExitMismatch, rt.rank() == 0, [&] {
    if (!context.root.empty() && fs::is_directory(context.root))
      lock.emplace(DirLock::acquire(context.root, warn));
    output_lock.emplace(
        DirLock::acquire_file(output_lock_path(context.output), context.output, warn));
  });
  StartRecord record;
  try {
    return run_locked(config, rt, context, lock, record);
  } catch (const runtime::AgreedFailure& e) {
    record_end(context.root, record, e.code(), 0, rt);  // rank 0, local
    throw;
  }
}

}  // namespace stormrun::workflow
