// Gaussian perturbation of initial conditions. The noise of a field is a function of its
// key only — (seed, ensemble member, start time, step, variable, grid point) — drawn from
// a counter-based generator (Philox-4x32-10), so a member's noise never depends on the
// rank, the batch it runs in or an interruption (DESIGN.md §6). The CPU reference and the
// CUDA kernel produce the same bits. Format of the key: docs/model-components.md.
//
//   GaussianPerturbation noise({.seed = 42});
//   noise.bind_checkpoint(ckpt);                 // before the session opens (level >= 1)
//   FieldBatch batch = ...;                      // members 8..15 of the ensemble
//   noise.apply(batch, {8, 9, ..., 15}, start);  // batch += amplitude · N(0, 1)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "stormrun/checkpoint.hpp"
#include "stormrun/model/model.hpp"
#include "stormrun/state.hpp"
#include "stormrun/value.hpp"

namespace stormrun::model {

/// Name and version of the noise recipe; a checkpoint written by another recipe is refused.
inline constexpr const char* kGaussianNoiseGenerator = "philox4x32-10/box-muller/v1";

/// Noise standard deviation per variable, in the variable's units, at scale 1:
/// h 1 m, u 0.1 m/s, v 0.1 m/s. `scale` multiplies them all (--noise-amplitude).
std::map<std::string, double> default_noise_amplitudes(double scale = 1.0);

/// The noise of one field (one member, one variable).
struct NoiseKey {
  std::uint64_t seed = 0;
  std::int64_t member = 0;
  std::int64_t start_time_ns = 0;  ///< start time, ns since 1970-01-01T00:00:00Z
  std::int64_t step = 0;           ///< lead-time step; initial conditions use 0
  std::string variable;
};

/// `count` standard normal samples of the field named by `key`; sample p belongs to grid
/// point p = lat·nlon + lon. Backend::Cuda runs the kernel (std::runtime_error when this
/// build has no CUDA or no GPU is usable); the bits are the same as Backend::Cpu.
std::vector<double> gaussian_noise(const NoiseKey& key, std::int64_t count,
                                   Backend backend = Backend::Cpu);

/// What the perturbation saves at checkpoint level >= 1: its key, so that a resumed run
/// is checked to regenerate the same noise.
struct PerturbationState {
  std::string generator;
  std::uint64_t seed = 0;
  std::map<std::string, double> amplitudes;
};

}  // namespace stormrun::model

STORMRUN_STATE(stormrun::model::PerturbationState, "stormrun.model.PerturbationState", generator,
               seed, amplitudes)

namespace stormrun::model {

struct GaussianPerturbationOptions {
  std::uint64_t seed = 0;
  /// Standard deviation per variable; a variable of the batch without an entry is left
  /// unperturbed. Each amplitude must be finite and >= 0.
  std::map<std::string, double> amplitudes = default_noise_amplitudes();
  Backend backend = Backend::Cpu;
};

/// Adds amplitude · N(0, 1) noise to the initial fields of ensemble members.
class GaussianPerturbation {
 public:
  /// std::invalid_argument naming an amplitude that is negative or not finite.
  explicit GaussianPerturbation(GaussianPerturbationOptions options);

  /// Binds PerturbationState with min_level 1 (call before the session opens). When the
  /// session restores a row, apply() checks that the row was written with this key.
  void bind_checkpoint(Checkpoint& checkpoint);

  /// Adds noise in place: batch member i is ensemble member members[i], started at
  /// `start_time`. std::invalid_argument when members.size() != batch.members, a member
  /// index is negative, or an amplitude names a variable the batch lacks;
  /// CheckpointError naming the saved and the configured value when the restored state
  /// was written with another seed, generator or amplitudes.
  void apply(FieldBatch& batch, const std::vector<std::int64_t>& members,
             TimePoint start_time) const;

  const GaussianPerturbationOptions& options() const { return options_; }

 private:
  void check_restored_key() const;
  GaussianPerturbationOptions options_;
  std::optional<StateBinding<PerturbationState>> binding_;
};

}  // namespace stormrun::model
