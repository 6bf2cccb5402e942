// The CPU path of the shallow-water step that `--device cpu` runs: the reference of
// swe_step.cpp rearranged for a CPU core, with every value computed by the very same
// floating-point operations in the same order, so its results are bit-identical to the
// reference (which the CUDA kernels are checked against too). tests/model/test_swe_fast.cpp
// checks that, bit for bit, on every initial condition and on awkward grids.
//
// What is rearranged (docs/model.md, "The CPU path"):
//  - fused by row: a row's tendency goes to a small scratch that stays in L1 and is used by
//    the RK4 update of that row at once, instead of a full tendency array per stage (the
//    next stage's input goes to a second buffer, so no row reads a value updated before it);
//  - branch-free inner loops: the pole rows read a rotated copy of themselves (u, v negated:
//    exactly what the reference's sign_n·u is), the east/west wrap-around points are done
//    apart, so the compiler vectorises the interior loop;
//  - the Bernoulli function is computed once per point and stage (the reference computes it
//    at each of the 4 neighbours; same operations on the same values, so the same bits);
//  - the polar filter does 8 (variable, row pair) items at once in SIMD lanes
//    (swe_filter_lanes<8>; a remainder in 4 lanes).
// The hot loops are cloned for AVX2 and AVX-512 and picked at run time (no FMA: the clones
// keep -ffp-contract=off, and + - * / are correctly rounded at every vector width).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "swe_filter.hpp"
#include "swe_stepper.hpp"

// "These iterations do not depend on each other" for GCC (the release build). Clang (the
// sanitizer and fuzz tree) gets no hint: its vectorize(assume_safety) turns a loop it cannot
// vectorise into a warning, and it checks aliasing at run time anyway. Either way no
// reassociation is allowed, so a result never depends on the hint.
#if defined(__clang__)
#define STORMRUN_IVDEP
#else
#define STORMRUN_IVDEP _Pragma("GCC ivdep")
#endif

// STORMRUN_NO_SIMD_CLONES builds one version for the compiler's -march (to check each vector
// width against the reference on its own).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(STORMRUN_NO_SIMD_CLONES)
#define STORMRUN_SIMD_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define STORMRUN_SIMD_CLONES
#endif

