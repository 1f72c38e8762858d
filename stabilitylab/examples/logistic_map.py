"""Example family: logistic."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..field import Field
from ._base import ExampleForce, _meta, _check_dtype


class LogisticForce(ExampleForce):
    """``F(x) = r x (1 − x) − x`` (elementwise)."""

    def __call__(self, z, *, r):
        return r * z * (1.0 - z) - z


def logistic(r: float = 4.0, x0: float = 0.3, dtype=torch.float64) -> Field:
    r"""1-D field ``F(x) = r x (1 − x) − x`` whose ε = 1 Euler map is the logistic map ``r x(1 − x)``.

    Knob ``r``. Fixed points ``0`` and ``1 − 1/r`` (J = ``r − 1`` resp. ``1 − r``). At ε = 1,
    ``r = 4`` the map is chaotic on [0, 1] with Lyapunov exponent exactly ``ln 2``
    (:func:`logistic_lyapunov`); at small ε the relaxation converges to ``1 − 1/r``. State shape (1,).
    """
    _check_dtype(dtype)
    return Field(
        LogisticForce(), torch.tensor([float(x0)], dtype=dtype), {"r": r}, "logistic",
        _meta("logistic", "logistic: F(x) = r x (1 - x) - x; the eps = 1 Euler map is the logistic map",
              dict(r=float(r), x0=float(x0))),
    )


def logistic_lyapunov(r: float = 4.0, steps: int = 20000, orbits: int = 64, burn: int = 1000,
                      seed: int = 0) -> float:
    """Lyapunov exponent of the logistic map ``x ↦ r x (1 − x)`` (the ε = 1 map of :func:`logistic`).

    Exactly ``ln 2`` at ``r = 4``; otherwise the float64 average of ``ln|r(1 − 2x)|`` over
    ``orbits × steps`` iterates after ``burn`` (``0 < r ≤ 4``; accuracy ~1e-3 for chaotic r,
    −inf-like large negative values at superstable parameters).
    """
    r = float(r)
    if r == 4.0:
        return math.log(2.0)
    if not 0.0 < r <= 4.0:
        raise ValueError(f"the logistic map stays in [0, 1] only for 0 < r <= 4, got {r}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.95, size=int(orbits))
    for _ in range(int(burn)):
        x = r * x * (1.0 - x)
    acc = np.zeros_like(x)
    for _ in range(int(steps)):
        acc += np.log(np.maximum(np.abs(r * (1.0 - 2.0 * x)), 1e-300))
        x = r * x * (1.0 - x)
    return float(acc.mean() / steps)
