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

// Always inlined, so the CPU path's SIMD clones (swe_step_fast.cpp) get their own vector width.
#if defined(__CUDACC__)
#define SWE_HD_INLINE __host__ __device__ __forceinline__
#else
#define SWE_HD_INLINE inline __attribute__((always_inline))
#endif

// "No dependence between the iterations of the next loop": in a pass, x and y are different
// buffers and each t writes its own outputs, but a CPU compiler cannot prove it for 8 streams
// and would leave the loop scalar (too many run-time alias checks). GCC only.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define SWE_IVDEP _Pragma("GCC ivdep")
#else
#define SWE_IVDEP
#endif

// The kernels index with int on purpose (32-bit index arithmetic on the GPU, the same
// expressions on the CPU): swe_grid_requirement bounds a grid to 2^26 points, so that
// every index of a member's fields and scratch fits in an int.
// NOLINTBEGIN(bugprone-implicit-widening-of-multiplication-result)
namespace stormrun::model {

/// y = v·w (Twiddle), or y = v where w = 1 (j = 0: the twiddle is skipped, not multiplied).
template <bool Twiddle>
SWE_HD_INLINE void swe_store_twiddled(double vr, double vi, double wr, double wi, double* yr,
                                      double* yi) {
  if constexpr (Twiddle) {
    *yr = vr * wr - vi * wi;
    *yi = vr * wi + vi * wr;
  } else {
    *yr = vr;
    *yi = vi;
  }
}

/// Element t of a radix-2 butterfly group: inputs x[in + r·in_step + t], outputs
/// y[out + k·run + t] (k = 0, 1), twiddle w1 = W^{j}.
template <bool Twiddle>
SWE_HD_INLINE void swe_radix2_at(const double* xr, const double* xi, double* yr, double* yi, int in,
                                 int in_step, int out, int run, double w1r, double w1i, int t) {
  const double a0r = xr[in + t], a0i = xi[in + t];
  const double a1r = xr[in + in_step + t], a1i = xi[in + in_step + t];
  yr[out + t] = a0r + a1r;
  yi[out + t] = a0i + a1i;
  swe_store_twiddled<Twiddle>(a0r - a1r, a0i - a1i, w1r, w1i, &yr[out + run + t],
                              &yi[out + run + t]);
}

/// Element t of a radix-4 butterfly group (as swe_radix2_at), twiddles w_k = W^{jk}.
template <bool Twiddle>
SWE_HD_INLINE void swe_radix4_at(const double* xr, const double* xi, double* yr, double* yi, int in,
                                 int in_step, int out, int run, double w1r, double w1i, double w2r,
                                 double w2i, double w3r, double w3i, int t) {
  const double a0r = xr[in + t], a0i = xi[in + t];
  const double a1r = xr[in + in_step + t], a1i = xi[in + in_step + t];
  const double a2r = xr[in + 2 * in_step + t], a2i = xi[in + 2 * in_step + t];
  const double a3r = xr[in + 3 * in_step + t], a3i = xi[in + 3 * in_step + t];
  const double t0r = a0r + a2r, t0i = a0i + a2i;
  const double t1r = a0r - a2r, t1i = a0i - a2i;
  const double t2r = a1r + a3r, t2i = a1i + a3i;
  // (a1 - a3)·(-i)
  const double t3r = a1i - a3i, t3i = a3r - a1r;
  yr[out + t] = t0r + t2r;
  yi[out + t] = t0i + t2i;
  swe_store_twiddled<Twiddle>(t1r + t3r, t1i + t3i, w1r, w1i, &yr[out + run + t],
                              &yi[out + run + t]);
  swe_store_twiddled<Twiddle>(t0r - t2r, t0i - t2i, w2r, w2i, &yr[out + 2 * run + t],
                              &yi[out + 2 * run + t]);
  swe_store_twiddled<Twiddle>(t1r - t3r, t1i - t3i, w3r, w3i, &yr[out + 3 * run + t],
                              &yi[out + 3 * run + t]);
}

/// Element t of a butterfly group of any other radix p: the p-point DFT summed directly,
/// r = 0..p-1 in order, then the twiddle W^{jk} = tw[jk_unit·k].
template <bool Twiddle>
SWE_HD_INLINE void swe_radix_any_at(int n, int p, const double* tw_re, const double* tw_im,
                                    const double* xr, const double* xi, double* yr, double* yi,
                                    int in, int in_step, int out, int run, int jk_unit, int t) {
  const int unit = n / p;  // W_p = W_n^unit
  for (int k = 0; k < p; ++k) {
    double sr = xr[in + t], si = xi[in + t];
    for (int r = 1; r < p; ++r) {
      const int e = unit * ((r * k) % p);
      const double ar = xr[in + r * in_step + t], ai = xi[in + r * in_step + t];
      sr = sr + (ar * tw_re[e] - ai * tw_im[e]);
      si = si + (ar * tw_im[e] + ai * tw_re[e]);
    }
    if (k == 0)
      swe_store_twiddled<false>(sr, si, 0.0, 0.0, &yr[out + t], &yi[out + t]);
    else
      swe_store_twiddled<Twiddle>(sr, si, tw_re[jk_unit * k], tw_im[jk_unit * k],
                                  &yr[out + k * run + t], &yi[out + k * run + t]);
  }
}

/// The butterflies of one j of a radix-p pass (swe_fft_pass): `run` elements t, inputs at
/// x[in + r·in_step + t], outputs at y[out + k·run + t], twiddles W^{jk} = tw[jk_unit·k]
/// where Twiddle (j > 0). The loops call the element functions above, which the CUDA kernel
/// calls one element per thread (swe_fft_pass_element).
template <bool Twiddle>
SWE_HD_INLINE void swe_fft_butterflies(int n, int p, int run, int in, int in_step, int out,
                                       int jk_unit, const double* tw_re, const double* tw_im,
                                       const double* xr, const double* xi, double* yr, double* yi) {
  if (p == 2) {
    const double w1r = tw_re[jk_unit], w1i = tw_im[jk_unit];
    SWE_IVDEP
    for (int t = 0; t < run; ++t)
      swe_radix2_at<Twiddle>(xr, xi, yr, yi, in, in_step, out, run, w1r, w1i, t);
  } else if (p == 4) {
    const double w1r = tw_re[jk_unit], w1i = tw_im[jk_unit];
    const double w2r = tw_re[2 * jk_unit], w2i = tw_im[2 * jk_unit];
    const double w3r = tw_re[3 * jk_unit], w3i = tw_im[3 * jk_unit];
    SWE_IVDEP
    for (int t = 0; t < run; ++t)
      swe_radix4_at<Twiddle>(xr, xi, yr, yi, in, in_step, out, run, w1r, w1i, w2r, w2i, w3r, w3i,
                             t);
  } else {
    // swe_radix_any_at's operations with the element loop innermost (so that the lanes are
    // walked contiguously and vectorised), accumulating in the output.
    const int unit = n / p;
    for (int k = 0; k < p; ++k) {
      double* sr = yr + out + k * run;
      double* si = yi + out + k * run;
      SWE_IVDEP
      for (int t = 0; t < run; ++t) {
        sr[t] = xr[in + t];
        si[t] = xi[in + t];
      }
      for (int r = 1; r < p; ++r) {
        const int e = unit * ((r * k) % p);
        const double cr = tw_re[e], ci = tw_im[e];
        SWE_IVDEP
        for (int t = 0; t < run; ++t) {
          const double ar = xr[in + r * in_step + t], ai = xi[in + r * in_step + t];
          sr[t] = sr[t] + (ar * cr - ai * ci);
          si[t] = si[t] + (ar * ci + ai * cr);
        }
      }
      if (k == 0) continue;
      const double wr = tw_re[jk_unit * k], wi = tw_im[jk_unit * k];
      SWE_IVDEP
      for (int t = 0; t < run; ++t)
        swe_store_twiddled<Twiddle>(sr[t], si[t], wr, wi, &sr[t], &si[t]);
    }
  }
}

/// Element idx (0 <= idx < NLON/p) of one pass of a single transform (L = 1): j = idx / s,
/// t = idx % s. What one CUDA thread does; swe_fft_pass<1> does the same operations for
/// every idx.
SWE_HD_INLINE void swe_fft_pass_element(int n, int len, int s, int p, const double* tw_re,
                                        const double* tw_im, const double* xr, const double* xi,
                                        double* yr, double* yi, int idx) {
  const int m = len / p;
  const int j = idx / s, t = idx % s;
  const int in = s * j, out = s * p * j, in_step = s * m, jk = s * j;
  if (p == 2) {
    if (j == 0)
      swe_radix2_at<false>(xr, xi, yr, yi, in, in_step, out, s, 0.0, 0.0, t);
    else
      swe_radix2_at<true>(xr, xi, yr, yi, in, in_step, out, s, tw_re[jk], tw_im[jk], t);
  } else if (p == 4) {
    if (j == 0)
      swe_radix4_at<false>(xr, xi, yr, yi, in, in_step, out, s, 0, 0, 0, 0, 0, 0, t);
    else
      swe_radix4_at<true>(xr, xi, yr, yi, in, in_step, out, s, tw_re[jk], tw_im[jk], tw_re[2 * jk],
                          tw_im[2 * jk], tw_re[3 * jk], tw_im[3 * jk], t);
  } else if (j == 0) {
    swe_radix_any_at<false>(n, p, tw_re, tw_im, xr, xi, yr, yi, in, in_step, out, s, jk, t);
  } else {
    swe_radix_any_at<true>(n, p, tw_re, tw_im, xr, xi, yr, yi, in, in_step, out, s, jk, t);
  }
}

/// One radix-p pass of a Stockham autosort FFT (decimation in frequency) of length n on
/// sub-sequences of length `len` = n/s: for j < m = len/p, q < s,
///   y[q + s(pj + k)] = W_len^{jk} · Σ_r x[q + s(j + rm)] · W_p^{rk}.
/// tw_re/tw_im[e] = cos(2πe/n), -sin(2πe/n); W_len^{jk} = tw[s·j·k] (s·j·k < n). For one j,
/// the s values of q and the L lanes are one contiguous run of s·L elements.
template <int L>
SWE_HD_INLINE void swe_fft_pass(int n, int len, int s, int p, const double* tw_re,
                                const double* tw_im, const double* xr, const double* xi, double* yr,
                                double* yi) {
  const int m = len / p;
  const int run = s * L;          // elements (q, lane) per j
  const int in_step = s * m * L;  // distance between the inputs of one butterfly
  swe_fft_butterflies<false>(n, p, run, 0, in_step, 0, 0, tw_re, tw_im, xr, xi, yr, yi);
  for (int j = 1; j < m; ++j)
    swe_fft_butterflies<true>(n, p, run, s * j * L, in_step, s * p * j * L, s * j, tw_re, tw_im, xr,
                              xi, yr, yi);
}

/// After a radix-p pass: its output is the next pass's input, on sub-sequences p times shorter.
SWE_HD_INLINE void swe_fft_next_pass(int p, int& len, int& s, double*& sr, double*& si, double*& dr,
                                     double*& di) {
  double* t = sr;
  sr = dr;
  dr = t;
  t = si;
  si = di;
  di = t;
  len /= p;
  s *= p;
}

/// Forward FFT (X_k = Σ x_e e^{-2πi ek/n}, n = NLON) of L lanes held in xr/xi; w*: scratch
/// of the same size. The result is left in xr/xi.
template <int L>
SWE_HD_INLINE void swe_fft(const SweView& g, double* xr, double* xi, double* wr, double* wi) {
  const int n = g.nlon;
  int len = n, s = 1;
  double *sr = xr, *si = xi, *dr = wr, *di = wi;
  for (int pass = 0; pass < g.fft_passes; ++pass) {
    const int p = g.fft_radix[pass];
    swe_fft_pass<L>(n, len, s, p, g.fft_tw_re, g.fft_tw_im, sr, si, dr, di);
    swe_fft_next_pass(p, len, s, sr, si, dr, di);
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
SWE_HD_INLINE void swe_filter_lanes(const SweView& g, const int* lane_pair, double* xr, double* xi,
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

/// swe_filter_lanes<1> shared out among `nthreads` threads (thread `tid`) that meet at
/// `barrier()` between the steps: each element is computed by exactly the operations
/// swe_filter_lanes<1> uses for it, whatever thread computes it. The CUDA kernel runs it with
/// a thread block and __syncthreads(); with one thread and no barrier it is a plain loop
/// (which the tests compare with swe_filter_lanes<1>, bit for bit).
template <class Barrier>
SWE_HD_INLINE void swe_filter_cooperative(const SweView& g, int pair, double* xr, double* xi,
                                          double* wr, double* wi, int tid, int nthreads,
                                          Barrier barrier) {
  const int n = g.nlon;
  for (int transform = 0; transform < 2; ++transform) {
    int len = n, s = 1;
    double *sr = xr, *si = xi, *dr = wr, *di = wi;
    for (int pass = 0; pass < g.fft_passes; ++pass) {
      const int p = g.fft_radix[pass];
      for (int idx = tid; idx < n / p; idx += nthreads)
        swe_fft_pass_element(n, len, s, p, g.fft_tw_re, g.fft_tw_im, sr, si, dr, di, idx);
      barrier();
      swe_fft_next_pass(p, len, s, sr, si, dr, di);
    }
    for (int e = tid; e < n; e += nthreads) {
      const double vr = sr[e], vi = si[e];
      if (transform == 0) {
        const double scale = g.filter_response[pair * n + e];
        xr[e] = vr * scale;
        xi[e] = vi * -scale;  // scaled and conjugated
      } else {
        xr[e] = vr;
        xi[e] = -vi;
      }
    }
    barrier();
  }
}

}  // namespace stormrun::model
// NOLINTEND(bugprone-implicit-widening-of-multiplication-result)
