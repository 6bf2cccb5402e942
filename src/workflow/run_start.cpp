// The start of a run: the world-size checks, the coordinator's decision (DESIGN.md §4) and
// the output's layout (§5). Everything here happens before the first checkpoint write, and
// a refusal (exit 2 or 3) leaves the disk as it was.
#include "run_start.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

#include "stormrun/bits/text.hpp"
#include "stormrun/exit_codes.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/runtime/build_id.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/store.hpp"

namespace stormrun::workflow::run_detail {

namespace fs = std::filesystem;

namespace {

io::FieldInfo field_info(const std::string& model_name, const std::string& name) {
  const model::FieldDescription d = model::describe_field(model::find_model(model_name), name);
  return {d.name, d.units, d.long_name};
}

// The output is evidence (docs/checkpoint-format.md, "Output evidence"): the steps the plan
// trusts must be in the file. Reads only the file's format and its step checksums (a
// format-1 file, which has none, is scanned for the NaN fill instead). Returns a refusal
// (exit 3) for a file of a newer output format; a file that cannot be read or has another
// layout is left to open_existing, which names every difference.
std::string check_output_evidence(const RunConfig& config, const StartContext& context,
                                  const std::vector<DirSummary>& dirs, RestartPlan& plan) {
  io::OutputEvidence evidence;
  try {
    evidence = io::read_output_evidence(context.output, /*scan_fill=*/true);
  } catch (const io::OutputError&) {
    return "";
  }
  if (evidence.format > io::kOutputFormatVersion)
    return "output " + context.output.string() + " is in output format " +
           std::to_string(evidence.format) + ", this stormrun writes format " +
           std::to_string(io::kOutputFormatVersion) + " and reads formats 1 to " +
           std::to_string(io::kOutputFormatVersion) +
           " (the file was written by a newer stormrun): resume it with the stormrun that "
           "wrote it, or write to another --output and --checkpoint-dir";
  if (evidence.scanned)
    plan.warnings.push_back(
        "output " + context.output.string() +
        " is in output format 1 (written before outputs "
        "recorded step checksums): the steps it holds were found by reading every field, and "
        "the steps this run adds get no checksums; a new run writes format " +
        std::to_string(io::kOutputFormatVersion));
  if (!(evidence.has_checksums || evidence.scanned) || evidence.nensemble != config.nensemble ||
      evidence.ntime != std::int64_t(config.start_times.size()) ||
      evidence.nlead != config.nsteps + 1)
    return "";  // not this run's layout: open_existing refuses it, naming the differences
  const std::vector<WorkUnit> units = work_units(config);
  check_plan_against_output(
      plan, units,
      [&](const WorkUnit& unit) { return evidence.written_prefix(unit.member, unit.start_index); },
      [&] {
        std::vector<RowSummary> rows;
        for (const DirSummary& dir : dirs)
          for (RowSummary& row : rank_dir_history(dir.dir))
            rows.push_back(std::move(row));
        return rows;
      },
      config.level, config.nsteps, context.fingerprint_hash);
  return "";
}

// Rank 0's decision, from what every rank found in the rank dirs.
Decision decide(const RunConfig& config, const StartContext& context,
                const std::vector<DirSummary>& dirs) {
  Decision decision;
  const Fingerprint& fp = context.fingerprint;
  const std::string& hash = context.fingerprint_hash;
  const fs::path output = context.output;
  const bool output_exists = fs::exists(output);
  const bool has_rows =
      std::any_of(dirs.begin(), dirs.end(), [](const DirSummary& d) { return d.row.has_value(); });
  for (const DirSummary& dir : dirs)
    for (const std::string& warning : dir.warnings)
      decision.plan.warnings.push_back(warning);
  const std::size_t dir_warning_count = decision.plan.warnings.size();

  std::optional<GlobalCatalog> catalog;
  try {
    if (!context.root.empty()) catalog = read_global_catalog(context.root);
  } catch (const GlobalCatalogDamaged& e) {
    // Truncated (a full disk) or garbled: the commits in the rank dirs and the output's
    // own fingerprint say all a resume needs, as when the catalog was removed; the damaged
    // file is kept beside it. Without commits there is nothing to go by: refused.
    if (!has_rows) throw;
    const fs::path aside = set_aside_global_catalog(context.root);
    decision.plan.warnings.push_back(
        std::string(e.what()).substr(0, std::string(e.what()).find("; move the checkpoint")) +
        "; set aside as " + aside.string() + ", resuming from the rank dirs' commits");
  }

  auto refuse = [&](int code, std::string message) {
    decision.exit_code = code;
    decision.message = std::move(message);
    return decision;
  };

  if (catalog) {
    const auto diff = fingerprint_diff(catalog->fingerprint, fp);
    // model_dynamics is no option: it changes with the stormrun that computes the model.
    const bool dynamics = std::any_of(diff.begin(), diff.end(), [](const std::string& line) {
      return line.rfind("model_dynamics:", 0) == 0;
    });
    if (!diff.empty())
      return refuse(kExitMismatch,
                    "checkpoint store " + context.root.string() +
                        " holds a run with other settings:" + text::indented_lines(diff) +
                        (dynamics ? "\nthe model's dynamics differ (model_dynamics): a resume "
                                    "computes the store's own dynamics when --model-dynamics is "
                                    "not given, if this stormrun still computes them; otherwise "
                                    "finish that run with the stormrun that started it, or give "
                                    "another --checkpoint-dir and --output to start a new run"
                                  : "\nresume with the original settings, or give another "
                                    "--checkpoint-dir to start a new run"));
  }
  if (catalog && catalog->status == "diverged") {
    // The same settings would diverge at the same step again.
    std::string why = "the model diverged";
    if (!catalog->runs.empty() && catalog->runs.back().contains("diverged"))
      why = catalog->runs.back()["diverged"].value("message", why);
    return refuse(
        kExitDiverged,
        "checkpoint store " + context.root.string() +
            " holds a run that diverged and would diverge again, so it is not resumed: " + why);
  }
  if (config.resume == ResumeMode::Never && (catalog || has_rows))
    return refuse(kExitMismatch, "--resume never: checkpoint store " + context.root.string() +
                                     " already holds a run; give another --checkpoint-dir, or "
                                     "--resume auto to continue it");
  if (config.resume == ResumeMode::Require && !has_rows)
    return refuse(kExitMismatch, "--resume require: checkpoint store " +
                                     (context.root.empty() ? std::string("(none: --no-checkpoint)")
                                                           : context.root.string()) +
                                     " holds no committed row to resume from");

  const std::vector<WorkUnit> units = work_units(config);
  if (has_rows) {
    // The plan reports the rank dirs' own warnings (skipped commits) itself: keep only what
    // was found here besides them (a damaged global catalog), so that none prints twice.
    std::vector<std::string> warnings(
        decision.plan.warnings.begin() +
            std::ptrdiff_t(std::min(decision.plan.warnings.size(), dir_warning_count)),
        decision.plan.warnings.end());
    decision.plan = make_restart_plan(units, dirs, config.level, config.nsteps, hash);
    decision.plan.warnings.insert(decision.plan.warnings.end(), warnings.begin(), warnings.end());
  } else {
    for (const WorkUnit& unit : units)
      decision.plan.units.push_back({unit.index, 0, std::nullopt});
  }

  // The output is the store's when it is where the store recorded it, or at the same place
  // relative to the store: a run directory that was moved, or is reached through another
  // mount point or a symlink, resumes (the file's fingerprint is checked when it is opened).
  const bool ours = catalog && is_store_output(*catalog, context.root, output);
  const bool ours_ready = ours && catalog->output_state == "ready";
  const bool ours_creating = ours && catalog->output_state == "creating";
  if (catalog && !ours)
    return refuse(kExitMismatch, "checkpoint store " + context.root.string() +
                                     " belongs to the output " + catalog->output +
                                     ", this run writes " + output.string() +
                                     "; give the same --output to resume, or another "
                                     "--checkpoint-dir");
  if (ours && catalog->output != output.string())
    decision.plan.warnings.push_back(
        "checkpoint store " + context.root.string() + " recorded its output at " + catalog->output +
        "; it is now " + output.string() + " (the run directory moved): resuming there");
  if (ours_ready) {
    if (output_exists) {
      decision.output_action = OutputAction::Reopen;
    } else if (decision.plan.resumed) {
      return refuse(kExitMismatch,
                    "output " + output.string() + " is missing, but checkpoint store " +
                        context.root.string() +
                        " records finished steps in it; restore the file, or remove the "
                        "checkpoint directory to start again");
    } else {
      decision.output_action = OutputAction::Create;
    }
  } else if (ours_creating) {
    // A crash while the file was being built: it is ours and incomplete, build it again.
    decision.output_action = OutputAction::Replace;
  } else if (output_exists) {
    if (has_rows) {
      // Rows but no global catalog (it was removed): the file's fingerprint decides.
      decision.output_action = OutputAction::Reopen;
    } else if (config.overwrite) {
      decision.output_action = OutputAction::Replace;
    } else {
      return refuse(
          kExitMismatch,
          "output " + output.string() + " exists and no checkpoint in " +
              (context.root.empty() ? std::string("(--no-checkpoint)") : context.root.string()) +
              " claims it; give --overwrite to replace it, or another --output");
    }
  } else if (decision.plan.resumed) {
    return refuse(kExitMismatch, "output " + output.string() +
                                     " is missing, but checkpoint "
                                     "store " +
                                     context.root.string() +
                                     " records finished steps in it; restore the file, or "
                                     "remove the checkpoint directory to start again");
  } else {
    decision.output_action = OutputAction::Create;
  }
  if (decision.output_action == OutputAction::Reopen && decision.plan.resumed) {
    std::string refusal = check_output_evidence(config, context, dirs, decision.plan);
    if (!refusal.empty()) return refuse(kExitMismatch, std::move(refusal));
  }
  return decision;
}

}  // namespace

nlohmann::json Decision::to_json() const {
  return {{"exit_code", exit_code},
          {"message", message},
          {"output_action", static_cast<int>(output_action)},
          {"plan", plan.to_json()}};
}

Decision Decision::from_json(const nlohmann::json& json) {
  Decision d;
  d.exit_code = json.at("exit_code").get<int>();
  d.message = json.at("message").get<std::string>();
  d.output_action = static_cast<OutputAction>(json.at("output_action").get<int>());
  d.plan = RestartPlan::from_json(json.at("plan"));
  return d;
}

StartContext StartContext::of(const RunConfig& config) {
  StartContext context;
  context.output = fs::absolute(config.output).lexically_normal();
  if (config.checkpoint) context.root = fs::absolute(config.checkpoint_dir).lexically_normal();
  context.fingerprint = workflow::fingerprint(config);
  context.fingerprint_hash = workflow::fingerprint_hash(context.fingerprint);
  return context;
}

io::OutputLayout output_layout(const RunConfig& config, const StartContext& context) {
  io::OutputLayout layout;
  for (const std::string& field : config.output_fields())
    layout.fields.push_back(field_info(config.model, field));
  layout.statistics = config.statistics;
  layout.nensemble = config.nensemble;
  layout.times = config.start_times;
  layout.nlead = config.nsteps + 1;
  layout.lead_step = lead_step(config);
  layout.grid = config.grid;
  layout.fingerprint_hash = context.fingerprint_hash;
  layout.fingerprint_json = nlohmann::json(context.fingerprint).dump();
  layout.attributes["source"] = "stormrun";
  layout.attributes["workflow"] = to_string(config.workflow);
  layout.attributes["model"] = config.model;
  return layout;
}

std::map<std::string, std::string> shared_settings(const RunConfig& config,
                                                   const StartContext& context) {
  std::map<std::string, std::string> settings(context.fingerprint.begin(),
                                              context.fingerprint.end());
  const auto optional_text = [](const auto& value) {
    return value ? std::to_string(*value) : std::string("none");
  };
  const char* devices[] = {"auto", "cpu", "cuda"};
  settings["build-id"] = runtime::build_id();
  settings["output"] = context.output.string();
  settings["checkpoint-dir"] = context.root.empty() ? "none" : context.root.string();
  settings["checkpoint-name"] = config.checkpoint_name;
  settings["mode"] = to_string(config.mode);
  settings["history-size"] = std::to_string(config.history_size);
  settings["flush-interval"] = optional_text(config.flush_interval);
  settings["level"] = std::to_string(config.level);
  settings["batch-size"] = std::to_string(config.batch_size);
  settings["device"] = devices[static_cast<int>(config.device)];
  settings["stop-after-steps"] = optional_text(config.stop_after_steps);
  settings["resume"] = to_string(config.resume);
  settings["end-time"] = config.end_time ? format_utc(*config.end_time) : "none";
  settings["walltime-reserve"] = text::number_text(config.walltime_reserve_s);
  settings["hang-timeout"] =
      config.hang_timeout_s ? text::number_text(*config.hang_timeout_s) : std::string("auto");
  settings["max-no-progress"] = std::to_string(config.max_no_progress);
  settings["quiet"] = config.quiet ? "true" : "false";
  settings["sync-commits"] = config.sync_commits ? "true" : "false";
  settings["checkpoint-layout"] = to_string(config.checkpoint_layout);
  settings["overwrite"] = config.overwrite ? "true" : "false";
  return settings;
}

void agree_on_settings(const RunConfig& config, const StartContext& context,
                       const runtime::Runtime& rt) {
  const auto mine = shared_settings(config, context);
  const nlohmann::json sent = {{"host", runtime::host_name()}, {"settings", mine}};
  const std::vector<std::string> all =
      rt.gather(sent.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  runtime::Outcome outcome;
  if (rt.rank() == 0) {
    // setting → "rank R@HOST VALUE" of each rank whose value differs from rank 0's.
    std::map<std::string, std::vector<std::string>> differ;
    for (std::size_t r = 1; r < all.size(); ++r) {
      const nlohmann::json theirs = nlohmann::json::parse(all[r]);
      const auto settings = theirs.at("settings").get<std::map<std::string, std::string>>();
      std::set<std::string> names;
      for (const auto& [name, value] : mine)
        names.insert(name);
      for (const auto& [name, value] : settings)
        names.insert(name);
      for (const std::string& name : names) {
        const auto a = mine.find(name);
        const auto b = settings.find(name);
        const std::string ours = a == mine.end() ? "(unset)" : a->second;
        const std::string other = b == settings.end() ? "(unset)" : b->second;
        if (ours != other)
          differ[name].push_back("rank " + std::to_string(r) + "@" +
                                 theirs.at("host").get<std::string>() + " '" + other + "'");
      }
    }
    if (!differ.empty()) {
      std::vector<std::string> lines;
      for (const auto& [name, others] : differ) {
        constexpr std::size_t kListed = 4;
        std::vector<std::string> shown(
            others.begin(), others.begin() + std::ptrdiff_t(std::min(kListed, others.size())));
        std::string line = name + ": rank 0 '" + mine.at(name) + "', " + text::join(shown, ", ");
        if (others.size() > kListed)
          line += " and " + std::to_string(others.size() - kListed) + " more ranks";
        lines.push_back(line);
      }
      outcome = {
          kExitUsage,
          "the ranks of this run do not share one configuration:" + text::indented_lines(lines) +
              "\ngive every rank the same options: export the STORMRUN_* variables to "
              "every node (srun does; mpirun needs -x), and use a --config file that "
              "every node reads alike"};
    }
  }
  runtime::agree_or_throw(rt.comm(), "options", outcome);
}

runtime::Outcome precheck(const RunConfig& config, int world_size) {
  // Statistics run one start time per round: each rank's members of one start time must
  // fit in a batch.
  std::int64_t per_rank = 0;
  for (int r = 0; r < world_size; ++r) {
    std::map<std::int64_t, std::int64_t> per_start;
    for (std::int64_t index : owned_units(config.unit_count(), r, world_size))
      per_rank = std::max(per_rank, ++per_start[index / config.nensemble]);
  }
  if (!config.statistics.empty() && per_rank > config.batch_size)
    return {kExitUsage, "--statistics needs every member of a start time resident at once: " +
                            std::to_string(config.nensemble) + " members on " +
                            std::to_string(world_size) +
                            " ranks need --batch-size >= " + std::to_string(per_rank) + " (it is " +
                            std::to_string(config.batch_size) + "), or more ranks"};
  if (config.stop_after_steps && !config.checkpoint)
    return {kExitUsage,
            "--stop-after-steps needs a checkpoint to resume from; drop --no-checkpoint"};
  return {};
}

Decision decide_gathered(const RunConfig& config, const StartContext& context,
                         const std::vector<std::string>& gathered) {
  Decision decision;
  try {
    std::vector<DirSummary> dirs;
    for (const std::string& text : gathered)
      for (const nlohmann::json& entry : nlohmann::json::parse(text)) {
        if (entry.contains("error"))
          throw RestartMismatch("cannot read rank directory " +
                                entry.at("error").get<std::string>());
        dirs.push_back(DirSummary::from_json(entry.at("summary")));
      }
    std::sort(dirs.begin(), dirs.end(),
              [](const DirSummary& a, const DirSummary& b) { return a.dir < b.dir; });
    decision = decide(config, context, dirs);
  } catch (const RestartMismatch& e) {
    decision.exit_code = kExitMismatch;
    decision.message = e.what();
  } catch (const StoreError& e) {
    decision.exit_code = kExitMismatch;
    decision.message = e.what();
  } catch (const std::exception& e) {  // anything else rank 0 meets: still refused by all
    decision = Decision{};
    decision.exit_code = kExitMismatch;
    decision.message = "checkpoint store " + context.root.string() + ": " + e.what();
  }
  return decision;
}

Decision coordinate(const RunConfig& config, const StartContext& context,
                    const runtime::Runtime& rt) {
  // Every rank summarises a share of the rank dirs (the verification reads every file,
  // so spreading it over ranks divides the time), rank 0 decides. A dir that cannot be read
  // travels to rank 0 as an error and refuses the run there; anything else that fails here
  // is this rank's own failure, agreed before the gather.
  nlohmann::json mine = nlohmann::json::array();
  std::string mine_text;
  runtime::Outcome outcome;
  try {
    if (!context.root.empty()) {
      const std::vector<fs::path> dirs = list_rank_dirs(context.root);
      for (std::size_t i = 0; i < dirs.size(); ++i) {
        if (static_cast<int>(i % static_cast<std::size_t>(rt.size())) != rt.rank()) continue;
        try {
          mine.push_back({{"summary", summarise_rank_dir(dirs[i]).to_json()}});
        } catch (const std::exception& e) {
          mine.push_back({{"error", dirs[i].string() + ": " + e.what()}});
        }
      }
    }
    // Paths and messages need not be UTF-8: the JSON text replaces what is not.
    mine_text = mine.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    outcome = {kExitMismatch, "checkpoint store " + context.root.string() + ": " + e.what()};
  }
  if (!outcome.failed())
    outcome = runtime::injected_fault("store-summary", rt.rank(), kExitMismatch);
  runtime::agree_or_throw(rt.comm(), "store", outcome);

  const std::vector<std::string> gathered = rt.gather(mine_text);
  Decision decision;
  if (rt.rank() == 0) decision = decide_gathered(config, context, gathered);
  decision = Decision::from_json(nlohmann::json::parse(rt.broadcast(
      decision.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))));
  // Every rank holds the decision; rank 0 reports a refusal (agree() prints it once).
  runtime::agree_or_throw(
      rt.comm(), "store",
      rt.rank() == 0 ? runtime::Outcome{decision.exit_code, decision.message} : runtime::Outcome{});
  return decision;
}

}  // namespace stormrun::workflow::run_detail
