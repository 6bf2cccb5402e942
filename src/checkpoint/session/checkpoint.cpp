// Checkpoint and SessionScope: the public facade over CheckpointCore.
#include "stormrun/checkpoint.hpp"

#include <utility>

#include "checkpoint_core.hpp"

namespace stormrun {

Checkpoint::Checkpoint(CheckpointOptions options)
    : core_(std::make_unique<detail::CheckpointCore>(std::move(options))) {}

Checkpoint::Checkpoint(std::unique_ptr<detail::CheckpointCore> core) : core_(std::move(core)) {}

Checkpoint Checkpoint::disabled() {
  return Checkpoint(detail::CheckpointCore::make_disabled());
}

Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

detail::CheckpointCore& Checkpoint::core() const {
  if (!core_) throw CheckpointError("use of a moved-from Checkpoint");
  return *core_;
}

bool Checkpoint::enabled() const {
  return core_ && core_->enabled();
}

const CheckpointOptions& Checkpoint::options() const {
  return core().options();
}

int Checkpoint::level() const {
  return core().options().level;
}

const std::filesystem::path& Checkpoint::root() const {
  static const std::filesystem::path none;
  return enabled() ? core_->options().path : none;
}

const std::filesystem::path& Checkpoint::rank_dir() const {
  return core().rank_dir();
}

std::vector<CatalogRow> Checkpoint::catalog() const {
  return core().catalog();
}

void Checkpoint::refresh() {
  core().refresh();
}

Session& Checkpoint::select(std::int64_t position) {
  return core().select(position);
}

Session& Checkpoint::new_session() {
  return core().new_session();
}

Session& Checkpoint::open_latest() {
  return core().open_latest();
}

Session& Checkpoint::session() {
  return core().session();
}

bool Checkpoint::has_session() const {
  return core_ && core_->has_session();
}

void Checkpoint::close_session() {
  core().close_session();
}

void Checkpoint::wait() {
  core().wait();
}

void Checkpoint::release_commits() {
  core().release_commits();
}

double Checkpoint::last_commit_seconds() const {
  return core().last_commit_seconds();
}

void Checkpoint::bind_erased(const std::shared_ptr<detail::BoundStateBase>& state) {
  core().bind(state);
}

SessionScope::SessionScope(Checkpoint& checkpoint)
    : checkpoint_(&checkpoint), session_(&checkpoint.open_latest()) {}

SessionScope::SessionScope(Checkpoint& checkpoint, std::int64_t position)
    : checkpoint_(&checkpoint), session_(&checkpoint.select(position)) {}

SessionScope::~SessionScope() {
  if (checkpoint_->has_session()) checkpoint_->close_session();
}

}  // namespace stormrun
