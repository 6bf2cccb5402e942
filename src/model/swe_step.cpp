// CPU reference of the shallow-water step: the loops that the CUDA kernels in swe_step.cu
// parallelise. Each loop body is one call of a per-point function of swe_ops.hpp, which the
// kernels call too, so both sides do the same operations in the same order.
//
//   stage s of RK4 (s = 0..3), per member m with s-th input ys (y itself at s = 0):
//     tendency:  k  = L(ys)                       (swe_tendency_point, every point)
//     filter:    kf = P_j k  on polar rows j      (swe_filter_lanes<1>, one row pair at a time)
//     update:    acc, ys, y from k or kf          (swe_rk_point)
//   after the 4 stages of a sub-step of dt, per member (hyperdiffusion, Lie splitting):
//     laplacian: k  = ∇²y                         (swe_laplacian_point, every point)
//     diffuse:   y  = y - (K·dt)·∇²k              (swe_hyperdiffuse)
#include <stdexcept>

#include "swe_filter.hpp"
#include "swe_stepper.hpp"

namespace stormrun::model {

namespace swe_cpu {

void tendency(const SweView& g, std::int64_t members, int substep, const int* substeps,
              const double* state, double* k) {
  const std::size_t n = static_cast<std::size_t>(g.nlat) * g.nlon;
  for (std::int64_t m = 0; m < members; ++m) {
    if (substep >= substeps[m]) continue;
    const double* h = state + 3 * n * m;
    double* dh = k + 3 * n * m;
    for (int j = 0; j < g.nlat; ++j)
      for (int i = 0; i < g.nlon; ++i)
        swe_tendency_point(g, j, i, h, h + n, h + 2 * n, dh, dh + n, dh + 2 * n);
  }
}

void polar_filter(const SweView& g, std::int64_t members, int substep, const int* substeps,
                  const double* k, double* kf, double* scratch) {
  const std::size_t n = static_cast<std::size_t>(g.nlat) * g.nlon;
  const int nlon = g.nlon;
  double* xr = scratch;
  double* xi = scratch + nlon;
  for (std::int64_t m = 0; m < members; ++m) {
    if (substep >= substeps[m]) continue;
    for (int var = 0; var < 3; ++var)
      for (int pair = 0; pair < g.filter_pairs; ++pair) {
        const int south = g.filter_pair_row[pair], north = g.nlat - 1 - south;
        const double* field = k + (3 * m + var) * n;
        for (int i = 0; i < nlon; ++i) {
          xr[i] = field[std::size_t(south) * nlon + i];
          xi[i] = field[std::size_t(north) * nlon + i];
        }
        // int offsets within one row pair's scratch (swe_filter.hpp on the grid bound)
        // NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result)
        swe_filter_lanes<1>(g, &pair, xr, xi, scratch + 2 * nlon, scratch + 3 * nlon);
        double* out = kf + (3 * m + var) * g.filtered_rows * std::size_t(nlon);
        for (int i = 0; i < nlon; ++i) {
          out[std::size_t(g.filter_row[south]) * nlon + i] = xr[i];
          out[std::size_t(g.filter_row[north]) * nlon + i] = xi[i];
        }
      }
  }
}

void rk_update(const SweView& g, std::int64_t members, int substep, const int* substeps,
               const double* substep_dt, int stage, double weight, double next, const double* k,
               const double* kf, double* y, double* ys, double* acc) {
  const std::size_t n = static_cast<std::size_t>(g.nlat) * g.nlon;
  for (std::int64_t m = 0; m < members; ++m) {
    if (substep >= substeps[m]) continue;
    const double dt = substep_dt[m];
    for (int var = 0; var < 3; ++var)
      for (int j = 0; j < g.nlat; ++j) {
        const int r = g.filter_row[j];
        const std::size_t base = (3 * m + var) * n + std::size_t(j) * g.nlon;
        const double* krow =
            r < 0 ? k + base : kf + ((3 * m + var) * g.filtered_rows + r) * std::size_t(g.nlon);
        for (int i = 0; i < g.nlon; ++i)
          swe_rk_point(stage, weight, next, dt, krow[i], y + base + i, ys + base + i,
                       acc + base + i);
      }
  }
}

void laplacian(const SweView& g, std::int64_t members, int substep, const int* substeps,
               const double* y, double* lap) {
  const std::size_t n = static_cast<std::size_t>(g.nlat) * g.nlon;
  for (std::int64_t m = 0; m < members; ++m) {
    if (substep >= substeps[m]) continue;
    for (int var = 0; var < 3; ++var) {
      const double* f = y + (3 * m + var) * n;
      double* out = lap + (3 * m + var) * n;
      for (int j = 0; j < g.nlat; ++j)
        for (int i = 0; i < g.nlon; ++i)
          out[std::size_t(j) * g.nlon + i] = swe_laplacian_point(g, j, i, f);
    }
  }
}

void hyperdiffuse(const SweView& g, std::int64_t members, int substep, const int* substeps,
                  const double* substep_dt, const double* lap, double* y) {
  const std::size_t n = static_cast<std::size_t>(g.nlat) * g.nlon;
  for (std::int64_t m = 0; m < members; ++m) {
    if (substep >= substeps[m]) continue;
    const double k_dt = g.hd_k * substep_dt[m];
    for (int var = 0; var < 3; ++var) {
      const double* l = lap + (3 * m + var) * n;
      double* f = y + (3 * m + var) * n;
      for (int j = 0; j < g.nlat; ++j)
        for (int i = 0; i < g.nlon; ++i) {
          const std::size_t c = std::size_t(j) * g.nlon + i;
          f[c] = swe_hyperdiffuse(f[c], k_dt, swe_laplacian_point(g, j, i, l));
        }
    }
  }
}

}  // namespace swe_cpu

namespace {

class ReferenceStepper final : public SweStepper {
 public:
  ReferenceStepper(const SweGeometry& geometry, std::int64_t members)
      : geometry_(geometry), view_(geometry_.host_view()), members_(members) {
    const std::size_t size = std::size_t(members) * 3 * geometry.grid.points();
    y_.assign(size, 0.0);
    ys_.assign(size, 0.0);
    acc_.assign(size, 0.0);
    k_.assign(size, 0.0);
    kf_.assign(std::size_t(members) * 3 * geometry.filtered_rows * geometry.grid.nlon, 0.0);
    scratch_.assign(4 * std::size_t(geometry.grid.nlon), 0.0);
  }

