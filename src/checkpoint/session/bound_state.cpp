// The read-only checkpoint properties of a bound state, answered by its checkpoint. A
// state whose checkpoint is gone (or that was unbound) reads as disabled with no session.
#include "checkpoint_core.hpp"

namespace stormrun::detail {
namespace {

const Metadata& no_metadata() {
  static const Metadata empty;
  return empty;
}

const std::string& cpu_device() {
  static const std::string cpu = "cpu";
  return cpu;
}

}  // namespace

bool BoundStateBase::enabled() const {
  return core_ && core_->state_enabled(*this);
}

int BoundStateBase::level() const {
  return core_ ? core_->options().level : 0;
}

const Metadata& BoundStateBase::metadata() const {
  return core_ && core_->has_session() ? core_->metadata() : no_metadata();
}

std::optional<Duration> BoundStateBase::lead_time() const {
  return core_ && core_->has_session() ? core_->lead_time() : std::nullopt;
}

const std::string& BoundStateBase::staging_device() const {
  return core_ ? core_->options().staging_device : cpu_device();
}

std::int64_t BoundStateBase::write_count() const {
  return core_ && core_->has_session() ? core_->write_count() : 0;
}

bool BoundStateBase::will_flush() const {
  return core_ && core_->will_flush();
}

void BoundStateBase::unbind() noexcept {
  if (core_) core_->unbind(*this);
}

}  // namespace stormrun::detail
