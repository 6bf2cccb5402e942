// `stormrun run` options: one table of options feeds the command-line parser, the INI file
// parser, the environment lookup and --help, so the four cannot drift apart. Each source is
// parsed on its own and kept as text with where it came from; the winning text of each
// option is then converted, so an error can name the option and its source.
#include "app/run_options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <functional>
#include <ostream>
#include <sstream>
#include <system_error>

#include "stormrun/bits/text.hpp"
#include "stormrun/model/diagnostics.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/model/shallow_water.hpp"

extern char** environ;

namespace stormrun::app {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using workflow::ConfigError;
using workflow::RunConfig;

namespace {

enum class Kind {
  Value,       ///< one value
  Repeatable,  ///< may be given several times on the command line or in the INI file
  Flag         ///< no value on the command line; true/false/1/0/yes/no elsewhere
};

struct OptionSpec {
  std::string name;        ///< long name without dashes; also the INI key
  std::string value_name;  ///< placeholder in --help
  Kind kind = Kind::Value;
  std::string meaning;
  std::string default_text;  ///< empty: no default shown
  bool in_files = true;      ///< false: command line and environment only (--config)
};

using text::join;
using text::number_text;
using text::short_utc;

// --model's meaning, from the registry: "prognostic model: persistence (identity) or swe
// (shallow water on the sphere)".
std::string model_meaning() {
  std::vector<std::string> entries;
  for (const auto& spec : model::registered_models())
    entries.push_back(spec.name + " (" + spec.help + ")");
  const std::string last = entries.back();
  entries.pop_back();
  return "prognostic model: " + (entries.empty() ? "" : text::join(entries, ", ") + " or ") + last;
}

// The defaults shown by --help are read from a default RunConfig (and the functions that
// derive defaults), never written twice.
const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = [] {
    const RunConfig d;
    auto number = [](auto v) { return std::to_string(v); };
    const auto diagnostics = join(model::Diagnostics::available());
    return std::vector<OptionSpec>{
        {"config", "FILE", Kind::Value,
         "INI file of options (keys: the long names, e.g. nsteps = 8); command line and "
         "STORMRUN_* variables win over it",
         "none", false},
        {"workflow", "deterministic|diagnostic|ensemble", Kind::Value,
         "deterministic: one member per start time; diagnostic: plus diagnostic fields; "
         "ensemble: perturbed members",
         workflow::to_string(d.workflow)},
        {"model", text::join(workflow::model_names(), "|"), Kind::Value, model_meaning(), d.model},
        {"initial-condition", "NAME|file:PATH", Kind::Value,
         "tc2, tc6, rossby-haurwitz, galewsky, galewsky-nobump, or file:PATH (HDF5 with h,u,v)",
         d.initial_condition},
        {"grid", "NLATxNLON", Kind::Value, "lat-lon grid of the model",
         number(d.grid.nlat) + "x" + number(d.grid.nlon)},
        {"start-time", "ISO8601", Kind::Repeatable,
         "start time of a forecast, e.g. 2026-01-01T00:00:00Z; repeat it or give a comma-"
         "separated list",
         short_utc(workflow::default_start_time())},
        {"nsteps", "N", Kind::Value, "output steps after lead time 0 (lead times 0..N)",
         number(d.nsteps)},
        {"dt", "SECONDS", Kind::Value, "lead-time step between outputs, whole seconds",
         number_text(d.dt_seconds)},
        {"substeps", "auto|N", Kind::Value,
         "model sub-steps per output step (auto: the fewest stable ones)",
         d.substeps ? number(*d.substeps) : "auto"},
        {"nensemble", "N", Kind::Value, "members per start time (ensemble workflow)",
         number(d.nensemble)},
        {"batch-size", "N", Kind::Value,
         "members a rank advances at once (does not change the output)", number(d.batch_size)},
        {"perturbation", "none|gaussian", Kind::Value,
         "perturbation of the members' initial conditions", d.perturbation},
        {"noise-amplitude", "A", Kind::Value,
         "scale of the Gaussian noise (1: h 1 m, u and v 0.1 m/s)", number_text(d.noise_amplitude)},
        {"seed", "S", Kind::Value, "seed of the perturbation noise", number(d.seed)},
        {"output", "FILE.h5", Kind::Value, "output HDF5 file (required)", ""},
        {"output-variables", "h,u,v", Kind::Value,
         "prognostic variables written to the output ('none' for none)",
         "the model's variables; none for --workflow diagnostic"},
        {"diagnostics", diagnostics, Kind::Value,
         "diagnostic fields written to the output (diagnostic workflow)",
         "none; " + diagnostics + " for --workflow diagnostic"},
        {"statistics", "mean,std", Kind::Value,
         "ensemble statistics over members, per output field (ensemble workflow)", "none"},
        {"overwrite", "", Kind::Flag,
         "replace an existing output file that no checkpoint of this run claims", "off"},
        {"checkpoint-dir", "DIR", Kind::Value,
         "checkpoint store (new, empty, or a stormrun store), on a file system every rank sees",
         "OUTPUT.ckpt"},
        {"checkpoint-name", "NAME", Kind::Value, "run name recorded in the checkpoint store",
         d.checkpoint_name},
        {"mode", "overwrite|append", Kind::Value,
         "checkpoint rows: keep only the newest (overwrite) or a history (append)",
         to_string(d.mode)},
        {"history-size", "N", Kind::Value, "rows kept in append mode (0: all)",
         number(d.history_size)},
        {"flush-interval", "N|none", Kind::Value,
         "commit a checkpoint every N output steps (none: only at the end)",
         d.flush_interval ? number(*d.flush_interval) : "none"},
        {"level", "0|1|2", Kind::Value,
         "checkpoint level: 0 progress, 1 + unit restart state, 2 + full model state",
         number(d.level)},
        {"no-checkpoint", "", Kind::Flag, "run without a checkpoint store (cannot resume)", "off"},
        {"sync-commits", "", Kind::Flag,
         "commit inside the step loop instead of on a background thread (docs/performance.md)",
         "off: asynchronous commits"},
        {"checkpoint-pack-below", "BYTES", Kind::Value,
         "a commit of fewer bytes is one pack file, 2 fsyncs (0: every commit a directory; "
         "docs/checkpoint-format.md)",
         number(d.pack_below_bytes)},
        {"checkpoint-layout", "rank|node", Kind::Value,
         "who commits: every rank its own rank dir, or one rank per node for all its node's "
         "ranks (fewer metadata operations on a parallel file system; docs/performance.md)",
         "rank"},
        {"device", "auto|cpu|cuda", Kind::Value, "where the model runs (same bytes on each)",
         "auto"},
        {"stop-after-steps", "K", Kind::Value,
         "stop cleanly after K steps of this run with a checkpoint, exit 75", "none"},
        {"model-dynamics", "V", Kind::Value,
         "the model's dynamics version (docs/model.md); a resume takes its store's by itself",
         "the newest"},
        {"end-time", "UTC|EPOCH", Kind::Value,
         "the job's end (2026-12-02T05:00:00Z or seconds since 1970): stop with exit 75 "
         "before it",
         "SLURM's end time of the job, re-read now and then; none outside SLURM"},
        {"walltime-reserve", "SECONDS", Kind::Value,
         "time kept free before the end time beyond the next step and a commit",
         number_text(d.walltime_reserve_s)},
        {"hang-timeout", "SECONDS|auto|off", Kind::Value,
         "end the job (exit 76) when a rank makes no progress this long",
         "auto: 10 x (slowest step + commit), at least 120 s; 600 s before the first step"},
        {"max-no-progress", "N", Kind::Value,
         "end with exit 5 when the last N runs of this store committed no new step (0: never)",
         number(d.max_no_progress)},
        {"resume", "auto|never|require", Kind::Value,
         "auto: resume when a checkpoint exists; never: refuse one; require: refuse to start "
         "without one",
         workflow::to_string(d.resume)},
        {"quiet", "", Kind::Flag, "no progress lines", "off"},
    };
  }();
  return specs;
}

// ---- the three sources ------------------------------------------------------------------

enum class Source { CommandLine, Environment, ConfigFile };

/// An option's text as one source gave it.
struct Given {
  std::vector<std::string> values;  ///< one for Value and Flag, one or more for Repeatable
  Source source = Source::CommandLine;
  std::string origin;  ///< the environment variable or the INI file
};

std::string env_name(const std::string& option) {
  std::string name = "STORMRUN_";
  for (char c : option)
    name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

po::options_description make_description(bool command_line) {
  po::options_description desc(command_line ? "Options of stormrun run" : "", 100, 50);
  for (const auto& spec : option_specs()) {
    if (!command_line && !spec.in_files) continue;
    std::string meaning = spec.meaning;
    if (!spec.default_text.empty()) meaning += " (default: " + spec.default_text + ")";
    po::value_semantic* semantic = nullptr;
    if (spec.kind == Kind::Flag && command_line) {
      semantic = po::bool_switch();
    } else if (spec.kind == Kind::Repeatable) {
      semantic = po::value<std::vector<std::string>>()->value_name(spec.value_name);
    } else {
      semantic = po::value<std::string>()->value_name(
          spec.kind == Kind::Flag ? std::string("true|false") : spec.value_name);
    }
    desc.add_options()(spec.name.c_str(), semantic, meaning.c_str());
  }
  if (command_line) desc.add_options()("help", "print this help and exit");
  return desc;
}

// Texts of the options in a parsed variables_map (defaulted entries are not given).
void collect(const po::variables_map& vm, Source source, const std::string& origin,
             std::map<std::string, Given>& into) {
  for (const auto& spec : option_specs()) {
    const auto it = vm.find(spec.name);
    if (it == vm.end() || it->second.defaulted()) continue;
    Given given{.values = {}, .source = source, .origin = origin};
    const auto& value = it->second.value();
    if (const auto* flag = boost::any_cast<bool>(&value)) {
      if (!*flag) continue;  // bool_switch not given
      given.values = {"true"};
    } else if (const auto* list = boost::any_cast<std::vector<std::string>>(&value)) {
      given.values = *list;
    } else {
      given.values = {boost::any_cast<std::string>(value)};
    }
    into[spec.name] = std::move(given);
  }
}

std::map<std::string, Given> from_environment(const std::map<std::string, std::string>& env) {
  std::map<std::string, Given> given;
  for (const auto& spec : option_specs()) {
    const std::string name = env_name(spec.name);
    if (const auto it = env.find(name); it != env.end())
      given[spec.name] =
          Given{.values = {it->second}, .source = Source::Environment, .origin = name};
  }
  return given;
}

// Levenshtein distance of two short names.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// STORMRUN_* variables that are not a setting but are within two edits of one: a misspelt
// setting would otherwise be ignored without a word. Other STORMRUN_* names (the test
// hooks, STORMRUN_CHECKPOINT_ROOT of a job script) are left alone.
std::vector<std::string> misspelt_variables(const std::map<std::string, std::string>& env) {
  std::vector<std::string> warnings;
  for (const auto& [name, value] : env) {
    if (name.rfind("STORMRUN_", 0) != 0) continue;
    std::string nearest;
    std::size_t best = 3;
    bool known = false;
    for (const auto& spec : option_specs()) {
      const std::string option = env_name(spec.name);
      if (option == name) known = true;
      if (const std::size_t d = edit_distance(name, option); d < best) {
        best = d;
        nearest = option;
      }
    }
    if (!known && !nearest.empty())
      warnings.push_back("environment variable " + name + " is not a setting of stormrun run " +
                         "and is ignored; did you mean " + nearest + "?");
  }
  return warnings;
}

std::map<std::string, Given> from_config_file(const std::string& path) {
  auto fail = [&](const std::string& why) {
    return ConfigError("--config", "--config: " + path + ": " + why);
  };
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw fail("is a directory; give an INI file");
  // An INI file is a small regular file: /dev/zero, a FIFO or a data file given by mistake
  // would be read for ever or parsed into nonsense.
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec))
    throw fail("is not a regular file; give an INI file");
  constexpr std::uintmax_t kMostBytes = 1 << 20;
  if (const auto size = fs::file_size(path, ec); !ec && size > kMostBytes)
    throw fail("is " + std::to_string(size) + " bytes; an INI file of settings is at most " +
               std::to_string(kMostBytes) + " bytes (is it the right file?)");
  std::ifstream in(path);
  if (!in)
    throw fail("cannot be read (" + std::error_code(errno, std::generic_category()).message() +
               ")");
  const auto desc = make_description(false);
  po::variables_map vm;
  try {
    const auto parsed = po::parse_config_file(in, desc, /*allow_unregistered=*/true);
    for (const auto& option : parsed.options)
      if (option.unregistered)
        throw fail("unknown key '" + option.string_key +
                   "'; the keys are the long option names without dashes (e.g. nsteps = 8), "
                   "see stormrun run --help");
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw fail(option_error_text(e));
  }
  std::map<std::string, Given> given;
  collect(vm, Source::ConfigFile, path, given);
  return given;
}

