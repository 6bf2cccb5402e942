// Polar Fourier filter of the shallow-water model, compiled by BOTH g++ (CPU paths) and nvcc
// (polar_filter_kernel): a hand-written mixed-radix FFT, so both sides do the same
// floating-point operations in the same order (no library FFT on one side only). Only + - *
// appear; the twiddles cos/sin and the filter response are host tables (swe_geometry.cpp).
//
// The filter scales zonal wavenumber k of a row's tendency by the row's real, even response
// S_k (docs/model.md). Rows φ and -φ have the same response (the table is computed once per
// |φ|), so a filtered row pair (south row j, north row NLAT-1-j) of one variable of one member
// is filtered with ONE complex transform: z = south + i·north, z' = IFFT(S · FFT(z)), and
// Re z' and Im z' are the two filtered rows. Pairs never mix members, so a member's result
// never depends on the batch it runs in.
//
// Data layout: "lanes". L independent transforms are done side by side, element e of lane l
// at index e·L + l; the lane loop is innermost, so a CPU compiler vectorises it, and every
// lane does exactly the operations a single transform (L = 1, the CUDA kernel and the CPU
// reference) does.
#pragma once

#include "swe_ops.hpp"

namespace stormrun::model {

/// One radix-p pass of a Stockham autosort FFT (decimation in frequency) of length n on
/// sub-sequences of length `len` = n/s: for j < m = len/p, q < s,
///   y[q + s(pj + k)] = W_len^{jk} · Σ_r x[q + s(j + rm)] · W_p^{rk}.
/// tw_re/tw_im[e] = cos(2πe/n), -sin(2πe/n); W_len^{jk} = tw[s·j·k] (s·j·k < n).
template <int L>
SWE_HD void swe_fft_pass(int n, int len, int s, int p, const double* tw_re, const double* tw_im,
                         const double* xr, const double* xi, double* yr, double* yi) {
  const int m = len / p;
  const int step = s * m;  // distance between the inputs of one butterfly
  for (int j = 0; j < m; ++j)
    for (int q = 0; q < s; ++q) {
      const int in = q + s * j;
      const int out = q + s * p * j;
      if (p == 2) {
        const double w1r = tw_re[s * j], w1i = tw_im[s * j];
        for (int l = 0; l < L; ++l) {
          const double a0r = xr[in * L + l], a0i = xi[in * L + l];
          const double a1r = xr[(in + step) * L + l], a1i = xi[(in + step) * L + l];
          const double dr = a0r - a1r, di = a0i - a1i;
          yr[out * L + l] = a0r + a1r;
          yi[out * L + l] = a0i + a1i;
          yr[(out + s) * L + l] = dr * w1r - di * w1i;
          yi[(out + s) * L + l] = dr * w1i + di * w1r;
        }
      } else if (p == 4) {
        const double w1r = tw_re[s * j], w1i = tw_im[s * j];
        const double w2r = tw_re[2 * s * j], w2i = tw_im[2 * s * j];
        const double w3r = tw_re[3 * s * j], w3i = tw_im[3 * s * j];
        for (int l = 0; l < L; ++l) {
          const double a0r = xr[in * L + l], a0i = xi[in * L + l];
          const double a1r = xr[(in + step) * L + l], a1i = xi[(in + step) * L + l];
          const double a2r = xr[(in + 2 * step) * L + l], a2i = xi[(in + 2 * step) * L + l];
          const double a3r = xr[(in + 3 * step) * L + l], a3i = xi[(in + 3 * step) * L + l];
          const double t0r = a0r + a2r, t0i = a0i + a2i;
          const double t1r = a0r - a2r, t1i = a0i - a2i;
          const double t2r = a1r + a3r, t2i = a1i + a3i;
          // (a1 - a3)·(-i)
          const double t3r = a1i - a3i, t3i = a3r - a1r;
          const double y1r = t1r + t3r, y1i = t1i + t3i;
          const double y2r = t0r - t2r, y2i = t0i - t2i;
          const double y3r = t1r - t3r, y3i = t1i - t3i;
          yr[out * L + l] = t0r + t2r;
          yi[out * L + l] = t0i + t2i;
          yr[(out + s) * L + l] = y1r * w1r - y1i * w1i;
          yi[(out + s) * L + l] = y1r * w1i + y1i * w1r;
          yr[(out + 2 * s) * L + l] = y2r * w2r - y2i * w2i;
          yi[(out + 2 * s) * L + l] = y2r * w2i + y2i * w2r;
          yr[(out + 3 * s) * L + l] = y3r * w3r - y3i * w3i;
          yi[(out + 3 * s) * L + l] = y3r * w3i + y3i * w3r;
        }
      } else {
        // Any other radix: the p-point DFT summed directly, r = 0..p-1 in order.
        const int unit = n / p;  // W_p = W_n^unit
        for (int k = 0; k < p; ++k) {
          const double wr = tw_re[s * j * k], wi = tw_im[s * j * k];
          for (int l = 0; l < L; ++l) {
            double sr = xr[in * L + l], si = xi[in * L + l];
            for (int r = 1; r < p; ++r) {
              const int e = unit * ((r * k) % p);
              const double ar = xr[(in + r * step) * L + l], ai = xi[(in + r * step) * L + l];
              sr = sr + (ar * tw_re[e] - ai * tw_im[e]);
              si = si + (ar * tw_im[e] + ai * tw_re[e]);
            }
            yr[(out + k * s) * L + l] = sr * wr - si * wi;
            yi[(out + k * s) * L + l] = sr * wi + si * wr;
          }
        }
      }
    }
}

/// Forward FFT (X_k = Σ x_e e^{-2πi ek/n}, n = NLON) of L lanes held in xr/xi; w*: scratch
/// of the same size. The result is left in xr/xi.
template <int L>
SWE_HD void swe_fft(const SweView& g, double* xr, double* xi, double* wr, double* wi) {
  const int n = g.nlon;
  int len = n, s = 1;
  double *sr = xr, *si = xi, *dr = wr, *di = wi;
  for (int pass = 0; pass < g.fft_passes; ++pass) {
    const int p = g.fft_radix[pass];
    swe_fft_pass<L>(n, len, s, p, g.fft_tw_re, g.fft_tw_im, sr, si, dr, di);
    double* t = sr;
    sr = dr;
    dr = t;
    t = si;
    si = di;
    di = t;
    len /= p;
    s *= p;
  }
  if (sr != xr)
    for (int e = 0; e < n * L; ++e) {
      xr[e] = sr[e];
      xi[e] = si[e];
    }
}

/// Filters L row pairs held in lanes: on entry xr = the southern rows, xi = the northern
/// rows of the lanes' latitude pairs lane_pair[l]; on exit the filtered rows, in place.
/// The inverse transform is conj(FFT(conj(·))); 1/NLON is folded into the response table.
template <int L>
SWE_HD void swe_filter_lanes(const SweView& g, const int* lane_pair, double* xr, double* xi,
                             double* wr, double* wi) {
  const int n = g.nlon;
  swe_fft<L>(g, xr, xi, wr, wi);
  for (int k = 0; k < n; ++k)
    for (int l = 0; l < L; ++l) {
      const double s = g.filter_response[lane_pair[l] * n + k];
      xr[k * L + l] = xr[k * L + l] * s;
      xi[k * L + l] = xi[k * L + l] * -s;  // scaled and conjugated
    }
  swe_fft<L>(g, xr, xi, wr, wi);
  for (int e = 0; e < n * L; ++e)
    xi[e] = -xi[e];
}

}  // namespace stormrun::model
