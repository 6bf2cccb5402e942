// The run driver (run.hpp): start-up, migration of restart state, and the lockstep rounds
// of batches that compute, write and checkpoint every lead-time step.
#include "stormrun/workflow/run.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "run_start.hpp"
#include "stormrun/checkpoint.hpp"
#include "stormrun/io/output.hpp"
#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/ic_file.hpp"
#include "stormrun/model/initial_conditions.hpp"
#include "stormrun/model/persistence.hpp"
#include "stormrun/model/perturbation.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/model/shallow_water.hpp"

namespace stormrun::workflow {

namespace fs = std::filesystem;
namespace sm = stormrun::model;
using namespace run_detail;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 3;
constexpr int kExitStopped = 75;

// ---- preemption signals --------------------------------------------------------------
// SLURM sends SIGTERM before a preemption or at the time limit (and SIGUSR1 with
// --signal=USR1@N); the run stops at the next step boundary with a durable checkpoint.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) {
  g_stop_signal = signal;
}

class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    previous_term_ = std::signal(SIGTERM, on_stop_signal);
    previous_usr1_ = std::signal(SIGUSR1, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGTERM, previous_term_);
    std::signal(SIGUSR1, previous_usr1_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*previous_term_)(int);
  void (*previous_usr1_)(int);
};

std::string utc_now() {
  return format_utc(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
}

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return text;
}

// A resumed unit's fields while its batch has not started yet.
struct Parked {
  std::int64_t step = 0;
  std::vector<double> fields;  // [variable][lat][lon]
};

struct RunningBatch {
  Batch batch;
  std::vector<std::string> names;
  std::unique_ptr<sm::Rollout> rollout;
  const sm::FieldBatch* state = nullptr;  // at the current step, when active
  sm::FieldBatch diagnostics;
  bool active = false;
};

class Engine {
 public:
  Engine(const RunConfig& config, runtime::Runtime& rt, RestartPlan plan, io::OutputFile& output,
         Checkpoint& checkpoint, const fs::path& root)
      : config_(config),
        rt_(rt),
        plan_(std::move(plan)),
        output_(output),
        checkpoint_(checkpoint),
        root_(root),
        units_(work_units(config)),
        owned_(owned_units(config.unit_count(), rt.rank(), rt.size())),
        hash_(fingerprint_hash(fingerprint(config))),
        fields_(config.output_fields()),
        dt_(std::chrono::duration_cast<Duration>(
            std::chrono::seconds(static_cast<std::int64_t>(config.dt_seconds)))) {
    make_model();
    if (!config_.diagnostics.empty()) diagnostics_.emplace(config_.grid, rt_.backend());
    if (config_.perturbation == "gaussian") {
      noise_.emplace(sm::GaussianPerturbationOptions{
          .seed = config_.seed,
          .amplitudes = sm::default_noise_amplitudes(config_.noise_amplitude),
          .backend = rt_.backend()});
      noise_->bind_checkpoint(checkpoint_);
    }
    parked_record_.emplace(checkpoint_.bind(ParkedStates{}, /*min_level=*/2));
    checkpoint_.new_session();
    for (std::int64_t index : owned_) {
      const UnitPlan& p = plan_.units.at(static_cast<std::size_t>(index));
      if (p.first_step > config_.nsteps) completed_.insert(index);
    }
  }

  int run() {
    migrate();
    const std::vector<std::vector<Batch>> rounds = make_rounds();
    const std::int64_t nrounds = rt_.max(static_cast<std::int64_t>(rounds.size()));
    const std::int64_t done_at_start = rt_.sum(static_cast<std::int64_t>(completed_.size()));
    if (nrounds == 0) {
      rt_.info("stormrun: all " + std::to_string(units_.size()) +
               " work units are complete; nothing to do");
    }
    started_ = std::chrono::steady_clock::now();
    (void)done_at_start;
    for (std::int64_t k = 0; k < nrounds; ++k) {
      static const std::vector<Batch> none;
      const auto& mine =
          k < static_cast<std::int64_t>(rounds.size()) ? rounds[static_cast<std::size_t>(k)] : none;
      if (run_round(mine, k, nrounds)) return kExitStopped;
    }
    output_.flush();
    checkpoint_.session().flush();
    return kExitOk;
  }

