// The Gaussian perturbation: Philox known answers, the libm-free transform, statistics of
// the noise, independence from batch composition, dependence on every key part, and the
// level >= 1 checkpoint state that guards a resumed run's key.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>

#include "model/perturbation_math.hpp"
#include "model_state_support.hpp"
#include "stormrun/checkpoint.hpp"
#include "stormrun/model/perturbation.hpp"

using namespace stormrun;
using namespace stormrun::model;
using namespace model_state_test;

namespace {

const TimePoint kStart = parse_utc("2026-01-15T06:00:00Z");

NoiseKey key_of(std::uint64_t seed, std::int64_t member, const std::string& variable = "h") {
  return NoiseKey{seed, member, kStart.time_since_epoch().count(), 0, variable};
}

}  // namespace

TEST_CASE("Philox-4x32-10 matches the Random123 known-answer vectors") {
  using noise::Philox4x32;
  auto run = [](Philox4x32 ctr, std::uint32_t k0, std::uint32_t k1) {
    const Philox4x32 out = noise::philox4x32_10(ctr, k0, k1);
    return std::vector<std::uint32_t>(out.v, out.v + 4);
  };
  CHECK(run({{0, 0, 0, 0}}, 0, 0) ==
        std::vector<std::uint32_t>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(run({{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff) ==
        std::vector<std::uint32_t>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(run({{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0) ==
        std::vector<std::uint32_t>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("the libm-free log, sin and cos agree with libm to a few ulps") {
  double worst_log = 0, worst_trig = 0;
  std::uint64_t n = 1;
  for (int i = 0; i < 200000; ++i) {
    n = n * 6364136223846793005u + 1442695040888963407u;  // LCG sweep of 53-bit integers
    const std::uint64_t k = n >> 11;
    const double expected_log = std::log(double(k + 1) / noise::kTwoPow53);
    const double got_log = noise::log_of_scaled_integer(k + 1);
    if (expected_log != 0)
      worst_log = std::max(worst_log, std::abs(got_log - expected_log) / std::abs(expected_log));
    double s = 0, c = 0;
    noise::sincos_turns(k, s, c);
    const double angle = 2 * std::numbers::pi * (double(k) / noise::kTwoPow53);
    worst_trig =
        std::max({worst_trig, std::abs(s - std::sin(angle)), std::abs(c - std::cos(angle))});
  }
  MESSAGE("worst relative log error " << worst_log << ", worst absolute sin/cos error "
                                      << worst_trig);
  CHECK(worst_log < 1e-15);
  CHECK(worst_trig < 4e-15);  // includes libm's own rounding of 2π·t
  // Edges: u = 1 (ln 0 exactly), the smallest u, exact quarter turns.
  CHECK(noise::log_of_scaled_integer(std::uint64_t(1) << 53) == 0.0);
  CHECK(noise::log_of_scaled_integer(1) == doctest::Approx(-53 * std::log(2.0)).epsilon(1e-15));
  double s = 0, c = 0;
  noise::sincos_turns(std::uint64_t(1) << 51, s, c);  // a quarter turn
  CHECK(s == 1.0);
  CHECK(c == 0.0);
}

TEST_CASE("the noise is standard normal over 1e6 samples") {
  constexpr std::int64_t kCount = 1'000'000;
  const std::vector<double> z = gaussian_noise(key_of(20260115, 3), kCount);
  const double n = double(kCount);
  const double mean = std::accumulate(z.begin(), z.end(), 0.0) / n;
  double m2 = 0, m3 = 0, m4 = 0, lag1 = 0;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double d = z[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
    if (i + 1 < z.size()) lag1 += d * (z[i + 1] - mean);
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const double sd = std::sqrt(m2), skew = m3 / (m2 * sd), kurtosis = m4 / (m2 * m2);
  const double correlation = lag1 / (n * m2);  // between the two halves of a pair and across
  // Kolmogorov-Smirnov distance to the normal CDF.
  std::vector<double> sorted = z;
  std::sort(sorted.begin(), sorted.end());
  double ks = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double cdf = 0.5 * std::erfc(-sorted[i] / std::sqrt(2.0));
    ks = std::max({ks, std::abs(cdf - double(i) / n), std::abs(double(i + 1) / n - cdf)});
  }
  MESSAGE("mean " << mean << " sd " << sd << " skew " << skew << " kurtosis " << kurtosis
                  << " lag-1 correlation " << correlation << " KS " << ks);
  // Bounds at about 4-5 standard errors (the sample is fixed, so this is deterministic).
  CHECK(std::abs(mean) < 0.005);
  CHECK(std::abs(sd - 1) < 0.004);
  CHECK(std::abs(skew) < 0.012);
  CHECK(std::abs(kurtosis - 3) < 0.025);
  CHECK(std::abs(correlation) < 0.005);
  CHECK(ks < 1.63 / std::sqrt(n));                     // KS critical value at the 1% level
  CHECK(*std::max_element(z.begin(), z.end()) < 8.6);  // ln(2^53)·2 bounds r at ≈ 8.57
}

TEST_CASE("a member's noise does not depend on the batch it runs in") {
  const Grid grid{9, 18};  // odd point count: the last point uses half a pair
  GaussianPerturbation noise({.seed = 11, .amplitudes = {{"h", 1.0}, {"v", 0.1}}});
  FieldBatch batch(grid, {"h", "u", "v"}, 8);
  std::vector<std::int64_t> members(8);
  std::iota(members.begin(), members.end(), 0);
  noise.apply(batch, members, kStart);

  FieldBatch alone(grid, {"v", "h"}, 1);  // another variable set and order
  noise.apply(alone, {5}, kStart);
  const auto h = batch.field(5, 0), v = batch.field(5, 2);
  CHECK(std::equal(h.begin(), h.end(), alone.field(0, 1).begin()));
  CHECK(std::equal(v.begin(), v.end(), alone.field(0, 0).begin()));

  FieldBatch reversed(grid, {"h", "u", "v"}, 2);
  noise.apply(reversed, {6, 5}, kStart);
  CHECK(std::equal(h.begin(), h.end(), reversed.field(1, 0).begin()));
}

TEST_CASE("noise = amplitude times the standard normal of its key, added to the field") {
  const Grid grid{4, 8};
  GaussianPerturbation noise({.seed = 5, .amplitudes = {{"h", 2.5}, {"u", 0.0}}});
  FieldBatch batch(grid, {"h", "u", "v"}, 1);
  std::fill(batch.data.begin(), batch.data.end(), 100.0);
  noise.apply(batch, {4}, kStart);
  const std::vector<double> z = gaussian_noise(key_of(5, 4, "h"), grid.points());
  for (std::int64_t p = 0; p < grid.points(); ++p)
    CHECK(batch.field(0, 0)[p] == 100.0 + 2.5 * z[p]);
  for (double value : batch.field(0, 1))
    CHECK(value == 100.0);  // amplitude 0
  for (double value : batch.field(0, 2))
    CHECK(value == 100.0);  // no amplitude given
  CHECK(default_noise_amplitudes(2.0) ==
        std::map<std::string, double>{{"h", 2.0}, {"u", 0.2}, {"v", 0.2}});
}

TEST_CASE("the noise depends on seed, member, start time, step and variable") {
  const auto base = gaussian_noise(key_of(1, 0), 64);
  CHECK(base == gaussian_noise(key_of(1, 0), 64));
  CHECK(base != gaussian_noise(key_of(2, 0), 64));
  CHECK(base != gaussian_noise(key_of(1, 1), 64));
  CHECK(base != gaussian_noise(key_of(1, 0, "u"), 64));
  NoiseKey later = key_of(1, 0);
  later.start_time_ns += 1;  // one nanosecond later is another start time
  CHECK(base != gaussian_noise(later, 64));
  NoiseKey step1 = key_of(1, 0);
  step1.step = 1;
  CHECK(base != gaussian_noise(step1, 64));
  // A shorter field is a prefix of a longer one: the noise of a point is its own.
  const auto prefix = gaussian_noise(key_of(1, 0), 17);
  CHECK(std::equal(prefix.begin(), prefix.end(), base.begin()));
}

TEST_CASE("perturbation arguments are checked") {
  CHECK_THROWS_WITH_AS(GaussianPerturbation({.amplitudes = {{"h", -1.0}}}),
                       doctest::Contains("variable 'h'"), std::invalid_argument);
  CHECK_THROWS_AS(GaussianPerturbation({.amplitudes = {{"h", NAN}}}), std::invalid_argument);
  GaussianPerturbation noise({.seed = 1, .amplitudes = {{"h", 1.0}, {"q", 1.0}}});
  FieldBatch batch({2, 4}, {"h"}, 2);
  CHECK_THROWS_WITH_AS(noise.apply(batch, {0, 1}, kStart), doctest::Contains("'q'"),
                       std::invalid_argument);
  GaussianPerturbation ok({.seed = 1, .amplitudes = {{"h", 1.0}}});
  CHECK_THROWS_WITH_AS(ok.apply(batch, {0}, kStart), doctest::Contains("1 member indices"),
                       std::invalid_argument);
  CHECK_THROWS_AS(ok.apply(batch, {0, -1}, kStart), std::invalid_argument);
#if !defined(STORMRUN_HAVE_CUDA)
  CHECK_THROWS_AS(gaussian_noise(key_of(1, 0), 4, Backend::Cuda), std::runtime_error);
#endif
}

TEST_CASE("the perturbation key is saved at level >= 1 and checked on resume") {
  TempDir dir;
  const Grid grid{4, 8};
  FieldBatch first(grid, {"h", "u", "v"}, 1);
  {
    Checkpoint checkpoint(checkpoint_options(dir.path(), 1, nullptr));
    GaussianPerturbation noise({.seed = 7});
    noise.bind_checkpoint(checkpoint);
    SessionScope scope(checkpoint);
    noise.apply(first, {3}, kStart);
    scope->write();
    const auto row = checkpoint.catalog().back();
    CHECK(std::count(row.state_ids.begin(), row.state_ids.end(),
                     "stormrun.model.PerturbationState") == 1);
  }
  SUBCASE("the same key regenerates the same noise") {
    Checkpoint checkpoint(checkpoint_options(dir.path(), 1, nullptr));
    GaussianPerturbation noise({.seed = 7});
    noise.bind_checkpoint(checkpoint);
    SessionScope scope(checkpoint);
    FieldBatch again(grid, {"h", "u", "v"}, 1);
    noise.apply(again, {3}, kStart);
    CHECK(same_bytes(again.data, first.data));
  }
  SUBCASE("another seed is refused, naming both") {
    Checkpoint checkpoint(checkpoint_options(dir.path(), 1, nullptr));
    GaussianPerturbation noise({.seed = 8});
    noise.bind_checkpoint(checkpoint);
    SessionScope scope(checkpoint);
    FieldBatch batch(grid, {"h", "u", "v"}, 1);
    CHECK_THROWS_WITH_AS(noise.apply(batch, {3}, kStart),
                         doctest::Contains("written with --seed 7, this run has --seed 8"),
                         CheckpointError);
  }
  SUBCASE("other amplitudes are refused") {
    Checkpoint checkpoint(checkpoint_options(dir.path(), 1, nullptr));
    GaussianPerturbation noise({.seed = 7, .amplitudes = default_noise_amplitudes(3.0)});
    noise.bind_checkpoint(checkpoint);
    SessionScope scope(checkpoint);
    FieldBatch batch(grid, {"h", "u", "v"}, 1);
    CHECK_THROWS_WITH_AS(noise.apply(batch, {3}, kStart), doctest::Contains("noise amplitudes"),
                         CheckpointError);
  }
}

TEST_CASE("at level 0 the perturbation saves no state") {
  TempDir dir;
  {
    Checkpoint checkpoint(checkpoint_options(dir.path(), 0, nullptr));
    GaussianPerturbation noise({.seed = 7});
    noise.bind_checkpoint(checkpoint);
    SessionScope scope(checkpoint);
    scope->write();
    const auto row = checkpoint.catalog().back();
    CHECK(row.state_ids.empty());
  }
  Checkpoint checkpoint(checkpoint_options(dir.path(), 0, nullptr));
  GaussianPerturbation noise({.seed = 8});
  noise.bind_checkpoint(checkpoint);
  SessionScope scope(checkpoint);
  FieldBatch batch({2, 4}, {"h", "u", "v"}, 1);
  CHECK_NOTHROW(noise.apply(batch, {0}, kStart));
}
