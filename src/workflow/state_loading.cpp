// Loading the level-2 fields resumed units start from, out of the commits the plan names.
#include <cstring>
#include <map>

#include "checkpoint/store/commit_check.hpp"
#include "ledger_detail.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

/// One commit's record, checked against this run.
UnitStates read_checked(const StateSource& source, const std::string& model,
                        const std::vector<std::string>& variables, const model::Grid& grid,
                        const std::string& where) {
  // Read-only: the manifest is validated here and every file is re-verified as it is read,
  // so only the files of this record are hashed (not the whole commit).
  VerifiedCommit commit(source.commit_dir,
                        store_detail::read_manifest(source.commit_dir, source.rank));
  if (!source.commit_id.empty() && commit.manifest().commit_id != source.commit_id) {
    throw RestartMismatch(where + ": the restart plan names commit " + source.commit_id +
                          ", the directory holds " + commit.manifest().commit_id);
  }
  UnitStates record = detail::read_unit_states(commit);
  if (record.model != model) {
    throw RestartMismatch(where + " holds fields of model '" + record.model + "', this run uses '" +
                          model + "'");
  }
  if (record.variables != variables) {
    throw RestartMismatch(where + " holds variables " + text::join(record.variables) +
                          ", this run expects " + text::join(variables));
  }
  const std::vector<std::int64_t> expected_shape = {
      std::int64_t(record.units.size()), std::int64_t(variables.size()), grid.nlat, grid.nlon};
  if (record.fields.shape != expected_shape) {
    throw RestartMismatch(where + " holds fields of shape " + shape_text(record.fields.shape) +
                          ", this run expects " + shape_text(expected_shape) +
                          " ([unit, variable, nlat, nlon] on the " + std::to_string(grid.nlat) +
                          "x" + std::to_string(grid.nlon) + " grid)");
  }
  const std::size_t block = variables.size() * std::size_t(grid.points());
  if (record.fields.data.size() != record.units.size() * block) {
    throw RestartMismatch(where + " holds " + std::to_string(record.fields.data.size()) +
                          " values for shape " + shape_text(record.fields.shape));
  }
  return record;
}

}  // namespace

model::FieldBatch load_states(const std::vector<UnitSource>& wanted, const std::string& model,
                              const std::vector<std::string>& variables, const model::Grid& grid) {
  // The wanted units grouped by commit: each record is read once.
  std::map<std::string, std::vector<std::size_t>> by_commit;
  for (std::size_t slot = 0; slot < wanted.size(); ++slot)
    by_commit[wanted[slot].source.commit_dir.string()].push_back(slot);

  model::FieldBatch out(grid, variables, std::int64_t(wanted.size()));
  const std::size_t block = variables.size() * std::size_t(grid.points());
  for (const auto& [dir, slots] : by_commit) {
    const StateSource& source = wanted[slots.front()].source;
    const std::string where =
        "checkpoint commit " + dir + ", state '" + detail::kUnitStatesId + "'";
    const UnitStates record = read_checked(source, model, variables, grid, where);
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < record.units.size(); ++i)
      position.emplace(record.units[i], i);
    for (const std::size_t slot : slots) {
      const UnitSource& w = wanted[slot];
      const auto it = position.find(w.unit);
      if (it == position.end()) {
        throw RestartMismatch(where + " does not hold unit " + w.unit + " (it holds " +
                              text::join(record.units) + ")");
      }
      if (record.steps[it->second] != w.source.step) {
        throw RestartMismatch(where + " holds unit " + w.unit + " at step " +
                              std::to_string(record.steps[it->second]) +
                              ", the restart plan expects step " + std::to_string(w.source.step));
      }
      std::memcpy(out.data.data() + slot * block, record.fields.data.data() + it->second * block,
                  block * sizeof(double));
    }
  }
  return out;
}

}  // namespace stormrun::workflow
