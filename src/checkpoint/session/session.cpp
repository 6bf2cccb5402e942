// Session: one catalog row; its data and operations live in the checkpoint's core.
#include "checkpoint_core.hpp"

namespace stormrun {

bool Session::exists() const {
  return core_->exists();
}

const std::string& Session::commit_id() const {
  return core_->commit_id();
}

const Metadata& Session::metadata() const {
  return core_->metadata();
}

std::optional<Duration> Session::lead_time() const {
  return core_->lead_time();
}

std::int64_t Session::write_count() const {
  return core_->write_count();
}

const std::map<std::string, std::int64_t>& Session::units() const {
  return core_->units();
}

bool Session::will_flush() const {
  return core_->will_flush();
}

void Session::write(const Metadata& metadata) {
  core_->write(metadata);
}

void Session::flush(const Metadata& metadata) {
  core_->flush(metadata);
}

void Session::record_unit(const std::string& unit, std::int64_t step) {
  core_->record_unit(unit, step);
}

}  // namespace stormrun
