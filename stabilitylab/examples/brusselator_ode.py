"""Example family: Brusselator."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..field import Field
from ._base import ExampleForce, _spread, _meta, _check_dtype, _sort_spectrum


class BrusselatorForce(ExampleForce):
    r"""Brusselator on ``(z0, z1)``, linear decay ``-rates`` on ``z[2:]``."""

    _consts = ("rates",)

    def __call__(self, z, *, a, b):
        c = self._c(z)
        x, y, rest = z[..., 0:1], z[..., 1:2], z[..., 2:]
        x2y = x * x * y
        fx = a - (b + 1.0) * x + x2y
        fy = b * x - x2y
        return torch.cat([fx, fy, -c["rates"] * rest], dim=-1)


def _brusselator_rates(n_extra: int) -> np.ndarray:
    return _spread(0.5, 2.0, int(n_extra))


def brusselator(a: float = 1.0, b: float = 1.5, n_extra: int = 0, dtype=torch.float64) -> Field:
    r"""The Brusselator, with ``n_extra`` decaying extra coordinates.

    .. math::  \dot x = a - (b+1)x + x^2 y,\qquad \dot y = b x - x^2 y,\qquad
               \dot z_k = -\mathrm{rate}_k z_k\ (k \ge 2),

    rates ``linspace(0.5, 2.0, n_extra)``. Knobs ``a``, ``b``. Fixed point ``(a, b/a, 0…)`` with
    Jacobian ``[[b−1, a²], [−b, −a²]]`` (trace ``b − 1 − a²``, determinant ``a²``): Hopf at
    ``b = 1 + a²`` with ``λ = ±i·a`` (:func:`brusselator_hopf`), supercritical; the Euler map's
    NS point is ``b = 1 + a² − ε a²`` (:func:`brusselator_ns_point`). The default ``b = 1.5``
    is stable. ``z0`` is the fixed point of the given ``a, b`` offset by 0.1 in every coordinate.
    """
    _check_dtype(dtype)
    rates = _brusselator_rates(n_extra)
    z0 = torch.tensor(brusselator_fixed_point(a, b, n_extra), dtype=torch.float64) + 0.1
    desc = ("Brusselator x' = a - (b+1)x + x^2 y, y' = b x - x^2 y (Hopf at b = 1 + a^2)"
            + (f", plus {int(n_extra)} decaying coordinates" if n_extra else ""))
    return Field(
        BrusselatorForce(rates=rates), z0.to(dtype), {"a": a, "b": b}, "brusselator",
        _meta("brusselator", desc, dict(a=float(a), b=float(b), n_extra=int(n_extra))),
    )


def brusselator_fixed_point(a: float = 1.0, b: float = 1.5, n_extra: int = 0) -> np.ndarray:
    """The unique fixed point ``(a, b/a, 0, …)`` (float64 array of length ``2 + n_extra``)."""
    return np.concatenate([[float(a), float(b) / float(a)], np.zeros(int(n_extra))])


def brusselator_spectrum(a: float = 1.0, b: float = 1.5, n_extra: int = 0) -> np.ndarray:
    """Eigenvalues of J at the fixed point: roots of ``λ² − (b−1−a²)λ + a²`` and ``−rates``
    (complex128, sorted by descending real part)."""
    a, b = float(a), float(b)
    tr, det = b - 1.0 - a * a, a * a
    disc = complex(tr * tr / 4.0 - det)
    sq = disc ** 0.5
    lam = [tr / 2.0 + sq, tr / 2.0 - sq, *(-_brusselator_rates(n_extra))]
    return _sort_spectrum(lam)


def brusselator_hopf(a: float = 1.0) -> dict:
    """Hopf point: ``{"b": 1 + a², "omega": |a|, "eigenvalues": [i|a|, −i|a|],
    "fixed_point": (a, (1+a²)/a), "period": 2π/|a|, "kind": "hopf"}``."""
    a = float(a)
    bh = 1.0 + a * a
    return {
        "b": bh,
        "omega": abs(a),
        "eigenvalues": np.array([1j * abs(a), -1j * abs(a)]),
        "fixed_point": np.array([a, bh / a]),
        "period": 2 * math.pi / abs(a),
        "kind": "hopf",
    }


def brusselator_ns_point(a: float = 1.0, eps: float = 0.1) -> dict:
    r"""Neimark–Sacker point of the Euler map of :func:`brusselator`.

    For the pair ``λ`` with trace ``T`` and determinant ``D``: ``|1 + ελ|² = 1 + εT + ε²D``, so
    ``|1 + ελ| = 1`` iff ``T = −εD``, i.e. ``b_NS = 1 + a² − ε a²`` (a complex pair requires
    ``ε|a| < 2``). Returns ``{"b", "eigenvalues", "multipliers", "theta" (arg of the multiplier),
    "kind": "neimark-sacker"}``.
    """
    a, eps = float(a), float(eps)
    if eps <= 0 or eps * abs(a) >= 2:
        raise ValueError(f"need 0 < eps*|a| < 2 for a complex-pair Neimark-Sacker point, got eps={eps}, a={a}")
    b = 1.0 + a * a - eps * a * a
    lam = brusselator_spectrum(a, b)[:2]
    lam = lam[np.argsort(-lam.imag)]
    mult = 1.0 + eps * lam
    return {
        "b": b,
        "eigenvalues": lam,
        "multipliers": mult,
        "theta": float(np.angle(mult[0])),
        "kind": "neimark-sacker",
    }