// ---- parse errors ------------------------------------------------------------------------

// Reads the parts of a Boost error that its what() would substitute: the class derives from
// the error only to name its protected members (through pointers to them).
class OptionErrorText : public po::error_with_option_name {
 public:
  static std::string of(const po::error_with_option_name& error) {
    std::map<std::string, std::string> values = error.*(&OptionErrorText::m_substitutions);
    values["canonical_option"] = (error.*(&OptionErrorText::get_canonical_option_name))();
    values["prefix"] = (error.*(&OptionErrorText::get_canonical_option_prefix))();
    std::string text = error.m_error_template;
    // A placeholder without a value takes its default text (Boost's own, fixed).
    for (const auto& [name, from_to] : error.*(&OptionErrorText::m_substitution_defaults))
      if (values[name].empty()) text = replace_each(text, from_to.first, from_to.second);
    // Then each "%name%" of the template is replaced once; what is put in is not read again.
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t end = text[i] == '%' ? text.find('%', i + 1) : std::string::npos;
      if (end != std::string::npos) {
        if (const auto it = values.find(text.substr(i + 1, end - i - 1)); it != values.end()) {
          out += it->second;
          i = end + 1;
          continue;
        }
      }
      out += text[i++];
    }
    return out;
  }

 private:
  static std::string replace_each(const std::string& text, const std::string& from,
                                  const std::string& to) {
    if (from.empty()) return text;
    std::string out;
    std::size_t at = 0;
    for (std::size_t hit = text.find(from); hit != std::string::npos; hit = text.find(from, at)) {
      out += text.substr(at, hit - at) + to;
      at = hit + from.size();
    }
    return out + text.substr(at);
  }
};

