// CheckpointCore: session activation (select / new / latest), restoring bound states from
// a verified commit, and the commit of a pending row.
#include "checkpoint_core.hpp"

#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <utility>

namespace stormrun::detail {
namespace {

namespace fs = std::filesystem;

}  // namespace

CheckpointCore::CheckpointCore(CheckpointOptions options)
    : options_(resolve_options(std::move(options))) {
  std::error_code ec;
  fs::create_directories(options_.path, ec);
  if (ec)
    throw StoreError("cannot create checkpoint directory " + options_.path.string() + ": " +
                     ec.message() + "; check the path and its permissions");
  lock_.emplace(DirLock::acquire(options_.path, options_.warn));
  store_.emplace(options_.path, *options_.rank, options_.warn);
}

std::unique_ptr<CheckpointCore> CheckpointCore::make_disabled() {
  std::unique_ptr<CheckpointCore> core(new CheckpointCore());
  core->options_.name = "disabled";
  core->options_.rank = 0;
  core->options_.world_size = 1;
  core->options_.warn = [](const std::string&) {};
  return core;
}

const std::filesystem::path& CheckpointCore::rank_dir() const {
  static const fs::path none;
  return store_ ? store_->dir() : none;
}

std::vector<CatalogRow> CheckpointCore::catalog() {
  std::vector<CatalogRow> rows;
  if (!store_) return rows;
  settle();
  for (const CatalogRow& row : store_->rows())
    if (row.labels == options_.labels) rows.push_back(row);
  return rows;
}

void CheckpointCore::refresh() {
  settle();
  if (store_) store_->refresh();
}

void CheckpointCore::warn(const std::string& message) const {
  if (options_.warn) options_.warn(message);
}

void CheckpointCore::require_session(const char* what) const {
  if (!active_)
    throw CheckpointError(std::string(what) + ": no active session on checkpoint '" +
                          options_.name +
                          "'; activate one with open_latest(), select() or new_session() "
                          "(or a SessionScope)");
}

// ---- activation --------------------------------------------------------------------------

CheckpointCore::LoadedRow CheckpointCore::load_row(const CatalogRow& row) const {
  LoadedRow loaded{row, store_->open_commit(row.commit_id), {}};
  const Manifest& manifest = loaded.commit->manifest();
  loaded.metadata = decode_metadata(
      manifest.metadata, (loaded.commit->dir() / "manifest.json").string() + ": metadata");
  // The manifest, not the catalog row, is the verified record of the commit.
  loaded.row.write_count = manifest.write_count;
  loaded.row.units = manifest.units;
  return loaded;
}

void CheckpointCore::stage_state(BoundStateBase& state, VerifiedCommit& commit) const {
  const Manifest& manifest = commit.manifest();
  const StateRecord& record = manifest.states.at(state.identity());
  const fs::path where = commit.dir() / record.path;
  if (record.schema_hash != state.schema_hash())
    throw SchemaError("state '" + state.identity() + "' in " + where.string() +
                      " was saved with schema hash " + record.schema_hash +
                      ", the bound record has " + state.schema_hash() +
                      " (fields or their types changed); restore with the build that wrote "
                      "it, or start a new checkpoint");
  const std::vector<std::byte> bytes = commit.get(record.path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                                 reinterpret_cast<const char*>(bytes.data() + bytes.size()));
  } catch (const nlohmann::json::exception& e) {
    throw StoreError("state '" + state.identity() + "' in " + where.string() +
                     " is not valid JSON (" + e.what() + ")");
  }
  const Value value = decode_value(json, &commit, where.string());
  state.stage_restore(value, where.string());
}

