// The polar filter's hand-written FFT (swe_filter.hpp) and the CPU path that runs
// (swe_step_fast.cpp) against the plain reference (swe_step.cpp): the FFT against a direct
// DFT, the filter against the circular convolution it replaces, lanes against single
// transforms bit for bit, and the fast stepper against the reference bit for bit on every
// initial condition and on grids whose NLON needs radix 2, 3, 5, 7 and odd NLAT.
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <complex>
#include <cstring>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "model/swe_filter.hpp"
#include "model/swe_geometry.hpp"
#include "model/swe_stepper.hpp"
#include "stormrun/model/initial_conditions.hpp"

using namespace stormrun::model;

namespace {

std::vector<double> random_values(std::size_t count, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(count);
  for (double& x : v)
    x = dist(gen);
  return v;
}

bool bit_identical(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::size_t count_differing(const std::vector<double>& a, const std::vector<double>& b) {
  std::size_t differing = 0;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::memcmp(&a[k], &b[k], sizeof(double)) != 0) ++differing;
  return differing;
}

}  // namespace

TEST_CASE("the FFT matches a direct DFT for NLON with radices 4, 2, 3, 5, 7 and 11") {
  for (int nlon : {8, 12, 14, 22, 36, 70, 128, 360}) {
    CAPTURE(nlon);
    const SweGeometry geometry({8, nlon}, PlanetConstants{}, 0.0, 60.0);
    const SweView g = geometry.host_view();
    std::vector<double> xr = random_values(nlon, 1), xi = random_values(nlon, 2);
    std::vector<double> wr(nlon), wi(nlon);
    std::vector<std::complex<long double>> expect(nlon);
    long double norm = 0;
    for (int k = 0; k < nlon; ++k) {
      for (int e = 0; e < nlon; ++e) {
        const long double angle = -2.0L * std::numbers::pi_v<long double> * e * k / nlon;
        expect[k] += std::complex<long double>(xr[e], xi[e]) *
                     std::complex<long double>(std::cos(angle), std::sin(angle));
      }
      norm = std::max(norm, std::abs(expect[k]));
    }
    swe_fft<1>(g, xr.data(), xi.data(), wr.data(), wi.data());
    long double worst = 0;
    for (int k = 0; k < nlon; ++k)
      worst = std::max(worst, std::abs(std::complex<long double>(xr[k], xi[k]) - expect[k]));
    CHECK(double(worst / norm) < 1e-14);
  }
}

TEST_CASE("lanes do exactly what single transforms do, bit for bit") {
  for (int nlon : {70, 128}) {
    CAPTURE(nlon);
    const SweGeometry geometry({16, nlon}, PlanetConstants{}, 0.0, 60.0);
    const SweView g = geometry.host_view();
    REQUIRE(g.filter_pairs >= 2);
    const std::vector<double> re = random_values(4 * nlon, 3), im = random_values(4 * nlon, 4);
    std::vector<double> xr(4 * nlon), xi(4 * nlon), w(8 * nlon);
    const int lane_pair[4] = {0, 1, 1, 0};
    for (int i = 0; i < nlon; ++i)
      for (int l = 0; l < 4; ++l) {
        xr[i * 4 + l] = re[l * nlon + i];
        xi[i * 4 + l] = im[l * nlon + i];
      }
    swe_filter_lanes<4>(g, lane_pair, xr.data(), xi.data(), w.data(), w.data() + 4 * nlon);
    for (int l = 0; l < 4; ++l) {
      std::vector<double> sr(re.begin() + l * nlon, re.begin() + (l + 1) * nlon);
      std::vector<double> si(im.begin() + l * nlon, im.begin() + (l + 1) * nlon);
      swe_filter_lanes<1>(g, &lane_pair[l], sr.data(), si.data(), w.data(), w.data() + nlon);
      std::vector<double> lr(nlon), li(nlon);
      for (int i = 0; i < nlon; ++i) {
        lr[i] = xr[i * 4 + l];
        li[i] = xi[i * 4 + l];
      }
      CHECK(bit_identical(sr, lr));
      CHECK(bit_identical(si, li));
    }
  }
}