  void load(const std::vector<double>& fields) override {
    check_state_size(fields.size(), y_.size());
    y_ = fields;
  }
  void store(std::vector<double>& fields) override { fields = y_; }

  void advance(const std::vector<int>& substeps, const std::vector<double>& substep_dt) override {
    int most = 0;
    for (int s : substeps)
      most = std::max(most, s);
    for (int sub = 0; sub < most; ++sub) {
      for (int stage = 0; stage < kRkStages; ++stage) {
        const double* input = stage == 0 ? y_.data() : ys_.data();
        swe_cpu::tendency(view_, members_, sub, substeps.data(), input, k_.data());
        swe_cpu::polar_filter(view_, members_, sub, substeps.data(), k_.data(), kf_.data(),
                              scratch_.data());
        swe_cpu::rk_update(view_, members_, sub, substeps.data(), substep_dt.data(), stage,
                           kRkWeight[stage], stage < kRkStages - 1 ? kRkNext[stage] : 0.0,
                           k_.data(), kf_.data(), y_.data(), ys_.data(), acc_.data());
      }
      // The tendencies are spent: k holds ∇²y. (Dynamics 1 has no hyperdiffusion.)
      if (view_.hd_k == 0.0) continue;
      swe_cpu::laplacian(view_, members_, sub, substeps.data(), y_.data(), k_.data());
      swe_cpu::hyperdiffuse(view_, members_, sub, substeps.data(), substep_dt.data(), k_.data(),
                            y_.data());
    }
  }

 private:
  SweGeometry geometry_;  // own copy: the view points into it
  SweView view_;
  std::int64_t members_;
  std::vector<double> y_, ys_, acc_, k_, kf_, scratch_;
};

}  // namespace

std::unique_ptr<SweStepper> make_reference_stepper(const SweGeometry& geometry,
                                                   std::int64_t members) {
  return std::make_unique<ReferenceStepper>(geometry, members);
}

#ifndef STORMRUN_HAVE_CUDA
std::unique_ptr<SweStepper> make_cuda_stepper(const SweGeometry&, std::int64_t) {
  throw std::runtime_error(
      "shallow water: the CUDA backend was requested but this stormrun was built without "
      "CUDA; use --device cpu|auto");
}
#endif

}  // namespace stormrun::model
