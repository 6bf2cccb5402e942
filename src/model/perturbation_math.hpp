// The arithmetic of the Gaussian perturbation, shared verbatim by the CPU reference
// (perturbation.cpp, g++) and the CUDA kernel (perturbation.cu, nvcc), so that both produce
// the same bits (DESIGN.md §6):
//   - Philox-4x32-10 (Salmon et al., SC'11), integers only;
//   - uniforms built from integer bits; Box-Muller with our own log, sin and cos made of
//     + - * / and sqrt only, because libm's log/sin/cos differ between host and device.
// + - * / and sqrt are correctly rounded IEEE operations on both sides, and FMA contraction
// is off on both sides (-ffp-contract=off, --fmad=false), so every step below rounds the
// same way. Keep every expression's evaluation order explicit (parenthesised Horner).
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#if defined(__CUDACC__)
#define STORMRUN_HOST_DEVICE __host__ __device__
#else
#define STORMRUN_HOST_DEVICE
#endif

namespace stormrun::model::noise {

struct Philox4x32 {
  std::uint32_t v[4];
};

/// Philox-4x32-10 of `counter` under the 64-bit key (k0, k1). Matches Random123's
/// known-answer vectors (tests/model_state/test_perturbation.cpp).
STORMRUN_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t k0,
                                                     std::uint32_t k1) {
  constexpr std::uint64_t kMul0 = 0xD2511F53u;
  constexpr std::uint64_t kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
  constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const std::uint64_t p0 = kMul0 * ctr.v[0];
    const std::uint64_t p1 = kMul1 * ctr.v[2];
    const std::uint32_t hi0 = std::uint32_t(p0 >> 32), lo0 = std::uint32_t(p0);
    const std::uint32_t hi1 = std::uint32_t(p1 >> 32), lo1 = std::uint32_t(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

/// The counter word of a variable: FNV-1a (64-bit) of its name, so a variable's noise does
/// not depend on which other variables a batch holds or their order. Host only.
constexpr std::uint64_t variable_id(std::string_view name) {
  std::uint64_t hash = 0xcbf29ce484222325u;
  for (char ch : name) {
    hash ^= std::uint64_t(static_cast<unsigned char>(ch));
    hash *= 0x100000001b3u;
  }
  return hash;
}

/// The 64-bit key of one (member, start time) stream under `seed`: Philox of the pair
/// under the seed, so distinct pairs get independent-looking keys.
struct StreamKey {
  std::uint32_t k0, k1;
};
STORMRUN_HOST_DEVICE inline StreamKey stream_key(std::uint64_t seed, std::int64_t member,
                                                 std::int64_t start_time_ns) {
  const std::uint64_t m = std::uint64_t(member), t = std::uint64_t(start_time_ns);
  const Philox4x32 out = philox4x32_10(Philox4x32{{std::uint32_t(m), std::uint32_t(m >> 32),
                                                   std::uint32_t(t), std::uint32_t(t >> 32)}},
                                       std::uint32_t(seed), std::uint32_t(seed >> 32));
  return StreamKey{out.v[0], out.v[1]};
}

/// A double in [0, 1) with 53 random bits, as the integer k = 0 .. 2^53-1 times 2^-53.
STORMRUN_HOST_DEVICE inline std::uint64_t bits53(std::uint32_t hi, std::uint32_t lo) {
  return (std::uint64_t(hi >> 5) << 26) | std::uint64_t(lo >> 6);
}

constexpr double kTwoPow53 = 9007199254740992.0;
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2, upper bits (exact times e)
constexpr double kLn2Lo = 1.90821492927058770002e-10;  // ln 2 - kLn2Hi

/// ln(n · 2^-53) for an integer n in [1, 2^53]: exact power-of-two split found with integer
/// operations, then ln(m) for m in [√½, √2) by the atanh series 2(s + s³/3 + …),
/// s = (m-1)/(m+1), |s| <= 0.1716, truncated after s²³ (relative error < 1e-17).
STORMRUN_HOST_DEVICE inline double log_of_scaled_integer(std::uint64_t n) {
  int e = 0;  // n = m · 2^e with m in [1, 2): e = floor(log2 n) by binary search
  std::uint64_t top = n;
  for (int shift = 32; shift > 0; shift >>= 1) {
    if ((top >> shift) != 0) {
      top >>= shift;
      e += shift;
    }
  }
  double m = double(n) / double(std::uint64_t(1) << e);  // exact: n <= 2^53, power-of-2 divisor
  if (m > 1.4142135623730951) {
    m = m * 0.5;
    ++e;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double poly = 1.0 / 23.0;
  poly = 1.0 / 21.0 + s2 * poly;
  poly = 1.0 / 19.0 + s2 * poly;
  poly = 1.0 / 17.0 + s2 * poly;
  poly = 1.0 / 15.0 + s2 * poly;
  poly = 1.0 / 13.0 + s2 * poly;
  poly = 1.0 / 11.0 + s2 * poly;
  poly = 1.0 / 9.0 + s2 * poly;
  poly = 1.0 / 7.0 + s2 * poly;
  poly = 1.0 / 5.0 + s2 * poly;
  poly = 1.0 / 3.0 + s2 * poly;
  const double ln_m = 2.0 * s + (2.0 * s) * (s2 * poly);
  const double k = double(e - 53);
  return (k * kLn2Hi + ln_m) + k * kLn2Lo;
}

/// sin and cos of a in [-π/4, π/4] by Taylor polynomials to a^17 / a^18 (error < 1e-18).
STORMRUN_HOST_DEVICE inline void sincos_reduced(double a, double& sin_a, double& cos_a) {
  const double a2 = a * a;
  double ps = -1.0 / 355687428096000.0;  // -1/17!
  ps = 1.0 / 1307674368000.0 + a2 * ps;  // 1/15!
  ps = -1.0 / 6227020800.0 + a2 * ps;    // -1/13!
  ps = 1.0 / 39916800.0 + a2 * ps;       // 1/11!
  ps = -1.0 / 362880.0 + a2 * ps;        // -1/9!
  ps = 1.0 / 5040.0 + a2 * ps;           // 1/7!
  ps = -1.0 / 120.0 + a2 * ps;           // -1/5!
  ps = 1.0 / 6.0 + a2 * ps;              // 1/3! (sign applied below)
  sin_a = a - (a * a2) * ps;
  // Signs alternate starting from -1/18!; the series is  1 - a²/2 + a⁴/24 - ...
  double pc = 1.0 / 6402373705728000.0;    // 1/18!
  pc = -1.0 / 20922789888000.0 + a2 * pc;  // -1/16!
  pc = 1.0 / 87178291200.0 + a2 * pc;      // 1/14!
  pc = -1.0 / 479001600.0 + a2 * pc;       // -1/12!
  pc = 1.0 / 3628800.0 + a2 * pc;          // 1/10!
  pc = -1.0 / 40320.0 + a2 * pc;           // -1/8!
  pc = 1.0 / 720.0 + a2 * pc;              // 1/6!
  pc = -1.0 / 24.0 + a2 * pc;              // -1/4!
  pc = 1.0 / 2.0 + a2 * pc;                // 1/2! (sign applied below)
  cos_a = 1.0 - a2 * pc;
}

/// sin and cos of 2π·k·2^-53 for k in [0, 2^53): the quadrant comes from the integer (no
/// floating-point range reduction), the remainder angle lies in [-π/4, π/4].
STORMRUN_HOST_DEVICE inline void sincos_turns(std::uint64_t k, double& sin_t, double& cos_t) {
  constexpr std::uint64_t kQuarter = std::uint64_t(1) << 51;   // a quarter turn in units of 2^-53
  const std::uint64_t quadrant = (k + (kQuarter >> 1)) >> 51;  // 0..4, rounds to nearest
  const std::int64_t rest = std::int64_t(k) - std::int64_t(quadrant * kQuarter);  // |rest| <= 2^50
  constexpr double kTwoPiOverTwoPow53 = 6.283185307179586476925 / kTwoPow53;
  double s = 0.0, c = 0.0;
  sincos_reduced(double(rest) * kTwoPiOverTwoPow53, s, c);
  switch (quadrant & 3u) {
    case 0:
      sin_t = s;
      cos_t = c;
      break;
    case 1:
      sin_t = c;
      cos_t = -s;
      break;
    case 2:
      sin_t = -s;
      cos_t = -c;
      break;
    default:
      sin_t = -c;
      cos_t = s;
      break;
  }
}

STORMRUN_HOST_DEVICE inline double sqrt_ieee(double x) {
#if defined(__CUDA_ARCH__)
  return ::sqrt(x);  // IEEE round-to-nearest in double on the device
#else
  return std::sqrt(x);  // IEEE round-to-nearest (sqrtsd), not a libm approximation
#endif
}

struct GaussianPair {
  double z0, z1;
};

/// Two independent standard normals from one Philox block: counter (pair, step,
/// variable id), key the stream key. Box-Muller: r = sqrt(-2 ln u1), u1 in (0, 1].
STORMRUN_HOST_DEVICE inline GaussianPair gaussian_pair(StreamKey key, std::uint32_t pair,
                                                       std::uint32_t step,
                                                       std::uint64_t variable_id) {
  const Philox4x32 bits = philox4x32_10(
      Philox4x32{{pair, step, std::uint32_t(variable_id), std::uint32_t(variable_id >> 32)}},
      key.k0, key.k1);
  const std::uint64_t n1 = bits53(bits.v[0], bits.v[1]) + 1;  // (0, 2^53]: ln never sees 0
  const std::uint64_t k2 = bits53(bits.v[2], bits.v[3]);
  const double r = sqrt_ieee(-2.0 * log_of_scaled_integer(n1));
  double s = 0.0, c = 0.0;
  sincos_turns(k2, s, c);
  return GaussianPair{r * c, r * s};
}

/// The standard normal of grid point `point` (lat·nlon + lon): even points take z0 and odd
/// points z1 of the pair point/2.
STORMRUN_HOST_DEVICE inline double gaussian_at(StreamKey key, std::uint32_t step,
                                               std::uint64_t variable_id, std::int64_t point) {
  const GaussianPair z = gaussian_pair(key, std::uint32_t(point >> 1), step, variable_id);
  return (point & 1) ? z.z1 : z.z0;
}

}  // namespace stormrun::model::noise