// The kernels index with int on purpose (32-bit index arithmetic on the GPU, the same
// expressions on the CPU): swe_grid_requirement bounds a grid to 2^26 points, so that
// every index of a member's fields and scratch fits in an int.
// NOLINTBEGIN(bugprone-implicit-widening-of-multiplication-result)
namespace stormrun::model {
namespace {

constexpr int kLanes = 8;

/// Pointers to the three fields (h, u, v) of one row.
struct Row3 {
  const double* h;
  const double* u;
  const double* v;
  const double* b;  // Bernoulli function of the row
};

/// The metric factors of one row, read into locals once per row (held in registers: stores
/// through double* could otherwise alias the tables, and force a reload at every point).
struct RowMetrics {
  double cos_face_n, cos_face_s, ew, ns, inv_2dlam, cos_n, cos_s, inv_2dphi, inv_acos, inv_dx,
      inv_2adphi;
};

/// The reference's swe_tendency_point for point i of row j, with neighbours given by value.
/// HasN/HasS: the row has a northern/southern face with a flux (not a pole row). Centred: the
/// centred meridional gradient of dynamics 1 and 2 (SweView::centred_gradient).
template <bool HasN, bool HasS, bool Centred>
inline __attribute__((always_inline)) void tendency_at(const RowMetrics& r, const Row3& c,
                                                       const Row3& n, const Row3& s,
                                                       const double* f, int i, int ie, int iw,
                                                       double* dh, double* du, double* dv) {
  const double hc = c.h[i], uc = c.u[i], vc = c.v[i];
  const double hu_c = hc * uc;
  const double flux_e = 0.5 * (hu_c + c.h[ie] * c.u[ie]);
  const double flux_w = 0.5 * (c.h[iw] * c.u[iw] + hu_c);
  const double hv_c = hc * vc;
  double flux_n = 0.0;
  if constexpr (HasN) flux_n = 0.5 * (hv_c + n.h[i] * n.v[i]) * r.cos_face_n;
  double flux_s = 0.0;
  if constexpr (HasS) flux_s = 0.5 * (s.h[i] * s.v[i] + hv_c) * r.cos_face_s;
  dh[i] = -((flux_e - flux_w) * r.ew + (flux_n - flux_s) * r.ns);

  const double dv_dlam = (c.v[ie] - c.v[iw]) * r.inv_2dlam;
  const double ucos_n = n.u[i] * r.cos_n;
  const double ucos_s = s.u[i] * r.cos_s;
  const double ducos_dphi = (ucos_n - ucos_s) * r.inv_2dphi;
  const double q = (dv_dlam - ducos_dphi) * r.inv_acos + f[i];
  du[i] = q * vc - (c.b[ie] - c.b[iw]) * r.inv_dx;
  if constexpr (Centred)
    dv[i] = -(q * uc) - (n.b[i] - s.b[i]) * r.inv_2adphi;
  else
    dv[i] = -(q * uc) -
            swe_meridional_gradient(c.b[i], n.b[i], s.b[i], r.cos_face_n, r.cos_face_s, r.ns);
}

template <bool HasN, bool HasS, bool Centred>
inline __attribute__((always_inline)) void tendency_row_points(const RowMetrics& r, int nlon,
                                                               const Row3& c, const Row3& n,
                                                               const Row3& s, const double* f,
                                                               double* dh, double* du, double* dv) {
  tendency_at<HasN, HasS, Centred>(r, c, n, s, f, 0, 1, nlon - 1, dh, du, dv);
  STORMRUN_IVDEP
  for (int i = 1; i < nlon - 1; ++i)
    tendency_at<HasN, HasS, Centred>(r, c, n, s, f, i, i + 1, i - 1, dh, du, dv);
  tendency_at<HasN, HasS, Centred>(r, c, n, s, f, nlon - 1, 0, nlon - 2, dh, du, dv);
}

template <bool HasN, bool HasS>
inline __attribute__((always_inline)) void tendency_row_impl(const SweView& g, int j, const Row3& c,
                                                             const Row3& n, const Row3& s,
                                                             double* dh, double* du, double* dv) {
  const int nlon = g.nlon;
  const double* f = g.coriolis + std::size_t(j) * nlon;
  const RowMetrics r{g.cos_face[j + 1], g.cos_face[j],    g.ew_metric[j], g.ns_metric[j],
                     g.inv_2dlam,       g.cos_ext[j + 2], g.cos_ext[j],   g.inv_2dphi,
                     g.inv_acos[j],     g.inv_dx[j],      g.inv_2adphi};
  if (g.centred_gradient)
    tendency_row_points<HasN, HasS, true>(r, nlon, c, n, s, f, dh, du, dv);
  else
    tendency_row_points<HasN, HasS, false>(r, nlon, c, n, s, f, dh, du, dv);
}

/// One value's RK4 update (the reference's swe_rk_point) over a row of `count` values.
/// wdt = weight·dt, ndt = next·dt, computed once as the reference does per value.
inline __attribute__((always_inline)) void rk_row(int stage, double wdt, double ndt,
                                                  const double* k, double* y, double* ys_out,
                                                  double* acc, int count) {
  if (stage == 0) {
    STORMRUN_IVDEP
    for (int i = 0; i < count; ++i) {
      acc[i] = y[i] + wdt * k[i];
      ys_out[i] = y[i] + ndt * k[i];
    }
  } else if (stage < kRkStages - 1) {
    STORMRUN_IVDEP
    for (int i = 0; i < count; ++i) {
      acc[i] = acc[i] + wdt * k[i];
      ys_out[i] = y[i] + ndt * k[i];
    }
  } else {
    STORMRUN_IVDEP
    for (int i = 0; i < count; ++i)
      y[i] = acc[i] + wdt * k[i];
  }
}

/// Buffers of one member's stage (sized for the grid once, reused for every member).
struct Scratch {
  double* bernoulli;  // [nlat*nlon]
  double* rotated;    // [2][4][nlon]: h, u, v, B of the pole rows at λ+π
  double* k_filter;   // [3][filtered_rows][nlon] tendencies of the filtered rows
  double* k_row;      // [3][nlon] tendency of one unfiltered row
  double* lanes;      // [4][nlon*kLanes] filter lanes (xr, xi, wr, wi)
};

/// All buffers in one allocation, each 64-byte aligned and staggered by a few cache lines,
/// so that no two arrays walked together start at the same offset within a 4 KiB page (the
/// loads of one would otherwise wait on the stores of the other: "4K aliasing", which made
/// the speed depend on where the allocator happened to put them).
class Arena {
 public:
  explicit Arena(const std::vector<std::size_t>& sizes) {
    std::size_t total = 8;
    for (std::size_t k = 0; k < sizes.size(); ++k)
      total += round_up(sizes[k]) + stagger(k) + 8;
    storage_.assign(total, 0.0);
    std::size_t offset = (64 - reinterpret_cast<std::uintptr_t>(storage_.data()) % 64) % 64 / 8;
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      offset += stagger(k);
      parts_.push_back(storage_.data() + offset);
      offset += round_up(sizes[k]);
    }
  }
  Arena(const Arena&) = delete;  // the parts point into this storage
  Arena& operator=(const Arena&) = delete;
  double* part(std::size_t k) const { return parts_[k]; }

