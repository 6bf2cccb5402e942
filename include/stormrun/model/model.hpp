// The model interface: a prognostic model declares its variables, grid and lead-time step,
// and rolls out a batch of members from an initial state, yielding the state at lead time
// 0, dt, 2·dt, … . At checkpoint level 2 it saves its full current state at each write
// boundary; restored from a row, its rollout continues with the *next* state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "stormrun/value.hpp"

namespace stormrun {
class Checkpoint;
}

namespace stormrun::model {

/// Where kernels run. Auto picks CUDA when a GPU is usable, else the CPU reference (and
/// says so once).
enum class Backend { Cpu, Cuda };
enum class DeviceChoice { Auto, Cpu, Cuda };
/// Resolves a choice to a backend; std::runtime_error for Cuda when no GPU is usable.
Backend resolve_backend(DeviceChoice choice);
/// Number of usable CUDA devices (0 without a GPU or without a CUDA build).
int cuda_device_count();
/// True when this build has the CUDA path compiled in.
bool built_with_cuda();

/// Global regular latitude-longitude grid: nlat rows of cell centres from south to north
/// (lat_j = -90 + (j + 0.5)·180/nlat degrees), nlon columns (lon_i = i·360/nlon degrees).
struct Grid {
  int nlat = 64;
  int nlon = 128;
  std::int64_t points() const { return std::int64_t(nlat) * nlon; }
  std::vector<double> lat_degrees() const;
  std::vector<double> lon_degrees() const;
  /// Parses "NLATxNLON" (e.g. "64x128"); std::invalid_argument naming the text otherwise.
  static Grid parse(const std::string& text);
  bool operator==(const Grid&) const = default;
};

/// Fields of a batch of members on the host: data[member][variable][lat][lon], doubles.
struct FieldBatch {
  Grid grid;
  std::vector<std::string> variables;
  std::int64_t members = 0;
  std::vector<double> data;

  FieldBatch() = default;
  FieldBatch(Grid g, std::vector<std::string> vars, std::int64_t nmembers);
  std::span<double> field(std::int64_t member, std::size_t variable);
  std::span<const double> field(std::int64_t member, std::size_t variable) const;
  std::size_t variable_index(const std::string& name) const;  // std::out_of_range naming it
  bool operator==(const FieldBatch&) const = default;
};

/// A rollout of a batch: state() is the state at lead time step()·dt.
class Rollout {
 public:
  virtual ~Rollout() = default;
  virtual std::int64_t step() const = 0;
  /// Host copy of the current state (copied from the device when running on CUDA).
  virtual const FieldBatch& state() = 0;
  /// Advances one lead-time step (all sub-steps).
  virtual void advance() = 0;
};

/// A prognostic model (Persistence, shallow water, …).
class PrognosticModel {
 public:
  virtual ~PrognosticModel() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> variables() const = 0;
  virtual Grid grid() const = 0;
  /// Lead-time step between yielded states.
  virtual Duration step() const = 0;
  /// Binds the model's level-2 state to `checkpoint` (call before the session opens).
  virtual void bind_checkpoint(Checkpoint& checkpoint) = 0;
  /// Rolls out `initial` (lead time 0) for the work units named in `units` (one per
  /// member). When the bound state was restored for these units, the rollout starts from
  /// the saved step and its first state() is the *next* one.
  virtual std::unique_ptr<Rollout> rollout(const FieldBatch& initial,
                                           const std::vector<std::string>& units) = 0;
};

}  // namespace stormrun::model
