// The forecast itself (forecast.hpp): this rank's checkpoint, model and initial states, the
// migration of restart state, then rounds of batches in lockstep with every other rank —
// per lead-time step: model step → diagnostics → collective output writes → statistics →
// agreed commit and stop checks (output flushed FIRST: at once, or with asynchronous commits
// its fsync deferred and agreed at the next step before the commit is published) →
// checkpoint write → progress line.
#include "forecast.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "initial_states.hpp"
#include "restart_state.hpp"
#include "statistics.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/checkpoint.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/runtime/progress.hpp"
#include "stormrun/runtime/signals.hpp"
#include "stormrun/runtime/walltime.hpp"
#include "stormrun/runtime/watchdog.hpp"

namespace stormrun::workflow::run_detail {

namespace sm = stormrun::model;

namespace {

using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

// Test-only: STORMRUN_TEST_SLOW_STEP=S makes every lead-time step last S seconds more (a
// model step that long), so that tests can signal or stop a rank inside a step. Read once.
void test_slow_step() {
  static const double seconds = [] {
    const char* text = std::getenv("STORMRUN_TEST_SLOW_STEP");
    return text ? std::atof(text) : 0.0;
  }();
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

std::unique_ptr<sm::PrognosticModel> make_model(const RunConfig& config, sm::DeviceChoice device) {
  return sm::find_model(config.model)
      .make({.grid = config.grid,
             .dt_seconds = config.dt_seconds,
             .substeps = config.substeps,
             .device = device,
             .initial_condition = config.initial_condition,
             .dynamics = config.model_dynamics});
}

// ---- the step loop ---------------------------------------------------------------------

struct RunningBatch {
  Batch batch;
  std::vector<std::string> names;
  std::unique_ptr<sm::Rollout> rollout;
  const sm::FieldBatch* state = nullptr;  // at the current step, when active
  sm::FieldBatch diagnostics;
  bool active = false;
};

// One rank's share of the forecast: rounds of batches, in lockstep with every other rank.
class Forecast {
 public:
  Forecast(const RunConfig& config, runtime::Runtime& rt, const RestartPlan& plan,
           io::OutputFile& output, RestartState& restart, const InitialStates& initial,
           sm::PrognosticModel& model, sm::Diagnostics* diagnostics,
           const std::vector<WorkUnit>& units, std::vector<std::int64_t> owned,
           const runtime::StopSignals& signals, const runtime::JobEndTime* end_time)
      : config_(config),
        rt_(rt),
        plan_(plan),
        output_(output),
        restart_(restart),
        initial_(initial),
        model_(model),
        diagnostics_(diagnostics),
        units_(units),
        owned_(std::move(owned)),
        signals_(signals),
        end_time_(end_time),
        fields_(config.output_fields()),
        dt_(lead_step(config)),
        progress_(rt.rank() == 0 && !config.quiet) {}

  /// Collective: every round, every step. kExitOk, kExitStoppedEarly after a stop, or
  /// kExitDiverged. A failure on some ranks only (the disk full while writing the output or
  /// committing a checkpoint, a model error) is agreed before the next collective:
  /// AgreedFailure on every rank, the failing ranks' messages printed (see "Failures in the
  /// step loop").
  int run() {
    try {
      return run_rounds();
    } catch (const io::CollectiveOutputError& e) {
      agree_collective_failure(e);
      throw;
    }
  }

  const std::string& stop_reason() const { return stop_reason_; }
  std::int64_t diverged_step() const { return diverged_step_; }
  const std::string& divergence() const { return divergence_; }
  std::int64_t steps_this_run() const { return steps_this_run_; }
  double slowest_step() const { return slowest_step_; }
  double slowest_commit() const { return slowest_commit_; }

 private:
  // ---- failures in the step loop -------------------------------------------------------
  // Two kinds, one rule: every rank leaves a failing step on the same path, before the
  // next collective. (1) Local work (the model step, reading back members, a checkpoint
  // commit: each rank's own files) is caught here and agreed at once (agreed_step, one
  // reduction). (2) A collective operation of the output (write, flush) agrees by itself
  // and throws CollectiveOutputError on every rank at the same call; run() agrees on it
  // once more so that the failing ranks' messages are printed. Either way every rank
  // throws AgreedFailure; run.cpp then closes the output collectively and every rank
  // exits with the same code. The newest durable commit stays the previous one (a commit
  // that failed left nothing behind: its staging dir is removed), and the output holds
  // every step that commit claims (it was flushed before the commit).

  // Collective: `work` (local) on this rank, its outcome agreed by every rank. A stop
  // signal is not acted on here but at the step boundary (end_step), which commits first.
  template <class Work>
  void local_step(const char* point, Work&& work) {
    agreed_step(rt_, "step", kExitFailure, true, std::forward<Work>(work), point,
                runtime::OnStop::Continue);
  }

  // Collective (every rank threw `e` at the same output call): prints the failing ranks'
  // messages and throws AgreedFailure.
  void agree_collective_failure(const io::CollectiveOutputError& e) {
    runtime::agree_or_throw(
        rt_.comm(), "step",
        e.failed_here() ? runtime::Outcome{kExitFailure, e.what()} : runtime::Outcome{});
  }

  int run_rounds() {
    const std::vector<std::vector<Batch>> rounds = make_rounds();
    const std::int64_t nrounds = rt_.max(static_cast<std::int64_t>(rounds.size()));
    if (nrounds == 0)
      rt_.info("stormrun: all " + std::to_string(units_.size()) +
               " work units are complete; nothing to do");
    progress_.restart();
    static const std::vector<Batch> none;
    for (std::int64_t k = 0; k < nrounds; ++k) {
      const auto& mine = k < std::int64_t(rounds.size()) ? rounds[std::size_t(k)] : none;
      if (run_round(mine, k, nrounds))
        return diverged_step_ >= 0 ? kExitDiverged : kExitStoppedEarly;
    }
    output_.flush();
    local_step("step-final-commit", [&] { restart_.flush(); });
    return kExitOk;
  }

  // Local. Rounds of batches run in lockstep across ranks. With statistics every member of a
  // start time must be resident at the same step, so round s holds all of this rank's units
  // of start time s (precheck() made sure they fit in a batch); otherwise one batch a round.
  std::vector<std::vector<Batch>> make_rounds() const {
    std::vector<std::vector<Batch>> rounds;
    if (config_.statistics.empty()) {
      for (const Batch& batch : make_batches(owned_, plan_, config_.batch_size))
        rounds.push_back({batch});
      return rounds;
    }
    for (std::size_t s = 0; s < config_.start_times.size(); ++s) {
      std::vector<std::int64_t> of_start;
      for (std::int64_t index : owned_)
        if (units_.at(std::size_t(index)).start_index == std::int64_t(s)) of_start.push_back(index);
      rounds.push_back(make_batches(of_start, plan_, config_.batch_size));
    }
    return rounds;
  }

  // Collective. Returns true when the run stopped early.
  bool run_round(const std::vector<Batch>& mine, std::int64_t round, std::int64_t nrounds) {
    std::vector<RunningBatch> batches;
    std::int64_t first = INT64_MAX;
    for (const Batch& batch : mine) {
      RunningBatch running;
      running.batch = batch;
      for (std::int64_t index : batch.units)
        running.names.push_back(units_.at(std::size_t(index)).name);
      first = std::min(first, batch.first_step);
      batches.push_back(std::move(running));
    }
    const std::int64_t t0 = rt_.min(first);
    if (t0 == INT64_MAX) return false;
    for (std::int64_t t = t0; t <= config_.nsteps; ++t) {
      step_started_ = SteadyClock::now();
      runtime::progress_mark("step", t);
      local_step("step-model", [&] {
        for (RunningBatch& b : batches)
          advance(b, t);  // model step, diagnostics
        test_slow_step();
      });
      if (diverged(batches, t)) return true;
      {
        const runtime::CollectiveScope scope("the output write");
        write_fields(batches, t);
      }
      if (!config_.statistics.empty()) write_round_statistics(batches, round, t);
      const bool stop = end_step(batches, t, round == nrounds - 1 && t == config_.nsteps);
      const std::int64_t done = rt_.sum(restart_.completed_count());  // collective
      progress_.print(
          {.step = t,
           .nsteps = config_.nsteps,
           .lead_hours = std::chrono::duration<double, std::ratio<3600>>(dt_ * t).count(),
           .round = round,
           .nrounds = nrounds,
           .units_done = done,
           .units_total = std::int64_t(units_.size()),
           .steps_this_run = steps_this_run_});
      if (stop) return true;
    }
    return false;
  }

  // Local: batch b at step t (its first step: from the initial condition, or from the
  // fields the restart state parked for it).
  void advance(RunningBatch& b, std::int64_t t) {
    b.active = t >= b.batch.first_step;
    b.state = nullptr;
    if (!b.active) return;
    if (t == b.batch.first_step) {
      const sm::FieldBatch initial = initial_.of(units_, b.batch.units);
      if (b.batch.first_step > 0)
        model_.resume_with(b.names, b.batch.first_step - 1, restart_.take_parked(b.batch));
      b.rollout = model_.rollout(initial, b.names);
    } else {
      b.rollout->advance();
    }
    if (b.rollout->step() != t)
      throw std::logic_error("rollout of units [" + b.names.front() + ", ...] is at step " +
                             std::to_string(b.rollout->step()) + ", expected " + std::to_string(t));
    b.state = &b.rollout->state();
    if (diagnostics_) b.diagnostics = diagnostics_->compute(*b.state, config_.diagnostics);
  }

  std::span<const double> field_of(const RunningBatch& b, std::size_t member,
                                   const std::string& field) const {
    const auto m = static_cast<std::int64_t>(member);
    if (std::find(config_.diagnostics.begin(), config_.diagnostics.end(), field) !=
        config_.diagnostics.end())
      return b.diagnostics.field(m, b.diagnostics.variable_index(field));
    return b.state->field(m, b.state->variable_index(field));
  }

  // Collective: every rank writes its active members of every field, per start time.
  void write_fields(const std::vector<RunningBatch>& batches, std::int64_t t) {
    const auto ntime = static_cast<std::int64_t>(config_.start_times.size());
    std::vector<std::int64_t> members;
    std::vector<double> data;
    for (const std::string& field : fields_) {
      for (std::int64_t s = 0; s < ntime; ++s) {
        members.clear();
        data.clear();
        for (const RunningBatch& b : batches) {
          if (!b.active) continue;
          for (std::size_t i = 0; i < b.batch.units.size(); ++i) {
            const WorkUnit& unit = units_.at(std::size_t(b.batch.units[i]));
            if (unit.start_index != s) continue;
            members.push_back(unit.member);
            const auto values = field_of(b, i, field);
            data.insert(data.end(), values.begin(), values.end());
          }
        }
        output_.write_members(field, s, t, members, data);
      }
    }
  }

  // Collective: the statistics of every field at step t of the round's start time. Members
  // not computed at this step in this run (finished, or resuming later) are read back from
  // the output file, where a commit's durability order guarantees them.
  void write_round_statistics(const std::vector<RunningBatch>& batches, std::int64_t start,
                              std::int64_t t) {
    const std::size_t points = std::size_t(config_.grid.points());
    for (const std::string& field : fields_) {
      std::vector<double> mine;
      // Local (read_members is independent I/O): agreed before the collective below.
      local_step("step-statistics", [&] { gather_members(batches, start, t, field, mine); });
      write_statistics(rt_, output_, field, config_.statistics, start, t, mine,
                       std::size_t(config_.nensemble), points);
    }
  }

  // Local: the first non-finite value of what step t would write or commit (every prognostic
  // variable and every diagnostic of every active member), as a message; empty if none.
  std::string find_divergence(const std::vector<RunningBatch>& batches, std::int64_t t) const {
    auto scan = [&](const sm::FieldBatch& fields, std::size_t member,
                    const std::string& unit) -> std::string {
      for (std::size_t v = 0; v < fields.variables.size(); ++v) {
        const auto values = fields.field(std::int64_t(member), v);
        for (std::size_t k = 0; k < values.size(); ++k) {
          if (std::isfinite(values[k])) continue;
          const int nlon = config_.grid.nlon;
          return "the model diverged: member " + unit + ", variable " + fields.variables[v] +
                 ", step " + std::to_string(t) + ": " + (std::isnan(values[k]) ? "NaN" : "Inf") +
                 " at grid point (" + std::to_string(k / nlon) + ", " + std::to_string(k % nlon) +
                 "); nothing of step " + std::to_string(t) +
                 " is written, the output and the store keep the steps before it. A resume "
                 "would diverge again: change the settings (e.g. --dt, --substeps, the "
                 "initial condition or the perturbation) and start a new run";
        }
      }
      return {};
    };
    for (const RunningBatch& b : batches) {
      if (!b.active) continue;
      for (std::size_t i = 0; i < b.batch.units.size(); ++i) {
        const std::string& unit = b.names[i];
        std::string found = scan(*b.state, i, unit);
        if (found.empty() && diagnostics_) found = scan(b.diagnostics, i, unit);
        if (!found.empty()) return found;
      }
    }
    return {};
  }

  // Collective: whether any rank's step t diverged. If so, the rank(s) that saw it print it
  // (with rank and host), the steps before t are made durable (output flushed first, then
  // the restart rows, as at a stop) and every rank learns the lowest such rank's message.
  bool diverged(const std::vector<RunningBatch>& batches, std::int64_t t) {
    const std::string mine = find_divergence(batches, t);
    if (!rt_.any(!mine.empty())) return false;
    if (!mine.empty()) runtime::log_error(rt_.rank(), mine);
    output_.flush();
    // Agreed: every rank's last good row is durable before anyone reports.
    {
      const runtime::CollectiveScope scope("the commit group's hand-over");
      restart_.share();
    }
    local_step("step-stop-commit", [&] { restart_.flush(); });
    std::string first;
    for (const std::string& message : rt_.gather(mine))
      if (first.empty()) first = message;
    divergence_ = rt_.broadcast(first);
    diverged_step_ = t;
    return true;
  }

  // Local: this rank's members of start time `start` at step t, computed or read back.
  void gather_members(const std::vector<RunningBatch>& batches, std::int64_t start, std::int64_t t,
                      const std::string& field, std::vector<double>& mine) {
    const std::size_t points = std::size_t(config_.grid.points());
    mine.reserve(owned_.size() * points);
    for (std::int64_t index : owned_) {
      const WorkUnit& unit = units_.at(std::size_t(index));
      if (unit.start_index != start) continue;
      bool found = false;
      for (const RunningBatch& b : batches) {
        if (!b.active) continue;
        const auto it = std::find(b.batch.units.begin(), b.batch.units.end(), index);
        if (it == b.batch.units.end()) continue;
        const auto values = field_of(b, std::size_t(it - b.batch.units.begin()), field);
        mine.insert(mine.end(), values.begin(), values.end());
        found = true;
        break;
      }
      if (!found) {
        const std::int64_t member = unit.member;
        const std::vector<double> values =
            output_.read_members(field, unit.start_index, t, std::span(&member, 1));
        mine.insert(mine.end(), values.begin(), values.end());
      }
    }
  }

  // Collective: the restart boundary of step t. The ranks agree whether anyone commits or
  // stops; the output is flushed (collectively) before any rank commits a row that claims
  // step t, so every step a catalog claims is in the file. Returns true when the run stops.
  bool end_step(const std::vector<RunningBatch>& batches, std::int64_t t, bool last) {
    std::vector<LiveUnit> running;
    const std::size_t block = model_.variables().size() * std::size_t(config_.grid.points());
    for (const RunningBatch& b : batches)
      if (b.active)
        for (std::size_t i = 0; i < b.batch.units.size(); ++i)
          running.push_back(
              {b.batch.units[i], t, std::span(b.state->data).subspan(i * block, block)});
    const bool active_here = !running.empty();
    // --stop-after-steps counts lead-time steps computed in this run; writing a batch's lead
    // time 0 (its initial state) computes none.
    if (t > 0) ++steps_this_run_;
    const bool step_limit =
        config_.stop_after_steps && steps_this_run_ >= *config_.stop_after_steps && !last;
    // A stop signal at the last step of the last round: the run finishes (exit 0).
    const int signal = last ? 0 : signals_.received();
    const double step_seconds = seconds_since(step_started_);
    slowest_step_ = std::max(slowest_step_, step_seconds);
    const std::string walltime = last ? std::string() : walltime_stop();
    const auto commit_started = SteadyClock::now();
    // Whether this rank writes a row of step t (collective over its commit group): with its
    // own rows when it runs units; with the node layout its node's committer for them all.
    bool writes_here = false;
    {
      const runtime::CollectiveScope scope("the commit group's step agreement");
      writes_here = restart_.writes_row(active_here);
    }
    const bool commits_here = writes_here && restart_.will_flush();
    bool any_commit = false, stop = false;
    {
      const runtime::CollectiveScope scope("the step's commit-and-stop agreement");
      any_commit = rt_.any(commits_here);
      stop = rt_.any(step_limit || signal != 0 || !walltime.empty());
    }
    // The output's deferred fsync of the previous commit (flush_deferred below), agreed:
    // every rank's output through that commit's step is durable, so it may be published
    // now (CheckpointOptions::gated_publish); a failed fsync fails the run on every rank.
    if (output_deferred_) {
      const runtime::CollectiveScope scope("the output's deferred fsync agreement");
      output_deferred_ = false;
      output_.confirm_durable();
      restart_.release_commits();
    }
    // With asynchronous commits a commit step's output fsync runs beside the next step
    // (deferred); a stop or the last step flushes at once, so its rows are published now.
    const bool defer = any_commit && !stop && !last && !config_.sync_commits;
    if (any_commit || stop) {
      const runtime::CollectiveScope scope("the output flush");
      if (defer)
        output_.flush_deferred();
      else
        output_.flush();
    }
    runtime::progress_mark("commit", t);
    // With the node layout the members hand their notes to the committer at every step a
    // row may be committed (a commit, a stop, the run's last step).
    const bool share = any_commit || stop || last;
    local_step("step-commit", [&] {
      try {
        if (active_here || restart_.shares())
          restart_.write(t, dt_ * t, running, writes_here, share);
      } catch (const std::exception& e) {
        throw std::runtime_error("checkpoint commit of step " + std::to_string(t) + ": " +
                                 e.what());
      }
    });
    if (defer)
      output_deferred_ = true;
    else if (any_commit || stop)
      restart_.release_commits();  // the output through t is durable on every rank (agreed)
    // With asynchronous commits the row of step t is published later; the committing write
    // has waited for the files of the one before it, which could only start once the one
    // before that was published: durable now.
    // A member of a shared commit group: its committer commits when any rank does (the
    // same flush interval everywhere).
    if (restart_.shares() ? any_commit : commits_here) {
      if (config_.sync_commits) {
        runtime::note_durable_step(t);
      } else {
        if (launched_before_ >= 0) runtime::note_durable_step(launched_before_);
        launched_before_ = std::exchange(launched_step_, t);
      }
    }
    if (!stop) {
      measured(step_seconds, any_commit ? seconds_since(commit_started) : 0.0);
      return false;
    }
    // Agreed: every rank's row is durable before anyone reports the stop. The reason is
    // agreed too: the lowest rank that received a signal, as (size - rank) * 256 + signal,
    // else the wall time (1), else --stop-after-steps (0).
    local_step("step-stop-commit", [&] { restart_.flush(); });
    runtime::note_durable_step(t);
    const double durable_at = runtime::wall_clock_seconds();
    measured(step_seconds, seconds_since(commit_started));
    const std::int64_t by =
        rt_.max(signal != 0 ? std::int64_t(rt_.size() - rt_.rank()) * 256 + (signal & 255)
                            : std::int64_t(!walltime.empty()));
    if (by >= 256) {
      const int rank = rt_.size() - int(by / 256);
      const double arrived =
          double(rt_.max(rank == rt_.rank()
                             ? std::int64_t(runtime::StopSignals::first_arrival() * 1000)
                             : 0)) /
          1000;
      stop_reason_ = runtime::StopSignals::name(int(by % 256)) + " received by rank " +
                     std::to_string(rank) + " at " + runtime::utc_tenths(arrived) +
                     ", stopped at step " + std::to_string(t) + ", checkpoint durable at " +
                     runtime::utc_tenths(durable_at) + ", " + seconds_text(durable_at - arrived) +
                     " after the signal";
    } else if (by == 1) {
      stop_reason_ = rt_.broadcast(walltime) + "; stopped at step " + std::to_string(t) +
                     ", checkpoint durable at " + runtime::utc_tenths(durable_at);
    } else {
      stop_reason_ = "--stop-after-steps " + std::to_string(*config_.stop_after_steps);
    }
    return true;
  }

  // Local (rank 0 decides; the others return ""): why the run stops now for the wall time,
  // or "" when the next step, a commit and the reserve still fit before the job's end.
  std::string walltime_stop() const {
    if (!end_time_) return "";
    const auto end = end_time_->end();
    if (!end) return "";
    const double need = slowest_step_ + slowest_commit_ + config_.walltime_reserve_s;
    const double now = runtime::wall_clock_seconds();
    if (now + need <= *end) return "";
    return "the wall time: the job ends at " + runtime::utc_tenths(*end) + " (" +
           end_time_->source() + "), and the next step (" + seconds_text(slowest_step_) +
           ") + a commit (" + seconds_text(slowest_commit_) + ") + --walltime-reserve " +
           text::number_text(config_.walltime_reserve_s) + " s would not fit in the " +
           seconds_text(std::max(0.0, *end - now)) + " left";
  }

  // Local: the slowest step and commit so far (the wall-time stop, the auto hang bound).
  void measured(double step_seconds, double commit_seconds) {
    slowest_step_ = std::max(slowest_step_, step_seconds);
    // What a stop would wait for: the visible part, and the whole of the newest finished
    // commit (on the background thread with asynchronous commits).
    slowest_commit_ = std::max({slowest_commit_, commit_seconds, restart_.last_commit_seconds()});
    if (auto* watchdog = runtime::Watchdog::current())
      watchdog->measured(slowest_step_, slowest_commit_);
  }

  const RunConfig& config_;
  runtime::Runtime& rt_;
  const RestartPlan& plan_;
  io::OutputFile& output_;
  RestartState& restart_;
  const InitialStates& initial_;
  sm::PrognosticModel& model_;
  sm::Diagnostics* diagnostics_;  // null when the run computes none
  const std::vector<WorkUnit>& units_;
  std::vector<std::int64_t> owned_;
  const runtime::StopSignals& signals_;
  const runtime::JobEndTime* end_time_;  // rank 0's; null on the other ranks
  std::vector<std::string> fields_;
  Duration dt_;
  runtime::Progress progress_;
  std::int64_t steps_this_run_ = 0;
  std::int64_t launched_step_ = -1;    // the step of the newest asynchronous commit
  std::int64_t launched_before_ = -1;  // the step of the one before it
  bool output_deferred_ = false;       // an output fsync is deferred (flush_deferred)
  SteadyClock::time_point step_started_ = SteadyClock::now();
  double slowest_step_ = 0;
  double slowest_commit_ = 0;
  std::string stop_reason_;
  std::int64_t diverged_step_ = -1;
  std::string divergence_;
};

}  // namespace

ForecastResult forecast(const RunConfig& config, runtime::Runtime& rt, const StartContext& context,
                        const Decision& decision, io::OutputFile& output) {
  runtime::StopSignals signals;
  const WarningSink warn = [&rt](const std::string& message) { rt.warn(message); };
  // Who commits this rank's rows: itself, or its node's committer (--checkpoint-layout).
  const CommitGroup group(rt,
                          config.checkpoint ? config.checkpoint_layout : CheckpointLayout::Rank);
  std::optional<Checkpoint> checkpoint;
  agreed_step(rt, "checkpoint", kExitMismatch, true, [&] {
    checkpoint.emplace(
        config.checkpoint && group.committer()
            ? Checkpoint(CheckpointOptions{
                  .name = config.checkpoint_name,
                  .path = context.root,
                  .mode = config.mode,
                  .flush_interval = config.flush_interval,
                  .history_size = config.history_size,
                  .level = config.level,
                  .rank = rt.rank(),
                  .world_size = rt.size(),
                  .warn = warn,
                  // reported once by the coordinator
                  .report_skipped_rows = false,
                  .async_commits = !config.sync_commits,
                  // published only after the output's deferred fsync is agreed (end_step)
                  .gated_publish = !config.sync_commits,
                  .pack_below_bytes = static_cast<std::uint64_t>(config.pack_below_bytes),
              })
            : Checkpoint::disabled());
  });
  // This rank's model, initial states, diagnostics and restart state (which binds its record
  // and opens the session, after the perturbation has bound its own).
  const std::vector<WorkUnit> units = work_units(config);
  std::vector<std::int64_t> owned = owned_units(config.unit_count(), rt.rank(), rt.size());
  std::unique_ptr<sm::PrognosticModel> model;
  std::optional<InitialStates> initial;
  std::optional<sm::Diagnostics> diagnostics;
  std::optional<RestartState> restart;
  agreed_step(rt, "model", kExitFailure, true, [&] {
    model = make_model(config, rt.device_choice());
    initial.emplace(config, model->variables(), rt.backend(), *checkpoint);
    if (!config.diagnostics.empty()) diagnostics.emplace(config.grid, rt.backend());
    restart.emplace(*checkpoint, group, config.checkpoint ? config.level : -1, units, owned,
                    decision.plan, FieldShape{model->name(), model->variables(), config.grid},
                    config.nsteps, context.fingerprint_hash);
  });
  restart->migrate(rt, context.root);
  // Rank 0 knows the job's end (--end-time, or SLURM's, re-read on a thread): the wall-time
  // stop is its decision, agreed at the step boundary like a signal.
  std::optional<runtime::JobEndTime> end_time;
  if (rt.rank() == 0 && config.checkpoint)
    end_time.emplace(
        config.end_time
            ? std::optional<double>(
                  std::chrono::duration<double>(config.end_time->time_since_epoch()).count())
            : std::nullopt,
        warn);
  Forecast run(config, rt, decision.plan, output, *restart, *initial, *model,
               diagnostics ? &*diagnostics : nullptr, units, std::move(owned), signals,
               end_time ? &*end_time : nullptr);
  const int code = run.run();
  return {code,
          run.stop_reason(),
          run.steps_this_run(),
          run.diverged_step(),
          run.divergence(),
          run.slowest_step(),
          run.slowest_commit()};
}

}  // namespace stormrun::workflow::run_detail