void CheckpointCore::activate(LoadedRow loaded) {
  const Manifest& manifest = loaded.commit->manifest();
  // Stage every restore first so that a schema error leaves records and session untouched.
  std::vector<BoundStateBase*> staged;
  try {
    for (auto& [identity, state] : bound_) {
      if (!state_enabled(*state) || !manifest.states.contains(identity)) continue;
      stage_state(*state, *loaded.commit);
      staged.push_back(state);
    }
  } catch (...) {
    for (BoundStateBase* state : staged)
      state->drop_restore();
    throw;
  }

  deactivate();
  active_ = true;
  exists_ = true;
  dirty_ = false;
  commit_id_ = loaded.row.commit_id;
  metadata_ = std::move(loaded.metadata);
  write_count_ = loaded.row.write_count;
  units_ = loaded.row.units;
  for (const auto& [identity, record] : manifest.states)
    undelivered_.insert(identity);
  for (BoundStateBase* state : staged) {
    state->apply_restore();
    state->loaded_ = true;
    undelivered_.erase(state->identity());
    warn("state '" + state->identity() + "' was bound before the session opened and has been " +
         "filled late from row " + commit_id_ +
         "; code that read it before (e.g. in a constructor) saw its initial values");
  }
  restored_ = std::move(loaded.commit);
}

void CheckpointCore::deactivate() {
  abandon_unreleased();  // a commit nobody released is never published
  settle();
  report_pending_error("");
  if (active_ && dirty_)
    warn("session of checkpoint '" + options_.name + "' closed with uncommitted writes (" +
         std::to_string(write_count_) +
         " writes counted); they are not in the catalog: call flush() before closing");
  active_ = false;
  exists_ = false;
  dirty_ = false;
  commit_id_.clear();
  metadata_.clear();
  write_count_ = 0;
  units_.clear();
  restored_.reset();
  undelivered_.clear();
  for (auto& [identity, state] : bound_)
    state->loaded_ = false;
}

Session& CheckpointCore::new_session() {
  deactivate();
  active_ = true;
  return session_;
}

Session& CheckpointCore::select(std::int64_t position) {
  if (!store_) return new_session();  // the no-op checkpoint has no rows to select
  const std::vector<CatalogRow> rows = catalog();
  const auto count = static_cast<std::int64_t>(rows.size());
  const std::int64_t index = position < 0 ? count + position : position;
  if (index < 0 || index >= count)
    throw CheckpointError("position " + std::to_string(position) + " out of range for " +
                          std::to_string(count) + " rows");
  if (position != -1) {
    activate(load_row(rows[static_cast<std::size_t>(index)]));
    return session_;
  }
  // The newest row: a damaged one (torn write, bit rot) is skipped for the newest valid
  // one, so that a restart never loses more than the damaged commits.
  std::string damaged;
  for (std::int64_t i = count - 1; i >= 0; --i) {
    const CatalogRow& row = rows[static_cast<std::size_t>(i)];
    std::optional<LoadedRow> loaded;
    try {
      loaded.emplace(load_row(row));
    } catch (const LockError&) {
      throw;
    } catch (const std::runtime_error& e) {
      // StoreError (a file damaged) or CodecError (bytes as written but unreadable, e.g. a
      // made-up .npy header whose checksum matches): the row is damaged either way.
      if (!dynamic_cast<const StoreError*>(&e) && !dynamic_cast<const CodecError*>(&e)) throw;
      std::string problems;
      for (const Problem& problem : store_->verify(row.commit_id))
        problems += (problems.empty() ? "" : "; ") + problem.path.string() + ": " + problem.what;
      if (problems.empty()) problems = e.what();
      if (options_.report_skipped_rows)
        warn("skipping damaged checkpoint row " + row.commit_id + " (" + problems + ")" +
             (i > 0 ? "; trying the next older row" : ""));
      damaged += (damaged.empty() ? "" : "\n  ") + row.commit_id + ": " + problems;
      continue;
    }
    activate(std::move(*loaded));
    return session_;
  }
  throw CheckpointError("no valid row in " + store_->dir().string() + ": all " +
                        std::to_string(count) + " rows are damaged:\n  " + damaged +
                        "\nrun `stormrun verify " + options_.path.string() +
                        "`, then remove the damaged commits or start a new checkpoint");
}

Session& CheckpointCore::open_latest() {
  if (catalog().empty()) return new_session();
  return select(-1);
}

Session& CheckpointCore::session() {
  require_session("session()");
  return session_;
}

void CheckpointCore::close_session() {
  deactivate();
}

// ---- session operations -----------------------------------------------------------------

