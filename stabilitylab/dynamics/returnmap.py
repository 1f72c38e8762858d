r"""Return-map check: does the state come back to itself after one period?

For a period P = j + f (j integer, 0 ≤ f < 1) the state "one period later" is interpolated in time
from the four iterates z_{j−1}, z_j, z_{j+1}, z_{j+2} of the map by cubic Lagrange interpolation,

    z(P) ≈ Σ_{i=−1..2} ℓ_i(f) z_{j+i},

and the return error is ‖z(P) − z_0‖ / (ℓ_P/2π), with ℓ_P the length of the path travelled in one
period (Σ‖z_{t+1} − z_t‖), so ℓ_P/2π is the radius of a circular orbit. On an invariant circle
rotating by θ per step the samples lie on a smooth closed curve, so the interpolation error is
O(θ⁴) relative — an irrational rotation (non-integer P) passes like an integer one. A converging
spiral fails: it comes back short by a fraction 1 − ρ^P of its *current* size, whatever its size
was earlier in the tail. Periods within ``integer_tol`` of an integer use z_P exactly (a periodic
orbit of the map). Memory is O(E n): weighted iterates are accumulated while stepping.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .batch import BatchForce


def lagrange_weights(f: float) -> np.ndarray:
    """Weights ℓ_{−1..2}(f) of cubic interpolation at nodes −1, 0, 1, 2."""
    return np.array([-f * (f - 1) * (f - 2) / 6, (f + 1) * (f - 1) * (f - 2) / 2,
                     -(f + 1) * f * (f - 2) / 2, (f + 1) * f * (f - 1) / 6])


def split_period(period: float, integer_tol: float = 1e-3) -> tuple[int, float]:
    """(j, f) with P = j + f, f snapped to 0 within ``integer_tol`` of an integer."""
    j = int(round(period))
    if abs(period - j) <= integer_tol:
        return j, 0.0
    j = math.floor(period)
    return j, period - j


@torch.no_grad()
def return_errors(force: BatchForce, z: torch.Tensor, eps, periods, integer_tol: float = 1e-3) -> np.ndarray:
    """‖z(P_e) − z_e‖ / (ℓ_P/2π) for every row e of ``z`` (E, n); NaN where there is no period."""
    E = z.shape[0]
    splits = [split_period(p, integer_tol) if math.isfinite(p) and p >= 1 else None for p in periods]
    if not any(splits):
        return np.full(E, math.nan)
    last = max(j + 2 for j, _ in filter(None, splits))
    W = np.zeros((last + 1, E))   # interpolation weight of iterate t
    S = np.zeros((last, E))       # weight of the segment z_t -> z_{t+1} in the path length
    for e, s in enumerate(splits):
        if s is not None:
            j, f = s
            W[j - 1: j + 3, e] = lagrange_weights(f)
            S[:j, e] = 1.0
            S[j, e] = f
    W, S = (torch.as_tensor(a, dtype=z.dtype, device=z.device) for a in (W, S))
    h = torch.as_tensor(np.broadcast_to(np.asarray(eps, dtype=np.float64), (E,)).copy(),
                        dtype=z.dtype, device=z.device)[:, None]
    x, acc, path = z.clone(), torch.zeros_like(z), torch.zeros(E, dtype=z.dtype, device=z.device)
    for t in range(last + 1):
        acc += W[t][:, None] * x
        if t < last:
            step = h * force(x)
            path += S[t] * step.norm(dim=1)
            x = x + step
    err = ((acc - z).norm(dim=1) * (2 * math.pi) / path).cpu().numpy()
    return np.where([s is not None for s in splits], err, math.nan)
