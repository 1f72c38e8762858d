r"""The period of a sampled oscillation, to sub-step precision.

Signals x(k) ∈ R^m (a few random projections of the state over the tail, k = 0..L−1).

1. *Coarse*: the summed, unbiased autocorrelation of the mean-removed signals

       R(τ) = Σ_j Σ_k x_j(k) x_j(k+τ) / (L − τ),      normalised to R(0) = 1,

   peaks at multiples of the period; the first peak is the first local maximum after the first
   local minimum with R ≥ ``min_corr`` (lags ≤ L/2), placed between samples by the vertex of the
   parabola through the three nearest lags.
2. *Fit*: P minimises the mean return mismatch

       e(P) = mean_k ‖x(k + P) − x(k)‖²

   over [P₀ − 1, P₀ + 1] (bounded Brent), with x(k + P) for non-integer P interpolated in time by
   cubic Lagrange weights (:func:`~.returnmap.lagrange_weights`). This is the quantity the return
   check tests, and it is exact for any closed orbit sampled at a non-integer period: an invariant
   circle rotating by θ per step has P = 2π/θ.

Periods below ~3 steps alias (a rotation by almost π per step looks like a 2-cycle with a slow beat).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from .returnmap import lagrange_weights


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised unbiased autocorrelation R(τ), τ = 0..L−1, of the columns of ``x`` (L, m) summed."""
    x = np.asarray(x, dtype=np.float64)
    x = (x[:, None] if x.ndim == 1 else x) - x.mean(axis=0)
    L = len(x)
    nfft = 1 << (2 * L - 1).bit_length()
    spec = np.fft.rfft(x, nfft, axis=0)
    acf = np.fft.irfft((spec * spec.conj()).real.sum(axis=1), nfft)[:L] / (L - np.arange(L))
    return acf / acf[0] if acf[0] > 0 else np.full(L, math.nan)


def coarse_period(x: np.ndarray, min_corr: float = 0.5) -> float:
    """First autocorrelation peak ≥ ``min_corr`` (step 1 of the module docstring), or NaN."""
    r = autocorrelation(x)
    if not np.isfinite(r[0]):
        return math.nan
    r = r[: len(r) // 2 + 2]
    d = np.diff(r)
    minima = np.flatnonzero((d[:-1] < 0) & (d[1:] >= 0)) + 1
    if not len(minima):
        return math.nan
    t = next((t for t in range(minima[0] + 1, len(r) - 1)
              if r[t] >= r[t - 1] and r[t] > r[t + 1] and r[t] >= min_corr), None)
    if t is None:
        return math.nan
    den = r[t - 1] - 2 * r[t] + r[t + 1]
    return t + (0.5 * (r[t - 1] - r[t + 1]) / den if den < 0 else 0.0)


def return_mismatch(x: np.ndarray, period: float) -> float:
    """e(P) = mean_k ‖x(k + P) − x(k)‖² with cubic interpolation in time."""
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    j = math.floor(period)
    count = len(x) - j - 2
    w = lagrange_weights(period - j)
    ahead = sum(w[i] * x[j - 1 + i: j - 1 + i + count] for i in range(4))
    return float(np.mean(np.sum((ahead - x[:count]) ** 2, axis=1)))


def estimate_period(x: np.ndarray, min_corr: float = 0.5) -> float:
    """Period (in samples) of the signals ``x`` (L,) or (L, m); NaN when there is none."""
    p0 = coarse_period(x, min_corr)
    if not math.isfinite(p0):
        return math.nan
    lo, hi = max(1.0, p0 - 1.0), min(p0 + 1.0, (len(x) - 3) / 2)
    if hi <= lo:
        return p0
    fit = minimize_scalar(lambda p: return_mismatch(x, p), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7})
    return float(fit.x)
