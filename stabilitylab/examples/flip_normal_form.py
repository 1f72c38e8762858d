"""Example family: flip (period doubling of the Euler map only)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..field import Field
from ._base import EmbeddedForce, _generator, _orthogonal, _spread, _meta, _check_dtype


class FlipForce(EmbeddedForce):
    r"""``ẏ0 = −p y0 − y0³`` (or ``−p tanh y0``), ``ẏk = −rate_k yk``, ``z = Q y``."""

    _consts = ("Q", "rates")

    def __init__(self, saturating: bool = False, **consts):
        super().__init__(**consts)
        self.saturating = bool(saturating)

    def __call__(self, z, *, p):
        c = self._c(z)
        y = z @ c["Q"]
        x, rest = y[..., 0:1], y[..., 1:]
        fx = -p * torch.tanh(x) if self.saturating else -p * x - x * x * x
        fy = torch.cat([fx, -c["rates"] * rest], dim=-1)
        return fy @ c["Q"].T


def flip(n: int = 8, p: float = 1.0, decay: Sequence[float] = (0.1, 0.5), mix: bool = True,
         seed: int = 0, saturating: bool = False, dtype=torch.float64) -> Field:
    r"""A stiff real mode whose Euler map period-doubles while ``J`` stays stable.

    .. math::  \dot y_0 = -p\,y_0 - y_0^3 \quad(\texttt{saturating=True}:\ \dot y_0 = -p\tanh y_0),
               \qquad \dot y_k = -\mathrm{rate}_k y_k\ (k\ge1),\qquad z = Q y,

    rates ``linspace(decay[0], decay[1], n−1)`` (mildly stable), ``Q`` seeded random orthogonal.
    Knob ``p``. Fixed point 0 with eigenvalues ``−p`` and ``−rates``; ``J`` is symmetric and
    negative definite everywhere (``−p − 3y0²`` resp. ``−p·sech² y0``), so no eigenvalue of ``J``
    ever has ``Re λ > 0``. The Euler map multiplier ``1 − εp`` of the stiff mode crosses ``−1`` at
    ``p = 2/ε`` (:func:`flip_point`) — a flip that a rightmost-J search never sees.
    The cubic form (default) is a *subcritical* flip: the unstable 2-cycle
    ``±√((2 − εp)/ε)`` exists for ``p < 2/ε`` and shrinks onto 0; past the flip orbits escape.
    ``saturating=True`` gives a *supercritical* flip: a stable 2-cycle ``±x*``,
    ``tanh(x*)/x* = 2/(εp)``, is born for ``p > 2/ε`` (:func:`flip_cycle`).
    ``z0`` is 0.1 in every ``y`` coordinate.
    """
    _check_dtype(dtype)
    n = int(n)
    if n < 1:
        raise ValueError(f"flip needs n >= 1, got {n}")
    gen = _generator(seed)
    Q = _orthogonal(n, gen) if mix else torch.eye(n, dtype=torch.float64)
    rates = _spread(decay[0], decay[1], n - 1)
    force = FlipForce(saturating=saturating, Q=Q.numpy(), rates=rates)
    z0 = force.to_z(torch.full((n,), 0.1, dtype=torch.float64))
    form = "-p tanh(y0)" if saturating else "-p y0 - y0^3"
    desc = (f"flip: stiff mode y0' = {form} (Euler-map flip at p = 2/eps, J always stable) on 1 of "
            f"{n} coordinates, the rest decaying at rates in [{decay[0]}, {decay[1]}]"
            + (", mixed by a random orthogonal Q" if mix else ""))
    args = dict(n=n, p=float(p), decay=tuple(float(d) for d in decay), mix=bool(mix), seed=int(seed),
                saturating=bool(saturating))
    return Field(force, z0.to(dtype), {"p": p}, "flip", _meta("flip", desc, args))


def flip_point(eps: float = 0.1) -> dict:
    """The flip of the Euler map of :func:`flip` at step ``eps``.

    Returns ``{"p": 2/ε, "eigenvalue": −2/ε (of J, real), "multiplier": −1.0, "eps": ε,
    "kind": "flip"}``. Valid while the mild modes stay stable (``ε·max(rates) < 2``).
    """
    eps = float(eps)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    return {"p": 2.0 / eps, "eigenvalue": -2.0 / eps, "multiplier": -1.0, "eps": eps, "kind": "flip"}


def flip_cycle(p: float, eps: float = 0.1, saturating: bool = False) -> dict:
    r"""The period-2 orbit ``y0 = ±x*`` of the Euler map ``x ↦ x + εf(x)`` of the stiff mode.

    Cubic (``f = −px − x³``): ``x* = √((2 − εp)/ε)``, exists for ``p < 2/ε``; its two-step
    multiplier is ``f₂ = (1 − εp − 3εx*²)² = (2εp − 5)² > 1`` (unstable: subcritical flip).
    Saturating (``f = −p tanh x``): ``x*`` solves ``tanh(x*)/x* = 2/(εp)``, exists for
    ``p > 2/ε``; multiplier ``(1 − εp·sech²x*)² = (1 − 4x*/sinh(2x*))² < 1`` (stable).
    Returns ``{"amplitude": x*, "multiplier": two-step multiplier, "stable": bool}``.
    """
    p, eps = float(p), float(eps)
    ep = eps * p
    if not saturating:
        if ep >= 2:
            raise ValueError(f"the cubic flip field has a 2-cycle only for eps*p < 2, got {ep}")
        x = math.sqrt((2.0 - ep) / eps)
        m = (1.0 - ep - 3.0 * eps * x * x) ** 2
    else:
        if ep <= 2:
            raise ValueError(f"the saturating flip field has a 2-cycle only for eps*p > 2, got {ep}")
        from scipy.optimize import brentq

        target = 2.0 / ep
        hi = 1.0
        while math.tanh(hi) / hi > target:
            hi *= 2.0
        x = brentq(lambda t: math.tanh(t) - target * t, 1e-12, hi,
                   xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
        m = (1.0 - ep / math.cosh(x) ** 2) ** 2
    return {"amplitude": x, "multiplier": m, "stable": bool(m < 1.0)}
