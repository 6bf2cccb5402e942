// Work units, their fixed partition over ranks, and the restart machinery of DESIGN.md §4:
// what a store says about each unit (the ledger, built from the per-rank catalogs of any
// previous world size), the RestartPlan rank 0 broadcasts, the batches a rank runs, and the
// global catalog ROOT/catalog.json.
//
// What each rank's rows hold (written by the run's restart state, src/workflow/restart_state.*):
//  - manifest `units`: every unit this rank has recorded, with its completed lead-time step
//    (nsteps = finished);
//  - at level 2, one state record, UnitStates ("stormrun.workflow.ParkedStates"): the fields
//    of every unfinished unit the rank holds, each at its own step (the running batch's
//    members and those waiting for a later round alike);
//  - metadata "fingerprint" (fingerprint_hash), "step", "lead_time", "completed_units".
// So the newest valid row of a rank dir is complete on its own, and the ledger is the
// union over rank dirs of their newest valid rows, taking for each unit the highest step.
// Everything here is local (no MPI): the run driver spreads the reading over ranks itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stormrun/model/fields.hpp"
#include "stormrun/state.hpp"
#include "stormrun/value.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

/// The level-2 record of a rank's rows: the fields of each unfinished unit it holds, at that
/// unit's own step. Its identity keeps the name it was first written under, so that stores
/// written by earlier versions resume.
struct UnitStates {
  std::string model;
  std::vector<std::string> variables;
  std::vector<std::string> units;
  std::vector<std::int64_t> steps;  ///< per unit: lead-time step of its fields
  Array<double> fields;             ///< [unit, variable, nlat, nlon]
};

}  // namespace stormrun::workflow

STORMRUN_STATE(stormrun::workflow::UnitStates, "stormrun.workflow.ParkedStates", model, variables,
               units, steps, fields)

