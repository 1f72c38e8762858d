"""Example family: fold."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..field import Field
from ._base import EmbeddedForce, _generator, _orthogonal, _spread, _meta, _check_dtype


class FoldForce(EmbeddedForce):
    r"""``ẏ0 = p + y0 − y0³/3``, ``ẏk = −rate_k yk``, ``z = Q y``."""

    _consts = ("Q", "rates")

    def __call__(self, z, *, p):
        c = self._c(z)
        y = z @ c["Q"]
        x, rest = y[..., 0:1], y[..., 1:]
        fx = p + x - x * x * x / 3.0
        fy = torch.cat([fx, -c["rates"] * rest], dim=-1)
        return fy @ c["Q"].T


def fold_equilibria(p: float = -1.0) -> np.ndarray:
    """The real roots ``x`` of ``p + x − x³/3 = 0`` (sorted ascending; 1 or 3 of them, 2 at a fold).

    The fixed point of :func:`fold` is ``z = field.force.to_z([x, 0, …])`` and its ``y0``
    eigenvalue is ``1 − x²`` (stable outer branches ``|x| > 1``, unstable middle branch).
    """
    # x**3 - 3x - 3p = 0 in closed (trigonometric / hyperbolic) form: exact at the double roots
    p = float(p)
    if abs(p) <= 2.0 / 3.0:
        phi = math.acos(min(1.0, max(-1.0, 1.5 * p))) / 3.0
        xs = sorted(2.0 * math.cos(phi - 2.0 * math.pi * k / 3.0) for k in range(3))
        out = [xs[0]]
        for x in xs[1:]:
            if abs(x - out[-1]) > 1e-12:
                out.append(x)
        return np.array(out)
    return np.array([math.copysign(2.0 * math.cosh(math.acosh(1.5 * abs(p)) / 3.0), p)])


def fold(n: int = 8, p: float = -1.0, decay: Sequence[float] = (0.5, 2.0), mix: bool = True,
         seed: int = 0, dtype=torch.float64) -> Field:
    r"""An S-shaped equilibrium branch with two folds (turning points).

    .. math::  \dot y_0 = p + y_0 - y_0^3/3,\qquad \dot y_k = -\mathrm{rate}_k y_k\ (k\ge1),
               \qquad z = Q y,

    rates ``linspace(decay[0], decay[1], n−1)``, ``Q`` seeded random orthogonal (identity if
    ``mix=False``). Knob ``p``. Equilibria ``y = (x, 0, …)`` on the branch ``p = x³/3 − x``;
    the ``y0`` eigenvalue is ``1 − x²``. Folds (a real eigenvalue through 0, a map multiplier
    through +1) at ``x = 1, p = −2/3`` and ``x = −1, p = 2/3`` (:func:`fold_points`); bistable for
    ``|p| < 2/3``. Default ``p = −1``: one stable equilibrium, on the lower branch
    (``x ≈ −2.1038``); continuation in increasing ``p`` meets the fold at ``p = 2/3``, turns back
    along the unstable middle branch to the fold at ``p = −2/3``, and continues on the upper
    branch. ``z0`` is that lower-branch equilibrium (if it exists, else the upper one) offset by
    0.1 in every stable coordinate.
    """
    _check_dtype(dtype)
    n = int(n)
    if n < 1:
        raise ValueError(f"fold needs n >= 1, got {n}")
    gen = _generator(seed)
    Q = _orthogonal(n, gen) if mix else torch.eye(n, dtype=torch.float64)
    rates = _spread(decay[0], decay[1], n - 1)
    force = FoldForce(Q=Q.numpy(), rates=rates)
    x0 = fold_equilibria(p)[0]
    y0 = torch.full((n,), 0.1, dtype=torch.float64)
    y0[0] = float(x0)
    z0 = force.to_z(y0)
    desc = (f"fold: y0' = p + y0 - y0^3/3 (S-shaped branch, folds at p = -+2/3) on 1 of {n} "
            f"coordinates, the rest decaying at rates in [{decay[0]}, {decay[1]}]"
            + (", mixed by a random orthogonal Q" if mix else ""))
    args = dict(n=n, p=float(p), decay=tuple(float(d) for d in decay), mix=bool(mix), seed=int(seed))
    return Field(force, z0.to(dtype), {"p": p}, "fold", _meta("fold", desc, args))


def fold_points() -> dict:
    """The two folds of :func:`fold`.

    Returns ``{"folds": [{"x": 1.0, "p": −2/3, "eigenvalue": 0.0, "multiplier": 1.0},
    {"x": −1.0, "p": 2/3, ...}], "branch": "p = x**3/3 - x", "bistable": (−2/3, 2/3),
    "kind": "fold"}`` (``eigenvalue`` of J along ``y0``; ``multiplier`` of the Euler map, any ε).
    """
    return {
        "folds": [
            {"x": 1.0, "p": -2.0 / 3.0, "eigenvalue": 0.0, "multiplier": 1.0},
            {"x": -1.0, "p": 2.0 / 3.0, "eigenvalue": 0.0, "multiplier": 1.0},
        ],
        "branch": "p = x**3/3 - x",
        "bistable": (-2.0 / 3.0, 2.0 / 3.0),
        "kind": "fold",
    }