TEST_CASE("the CUDA kernel's cooperative filter gives the bytes of the single transform") {
  // swe_filter_cooperative is what polar_filter_kernel runs, one butterfly per thread of a
  // block meeting at __syncthreads(); here the threads are std::threads meeting at a
  // std::barrier (and, once, a single thread with no barrier).
  for (int nlon : {64, 70, 128, 180, 360}) {
    CAPTURE(nlon);
    const SweGeometry geometry({24, nlon}, PlanetConstants{}, 0.0, 60.0);
    const SweView g = geometry.host_view();
    REQUIRE(g.filter_pairs >= 2);
    for (int pair = 0; pair < g.filter_pairs; ++pair) {
      const std::vector<double> south = random_values(nlon, 30 + pair);
      const std::vector<double> north = random_values(nlon, 40 + pair);
      std::vector<double> xr = south, xi = north, w(2 * nlon);
      swe_filter_lanes<1>(g, &pair, xr.data(), xi.data(), w.data(), w.data() + nlon);
      for (int threads : {1, 3, 8, 64}) {  // 64: the kernel's block
        CAPTURE(threads);
        std::vector<double> shared(4 * nlon);
        std::copy(south.begin(), south.end(), shared.begin());
        std::copy(north.begin(), north.end(), shared.begin() + nlon);
        std::barrier sync(threads);
        auto body = [&](int tid) {
          swe_filter_cooperative(g, pair, shared.data(), shared.data() + nlon,
                                 shared.data() + 2 * nlon, shared.data() + 3 * nlon, tid, threads,
                                 [&] {
                                   if (threads > 1) sync.arrive_and_wait();
                                 });
        };
        std::vector<std::thread> pool;
        for (int tid = 1; tid < threads; ++tid)
          pool.emplace_back(body, tid);
        body(0);
        for (auto& t : pool)
          t.join();
        CHECK(bit_identical(xr, std::vector<double>(shared.begin(), shared.begin() + nlon)));
        CHECK(bit_identical(xi,
                            std::vector<double>(shared.begin() + nlon, shared.begin() + 2 * nlon)));
      }
    }
  }
}

TEST_CASE("the filter is the circular convolution with the row's response, on both rows") {
  const int nlon = 64;
  const SweGeometry geometry({32, nlon}, PlanetConstants{}, 0.0, 60.0);
  const SweView g = geometry.host_view();
  REQUIRE(g.filter_pairs == 5);  // |φ| > 60° on a 32-row grid: 5 rows per hemisphere
  for (int pair = 0; pair < g.filter_pairs; ++pair) {
    CAPTURE(pair);
    const std::vector<double> south = random_values(nlon, 10 + pair);
    const std::vector<double> north = random_values(nlon, 20 + pair);
    std::vector<double> xr = south, xi = north, w(2 * nlon);
    swe_filter_lanes<1>(g, &pair, xr.data(), xi.data(), w.data(), w.data() + nlon);
    // Direct: kernel c_m = Σ_k (S_k/N) cos(2πkm/N), out_i = Σ_m c_m row_{i-m}.
    const double* response = geometry.filter_response.data() + pair * nlon;
    long double worst = 0, scale = 0;
    double mean_in = 0, mean_out = 0;
    for (int i = 0; i < nlon; ++i) {
      long double out_s = 0, out_n = 0;
      for (int m = 0; m < nlon; ++m) {
        long double c = 0;
        for (int k = 0; k < nlon; ++k)
          c += response[k] * std::cos(2.0L * std::numbers::pi_v<long double> * k * m / nlon);
        out_s += c * south[(i - m + nlon) % nlon];
        out_n += c * north[(i - m + nlon) % nlon];
      }
      worst = std::max({worst, std::abs(out_s - xr[i]), std::abs(out_n - xi[i])});
      scale = std::max({scale, std::abs(out_s), std::abs(out_n)});
      mean_in += south[i];
      mean_out += xr[i];
    }
    CHECK(double(worst / scale) < 1e-13);
    CHECK(mean_out == doctest::Approx(mean_in).epsilon(1e-12));  // S_0 = 1: zonal mean kept
  }
  // The 2Δλ wave is damped on every filtered row; the response falls towards the pole.
  for (int pair = 0; pair < g.filter_pairs; ++pair)
    CHECK(geometry.filter_response[pair * nlon + nlon / 2] * nlon < 1.0);
  CHECK(geometry.filter_response[0 * nlon + nlon / 2] <
        geometry.filter_response[4 * nlon + nlon / 2]);
}