namespace stormrun::workflow {

/// The store or output belongs to another run, or cannot be used: exit 3. The message
/// names the file and lists each difference.
class RestartMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// The global catalog is not JSON at all (truncated by a full disk, garbled): the rank dirs'
/// commits still say everything a resume needs, so the caller may set it aside.
class GlobalCatalogDamaged : public RestartMismatch {
 public:
  using RestartMismatch::RestartMismatch;
};

/// One (start time, member). index = start_index * nensemble + member.
struct WorkUnit {
  std::int64_t index = 0;
  std::int64_t start_index = 0;
  std::int64_t member = 0;
  TimePoint start{};
  std::string name;  ///< unit_name(start, member)
};
/// All units of the run, in index order.
std::vector<WorkUnit> work_units(const RunConfig& config);

/// The fixed partition (docs/user-guide.md): rank r of R owns the contiguous block of unit
/// indices [floor(r·N/R), floor((r+1)·N/R)). Returns rank r's indices, ascending.
std::vector<std::int64_t> owned_units(std::int64_t unit_count, int rank, int world_size);

/// Where the level-2 fields of a unit are: the UnitStates record of a verified commit.
struct StateSource {
  std::filesystem::path commit_dir;
  int rank = 0;  ///< the rank of the directory (manifest.rank)
  std::string commit_id;
  std::int64_t step = 0;  ///< lead-time step of the unit's fields
  nlohmann::json to_json() const;
  static StateSource from_json(const nlohmann::json& json);
};

/// What one valid row says (the newest valid row of a rank dir).
struct RowSummary {
  std::filesystem::path commit_dir;
  int rank = 0;
  std::string commit_id;
  std::string saved_at;
  std::string fingerprint;                    ///< metadata "fingerprint" ("" if absent)
  std::map<std::string, std::int64_t> units;  ///< manifest units: completed step per unit
  std::map<std::string, StateSource> states;  ///< unit → where its fields are, when held
  nlohmann::json to_json() const;
  static RowSummary from_json(const nlohmann::json& json);
};

/// One rank directory, read without repairing, locking or writing anything: its newest
/// row whose commit verifies (manifest + every file's checksum), considering catalog rows
/// and also complete commits the catalog does not list; nullopt when it has none. Each
/// skipped damaged commit adds a warning naming it and why.
struct DirSummary {
  std::filesystem::path dir;
  std::optional<RowSummary> row;
  std::vector<std::string> warnings;
  nlohmann::json to_json() const;
  static DirSummary from_json(const nlohmann::json& json);
};
DirSummary summarise_rank_dir(const std::filesystem::path& rank_dir);

/// The .npy files of a commit (its manifest's files) whose header does not describe what
/// the file holds — a huge or negative shape, a size the file does not have, a header of
/// nonsense — each as a problem naming the file. Checksums say the bytes are those written,
/// not that they can be read: a header made up with its checksum recomputed is damage too.
/// Reads each file's header only. summarise_rank_dir skips such a commit; verify reports it.
std::vector<Problem> check_commit_arrays(const std::filesystem::path& commit_dir,
                                         const Manifest& manifest);

/// Every valid row of one rank directory (as summarise_rank_dir judges them), newest first:
/// the older commits a unit can resume from when the output lacks steps the newest row
/// claims. Read-only; damaged commits are left out (summarise_rank_dir warns of them).
std::vector<RowSummary> rank_dir_history(const std::filesystem::path& rank_dir);

/// ROOT's rank_NNNNNN directories, in rank order (none when ROOT does not exist).
std::vector<std::filesystem::path> list_rank_dirs(const std::filesystem::path& root);

/// What to do with one unit.
struct UnitPlan {
  std::int64_t index = 0;
  /// First lead-time step to compute and write: 0 (fresh or rerun), c + 1 (resume after
  /// completed step c, state in `source`), nsteps + 1 (finished: nothing to do).
  std::int64_t first_step = 0;
  std::optional<StateSource> source;  ///< set iff 0 < first_step <= nsteps
};

struct RestartPlan {
  std::vector<UnitPlan> units;        ///< one per unit, in index order
  std::vector<std::string> warnings;  ///< printed by rank 0 (reruns at level < 2, damage)
  bool resumed = false;               ///< some unit had progress
  nlohmann::json to_json() const;
  static RestartPlan from_json(const nlohmann::json& json);
};

/// Builds the plan from every rank dir's summary. For each unit: the highest completed
/// step over all rows; finished units are skipped; an unfinished unit resumes after that
/// step when `level` is 2 and a row holding that step also holds its fields, else it reruns
/// from 0 (with a warning naming the unit and the step it had reached, as the reference
/// does below level 2). RestartMismatch naming the commit when a row's fingerprint is
/// non-empty and differs from `fingerprint_hash`, or a row names a unit this run lacks.
RestartPlan make_restart_plan(const std::vector<WorkUnit>& units,
                              const std::vector<DirSummary>& dirs, int level, std::int64_t nsteps,
                              const std::string& fingerprint_hash);

/// The output is evidence: no unit resumes past the steps the output file holds. For each
/// unit whose plan trusts steps 0..c (c = first_step - 1, or nsteps when finished) while
/// `written_prefix(unit)` says the output holds only 0..e with e < c (an output restored
/// from an older copy, a store ahead of its file), the unit resumes instead after the
/// highest step s <= e at which a row of `older_rows()` (called at most once, only when
/// needed) with this run's fingerprint holds its fields (level 2), or reruns from step 0;
/// each such unit adds a warning naming the steps the output lacks and where it resumes.
/// Returns the number of units changed. Local.
std::size_t check_plan_against_output(
    RestartPlan& plan, const std::vector<WorkUnit>& units,
    const std::function<std::int64_t(const WorkUnit&)>& written_prefix,
    const std::function<std::vector<RowSummary>()>& older_rows, int level, std::int64_t nsteps,
    const std::string& fingerprint_hash);

/// A batch: units (indices) that start together at `first_step`.
struct Batch {
  std::vector<std::int64_t> units;
  std::int64_t first_step = 0;
};
/// The batches of a rank: its unfinished owned units grouped by first_step (highest
/// first, so mid-rollout work is finished first), in index order within a group, cut into
/// batches of at most batch_size.
std::vector<Batch> make_batches(const std::vector<std::int64_t>& owned, const RestartPlan& plan,
                                std::int64_t batch_size);

/// One unit whose fields are wanted, and where the plan says they are.
struct UnitSource {
  std::string unit;
  StateSource source;
};

/// The fields of each wanted unit (in this order), from the UnitStates record of the commit
/// its source names, at exactly the source's step: [unit, variable, lat, lon] in a
/// FieldBatch with `variables` on `grid`. Each commit is read once (its files re-verified
/// against their checksums) however many units come from it, and units of one commit may be
/// at different steps. RestartMismatch naming the commit when a unit is missing, at another
/// step, or the model, variables or shape differ. Local.
model::FieldBatch load_states(const std::vector<UnitSource>& wanted, const std::string& model,
                              const std::vector<std::string>& variables, const model::Grid& grid);

/// ROOT/catalog.json, written only by rank 0 (tmp + fsync + rename + fsync dir).
struct GlobalCatalog {
  int format = 2;  ///< as read; always written as this stormrun's store format
  std::string fingerprint_hash;
  Fingerprint fingerprint;
  std::string output;  ///< absolute output path
  /// The output's path relative to the store's root (lexically, e.g. "../out.h5"): a run
  /// directory moved as a whole, or reached through another mount point or a symlink, is
  /// still this store's. Empty in catalogs written before it existed.
  std::string output_from_store;
  std::string output_state;  ///< "creating" (file may be partial: recreate) or "ready"
  std::string status;  ///< "running", "stopped" (exit 75), "complete" or "failed" (agreed exit)
  /// One entry per start of `stormrun run` on this store: {"started_at", "world_size",
  /// "batch_size", "resumed", "units_done_at_start", "ended_at", "exit"} (free-form JSON).
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json to_json() const;
  static GlobalCatalog from_json(const nlohmann::json& json, const std::filesystem::path& where);
};
/// nullopt when ROOT/catalog.json does not exist; RestartMismatch naming it when unreadable
/// (GlobalCatalogDamaged when it is not JSON).
std::optional<GlobalCatalog> read_global_catalog(const std::filesystem::path& root);
void write_global_catalog(const std::filesystem::path& root, const GlobalCatalog& catalog);
/// Renames a damaged ROOT/catalog.json to ROOT/catalog.json.damaged-<UTC> (fsync ROOT), so
/// that nothing is deleted and the next write starts a new one; returns the new name.
std::filesystem::path set_aside_global_catalog(const std::filesystem::path& root);
/// read_global_catalog (a default GlobalCatalog when absent), `edit`, write_global_catalog.
void update_global_catalog(const std::filesystem::path& root,
                           const std::function<void(GlobalCatalog&)>& edit);
/// `output` relative to the store `root` (both absolute), as GlobalCatalog::output_from_store.
std::string output_from_store(const std::filesystem::path& root,
                              const std::filesystem::path& output);
/// Whether `output` (absolute) is the output of the store `root` whose catalog is `catalog`:
/// the path it recorded, or the same place relative to the store (a moved run directory).
bool is_store_output(const GlobalCatalog& catalog, const std::filesystem::path& root,
                     const std::filesystem::path& output);

/// Removes rank dirs >= world_size (left by a run on more ranks) once every rank of this
/// run has committed its first row: each is renamed to ".pruned_rank_NNNNNN" (fsync ROOT),
/// then deleted; list_rank_dirs never returns those. Returns the dirs removed.
std::vector<std::filesystem::path> prune_rank_dirs(const std::filesystem::path& root,
                                                   int world_size);
/// The same for every rank dir whose rank is not in `keep` (the committers of a run whose
/// nodes commit through one rank each, --checkpoint-layout node). `keep` must not be empty.
std::vector<std::filesystem::path> prune_rank_dirs(const std::filesystem::path& root,
                                                   const std::set<int>& keep);

}  // namespace stormrun::workflow