 private:
  static std::size_t round_up(std::size_t doubles) { return (doubles + 7) / 8 * 8; }
  static std::size_t stagger(std::size_t k) { return 8 * (5 * k % 64); }  // 5k cache lines
  std::vector<double> storage_;
  std::vector<double*> parts_;
};

/// Filters `count` <= L (variable, pair) items from `first` on, held in the member's
/// filtered-row tendencies kf ([3][filtered_rows][nlon]), in place, as lanes of L.
template <int L>
inline __attribute__((always_inline)) void filter_items(const SweView& g, double* kf, double* lanes,
                                                        int first, int count) {
  const int nlat = g.nlat, nlon = g.nlon;
  const std::size_t fstride = std::size_t(g.filtered_rows) * nlon;  // one variable
  const std::size_t lane_size = std::size_t(nlon) * L;
  double* xr = lanes;
  double* xi = xr + lane_size;
  int lane_pair[L];
  double* rows[L][2] = {};
  for (int l = 0; l < L; ++l) {
    lane_pair[l] = l < count ? (first + l) % g.filter_pairs : 0;
    if (l < count) {
      const int south = g.filter_pair_row[lane_pair[l]];
      double* ks = kf + ((first + l) / g.filter_pairs) * fstride;
      rows[l][0] = ks + std::size_t(g.filter_row[south]) * nlon;
      rows[l][1] = ks + std::size_t(g.filter_row[nlat - 1 - south]) * nlon;
    }
  }
  for (int i = 0; i < nlon; ++i)
    for (int l = 0; l < L; ++l) {
      xr[i * L + l] = l < count ? rows[l][0][i] : 0.0;
      xi[i * L + l] = l < count ? rows[l][1][i] : 0.0;
    }
  swe_filter_lanes<L>(g, lane_pair, xr, xi, xi + lane_size, xi + 2 * lane_size);
  for (int l = 0; l < count; ++l)
    for (int i = 0; i < nlon; ++i) {
      rows[l][0][i] = xr[i * L + l];
      rows[l][1][i] = xi[i * L + l];
    }
}

/// One RK4 stage of one member: input fields `in` (h,u,v), output ys_out, y and acc updated
/// (all [3][nlat][nlon]).
STORMRUN_SIMD_CLONES
void member_stage(const SweView& g, Scratch& sc, int stage, double wdt, double ndt,
                  const double* in, double* y, double* ys_out, double* acc) {
  const int nlat = g.nlat, nlon = g.nlon;
  const std::size_t n = std::size_t(nlat) * nlon;
  const double* h = in;
  const double* u = in + n;
  const double* v = in + 2 * n;
  double* b = sc.bernoulli;
  const double gravity = g.gravity;
  // The Bernoulli function of row j, computed one row ahead of the sweep (cache-hot).
  auto bernoulli_row = [&](int j) __attribute__((always_inline)) {
    const std::size_t off = std::size_t(j) * nlon;
    STORMRUN_IVDEP
    for (int i = 0; i < nlon; ++i)
      b[off + i] = swe_bernoulli(gravity, h[off + i], u[off + i], v[off + i]);
  };
  // A pole row seen across the pole: the same row at λ+π with u, v negated.
  auto rotate_row = [&](int side) {
    const std::size_t row = std::size_t(side == 0 ? 0 : nlat - 1) * nlon;
    double* r = sc.rotated + std::size_t(side) * 4 * nlon;
    for (int i = 0; i < nlon; ++i) {
      const int o = (i + nlon / 2 < nlon) ? i + nlon / 2 : i + nlon / 2 - nlon;
      r[i] = h[row + o];
      r[nlon + i] = -u[row + o];
      r[2 * nlon + i] = -v[row + o];
      r[3 * nlon + i] = b[row + o];
    }
  };
  auto row3 = [&](int j) {
    const std::size_t off = std::size_t(j) * nlon;
    return Row3{h + off, u + off, v + off, b + off};
  };
  auto rotated3 = [&](int side) {
    const double* r = sc.rotated + std::size_t(side) * 4 * nlon;
    return Row3{r, r + nlon, r + 2 * nlon, r + 3 * nlon};
  };
  auto tendency_row = [&](int j, double* dh, double* du, double* dv)
      __attribute__((always_inline)) {
    const Row3 c = row3(j);
    const Row3 north = j + 1 < nlat ? row3(j + 1) : rotated3(1);
    const Row3 south = j > 0 ? row3(j - 1) : rotated3(0);
    if (j + 1 < nlat && j > 0)
      tendency_row_impl<true, true>(g, j, c, north, south, dh, du, dv);
    else if (j > 0)
      tendency_row_impl<false, true>(g, j, c, north, south, dh, du, dv);
    else if (j + 1 < nlat)
      tendency_row_impl<true, false>(g, j, c, north, south, dh, du, dv);
    else
      tendency_row_impl<false, false>(g, j, c, north, south, dh, du, dv);
  };
  auto update_row = [&](int j, int var, const double* k) __attribute__((always_inline)) {
    const std::size_t off = var * n + std::size_t(j) * nlon;
    rk_row(stage, wdt, ndt, k, y + off, ys_out + off, acc + off, nlon);
  };

  // One sweep from south to north: a filtered row's tendency is kept for the filter, an
  // unfiltered row's is used for its update at once.
  const std::size_t fstride = std::size_t(g.filtered_rows) * nlon;  // one variable
  double* kf = sc.k_filter;
  double* kr = sc.k_row;
  bernoulli_row(0);
  rotate_row(0);
  for (int j = 0; j < nlat; ++j) {
    if (j + 1 < nlat) bernoulli_row(j + 1);
    if (j + 1 == nlat) rotate_row(1);
    const int r = g.filter_row[j];
    if (r >= 0) {
      const std::size_t off = std::size_t(r) * nlon;
      tendency_row(j, kf + off, kf + fstride + off, kf + 2 * fstride + off);
    } else {
      tendency_row(j, kr, kr + nlon, kr + 2 * nlon);
      for (int var = 0; var < 3; ++var)
        update_row(j, var, kr + var * nlon);
    }
  }

  // The filter on (variable, pair) items, kLanes at a time (a remainder of at most 4 in 4
  // lanes), then the filtered rows' update.
  const int items = 3 * g.filter_pairs;
  int first = 0;
  for (; first + kLanes <= items; first += kLanes)
    filter_items<kLanes>(g, kf, sc.lanes, first, kLanes);
  for (; first < items; first += 4)
    filter_items<4>(g, kf, sc.lanes, first, std::min(4, items - first));
  for (int j = 0; j < nlat; ++j) {
    const int r = g.filter_row[j];
    if (r < 0) continue;
    for (int var = 0; var < 3; ++var)
      update_row(j, var, kf + var * fstride + std::size_t(r) * nlon);
  }
}

/// The hyperdiffusion of one member after a sub-step (the reference's laplacian and
/// hyperdiffuse loops, row by row): lap = ∇²y, then y = y - (K·dt)·∇²lap. Apply = false: the
/// first pass (∇² of y into lap); true: the second (∇² of lap applied to y).
template <bool Apply>
inline __attribute__((always_inline)) void laplacian_rows(const SweView& g, const double* f,
                                                          double* out, double k_dt) {
  const int nlat = g.nlat, nlon = g.nlon;
  for (int j = 0; j < nlat; ++j) {
    const double* c = f + std::size_t(j) * nlon;
    const double* n = j + 1 < nlat ? c + nlon : c;  // no flux through a pole (cos_face = 0)
    const double* s = j > 0 ? c - nlon : c;
    const double zonal = g.hd_zonal[j], cfn = g.cos_face[j + 1], cfs = g.cos_face[j],
                 merid = g.hd_merid[j];
    double* o = out + std::size_t(j) * nlon;
    auto at = [&](int i, int ie, int iw) __attribute__((always_inline)) {
      const double lap =
          swe_laplacian_value(c[i], c[ie], c[iw], n[i], s[i], zonal, cfn, cfs, merid);
      if constexpr (Apply)
        o[i] = swe_hyperdiffuse(o[i], k_dt, lap);
      else
        o[i] = lap;
    };
    at(0, 1, nlon - 1);
    STORMRUN_IVDEP
    for (int i = 1; i < nlon - 1; ++i)
      at(i, i + 1, i - 1);
    at(nlon - 1, 0, nlon - 2);
  }
}

STORMRUN_SIMD_CLONES
void member_hyperdiffusion(const SweView& g, double k_dt, double* y, double* lap) {
  const std::size_t n = std::size_t(g.nlat) * g.nlon;
  for (int var = 0; var < 3; ++var)
    laplacian_rows<false>(g, y + var * n, lap + var * n, 0.0);
  for (int var = 0; var < 3; ++var)
    laplacian_rows<true>(g, lap + var * n, y + var * n, k_dt);
}

class FastCpuStepper final : public SweStepper {
 public:
  FastCpuStepper(const SweGeometry& geometry, std::int64_t members)
      : geometry_(geometry),
        view_(geometry_.host_view()),
        members_(members),
        size_(std::size_t(members) * 3 * geometry.grid.points()),
        arena_({size_, size_, size_, size_, std::size_t(geometry.grid.points()),
                8 * std::size_t(geometry.grid.nlon),
                3 * std::size_t(geometry.filtered_rows) * geometry.grid.nlon,
                3 * std::size_t(geometry.grid.nlon), 4 * std::size_t(geometry.grid.nlon) * kLanes,
                geometry.coriolis.size()}) {
    y_ = arena_.part(0);
    ys_[0] = arena_.part(1);
    ys_[1] = arena_.part(2);
    acc_ = arena_.part(3);
    scratch_ = {arena_.part(4), arena_.part(5), arena_.part(6), arena_.part(7), arena_.part(8)};
    // The Coriolis table is walked beside the fields: it gets a staggered place too.
    std::copy(geometry.coriolis.begin(), geometry.coriolis.end(), arena_.part(9));
    view_.coriolis = arena_.part(9);
  }