 private:
  void make_model() {
    const std::string& ic = config_.initial_condition;
    model_ = sm::find_model(config_.model)
                 .make({.grid = config_.grid,
                        .dt_seconds = config_.dt_seconds,
                        .substeps = config_.substeps,
                        .device = rt_.device_choice(),
                        .initial_condition = ic});
    if (auto path = sm::initial_condition_file_path(ic))
      base_ = sm::read_initial_condition_file(*path, config_.grid, model_->variables());
    else
      base_ = sm::initial_condition(ic, config_.grid);
  }

  // Lead-time-0 fields of `indices`: the initial condition, perturbed per member.
  sm::FieldBatch initial_fields(const std::vector<std::int64_t>& indices) const {
    sm::FieldBatch batch(config_.grid, model_->variables(), std::int64_t(indices.size()));
    const std::size_t per_member = base_.data.size();
    for (std::size_t i = 0; i < indices.size(); ++i) {
      sm::FieldBatch one = base_;
      if (noise_) {
        const WorkUnit& unit = units_.at(static_cast<std::size_t>(indices[i]));
        noise_->apply(one, {unit.member}, unit.start);
      }
      std::copy(one.data.begin(), one.data.end(),
                batch.data.begin() + static_cast<std::ptrdiff_t>(i * per_member));
    }
    return batch;
  }

  // After a restart: this rank records everything it now owns (finished units, and the
  // fields of unfinished ones, read from whichever rank's commit holds them) in one commit
  // of its own. Once every rank has done so, the rank dirs of a larger earlier world hold
  // nothing that is not also elsewhere, and are pruned.
  void migrate() {
    if (!plan_.resumed || !checkpoint_.enabled()) return;
    Session& session = checkpoint_.session();
    // What this rank's migration row holds, so that no unit's progress is lost however
    // the job is killed between the ranks' migration commits (each one replaces its dir's
    // newest row, which the ledger reads):
    //  - every finished unit of the run (its record costs a line);
    //  - every unfinished unit it now owns, with its fields;
    //  - every unfinished unit whose fields are in this rank's own dir but which another
    //    rank now owns ("carried"): until that owner's migration commit is durable, this
    //    row is where its fields live. They are dropped after the barrier below.
    std::map<std::string, std::vector<std::int64_t>> by_source;
    std::map<std::string, StateSource> sources;
    const std::set<std::int64_t> owned(owned_.begin(), owned_.end());
    std::set<std::int64_t> carried;
    for (const UnitPlan& p : plan_.units) {
      const WorkUnit& unit = units_.at(static_cast<std::size_t>(p.index));
      if (p.first_step > config_.nsteps) {
        session.record_unit(unit.name, config_.nsteps);
        continue;
      }
      if (!p.source) continue;
      const bool mine = owned.contains(p.index);
      if (!mine && p.source->rank != rt_.rank()) continue;
      if (!mine) carried.insert(p.index);
      session.record_unit(unit.name, p.first_step - 1);
      const std::string key = p.source->commit_dir.string() + "|" + p.source->state_id;
      by_source[key].push_back(p.index);
      sources.emplace(key, *p.source);
    }
    const std::size_t per_member = base_.data.size();
    for (const auto& [key, indices] : by_source) {
      std::vector<std::string> names;
      for (std::int64_t index : indices)
        names.push_back(units_.at(static_cast<std::size_t>(index)).name);
      const sm::FieldBatch loaded =
          load_states(sources.at(key), names, model_->name(), model_->variables(), config_.grid);
      for (std::size_t i = 0; i < indices.size(); ++i) {
        const UnitPlan& p = plan_.units.at(static_cast<std::size_t>(indices[i]));
        Parked parked{p.first_step - 1, {}};
        parked.fields.assign(
            loaded.data.begin() + static_cast<std::ptrdiff_t>(i * per_member),
            loaded.data.begin() + static_cast<std::ptrdiff_t>((i + 1) * per_member));
        parked_.emplace(indices[i], std::move(parked));
      }
    }
    update_record({});
    // No rank commits before every rank has read its sources: a commit's retention may
    // remove an old row of its own dir that another rank is still reading.
    rt_.barrier();
    session.flush({{"fingerprint", hash_}, {"completed_units", completed_list()}});
    rt_.barrier();  // every rank's migration commit is durable
    for (std::int64_t index : carried)
      parked_.erase(index);  // the owner's row holds them now; the next record drops them
    if (rt_.rank() == 0)
      for (const fs::path& dir : prune_rank_dirs(root_, rt_.size()))
        rt_.info("stormrun: pruned " + dir.string() +
                 " (a larger earlier world's rank dir; its units are now recorded by their new "
                 "owners)");
  }