TEST_CASE("the CPU path gives the reference's bytes for every initial condition and grid") {
  struct Case {
    std::string name;
    double alpha;
    Grid grid;
    double filter_latitude = 60.0;  // 89: no row filtered on a coarse grid
  };
  const double tilt = std::numbers::pi / 2 - 0.05;
  for (const Case& c : {Case{"tc2", 0.0, {32, 64}}, Case{"tc2", tilt, {33, 70}},
                        Case{"tc6", 0.0, {20, 36}}, Case{"galewsky", 0.0, {45, 90}},
                        Case{"galewsky-nobump", 0.0, {24, 56}}, Case{"tc2", 0.0, {16, 32}, 89.0}}) {
    CAPTURE(c.name);
    CAPTURE(c.grid.nlat);
    CAPTURE(c.grid.nlon);
    InitialConditionParams params;
    params.alpha = c.alpha;
    const FieldBatch one = initial_condition(c.name, c.grid, params);
    // Three members: the state, a deeper copy (more sub-steps) and a noisy copy.
    FieldBatch batch(c.grid, one.variables, 3);
    for (int m = 0; m < 3; ++m)
      std::copy(one.data.begin(), one.data.end(), batch.data.begin() + m * one.data.size());
    for (double& h : batch.field(1, 0))
      h *= 1.5;
    const std::vector<double> noise = random_values(one.data.size() / 3, 7);
    auto h2 = batch.field(2, 0);
    for (std::size_t k = 0; k < noise.size(); ++k)
      h2[k] += 20.0 * noise[k];

    const SweGeometry geometry(c.grid, PlanetConstants{}, coriolis_tilt(c.name, params),
                               c.filter_latitude);
    if (c.filter_latitude > 80.0) REQUIRE(geometry.filtered_rows == 0);
    REQUIRE(geometry.hd_k > 0.0);  // the hyperdiffusion is on in both paths
    std::vector<int> substeps;
    std::vector<double> substep_dt;
    for (std::int64_t m = 0; m < 3; ++m) {
      const double stable = swe_stable_substep(geometry, batch.field(m, 0).data());
      const int n = static_cast<int>(std::ceil(21600.0 / stable));
      substeps.push_back(n);
      substep_dt.push_back(21600.0 / n);
    }
    REQUIRE(substeps[1] > substeps[0]);
    auto reference = make_reference_stepper(geometry, 3);
    auto fast = make_cpu_stepper(geometry, 3);
    reference->load(batch.data);
    fast->load(batch.data);
    std::vector<double> a, b;
    for (int step = 1; step <= 2; ++step) {
      CAPTURE(step);
      reference->advance(substeps, substep_dt);
      fast->advance(substeps, substep_dt);
      reference->store(a);
      fast->store(b);
      CHECK(count_differing(a, b) == 0);
    }
    CHECK_FALSE(bit_identical(a, batch.data));  // it moved

    // A member alone gives the bytes it gives in the batch.
    auto alone = make_cpu_stepper(geometry, 1);
    alone->load(std::vector<double>(batch.data.begin() + 2 * one.data.size(), batch.data.end()));
    for (int step = 1; step <= 2; ++step)
      alone->advance({substeps[2]}, {substep_dt[2]});
    std::vector<double> single;
    alone->store(single);
    CHECK(bit_identical(single, std::vector<double>(b.begin() + 2 * one.data.size(), b.end())));
  }
}

