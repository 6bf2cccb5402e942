// Template parts of checkpoint.hpp: the type-erased bound state shared by a Checkpoint and
// a StateBinding<T>, Checkpoint::bind<T> and the StateBinding<T> members.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace stormrun::detail {

/// What the checkpoint knows of one bound record, independent of its type. Created by
/// Checkpoint::bind<T>, registered with the checkpoint's core (by identity) and shared
/// with the handle; the handle's destruction unregisters it.
class BoundStateBase {
 public:
  BoundStateBase(std::string identity, std::string schema_hash, int min_level)
      : identity_(std::move(identity)),
        schema_hash_(std::move(schema_hash)),
        min_level_(min_level) {}
  BoundStateBase(const BoundStateBase&) = delete;
  BoundStateBase& operator=(const BoundStateBase&) = delete;
  virtual ~BoundStateBase() = default;

  const std::string& identity() const { return identity_; }
  const std::string& schema_hash() const { return schema_hash_; }
  int min_level() const { return min_level_; }

  /// The record as a Value (state_to_value) whose arrays borrow the record's bytes
  /// (NdArray::borrowed): encode it before the record changes, and do not keep it. The
  /// commit encodes it at once; a copy would double the memory and time of a large state.
  virtual Value save() const = 0;
  /// Decodes `value` into a staging copy, leaving the record untouched (CodecError /
  /// SchemaError naming `where`); apply_restore() then moves it into the record.
  virtual void stage_restore(const Value& value, std::string_view where) = 0;
  virtual void apply_restore() noexcept = 0;
  virtual void drop_restore() noexcept = 0;

  // Checkpoint properties, answered by the core (src/checkpoint/session/bound_state.cpp).
  bool enabled() const;
  int level() const;
  bool loaded() const { return loaded_; }
  const Metadata& metadata() const;
  std::optional<Duration> lead_time() const;
  const std::string& staging_device() const;
  std::int64_t write_count() const;
  bool will_flush() const;

  /// Removes this state from its checkpoint's registry (the identity can be bound again).
  void unbind() noexcept;

 private:
  friend class CheckpointCore;
  std::string identity_;
  std::string schema_hash_;
  int min_level_;
  CheckpointCore* core_ = nullptr;  // null once unbound or the checkpoint is gone
  bool loaded_ = false;
};

template <CheckpointState T>
class BoundState final : public BoundStateBase {
 public:
  BoundState(T initial, int min_level)
      : BoundStateBase(std::string(StateTraits<T>::name), ::stormrun::schema_hash<T>(), min_level),
        record(std::move(initial)) {}

  Value save() const override {
    const ArrayBorrowScope borrow;
    return state_to_value(record);
  }

  void stage_restore(const Value& value, std::string_view where) override {
    // Decode into a fresh record, not a copy of the live one: state_from_value replaces
    // every field, and a copy would double the memory of large arrays for no benefit.
    std::optional<T> staged;
    if constexpr (std::is_default_constructible_v<T>)
      staged.emplace();
    else
      staged.emplace(record);
    state_from_value(value, *staged, where);
    staged_ = std::move(staged);
  }
  void apply_restore() noexcept override {
    if (staged_) record = std::move(*staged_);
    staged_.reset();
  }
  void drop_restore() noexcept override { staged_.reset(); }

  T record;

 private:
  std::optional<T> staged_;
};

}  // namespace stormrun::detail

namespace stormrun {

template <CheckpointState T>
StateBinding<T> Checkpoint::bind(T initial, int min_level) {
  auto state = std::make_shared<detail::BoundState<T>>(std::move(initial), min_level);
  bind_erased(state);
  return StateBinding<T>(std::move(state));
}

template <CheckpointState T>
StateBinding<T>::StateBinding(StateBinding&& other) noexcept : state_(std::move(other.state_)) {}

template <CheckpointState T>
StateBinding<T>& StateBinding<T>::operator=(StateBinding&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
  }
  return *this;
}

template <CheckpointState T>
StateBinding<T>::~StateBinding() {
  release();
}

template <CheckpointState T>
void StateBinding<T>::release() noexcept {
  if (state_) state_->unbind();
  state_.reset();
}

template <CheckpointState T>
detail::BoundState<T>& StateBinding<T>::state() const {
  if (!state_)
    throw CheckpointError("use of a moved-from StateBinding of state '" +
                          std::string(StateTraits<T>::name) + "'; bind it again");
  return *state_;
}

template <CheckpointState T>
T& StateBinding<T>::operator*() {
  return state().record;
}
template <CheckpointState T>
T* StateBinding<T>::operator->() {
  return &state().record;
}
template <CheckpointState T>
const T& StateBinding<T>::operator*() const {
  return state().record;
}
template <CheckpointState T>
const T* StateBinding<T>::operator->() const {
  return &state().record;
}

template <CheckpointState T>
bool StateBinding<T>::enabled() const {
  return state().enabled();
}
template <CheckpointState T>
int StateBinding<T>::level() const {
  return state().level();
}
template <CheckpointState T>
bool StateBinding<T>::loaded() const {
  return state().loaded();
}
template <CheckpointState T>
const Metadata& StateBinding<T>::metadata() const {
  return state().metadata();
}
template <CheckpointState T>
std::optional<Duration> StateBinding<T>::lead_time() const {
  return state().lead_time();
}
template <CheckpointState T>
const std::string& StateBinding<T>::staging_device() const {
  return state().staging_device();
}
template <CheckpointState T>
std::int64_t StateBinding<T>::write_count() const {
  return state().write_count();
}
template <CheckpointState T>
bool StateBinding<T>::will_flush() const {
  return state().will_flush();
}

}  // namespace stormrun