  void load(const std::vector<double>& fields) override {
    check_state_size(fields.size(), size_);
    std::copy(fields.begin(), fields.end(), y_);
  }
  void store(std::vector<double>& fields) override { fields.assign(y_, y_ + size_); }

  void advance(const std::vector<int>& substeps, const std::vector<double>& substep_dt) override {
    const std::size_t size = 3 * std::size_t(geometry_.grid.points());
    for (std::int64_t m = 0; m < members_; ++m) {
      const double dt = substep_dt[m];
      double* y = y_ + m * size;
      double* acc = acc_ + m * size;
      double* ys[2] = {ys_[0] + m * size, ys_[1] + m * size};
      const double k_dt = view_.hd_k * dt;
      for (int sub = 0; sub < substeps[m]; ++sub) {
        for (int stage = 0; stage < kRkStages; ++stage) {
          // Stage s reads what stage s-1 wrote (y at s = 0) and writes the other buffer.
          const double* in = stage == 0 ? y : ys[(stage - 1) % 2];
          const double next = stage < kRkStages - 1 ? kRkNext[stage] : 0.0;
          member_stage(view_, scratch_, stage, kRkWeight[stage] * dt, next * dt, in, y,
                       ys[stage % 2], acc);
        }
        // The stage inputs are spent: ys[0] holds ∇²y. (Dynamics 1 has no hyperdiffusion.)
        if (view_.hd_k != 0.0) member_hyperdiffusion(view_, k_dt, y, ys[0]);
      }
    }
  }

 private:
  SweGeometry geometry_;  // own copy: the view points into it
  SweView view_;
  std::int64_t members_;
  std::size_t size_;  // doubles of the batch's state
  Arena arena_;
  double *y_, *ys_[2], *acc_;
  Scratch scratch_;
};

}  // namespace

std::unique_ptr<SweStepper> make_cpu_stepper(const SweGeometry& geometry, std::int64_t members) {
  return std::make_unique<FastCpuStepper>(geometry, members);
}

}  // namespace stormrun::model
// NOLINTEND(bugprone-implicit-widening-of-multiplication-result)