TEST_CASE("every dynamics version: the CPU path gives the reference's bytes, and they differ") {
  const Grid grid{24, 48};
  const FieldBatch one = initial_condition("galewsky", grid, InitialConditionParams{});
  std::vector<std::vector<double>> results;
  for (int dynamics = kSweDynamicsOldest; dynamics <= kSweDynamicsLatest; ++dynamics) {
    CAPTURE(dynamics);
    const SweGeometry geometry(grid, PlanetConstants{}, 0.0, 60.0, dynamics);
    CHECK((geometry.hd_k > 0.0) == (dynamics >= 2));  // 1: no hyperdiffusion
    const double stable = swe_stable_substep(geometry, one.field(0, 0).data());
    const int n = static_cast<int>(std::ceil(21600.0 / stable));
    auto reference = make_reference_stepper(geometry, 1);
    auto fast = make_cpu_stepper(geometry, 1);
    reference->load(one.data);
    fast->load(one.data);
    std::vector<double> a, b;
    for (int step = 1; step <= 3; ++step) {
      reference->advance({n}, {21600.0 / n});
      fast->advance({n}, {21600.0 / n});
    }
    reference->store(a);
    fast->store(b);
    CHECK(count_differing(a, b) == 0);
    results.push_back(a);
  }
  CHECK_FALSE(bit_identical(results[0], results[1]));
  CHECK_FALSE(bit_identical(results[1], results[2]));
  CHECK_THROWS_AS(SweGeometry(grid, PlanetConstants{}, 0.0, 60.0, kSweDynamicsLatest + 1),
                  std::invalid_argument);
}

TEST_CASE("hyperdiffusion: the equator's 2-cell wave decays with e-folding time tau; mass kept") {
  for (const Grid grid : {Grid{32, 64}, Grid{64, 128}, Grid{128, 256}}) {
    CAPTURE(grid.nlon);
    const SweGeometry geometry(grid, PlanetConstants{}, 0.0, 60.0);
    const SweView g = geometry.host_view();
    CHECK(geometry.hd_tau == doctest::Approx(kHyperdiffusionTau64x128 * 128.0 / grid.nlon));
    const std::size_t n = std::size_t(grid.points());
    // The 2Δλ wave, the same on every row: the meridional part of ∇² vanishes.
    std::vector<double> f(n), lap(n);
    for (std::size_t k = 0; k < n; ++k)
      f[k] = (k % grid.nlon) % 2 == 0 ? 1.0 : -1.0;
    for (int j = 0; j < grid.nlat; ++j)
      for (int i = 0; i < grid.nlon; ++i)
        lap[std::size_t(j) * grid.nlon + i] = swe_laplacian_point(g, j, i, f.data());
    const int j = grid.nlat / 2;  // the row just north of the equator
    const double bilap = swe_laplacian_point(g, j, 0, lap.data());
    // decay rate K·∇⁴f / f = 1/τ, up to the row's cos⁴ (1 + O(Δφ²)).
    CHECK(g.hd_k * bilap * geometry.hd_tau == doctest::Approx(1.0).epsilon(2e-3));

    // A smooth field keeps its area integral under one diffusion step, to rounding.
    const FieldBatch jet = initial_condition("galewsky", grid);
    const double* h = jet.data.data();
    for (int jj = 0; jj < grid.nlat; ++jj)
      for (int i = 0; i < grid.nlon; ++i)
        lap[std::size_t(jj) * grid.nlon + i] = swe_laplacian_point(g, jj, i, h);
    double before = 0.0, after = 0.0, scale = 0.0;
    for (int jj = 0; jj < grid.nlat; ++jj)
      for (int i = 0; i < grid.nlon; ++i) {
        const std::size_t c = std::size_t(jj) * grid.nlon + i;
        const double y =
            swe_hyperdiffuse(h[c], g.hd_k * 600.0, swe_laplacian_point(g, jj, i, lap.data()));
        before += geometry.area[jj] * h[c];
        after += geometry.area[jj] * y;
        scale += geometry.area[jj] * std::abs(h[c] - y);
      }
    CHECK(scale > 0.0);  // it did something
    CHECK(std::abs(after - before) / before < 1e-13);
  }
}
