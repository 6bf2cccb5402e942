// Typed component state: a component declares a plain struct and its fields once, and the
// checkpoint can then save and restore it (no reflection in C++, so fields are listed):
//
//   struct GaussianState { std::uint64_t seed = 0; std::int64_t step = 0; };
//   STORMRUN_STATE(GaussianState, "stormrun.GaussianState", seed, step)
//
// The macro is used at global namespace scope, after the struct; the string is the state's
// identity in the checkpoint (one binding per identity per checkpoint). Field types must be
// supported by Codec (codec.hpp); nested STORMRUN_STATE structs are allowed.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <tuple>

#include "stormrun/codec.hpp"

namespace stormrun {

/// The saved state's schema (hash, field set or a field's type) differs from the struct's.
class SchemaError : public CodecError {
 public:
  using CodecError::CodecError;
};

/// One declared field: its name and member pointer.
template <class S, class F>
struct StateField {
  std::string_view name;
  F S::*member;
};

/// Specialised by STORMRUN_STATE: `static constexpr std::string_view name` and
/// `static constexpr auto fields()` returning a tuple of StateField.
template <class T>
struct StateTraits;

template <class T>
concept CheckpointState = requires {
  { StateTraits<T>::name } -> std::convertible_to<std::string_view>;
  StateTraits<T>::fields();
};

/// Canonical schema text, e.g. "stormrun.GaussianState{seed:uint64,step:int64}" (nested
/// structs expanded), and its hash (xxh3-64, 16 hex digits) stored with each saved state.
template <CheckpointState T>
std::string schema_string();
template <CheckpointState T>
std::string schema_hash();

/// A state struct as a Value map of its fields, and back. state_from_value checks the
/// field set and every field's type before touching `out` (all or nothing); CodecError
/// naming `where` and the field otherwise.
template <CheckpointState T>
Value state_to_value(const T& state);
template <CheckpointState T>
void state_from_value(const Value& value, T& out, std::string_view where);

}  // namespace stormrun

/// STORMRUN_STATE(Type, "identity", field1, field2, ...): declares Type's checkpointed
/// fields (1 to 32). Use at global namespace scope; Type may be namespace-qualified.
#define STORMRUN_STATE(Type, identity, ...)                                                   \
  template <>                                                                                 \
  struct stormrun::StateTraits<Type> {                                                        \
    static constexpr std::string_view name = identity;                                        \
    static constexpr auto fields() {                                                          \
      return std::make_tuple(STORMRUN_PP_FOR_EACH(STORMRUN_STATE_FIELD_, Type, __VA_ARGS__)); \
    }                                                                                         \
  };

#include "stormrun/bits/state_impl.hpp"
