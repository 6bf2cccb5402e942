// The run fingerprint: the canonical text of every setting that decides the output's
// bytes, its hash, and the list of settings in which two fingerprints differ.
#include <charconv>
#include <fstream>
#include <iterator>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/bits/text.hpp"
#include "stormrun/model/ic_file.hpp"
#include "stormrun/model/registry.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

using text::join;
using text::number_text;

namespace {

// Bumped when the meaning of a fingerprinted setting changes, so that older stores and
// outputs are refused rather than resumed under other rules.
constexpr const char* kFingerprintFormat = "1";

std::string file_xxh3(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ConfigError("--initial-condition",
                      "--initial-condition: cannot read " + path.string() + " to fingerprint it");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (in.bad())
    throw ConfigError("--initial-condition",
                      "--initial-condition: reading " + path.string() + " failed");
  return xxh3_hex(std::as_bytes(std::span(bytes)));
}

}  // namespace

Fingerprint fingerprint(const RunConfig& config) {
  Fingerprint fp;
  fp["format"] = kFingerprintFormat;
  fp["workflow"] = to_string(config.workflow);
  fp["model"] = config.model;
  // The model's dynamics version: other numerics give other bytes under the same settings.
  for (const model::ModelSpec& spec : model::registered_models())
    if (spec.name == config.model) {
      const std::string version =
          config.model_dynamics.empty() ? spec.dynamics : config.model_dynamics;
      // A model's dynamics 1 of a model that has newer ones predates the versions' record
      // (swe stores made before "2" have no model_dynamics): so it stays unrecorded.
      if (!(version == "1" && spec.dynamics != "1")) fp["model_dynamics"] = version;
    }
  fp["initial_condition"] = config.initial_condition;
  // The file's content decides the bytes, not its name alone.
  if (const auto path = model::initial_condition_file_path(config.initial_condition))
    fp["initial_condition_xxh3"] = file_xxh3(*path);
  fp["grid"] = std::to_string(config.grid.nlat) + "x" + std::to_string(config.grid.nlon);
  std::vector<std::string> starts;
  for (const auto& t : config.start_times)
    starts.push_back(format_utc(t));
  fp["start_times"] = join(starts);
  fp["nsteps"] = std::to_string(config.nsteps);
  fp["dt"] = number_text(config.dt_seconds);
  fp["substeps"] = config.substeps ? std::to_string(*config.substeps) : "auto";
  fp["nensemble"] = std::to_string(config.nensemble);
  fp["perturbation"] = config.perturbation;
  fp["noise_amplitude"] = number_text(config.noise_amplitude);
  fp["seed"] = std::to_string(config.seed);
  fp["output_variables"] = join(config.output_variables);
  fp["diagnostics"] = join(config.diagnostics);
  fp["statistics"] = join(config.statistics);
  return fp;
}

std::string fingerprint_hash(const Fingerprint& fp) {
  // nlohmann::json objects keep keys sorted, so the text is canonical.
  const std::string text = nlohmann::json(fp).dump();
  return xxh3_hex(std::as_bytes(std::span(text.data(), text.size())));
}

std::vector<std::string> fingerprint_diff(const Fingerprint& stored, const Fingerprint& current) {
  std::vector<std::string> lines;
  auto text = [](const Fingerprint& fp, const std::string& key) {
    const auto it = fp.find(key);
    if (it == fp.end()) return std::string("(not set)");
    return it->second.empty() ? std::string("(none)") : it->second;
  };
  auto stored_it = stored.begin();
  auto current_it = current.begin();
  // Both maps are sorted by key: one merge pass visits every key once, in order.
  while (stored_it != stored.end() || current_it != current.end()) {
    std::string key;
    if (current_it == current.end() ||
        (stored_it != stored.end() && stored_it->first < current_it->first)) {
      key = (stored_it++)->first;
    } else if (stored_it == stored.end() || current_it->first < stored_it->first) {
      key = (current_it++)->first;
    } else {
      key = stored_it->first;
      const bool same = stored_it->second == current_it->second;
      ++stored_it;
      ++current_it;
      if (same) continue;
    }
    lines.push_back(key + ": stored " + text(stored, key) + ", this run " + text(current, key));
  }
  return lines;
}

}  // namespace stormrun::workflow