// ---- text to values ---------------------------------------------------------------------

std::string flag_of(const std::string& name) {
  return "--" + name;
}

template <class Int>
Int parse_integer(const std::string& name, const std::string& text, const std::string& want) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range)
    throw ConfigError(flag_of(name),
                      flag_of(name) + ": " + text + " is out of range; give " + want);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw ConfigError(flag_of(name),
                      flag_of(name) + ": '" + text + "' is not an integer; give " + want);
  return value;
}

double parse_number(const std::string& name, const std::string& text, const std::string& want) {
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw ConfigError(flag_of(name),
                      flag_of(name) + ": '" + text + "' is not a number; give " + want);
  return value;
}

bool parse_flag(const std::string& name, const std::string& text) {
  std::string lower;
  for (char c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  throw ConfigError(
      flag_of(name),
      flag_of(name) + ": '" + text + "' is not a switch value; give true, false, 1, 0, yes or no");
}

template <class Enum>
Enum parse_choice(const std::string& name, const std::string& text,
                  const std::vector<std::pair<std::string, Enum>>& choices) {
  std::vector<std::string> names;
  for (const auto& [choice, value] : choices) {
    if (text == choice) return value;
    names.push_back(choice);
  }
  throw ConfigError(flag_of(name),
                    flag_of(name) + ": '" + text + "' is not valid; give " + join(names, ", "));
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// "a,b" → {a, b}; "" and "none" → {}; an empty item is an error.
std::vector<std::string> split_list(const std::string& name, const std::string& text) {
  const std::string whole = trim(text);
  if (whole.empty() || whole == "none") return {};
  std::vector<std::string> items;
  std::stringstream stream(whole);
  std::string item;
  while (std::getline(stream, item, ','))
    items.push_back(trim(item));
  if (whole.back() == ',') items.emplace_back();
  for (const auto& each : items)
    if (each.empty())
      throw ConfigError(flag_of(name), flag_of(name) + ": '" + text +
                                           "' has an empty item; give a comma-separated list");
  return items;
}

// Lists whose order carries no meaning are kept in the order of `canonical` (unknown names
// last, for validate() to name), so that equal settings get equal fingerprints.
void sort_like(std::vector<std::string>& items, const std::vector<std::string>& canonical) {
  auto rank = [&](const std::string& item) {
    return std::find(canonical.begin(), canonical.end(), item) - canonical.begin();
  };
  std::stable_sort(items.begin(), items.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
}

/// The options of all sources, each taken from the first source that gives it.
class Settings {
 public:
  Settings(std::map<std::string, Given> cli, std::map<std::string, Given> env,
           std::map<std::string, Given> ini) {
    for (auto* source : {&ini, &env, &cli})
      for (auto& [name, given] : *source)
        given_[name] = std::move(given);
  }

  bool has(const std::string& name) const { return given_.count(name) != 0; }
  const std::string& text(const std::string& name) const { return given_.at(name).values.front(); }
  const std::vector<std::string>& texts(const std::string& name) const {
    return given_.at(name).values;
  }

  /// " (from environment variable STORMRUN_X)" and the like, for error messages.
  std::string source_of(const std::string& option_flag) const {
    const auto it =
        given_.find(option_flag.rfind("--", 0) == 0 ? option_flag.substr(2) : option_flag);
    if (it == given_.end()) return "";
    switch (it->second.source) {
      case Source::Environment:
        return " (from environment variable " + it->second.origin + ")";
      case Source::ConfigFile:
        return " (from config file " + it->second.origin + ", key " + it->first + ")";
      case Source::CommandLine:
        break;
    }
    return "";
  }

 private:
  std::map<std::string, Given> given_;
};

RunConfig build_config(const Settings& s) {
  RunConfig c;
  if (s.has("workflow"))
    c.workflow = parse_choice<workflow::WorkflowKind>(
        "workflow", s.text("workflow"),
        {{"deterministic", workflow::WorkflowKind::Deterministic},
         {"diagnostic", workflow::WorkflowKind::Diagnostic},
         {"ensemble", workflow::WorkflowKind::Ensemble}});
  if (s.has("model")) c.model = s.text("model");
  if (s.has("initial-condition")) c.initial_condition = s.text("initial-condition");
  if (s.has("grid")) {
    try {
      c.grid = model::Grid::parse(s.text("grid"));
    } catch (const std::invalid_argument& e) {
      throw ConfigError("--grid", std::string("--grid: ") + e.what());
    }
  }
  if (s.has("start-time")) {
    for (const auto& text : s.texts("start-time")) {
      for (const auto& item : split_list("start-time", text)) {
        try {
          c.start_times.push_back(parse_utc(item));
        } catch (const CodecError& e) {
          throw ConfigError("--start-time", std::string("--start-time: ") + e.what());
        }
      }
    }
    if (c.start_times.empty())
      throw ConfigError("--start-time",
                        "--start-time: no start time given; give at least one, "
                        "e.g. 2026-01-01T00:00:00Z");
  } else {
    c.start_times = {workflow::default_start_time()};
  }
  if (s.has("nsteps"))
    c.nsteps = parse_integer<std::int64_t>("nsteps", s.text("nsteps"), "a positive integer");
  if (s.has("dt"))
    c.dt_seconds = parse_number("dt", s.text("dt"), "a positive whole number of seconds");
  if (s.has("substeps")) {
    try {
      c.substeps = model::parse_substeps(s.text("substeps"));
    } catch (const std::invalid_argument&) {
      throw ConfigError("--substeps", "--substeps: '" + s.text("substeps") +
                                          "' is not valid; give auto or a positive integer");
    }
  }
  if (s.has("nensemble"))
    c.nensemble =
        parse_integer<std::int64_t>("nensemble", s.text("nensemble"), "a positive integer");
  if (s.has("batch-size"))
    c.batch_size =
        parse_integer<std::int64_t>("batch-size", s.text("batch-size"), "a positive integer");
  if (s.has("perturbation")) c.perturbation = s.text("perturbation");
  if (s.has("noise-amplitude"))
    c.noise_amplitude = parse_number("noise-amplitude", s.text("noise-amplitude"), "a number >= 0");
  if (s.has("seed"))
    c.seed = parse_integer<std::uint64_t>("seed", s.text("seed"), "an integer from 0 to 2^64-1");
  if (s.has("output")) c.output = s.text("output");

  c.output_variables = s.has("output-variables")
                           ? split_list("output-variables", s.text("output-variables"))
                           : workflow::default_output_variables(c);
  sort_like(c.output_variables, workflow::model_variables(c.model));
  c.diagnostics = s.has("diagnostics") ? split_list("diagnostics", s.text("diagnostics"))
                                       : workflow::default_diagnostics(c);
  sort_like(c.diagnostics, model::Diagnostics::available());
  if (s.has("statistics")) c.statistics = split_list("statistics", s.text("statistics"));
  sort_like(c.statistics, {"mean", "std"});

  if (s.has("overwrite")) c.overwrite = parse_flag("overwrite", s.text("overwrite"));
  if (s.has("checkpoint-dir")) {
    c.checkpoint_dir = s.text("checkpoint-dir");
    if (c.checkpoint_dir.empty())
      throw ConfigError("--checkpoint-dir",
                        "--checkpoint-dir: empty; give a directory (default: "
                        "the output path + .ckpt)");
  } else if (!c.output.empty()) {
    c.checkpoint_dir = workflow::default_checkpoint_dir(c.output);
  }
  if (s.has("checkpoint-name")) c.checkpoint_name = s.text("checkpoint-name");
  if (s.has("mode"))
    c.mode = parse_choice<CheckpointMode>(
        "mode", s.text("mode"),
        {{"overwrite", CheckpointMode::Overwrite}, {"append", CheckpointMode::Append}});
  if (s.has("history-size"))
    c.history_size = parse_integer<int>("history-size", s.text("history-size"), "an integer >= 0");
  if (s.has("flush-interval")) {
    const auto& text = s.text("flush-interval");
    c.flush_interval = text == "none" ? std::nullopt
                                      : std::optional(parse_integer<std::int64_t>(
                                            "flush-interval", text, "a positive integer or none"));
  }
  if (s.has("level")) c.level = parse_integer<int>("level", s.text("level"), "0, 1 or 2");
  if (s.has("no-checkpoint")) c.checkpoint = !parse_flag("no-checkpoint", s.text("no-checkpoint"));
  if (s.has("device"))
    c.device = parse_choice<model::DeviceChoice>("device", s.text("device"),
                                                 {{"auto", model::DeviceChoice::Auto},
                                                  {"cpu", model::DeviceChoice::Cpu},
                                                  {"cuda", model::DeviceChoice::Cuda}});
  if (s.has("stop-after-steps"))
    c.stop_after_steps = parse_integer<std::int64_t>("stop-after-steps", s.text("stop-after-steps"),
                                                     "a positive integer");
  if (s.has("model-dynamics")) c.model_dynamics = s.text("model-dynamics");
  if (s.has("end-time")) {
    const std::string& text = s.text("end-time");
    const bool epoch = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    if (epoch) {
      // TimePoint counts int64 nanoseconds (up to 2262-04-11): a larger count of seconds
      // would overflow in the conversion.
      constexpr std::int64_t kMostSeconds =
          std::chrono::duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count();
      const auto seconds =
          parse_integer<std::int64_t>("end-time", text, "a UTC time or seconds since 1970");
      if (seconds > kMostSeconds)
        throw ConfigError("--end-time", "--end-time: " + text +
                                            " seconds since 1970 is after 2262-04-11, the last "
                                            "time stormrun represents; give a UTC time or fewer "
                                            "seconds");
      c.end_time = TimePoint(std::chrono::seconds(seconds));
    } else {
      try {
        c.end_time = parse_utc(text);
      } catch (const std::exception&) {
        throw ConfigError("--end-time", "--end-time: '" + text +
                                            "' is neither a UTC time like 2026-12-02T05:00:00Z "
                                            "nor a number of seconds since 1970");
      }
    }
  }
  if (s.has("walltime-reserve"))
    c.walltime_reserve_s =
        parse_number("walltime-reserve", s.text("walltime-reserve"), "a number of seconds >= 0");
  if (s.has("hang-timeout")) {
    const std::string& text = s.text("hang-timeout");
    if (text == "off")
      c.hang_timeout_s = 0.0;
    else if (text != "auto")
      c.hang_timeout_s =
          parse_number("hang-timeout", text, "a number of seconds (at least 5), auto or off");
  }
  if (s.has("max-no-progress"))
    c.max_no_progress =
        parse_integer<int>("max-no-progress", s.text("max-no-progress"), "an integer >= 0");
  if (s.has("resume"))
    c.resume = parse_choice<workflow::ResumeMode>("resume", s.text("resume"),
                                                  {{"auto", workflow::ResumeMode::Auto},
                                                   {"never", workflow::ResumeMode::Never},
                                                   {"require", workflow::ResumeMode::Require}});
  if (s.has("checkpoint-layout"))
    c.checkpoint_layout = parse_choice<workflow::CheckpointLayout>(
        "checkpoint-layout", s.text("checkpoint-layout"),
        {{"rank", workflow::CheckpointLayout::Rank}, {"node", workflow::CheckpointLayout::Node}});
  if (s.has("checkpoint-pack-below"))
    c.pack_below_bytes = parse_integer<std::int64_t>(
        "checkpoint-pack-below", s.text("checkpoint-pack-below"), "a byte count >= 0");
  if (s.has("sync-commits")) c.sync_commits = parse_flag("sync-commits", s.text("sync-commits"));
  if (s.has("quiet")) c.quiet = parse_flag("quiet", s.text("quiet"));
  return c;
}

void print_help(std::ostream& out) {
  out << "usage: stormrun run [--config FILE] [options]\n"
         "       mpirun -np N stormrun run [options]\n\n"
         "Runs a forecast, or resumes it from its checkpoint. Every option is also an INI key\n"
         "(the long name without dashes: nsteps = 8) and an environment variable\n"
         "(STORMRUN_ and the name in capitals with _ for -: STORMRUN_NSTEPS). The command line\n"
         "wins over the environment, which wins over the INI file. Lists are comma separated;\n"
         "switches take true/false/1/0/yes/no in the INI file and the environment.\n\n"
      << run_options_help() << "\n"
      << "Exit codes: 0 finished, 2 invalid options (nothing written), 3 store or output of\n"
         "another run, 4 the model diverged, 5 no progress in the last runs (do not rerun),\n"
         "75 stopped early with a checkpoint (run again to resume), 76 a rank hung or was\n"
         "lost (run again to resume), 1 other.\n";
}

}  // namespace

const po::options_description& run_options_help() {
  static const po::options_description desc = make_description(true);
  return desc;
}

std::string option_error_text(const po::error& error) {
  if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&error))
    return OptionErrorText::of(*named);
  return error.what();  // a plain po::error: its text as given
}

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