std::optional<Duration> CheckpointCore::lead_time() const {
  const auto it = metadata_.find("lead_time");
  if (it == metadata_.end() || !it->second.is<Duration>()) return std::nullopt;
  return it->second.as<Duration>();
}

bool CheckpointCore::will_flush() const {
  return store_ && active_ && options_.flush_interval &&
         (write_count_ + 1) % *options_.flush_interval == 0;
}

void CheckpointCore::write(const Metadata& metadata) {
  require_session("write()");
  if (!store_) return;
  // A commit in flight that failed: its error is this write's, before anything changes (and
  // a write that commits waits for the one in flight here, for the same reason).
  // (Gated: the committing write waits only for the files of the commit in flight, in commit().)
  if (will_flush() && !options_.gated_publish)
    rethrow_pending();
  else
    surface_finished();
  // Reject what cannot be stored now, not at the commit that may come several writes later.
  encode_metadata(metadata);
  const std::int64_t old_count = write_count_;
  Metadata old_metadata = metadata_;
  const auto old_units = units_;
  const bool old_dirty = dirty_;
  write_count_ += 1;
  for (const auto& [key, value] : metadata)
    metadata_[key] = value;
  dirty_ = true;
  if (!options_.flush_interval || write_count_ % *options_.flush_interval != 0) return;
  try {
    commit();
  } catch (...) {
    write_count_ = old_count;
    metadata_ = std::move(old_metadata);
    units_ = old_units;
    dirty_ = old_dirty;
    throw;
  }
}

void CheckpointCore::flush(const Metadata& metadata) {
  require_session("flush()");
  if (!store_) return;
  release_commits();  // gated_publish: flush() says that what they claim is durable
  rethrow_pending();  // the commit in flight is durable, or its error is this call's
  if (!dirty_ && metadata.empty()) return;
  encode_metadata(metadata);
  Metadata old_metadata = metadata_;
  for (const auto& [key, value] : metadata)
    metadata_[key] = value;
  try {
    commit();
    release_commits();  // its own commit too (gated_publish): flush() says it is durable
    rethrow_pending();  // flush() returns when the row is durable
  } catch (...) {
    metadata_ = std::move(old_metadata);
    throw;
  }
}

void CheckpointCore::record_unit(const std::string& unit, std::int64_t step) {
  require_session("record_unit()");
  if (!store_) return;
  if (unit.empty()) throw CheckpointError("record_unit: the unit name is empty");
  units_[unit] = step;
  dirty_ = true;
}

// ---- bound states ------------------------------------------------------------------------

bool CheckpointCore::state_enabled(const BoundStateBase& state) const {
  return store_.has_value() && options_.level >= state.min_level();
}

void CheckpointCore::bind(const std::shared_ptr<BoundStateBase>& state) {
  const std::string& identity = state->identity();
  if (state->min_level() < 0 || state->min_level() > 2)
    throw CheckpointError("bind: min_level " + std::to_string(state->min_level()) + " of state '" +
                          identity + "' is invalid; expected 0, 1 or 2");
  if (bound_.contains(identity))
    throw CheckpointError("state collision: '" + identity + "' is already bound to checkpoint '" +
                          options_.name +
                          "'; one binding per state type: destroy the first handle before "
                          "binding it again");
  const bool deliver =
      active_ && restored_ && undelivered_.contains(identity) && state_enabled(*state);
  if (deliver) {
    stage_state(*state, *restored_);  // SchemaError here: nothing bound, record untouched
    state->apply_restore();
    state->loaded_ = true;
    undelivered_.erase(identity);
  } else if (active_ && exists_ && !restored_ && undelivered_.contains(identity) &&
             state_enabled(*state)) {
    warn("state '" + identity + "' of the selected row was not restored: it was bound after " +
         "this session's first commit; bind states before the first write()");
    undelivered_.erase(identity);
  }
  state->core_ = this;
  bound_.emplace(identity, state.get());
}

void CheckpointCore::unbind(BoundStateBase& state) noexcept {
  const auto it = bound_.find(state.identity());
  if (it != bound_.end() && it->second == &state) bound_.erase(it);
  state.core_ = nullptr;
  state.loaded_ = false;
}

}  // namespace stormrun::detail