  // Rounds of batches run in lockstep across ranks. With statistics every member of a start
  // time must be resident at the same step, so round s holds all of this rank's units of
  // start time s (precheck() made sure they fit in a batch); otherwise one batch per round.
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
        if (units_.at(static_cast<std::size_t>(index)).start_index == std::int64_t(s))
          of_start.push_back(index);
      rounds.push_back(make_batches(of_start, plan_, config_.batch_size));
    }
    return rounds;
  }

  // Returns true when the run stopped early (exit 75).
  bool run_round(const std::vector<Batch>& mine, std::int64_t round, std::int64_t nrounds) {
    std::vector<RunningBatch> batches;
    std::int64_t first = INT64_MAX;
    for (const Batch& batch : mine) {
      RunningBatch running;
      running.batch = batch;
      for (std::int64_t index : batch.units)
        running.names.push_back(units_.at(static_cast<std::size_t>(index)).name);
      first = std::min(first, batch.first_step);
      batches.push_back(std::move(running));
    }
    const std::int64_t t0 = rt_.min(first);
    if (t0 == INT64_MAX) return false;
    for (std::int64_t t = t0; t <= config_.nsteps; ++t) {
      for (RunningBatch& b : batches)
        advance(b, t);
      write_fields(batches, t);
      if (!config_.statistics.empty()) write_statistics(batches, round, t);
      const bool stop = checkpoint_step(batches, t, round == nrounds - 1 && t == config_.nsteps);
      progress(t, round, nrounds);  // also for the step a stopped run ends with
      if (stop) return true;
    }
    return false;
  }

  void advance(RunningBatch& b, std::int64_t t) {
    b.active = t >= b.batch.first_step;
    b.state = nullptr;
    if (!b.active) return;
    if (t == b.batch.first_step) {
      const sm::FieldBatch initial = initial_fields(b.batch.units);
      if (b.batch.first_step > 0) {
        sm::FieldBatch saved(config_.grid, model_->variables(), initial.members);
        const std::size_t per_member = base_.data.size();
        for (std::size_t i = 0; i < b.batch.units.size(); ++i) {
          const Parked& parked = parked_.at(b.batch.units[i]);
          std::copy(parked.fields.begin(), parked.fields.end(),
                    saved.data.begin() + static_cast<std::ptrdiff_t>(i * per_member));
        }
        model_->resume_with(b.names, b.batch.first_step - 1, std::move(saved));
      }
      b.rollout = model_->rollout(initial, b.names);
      for (std::int64_t index : b.batch.units)
        parked_.erase(index);
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
            const WorkUnit& unit = units_.at(static_cast<std::size_t>(b.batch.units[i]));
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

  // Collective: ensemble mean and standard deviation (population, ddof 0) of every field at
  // step t, for the round's start time. Rank 0 gathers every member in unit order and sums in
  // member order, so the bytes do not depend on the partition. Members not computed at this step in
  // this run (finished, or resuming later) are read back from the output file, where a commit's
  // durability order guarantees them.
  void write_statistics(const std::vector<RunningBatch>& batches, std::int64_t start,
                        std::int64_t t) {
    const std::size_t points = static_cast<std::size_t>(config_.grid.points());
    for (const std::string& field : fields_) {
      std::vector<double> mine;
      mine.reserve(owned_.size() * points);
      for (std::int64_t index : owned_) {
        const WorkUnit& unit = units_.at(static_cast<std::size_t>(index));
        if (unit.start_index != start) continue;
        bool found = false;
        for (const RunningBatch& b : batches) {
          if (!b.active) continue;
          const auto it = std::find(b.batch.units.begin(), b.batch.units.end(), index);
          if (it == b.batch.units.end()) continue;
          const auto values =
              field_of(b, static_cast<std::size_t>(it - b.batch.units.begin()), field);
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
      const std::vector<double> all = rt_.gather_values(mine);
      const auto n = static_cast<std::size_t>(config_.nensemble);
      std::vector<double> mean, stddev;
      if (rt_.rank() == 0) {
        mean.assign(points, 0.0);
        stddev.assign(points, 0.0);
        for (std::size_t m = 0; m < n; ++m)
          for (std::size_t p = 0; p < points; ++p)
            mean[p] += all[m * points + p];
        for (std::size_t p = 0; p < points; ++p)
          mean[p] /= static_cast<double>(n);
        for (std::size_t m = 0; m < n; ++m)
          for (std::size_t p = 0; p < points; ++p) {
            const double d = all[m * points + p] - mean[p];
            stddev[p] += d * d;
          }
        for (std::size_t p = 0; p < points; ++p)
          stddev[p] = std::sqrt(stddev[p] / static_cast<double>(n));
      }
      for (const std::string& stat : config_.statistics)
        output_.write_statistic(field, stat, start, t, stat == "mean" ? mean : stddev);
    }
  }

  // The level-2 record: fields of every recorded unfinished unit of this rank.
  void update_record(const std::vector<RunningBatch>& batches) {
    if (!parked_record_->enabled()) return;
    struct Entry {
      std::int64_t step;
      std::span<const double> fields;
    };
    std::map<std::int64_t, Entry> entries;
    for (const auto& [index, parked] : parked_)
      entries.emplace(index, Entry{parked.step, parked.fields});
    const std::size_t per_member = base_.data.size();
    for (const RunningBatch& b : batches) {
      if (!b.active) continue;
      for (std::size_t i = 0; i < b.batch.units.size(); ++i) {
        if (completed_.contains(b.batch.units[i])) continue;
        entries.emplace(
            b.batch.units[i],
            Entry{b.rollout->step(), std::span(b.state->data).subspan(i * per_member, per_member)});
      }
    }
    ParkedStates& record = **parked_record_;
    record.model = model_->name();
    record.variables = model_->variables();
    record.units.clear();
    record.steps.clear();
    record.fields.data.clear();
    record.fields.data.reserve(entries.size() * per_member);
    for (const auto& [index, entry] : entries) {
      record.units.push_back(units_.at(static_cast<std::size_t>(index)).name);
      record.steps.push_back(entry.step);
      record.fields.data.insert(record.fields.data.end(), entry.fields.begin(), entry.fields.end());
    }
    record.fields.shape = {static_cast<std::int64_t>(entries.size()),
                           static_cast<std::int64_t>(model_->variables().size()), config_.grid.nlat,
                           config_.grid.nlon};
  }

  Value completed_list() const {
    Value::List names;
    for (std::int64_t index : completed_)
      names.emplace_back(units_.at(static_cast<std::size_t>(index)).name);
    return Value(std::move(names));
  }

  // The restart boundary of step t. The output is flushed (collectively) before any rank
  // commits a row that claims step t, so every step a catalog claims is in the file.
  // Returns true when the run stops here.
  bool checkpoint_step(const std::vector<RunningBatch>& batches, std::int64_t t, bool last) {
    Session& session = checkpoint_.session();
    bool active_here = false;
    for (const RunningBatch& b : batches)
      active_here = active_here || b.active;
    // --stop-after-steps counts lead-time steps computed in this run; writing a batch's
    // lead time 0 (its initial state) computes none.
    if (t > 0) ++steps_this_run_;
    const bool commit_here = active_here && session.will_flush();
    const bool stop_here =
        (config_.stop_after_steps && steps_this_run_ >= *config_.stop_after_steps && !last) ||
        g_stop_signal != 0;
    const bool any_commit = rt_.any(commit_here);
    const bool stop = rt_.any(stop_here);
    if (any_commit || stop) output_.flush();
    if (active_here) {
      for (const RunningBatch& b : batches) {
        if (!b.active) continue;
        for (std::size_t i = 0; i < b.batch.units.size(); ++i) {
          session.record_unit(b.names[i], t);
          if (t == config_.nsteps) completed_.insert(b.batch.units[i]);
        }
      }
      update_record(batches);
      session.write({{"fingerprint", hash_},
                     {"step", t},
                     {"lead_time", dt_ * t},
                     {"completed_units", completed_list()}});
    }
    if (!stop) return false;
    session.flush();
    rt_.barrier();  // every rank's row is durable before anyone reports the stop
    stop_reason_ = g_stop_signal != 0
                       ? "signal " + std::to_string(int(g_stop_signal))
                       : "--stop-after-steps " + std::to_string(*config_.stop_after_steps);
    return true;
  }

  void progress(std::int64_t t, std::int64_t round, std::int64_t nrounds) {
    const std::int64_t done = rt_.sum(static_cast<std::int64_t>(completed_.size()));
    if (rt_.rank() != 0 || config_.quiet) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const double rate = elapsed > 0 ? double(steps_this_run_) / elapsed : 0.0;
    const double remaining =
        double(config_.nsteps - t) + double(nrounds - round - 1) * double(config_.nsteps + 1);
    const auto lead_hours = std::chrono::duration<double, std::ratio<3600>>(dt_ * t).count();
    char line[256];
    std::snprintf(line, sizeof line,
                  "step %lld/%lld  lead +%.4gh  round %lld/%lld  units done %lld/%zu  %.3g steps/s"
                  "  eta %s",
                  static_cast<long long>(t), static_cast<long long>(config_.nsteps), lead_hours,
                  static_cast<long long>(round + 1), static_cast<long long>(nrounds),
                  static_cast<long long>(done), units_.size(), rate,
                  clock_text(rate > 0 ? remaining / rate : -1).c_str());
    std::cout << line << std::endl;
  }

 public:
  const std::string& stop_reason() const { return stop_reason_; }
  std::int64_t steps_this_run() const { return steps_this_run_; }

 private:
  const RunConfig& config_;
  runtime::Runtime& rt_;
  RestartPlan plan_;
  io::OutputFile& output_;
  Checkpoint& checkpoint_;
  fs::path root_;
  std::vector<WorkUnit> units_;
  std::vector<std::int64_t> owned_;
  std::string hash_;
  std::vector<std::string> fields_;
  Duration dt_;
  std::unique_ptr<sm::PrognosticModel> model_;
  sm::FieldBatch base_;
  std::optional<sm::GaussianPerturbation> noise_;
  std::optional<sm::Diagnostics> diagnostics_;
  std::optional<StateBinding<ParkedStates>> parked_record_;
  std::map<std::int64_t, Parked> parked_;
  std::set<std::int64_t> completed_;
  std::int64_t steps_this_run_ = 0;
  std::string stop_reason_;
  std::chrono::steady_clock::time_point started_;
};

// The global catalog's record of the run now in progress: its settings, its output file
// and that file's state ("creating" until it is built, then "ready").
void mark_running(GlobalCatalog& c, const RunConfig& config, const fs::path& output,
                  const std::string& output_state) {
  const Fingerprint fp = fingerprint(config);
  c.fingerprint = fp;
  c.fingerprint_hash = fingerprint_hash(fp);
  c.output = output.string();
  c.output_state = output_state;
  c.status = "running";
}

void update_global_catalog(const fs::path& root, const std::function<void(GlobalCatalog&)>& edit) {
  std::optional<GlobalCatalog> catalog = read_global_catalog(root);
  if (!catalog) catalog.emplace();
  edit(*catalog);
  write_global_catalog(root, *catalog);
}

}  // namespace

// `output` is the caller's: a failure on one rank must not unwind through the collective
// OutputFile destructor (the other ranks would never join it), so the caller aborts the job
// while the file is still open.
static int run_with_output(const RunConfig& config, runtime::Runtime& rt,
                           const StartContext& context, const Decision& decision,
                           nlohmann::json run_entry, std::int64_t units_done_at_start,
                           std::optional<io::OutputFile>& output) {
  const WarningSink warn = [&rt](const std::string& message) { rt.warn(message); };
  const bool reopen = decision.output_action == OutputAction::Reopen;
  // Output: created atomically, or reopened and checked against this run (open_existing
  // decides on rank 0 and every rank gets the verdict; a mismatch or an unreadable file
  // refuses the run with nothing changed).
  const io::OutputLayout layout = output_layout(config);
  std::string output_problem;
  if (reopen) {
    try {
      output.emplace(io::OutputFile::open_existing(rt.comm(), context.output, layout));
    } catch (const io::OutputError& e) {
      output_problem = e.what();
    }
  } else {
    output.emplace(io::OutputFile::create(rt.comm(), context.output, layout,
                                          decision.output_action == OutputAction::Replace));
  }
  if (rt.any(!output_problem.empty())) {
    if (rt.rank() == 0)
      std::cerr << "stormrun run: error: output " << context.output.string()
                << " does not belong to this run: " << output_problem << "\n";
    output.reset();
    return kExitMismatch;
  }
  // The global catalog records this start only once the output is known to be this run's.
  if (rt.rank() == 0 && !context.root.empty())
    update_global_catalog(context.root, [&](GlobalCatalog& c) {
      mark_running(c, config, context.output, "ready");
      c.runs.push_back(run_entry);
    });

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

  int code = kExitOk;
  std::string stop_reason;
  std::int64_t steps = 0;
  {
    StopSignals signals;
    Checkpoint checkpoint = config.checkpoint ? Checkpoint(CheckpointOptions{
                                                    .name = config.checkpoint_name,
                                                    .path = context.root,
                                                    .mode = config.mode,
                                                    .flush_interval = config.flush_interval,
                                                    .history_size = config.history_size,
                                                    .level = config.level,
                                                    .rank = rt.rank(),
                                                    .world_size = rt.size(),
                                                    .warn = warn,
                                                })
                                              : Checkpoint::disabled();
    Engine engine(config, rt, decision.plan, *output, checkpoint, context.root);
    code = engine.run();
    stop_reason = engine.stop_reason();
    steps = engine.steps_this_run();
  }
  output->close();
  rt.barrier();
  if (rt.rank() == 0 && !context.root.empty()) {
    run_entry["ended_at"] = utc_now();
    run_entry["exit"] = code;
    run_entry["steps"] = steps;
    update_global_catalog(context.root, [&](GlobalCatalog& c) {
      c.status = code == kExitStopped ? "stopped" : "complete";
      if (!c.runs.empty()) c.runs.back() = run_entry;
    });
  }
  if (code == kExitStopped) {
    rt.info("stormrun: stopped after " + std::to_string(steps) + " steps (" + stop_reason +
            "); the checkpoint in " + context.root.string() +
            " is durable: run the same command again to resume");
  } else {
    rt.info("stormrun: run complete; output " + context.output.string());
  }
  return code;
}

int run(const RunConfig& config, runtime::Runtime& rt) {
  if (auto code = precheck(config, rt)) return *code;
  StartContext context;
  context.output = fs::absolute(config.output).lexically_normal();
  if (config.checkpoint) context.root = fs::absolute(config.checkpoint_dir).lexically_normal();
  const WarningSink warn = [&rt](const std::string& message) { rt.warn(message); };

  // The store's LOCK, held by rank 0 from the decision to the end (the ranks' checkpoints
  // share it as one job).
  std::optional<DirLock> lock;
  std::string lock_problem;
  if (rt.rank() == 0 && !context.root.empty() && fs::is_directory(context.root)) {
    try {
      lock.emplace(DirLock::acquire(context.root, warn));
    } catch (const LockError& e) {
      lock_problem = e.what();
    }
  }
  if (rt.any(!lock_problem.empty())) {
    if (rt.rank() == 0) std::cerr << "stormrun run: error: " << lock_problem << "\n";
    return kExitMismatch;
  }

  const Decision decision = coordinate(config, context, rt);
  if (decision.exit_code != 0) {
    if (rt.rank() == 0) std::cerr << "stormrun run: error: " << decision.message << "\n";
    return decision.exit_code;
  }
  for (const std::string& warning : decision.plan.warnings)
    if (rt.rank() == 0) rt.warn(warning);

  const std::int64_t units_done_at_start =
      std::count_if(decision.plan.units.begin(), decision.plan.units.end(),
                    [&](const UnitPlan& p) { return p.first_step > config.nsteps; });
  nlohmann::json run_entry = {
      {"started_at", utc_now()},          {"world_size", rt.size()},
      {"batch_size", config.batch_size},  {"device", rt.device_text()},
      {"resumed", decision.plan.resumed}, {"units_done_at_start", units_done_at_start}};
  // A new output is marked "creating" before it is built, so that a crash during the
  // creation leaves a store that says the partial file is ours to build again. A reopened
  // output is recorded only after it has been checked (run_with_output).
  if (rt.rank() == 0 && !context.root.empty() && decision.output_action != OutputAction::Reopen) {
    fs::create_directories(context.root);
    if (!lock) lock.emplace(DirLock::acquire(context.root, warn));
    update_global_catalog(context.root, [&](GlobalCatalog& c) {
      mark_running(c, config, context.output, "creating");
    });
  }
  rt.barrier();

  std::optional<io::OutputFile> output;  // outlives the try: see run_with_output
  try {
    return run_with_output(config, rt, context, decision, run_entry, units_done_at_start, output);
  } catch (const std::exception& e) {
    std::cerr << "stormrun[rank " << rt.rank() << "]: error: " << e.what() << std::endl;
    MPI_Abort(rt.comm(), 1);
  }
  return 1;
}

}  // namespace stormrun::workflow
