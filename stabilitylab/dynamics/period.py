r"""The period of a sampled oscillation, exact to well below one step at any period length.

Signals x(k) ∈ R^m (a few random projections of the state over the tail, k = 0..L−1).

1. *Coarse* (the cross-check): the summed, unbiased autocorrelation of the mean-removed signals

       R(τ) = Σ_j Σ_k x_j(k) x_j(k+τ) / (L − τ),      normalised to R(0) = 1,

   peaks at multiples of the period; the first peak is the first local maximum after the first
   local minimum with R ≥ ``min_corr`` (lags ≤ L/2), placed between samples by the vertex of the
   parabola through the three nearest lags. It can lock onto a sub-harmonic (a period-4 orbit of
   a map whose lag-2 correlation is high) and is only as good as a parabola through three lags.
2. *Poincaré section* (the estimate): the signal s(k) = ⟨w, x(k) − x̄⟩ along the principal
   direction w of the tail crosses its mean upwards at times t_i = k_i + f_i, f_i the root in
   [0, 1) of the cubic Lagrange interpolant through s(k_i − 1..k_i + 2) (crossings at the ends of
   the tail, without the four samples, are dropped).
   A closed orbit crosses q times per period, so t_{i+q} − t_i = P for every i; q is the smallest
   count for which these differences agree (spread ≤ ``rtol``·P + ``atol`` steps), which also
   resolves a period-p orbit of a map that the autocorrelation sees as a sub-harmonic. P is the
   common slope of the q interleaved sequences t_{r+jq} = t_r + jP (least squares, one intercept
   per sequence), with its standard error as the uncertainty. The interpolation error of a crossing
   is O(h⁴) in the phase advanced per step, and does not accumulate: P is exact to ~σ_t/(number
   of periods), ≪ 1 step even for periods of thousands of steps (small ε).
3. *Fallback* (no consistent crossings: torus, chaos, too short a tail): P minimises the mean
   return mismatch

       e(P) = mean_k ‖x(k + P) − x(k)‖²        (x(k + P) by cubic Lagrange interpolation in time)

   over the integers within ±10 % of the coarse estimate, then by bounded Brent within ±1 step.

A tail must hold at least two periods for the section estimate (three for an uncertainty).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from .returnmap import lagrange_weights


@dataclass
class Period:
    """A measured period in samples (NaN when none), its standard error, how it was obtained."""

    value: float
    uncertainty: float
    coarse: float          # the autocorrelation estimate
    method: str            # 'section', 'mismatch' or 'none'
    crossings_per_period: int = 0
    periods_seen: int = 0
    crossings: int = 0     # upward section crossings in the tail (fewer than 3: too short a tail to tell)


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised unbiased autocorrelation R(τ), τ = 0..L−1, of the columns of ``x`` (L, m) summed."""
    x = _columns(x)
    x = x - x.mean(axis=0)
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


def section_crossings(s: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Sub-step times at which ``s`` crosses ``level`` upwards (cubic interpolation, step 2)."""
    k = np.flatnonzero((s[:-1] < level) & (s[1:] >= level))
    k = k[(k >= 1) & (k + 2 < len(s))]
    nodes = np.stack([s[k - 1], s[k], s[k + 1], s[k + 2]], axis=1) - level
    f = nodes[:, 1] / (nodes[:, 1] - nodes[:, 2])            # linear root, then Newton on the cubic
    for _ in range(8):
        val = (np.stack(lagrange_weights(f), axis=1) * nodes).sum(1)
        slope = (np.stack(_lagrange_slopes(f), axis=1) * nodes).sum(1)
        f = np.clip(f - val / np.where(slope > 0, slope, np.inf), 0.0, 1.0)
    return k + f


def _lagrange_slopes(f):
    """d/df of :func:`~.returnmap.lagrange_weights` (nodes −1, 0, 1, 2)."""
    return [-(3 * f * f - 6 * f + 2) / 6, (3 * f * f - 4 * f - 1) / 2,
            -(3 * f * f - 2 * f - 2) / 2, (3 * f * f - 1) / 6]


def section_period(x: np.ndarray, rtol: float = 1e-3, atol: float = 0.05,
                   max_q: int = 16) -> tuple[float, float, int, int, int]:
    """(P, standard error, q, periods seen, crossings) from Poincaré-section crossings (step 2), NaN
    if none fits."""
    x = _columns(x)
    c = x - x.mean(axis=0)
    w = np.linalg.svd(c, full_matrices=False)[2][0]
    t = section_crossings(c @ w)
    for q in range(1, min(max_q, len(t) - 2) + 1):
        d = t[q:] - t[:-q]
        P = float(np.median(d))
        if np.ptp(d) > rtol * P + atol:
            continue
        j = np.arange(len(t)) // q
        r = np.arange(len(t)) % q
        jc = j - np.array([j[r == i].mean() for i in range(q)])[r]
        tc = t - np.array([t[r == i].mean() for i in range(q)])[r]
        P = float((jc @ tc) / (jc @ jc))
        dof = len(t) - q - 1
        err = math.sqrt(float(((tc - P * jc) ** 2).sum()) / dof / float(jc @ jc)) if dof > 0 else math.nan
        return P, err, q, int(j.max()), len(t)
    return math.nan, math.nan, 0, 0, len(t)


def return_mismatch(x: np.ndarray, period: float) -> float:
    """e(P) = mean_k ‖x(k + P) − x(k)‖² with cubic interpolation in time."""
    x = _columns(x)
    j = math.floor(period)
    count = len(x) - j - 2
    w = lagrange_weights(period - j)
    ahead = sum(w[i] * x[j - 1 + i: j - 1 + i + count] for i in range(4))
    return float(np.mean(np.sum((ahead - x[:count]) ** 2, axis=1)))


def mismatch_period(x: np.ndarray, p0: float) -> float:
    """The minimiser of e(P) near ``p0`` (step 3): integer scan over ±10 %, then Brent within ±1."""
    hi_all = (len(x) - 3) / 2
    lags = np.arange(max(1, math.floor(0.9 * p0)), min(math.ceil(1.1 * p0), math.floor(hi_all)) + 1)
    if not len(lags):
        return p0
    best = float(lags[np.argmin([return_mismatch(x, p) for p in lags])])
    lo, hi = max(1.0, best - 1.0), min(best + 1.0, hi_all)
    if hi <= lo:
        return best
    fit = minimize_scalar(lambda p: return_mismatch(x, p), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7})
    return float(fit.x)


def measure_period(x: np.ndarray, min_corr: float = 0.5) -> Period:
    """Period (in samples) of the signals ``x`` (L,) or (L, m) with its uncertainty (module docstring)."""
    x = _columns(x)
    p0 = float(coarse_period(x, min_corr))
    moving = np.ptp(x, axis=0).max(initial=0.0) > 0
    P, err, q, seen, count = section_period(x) if moving else (math.nan, math.nan, 0, 0, 0)
    if math.isfinite(P):
        return Period(P, err, p0, "section", q, seen, count)
    if not math.isfinite(p0):
        return Period(math.nan, math.nan, p0, "none", crossings=count)
    return Period(mismatch_period(x, p0), math.nan, p0, "mismatch", crossings=count)


def estimate_period(x: np.ndarray, min_corr: float = 0.5) -> float:
    """Period (in samples) of the signals ``x`` (L,) or (L, m); NaN when there is none."""
    return measure_period(x, min_corr).value


def _columns(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x
