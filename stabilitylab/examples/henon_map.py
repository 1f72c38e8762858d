"""Example family: Hénon."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..field import Field
from ._base import ExampleForce, _meta, _check_dtype


HENON_LYAPUNOV_LITERATURE = 0.41922  # largest Lyapunov exponent of the Hénon map at a=1.4, b=0.3


class HenonForce(ExampleForce):
    """``F(x, y) = (1 − a x² + y − x, b x − y)``."""

    def __call__(self, z, *, a, b):
        x, y = z[..., 0:1], z[..., 1:2]
        return torch.cat([1.0 - a * x * x + y - x, b * x - y], dim=-1)


def henon(a: float = 1.4, b: float = 0.3, dtype=torch.float64) -> Field:
    r"""2-D field ``F(x, y) = (1 − a x² + y − x, b x − y)``: its ε = 1 Euler map is the Hénon map
    ``(x, y) ↦ (1 − a x² + y, b x)``.

    Knobs ``a``, ``b``. Fixed points (shared by F and the map): :func:`henon_fixed_points`.
    At the classical ``a = 1.4, b = 0.3`` the map is chaotic with largest Lyapunov exponent
    ≈ 0.41922 (:func:`henon_lyapunov`; the two exponents sum to ``ln b``). ``z0 = (0.1, 0.1)`` lies in
    the basin of the attractor.
    """
    _check_dtype(dtype)
    return Field(
        HenonForce(), torch.full((2,), 0.1, dtype=dtype), {"a": a, "b": b}, "henon",
        _meta("henon", "Henon: F(x, y) = (1 - a x^2 + y - x, b x - y); the eps = 1 Euler map is the Henon map",
              dict(a=float(a), b=float(b))),
    )


def henon_fixed_points(a: float = 1.4, b: float = 0.3) -> np.ndarray:
    """Fixed points ``(x, b x)`` with ``a x² + (1 − b) x − 1 = 0``; array of shape (k, 2), k ≤ 2."""
    a, b = float(a), float(b)
    if a == 0:
        xs = np.array([1.0 / (1.0 - b)]) if b != 1 else np.zeros(0)
    else:
        disc = (1.0 - b) ** 2 + 4.0 * a
        if disc < 0:
            return np.zeros((0, 2))
        xs = np.array([(-(1.0 - b) + s * math.sqrt(disc)) / (2.0 * a) for s in (1.0, -1.0)])
    return np.stack([xs, b * xs], axis=1)


def henon_lyapunov(a: float = 1.4, b: float = 0.3, steps: int = 20000, orbits: int = 32,
                   burn: int = 1000, seed: int = 0) -> float:
    """Largest Lyapunov exponent of the Hénon map (the ε = 1 map of :func:`henon`).

    The literature value 0.41922 at ``(1.4, 0.3)``; otherwise a float64 tangent-vector estimate
    over ``orbits × steps`` iterates (raises if orbits escape to infinity).
    """
    a, b = float(a), float(b)
    if (a, b) == (1.4, 0.3):
        return HENON_LYAPUNOV_LITERATURE
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.01, 0.01, int(orbits))
    y = rng.uniform(-0.01, 0.01, int(orbits))
    u, v = np.ones_like(x), np.zeros_like(x)
    acc = np.zeros_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(int(burn) + int(steps)):
            u, v = -2.0 * a * x * u + v, b * u
            x, y = 1.0 - a * x * x + y, b * x
            nrm = np.hypot(u, v)
            if k >= burn:
                acc += np.log(nrm)
            u, v = u / nrm, v / nrm
    if not np.all(np.isfinite(acc)):
        raise ValueError(f"Hénon orbits escape to infinity at a={a}, b={b}")
    return float(acc.mean() / steps)
