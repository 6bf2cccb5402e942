#!/usr/bin/python3
"""Growth rates of the shallow-water scheme linearised about rest (docs/model.md, "The pole").

About h = H, u = v = 0 with f = 2Ω sinφ, the scheme of src/model/swe_ops.hpp separates by
zonal wavenumber k into a 3·NLAT system in latitude (the polar filter scales a row's three
tendencies alike). Prints the largest real part of its eigenvalues, per day, for k = 0..3
and three forms of the meridional gradient of h in the v equation:
  centred      (h_{j+1} - h_{j-1})/(2aΔφ), across-pole neighbour = (-1)^k h_j (dynamics 2)
  one-sided    the same, one-sided (h_j - h_{j-1})/(aΔφ) on the two pole rows only
  consistent   ((h_{j+1}-h_j) cosφ_{j+½} + (h_j-h_{j-1}) cosφ_{j-½}) aΔλ/(2A_j) (dynamics 3)
Not a test (numpy; seconds): /usr/bin/python3 tests/model/pole_linear_analysis.py
"""
import numpy as np

A, OMEGA, G, H = 6.37122e6, 7.292e-5, 9.80616, 1e4


def operator(nlat, k, gradient, cut_deg=60.0):
    nlon = 2 * nlat
    dlam, dphi = 2 * np.pi / nlon, np.pi / nlat
    phi = -np.pi / 2 + (np.arange(nlat) + 0.5) * dphi
    cf = np.cos(-np.pi / 2 + np.arange(nlat + 1) * dphi)
    cf[0] = cf[-1] = 0.0
    c = np.cos(phi)
    area = A * A * dlam * np.diff(np.sin(-np.pi / 2 + np.arange(nlat + 1) * dphi))
    ew, ns = A * dphi / area, A * dlam / area
    f = 2 * OMEGA * np.sin(phi)
    angle = 2 * np.pi * min(k, nlon - k) / nlon
    s = np.sin(angle) if angle < np.pi / 2 else 1.0
    cos_cut = np.cos(np.radians(cut_deg))
    resp = np.array([min(1.0, c[j] / (cos_cut * s)) if abs(phi[j]) > np.radians(cut_deg) and s > 0
                     else 1.0 for j in range(nlat)])
    dz = 2j * np.sin(k * dlam)  # e - w difference of exp(ikλ)
    n = nlat
    L = np.zeros((3 * n, 3 * n), complex)
    for j in range(n):
        L[j, n + j] -= H * 0.5 * dz * ew[j]  # continuity, zonal
        if j + 1 < n:
            L[j, 2 * n + j] -= H * 0.5 * cf[j + 1] * ns[j]
            L[j, 2 * n + j + 1] -= H * 0.5 * cf[j + 1] * ns[j]
        if j > 0:
            L[j, 2 * n + j] += H * 0.5 * cf[j] * ns[j]
            L[j, 2 * n + j - 1] += H * 0.5 * cf[j] * ns[j]
        L[n + j, 2 * n + j] += f[j]  # u: f v - g ∂h/(a cosφ ∂λ)
        L[n + j, j] -= G * dz / (2 * A * c[j] * dlam)
        L[2 * n + j, n + j] -= f[j]  # v: -f u - g ∂h/(a ∂φ)
        row = 2 * n + j
        if gradient == "consistent":
            w = G * A * dlam * 0.5 / area[j]
            if j + 1 < n:
                L[row, j + 1] -= w * cf[j + 1]
                L[row, j] += w * cf[j + 1]
            if j > 0:
                L[row, j] -= w * cf[j]
                L[row, j - 1] += w * cf[j]
        elif gradient == "one-sided" and j in (0, n - 1):
            lo, hi = (j, j + 1) if j == 0 else (j - 1, j)
            L[row, hi] -= G / (A * dphi)
            L[row, lo] += G / (A * dphi)
        else:
            w = G / (2 * A * dphi)
            sign = (-1) ** k  # the neighbour across the pole: the row itself at λ+π
            if j + 1 < n:
                L[row, j + 1] -= w
            else:
                L[row, j] -= w * sign
            if j > 0:
                L[row, j - 1] += w
            else:
                L[row, j] += w * sign
    return np.concatenate([resp, resp, resp])[:, None] * L


if __name__ == "__main__":
    for gradient in ("centred", "one-sided", "consistent"):
        for nlat in (32, 64, 128):
            rates = [np.linalg.eigvals(operator(nlat, k, gradient)).real.max() * 86400
                     for k in range(4)]
            print(f"{gradient:10s} {nlat}x{2 * nlat}: " +
                  "  ".join(f"k={k}: {r:9.2e}/day" for k, r in enumerate(rates)))