std::string ParsedRun::source_of(const std::string& option_flag) const {
  const auto it = sources.find(option_flag);
  return it == sources.end() ? "" : it->second;
}

ParsedRun parse_run_options(const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& environment,
                            std::ostream& out, std::ostream& err, PathChecks paths) {
  constexpr const char* kPrefix = "stormrun run: error: ";
  const auto fail = [&](const std::string& message) {
    err << kPrefix << message << "\n";
    return ParsedRun{
        .config = std::nullopt, .exit_code = 2, .error = message, .sources = {}, .warnings = {}};
  };
  std::map<std::string, Given> cli;
  try {
    po::variables_map vm;
    // No guessing of abbreviated names: --output must never be read as --output-variables.
    const auto style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    const auto parsed =
        po::command_line_parser(args).options(run_options_help()).style(style).run();
    for (const auto& option : parsed.options)
      if (option.position_key >= 0)
        throw po::error("unexpected argument '" + option.original_tokens.front() +
                        "' (every value belongs to an option, e.g. --output FILE.h5)");
    po::store(parsed, vm);
    if (vm.count("help")) {
      print_help(out);
      return {.config = std::nullopt, .exit_code = 0, .error = {}, .sources = {}, .warnings = {}};
    }
    collect(vm, Source::CommandLine, "", cli);
  } catch (const po::error& e) {
    return fail(option_error_text(e) + "; see stormrun run --help");
  }

  std::optional<Settings> settings;
  try {
    auto env = from_environment(environment);
    std::map<std::string, Given> ini;
    const Given* config_file = cli.count("config")   ? &cli.at("config")
                               : env.count("config") ? &env.at("config")
                                                     : nullptr;
    if (config_file) {
      const std::string path = config_file->values.front();
      if (path.empty()) throw ConfigError("--config", "--config: empty; give the INI file");
      ini = from_config_file(path);
    }
    settings.emplace(std::move(cli), std::move(env), std::move(ini));
  } catch (const ConfigError& e) {
    return fail(e.what());
  }

  std::map<std::string, std::string> sources;
  for (const auto& spec : option_specs())
    if (const std::string from = settings->source_of(spec.name); !from.empty())
      sources.emplace(flag_of(spec.name), from);
  try {
    RunConfig config = build_config(*settings);
    config.validate();
    if (paths == PathChecks::Run) config.check_paths();
    return {.config = std::move(config),
            .exit_code = 0,
            .error = {},
            .sources = std::move(sources),
            .warnings = misspelt_variables(environment)};
  } catch (const ConfigError& e) {
    return fail(e.what() + settings->source_of(e.option()));
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace stormrun::app
