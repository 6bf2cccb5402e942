// Runs RK4 sub-steps of the shallow-water model over a batch of members, on the CPU
// (swe_step_fast.cpp, checked against the plain reference swe_step.cpp) or the CUDA kernels
// (swe_step.cu). Buffers are allocated once
// per batch (in the constructor), never per step.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "stormrun/model/backend.hpp"
#include "stormrun/model/fields.hpp"
#include "swe_geometry.hpp"

namespace stormrun::model {

class SweStepper {
 public:
  virtual ~SweStepper() = default;
  /// Copies a batch of fields (h,u,v per member, FieldBatch layout) in as the state.
  virtual void load(const std::vector<double>& fields) = 0;
  /// Copies the state out (same layout).
  virtual void store(std::vector<double>& fields) = 0;
  /// One output step: member m takes substeps[m] RK4 sub-steps of substep_dt[m] seconds.
  virtual void advance(const std::vector<int>& substeps, const std::vector<double>& substep_dt) = 0;
};

/// std::invalid_argument unless a state of `got` values fits a batch of `batch` values (the
/// size check of every stepper's load()).
inline void check_state_size(std::size_t got, std::size_t batch) {
  if (got != batch)
    throw std::invalid_argument("shallow water: state of " + std::to_string(got) +
                                " values loaded into a batch of " + std::to_string(batch));
}

/// The CPU reference for `members` members on `geometry`'s grid (swe_step.cpp): plain loops,
/// one per kernel, each calling the per-point functions the CUDA kernels call. The spec that
/// both other paths are tested against, bit for bit.
std::unique_ptr<SweStepper> make_reference_stepper(const SweGeometry& geometry,
                                                   std::int64_t members);
/// The CPU path that runs (swe_step_fast.cpp): the reference's operations rearranged for a
/// CPU core (fused by row, vectorised), bit-identical to the reference.
std::unique_ptr<SweStepper> make_cpu_stepper(const SweGeometry& geometry, std::int64_t members);
/// The CUDA path (device memory for the whole batch allocated here); std::runtime_error
/// without a CUDA build or device.
std::unique_ptr<SweStepper> make_cuda_stepper(const SweGeometry& geometry, std::int64_t members);

inline std::unique_ptr<SweStepper> make_stepper(Backend backend, const SweGeometry& geometry,
                                                std::int64_t members) {
  return backend == Backend::Cuda ? make_cuda_stepper(geometry, members)
                                  : make_cpu_stepper(geometry, members);
}

}  // namespace stormrun::model
