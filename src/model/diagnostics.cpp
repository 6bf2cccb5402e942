// Diagnostics: the public class and the CPU reference loops; the CUDA kernels are in
// diagnostics.cu. Both call diagnostic_point / diagnostic_row_sums (diagnostics_backend.hpp).
#include "stormrun/model/diagnostics.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "diagnostics_backend.hpp"
#include "stormrun/bits/text.hpp"

namespace stormrun::model {
namespace {

// The polar filter plays no part in diagnostics; any valid cut-off will do.
constexpr double kUnusedFilterLatitude = 60.0;

class CpuDiagnostics final : public DiagnosticsBackend {
 public:
  explicit CpuDiagnostics(const SweGeometry& geometry)
      : geometry_(geometry), view_(geometry_.host_view()) {}

  void fields(const std::vector<double>& state, std::int64_t members,
              const std::vector<DiagnosticField>& kinds, std::vector<double>& out) override {
    const std::size_t n = std::size_t(view_.nlat) * view_.nlon;
    out.assign(std::size_t(members) * kinds.size() * n, 0.0);
    for (std::int64_t m = 0; m < members; ++m) {
      const double* u = state.data() + (3 * m + 1) * n;
      const double* v = u + n;
      for (std::size_t f = 0; f < kinds.size(); ++f) {
        double* o = out.data() + (m * kinds.size() + f) * n;
        for (int j = 0; j < view_.nlat; ++j)
          for (int i = 0; i < view_.nlon; ++i)
            o[std::size_t(j) * view_.nlon + i] = diagnostic_point(view_, kinds[f], j, i, u, v);
      }
    }
  }

  void row_sums(const std::vector<double>& state, std::int64_t members,
                std::vector<double>& rows) override {
    const std::size_t n = std::size_t(view_.nlat) * view_.nlon;
    rows.assign(std::size_t(members) * view_.nlat * 2, 0.0);
    for (std::int64_t m = 0; m < members; ++m) {
      const double* h = state.data() + 3 * m * n;
      for (int j = 0; j < view_.nlat; ++j) {
        const std::size_t r = (std::size_t(m) * view_.nlat + j) * 2;
        diagnostic_row_sums(view_, j, h, h + n, h + 2 * n, &rows[r], &rows[r + 1]);
      }
    }
  }

 private:
  SweGeometry geometry_;
  SweView view_;
};

DiagnosticField field_kind(const std::string& name) {
  if (name == "vorticity") return DiagnosticField::Vorticity;
  if (name == "wind_speed") return DiagnosticField::WindSpeed;
  throw std::invalid_argument("--diagnostics '" + name +
                              "' is not known; use vorticity and/or wind_speed");
}

// The diagnostics, in the order of available(), with what the output file says of them.
const std::vector<FieldDescription>& diagnostic_fields() {
  static const std::vector<FieldDescription> fields = {
      {"vorticity", "s-1", "relative vorticity"},
      {"wind_speed", "m s-1", "wind speed"},
  };
  return fields;
}

}  // namespace

std::unique_ptr<DiagnosticsBackend> make_cpu_diagnostics(const SweGeometry& geometry) {
  return std::make_unique<CpuDiagnostics>(geometry);
}

#ifndef STORMRUN_HAVE_CUDA
std::unique_ptr<DiagnosticsBackend> make_cuda_diagnostics(const SweGeometry&) {
  throw std::runtime_error(
      "diagnostics: the CUDA backend was requested but this stormrun was built without CUDA; "
      "use --device cpu|auto");
}
#endif

struct Diagnostics::Impl {
  SweGeometry geometry;
  std::vector<double> areas;
  std::unique_ptr<DiagnosticsBackend> backend;
  Impl(Grid grid, Backend b, PlanetConstants planet)
      : geometry(grid, planet, 0.0, kUnusedFilterLatitude),
        areas(geometry.area),
        backend(b == Backend::Cuda ? make_cuda_diagnostics(geometry)
                                   : make_cpu_diagnostics(geometry)) {}

  void check(const FieldBatch& state) const {
    if (!(state.grid == geometry.grid))
      throw std::invalid_argument("diagnostics: state on grid " + std::to_string(state.grid.nlat) +
                                  "x" + std::to_string(state.grid.nlon) +
                                  ", diagnostics set up for " + std::to_string(geometry.grid.nlat) +
                                  "x" + std::to_string(geometry.grid.nlon));
    if (state.variables != std::vector<std::string>{"h", "u", "v"})
      throw std::invalid_argument(
          "diagnostics need a state with the variables h,u,v in that order");
  }
};

std::vector<std::string> Diagnostics::available() {
  std::vector<std::string> names;
  for (const auto& field : diagnostic_fields())
    names.push_back(field.name);
  return names;
}

FieldDescription Diagnostics::describe(const std::string& name) {
  for (const auto& field : diagnostic_fields())
    if (field.name == name) return field;
  throw std::invalid_argument("'" + name + "' is not a diagnostic; give one of " +
                              text::join(available(), ", "));
}

Diagnostics::Diagnostics(Grid grid, Backend backend, PlanetConstants planet)
    : backend_(backend), impl_(std::make_unique<Impl>(grid, backend, planet)) {}
Diagnostics::~Diagnostics() = default;
Diagnostics::Diagnostics(Diagnostics&&) noexcept = default;
Diagnostics& Diagnostics::operator=(Diagnostics&&) noexcept = default;

FieldBatch Diagnostics::compute(const FieldBatch& state, const std::vector<std::string>& names) {
  impl_->check(state);
  std::vector<DiagnosticField> kinds;
  kinds.reserve(names.size());
  for (const auto& name : names)
    kinds.push_back(field_kind(name));
  FieldBatch out(state.grid, names, state.members);
  if (state.members > 0 && !kinds.empty())
    impl_->backend->fields(state.data, state.members, kinds, out.data);
  return out;
}

std::vector<MemberIntegrals> Diagnostics::integrals(const FieldBatch& state) {
  impl_->check(state);
  std::vector<MemberIntegrals> out(static_cast<std::size_t>(state.members));
  if (state.members == 0) return out;
  std::vector<double> rows;
  impl_->backend->row_sums(state.data, state.members, rows);
  const int nlat = state.grid.nlat;
  for (std::int64_t m = 0; m < state.members; ++m) {
    double mass = 0.0, energy = 0.0;
    for (int j = 0; j < nlat; ++j) {
      const std::size_t r = (std::size_t(m) * nlat + j) * 2;
      mass = mass + impl_->areas[j] * rows[r];
      energy = energy + impl_->areas[j] * rows[r + 1];
    }
    out[m] = {mass, energy};
  }
  return out;
}

std::vector<double> cell_areas(const Grid& grid, PlanetConstants planet) {
  return SweGeometry(grid, planet, 0.0, kUnusedFilterLatitude).area;
}

double normalised_l2_error(std::span<const double> field, std::span<const double> reference,
                           const Grid& grid) {
  if (field.size() != std::size_t(grid.points()) || reference.size() != field.size())
    throw std::invalid_argument("normalised_l2_error: fields do not match the grid");
  const std::vector<double> areas = cell_areas(grid);
  double num = 0.0, den = 0.0;
  for (int j = 0; j < grid.nlat; ++j)
    for (int i = 0; i < grid.nlon; ++i) {
      const std::size_t k = std::size_t(j) * grid.nlon + i;
      const double d = field[k] - reference[k];
      num += areas[j] * d * d;
      den += areas[j] * reference[k] * reference[k];
    }
  return std::sqrt(num) / std::sqrt(den);
}

}  // namespace stormrun::model
