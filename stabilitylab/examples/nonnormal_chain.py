"""Example family: non-normal."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..field import Field
from ._base import ExampleForce, _meta, _check_dtype


class NonnormalForce(ExampleForce):
    """``F(z) = −z + c·N z`` with ``(N z)_i = z_{i+1}`` (upper shift, ``(N z)_{n−1} = 0``)."""

    def __call__(self, z, *, coupling):
        shifted = torch.cat([z[..., 1:], torch.zeros_like(z[..., :1])], dim=-1)
        return -z + coupling * shifted


def nonnormal(n: int = 16, coupling: float = 10.0, dtype=torch.float64) -> Field:
    r"""A stable but strongly non-normal linear field ``F(z) = (−I + c·N) z``, ``N`` the upper shift.

    Knob ``coupling`` (``c``). ``J = −I + cN`` is one Jordan block: every eigenvalue is exactly
    ``−1`` (``(J + I)^n = 0``), yet the symmetric part ``−I + c(N + Nᵀ)/2`` has
    ``λ_max = −1 + c·cos(π/(n+1))`` (:func:`nonnormal_abscissa`), positive for ``c > 1/cos(π/(n+1))``:
    strong transient growth (:func:`nonnormal_growth`). Note: in floating point a dense eigensolver
    reports the eigenvalues on a circle of radius ≈ ``c·u^{1/n}`` about ``−1`` (``u`` the unit
    roundoff: ≈1 for the defaults in float64, ≈3.6 in float32) — the pseudospectrum, not a bug.
    ``z0`` is the last unit vector (the one ``N`` propagates upward).
    """
    _check_dtype(dtype)
    n = int(n)
    z0 = torch.zeros(n, dtype=dtype)
    z0[-1] = 1.0
    return Field(
        NonnormalForce(), z0, {"coupling": coupling}, "nonnormal",
        _meta("nonnormal", f"non-normal linear: F(z) = (-I + coupling N) z, N the {n}x{n} upper shift "
              "(all eigenvalues -1, positive numerical abscissa)", dict(n=n, coupling=float(coupling))),
    )


def nonnormal_abscissa(n: int = 16, coupling: float = 10.0) -> float:
    """Numerical abscissa ``λ_max((J + Jᵀ)/2) = −1 + c·cos(π/(n+1))`` of :func:`nonnormal`."""
    return -1.0 + float(coupling) * math.cos(math.pi / (int(n) + 1))


def nonnormal_growth(n: int = 16, coupling: float = 10.0, eps: float = 0.1, steps: int = 200) -> dict:
    """Transient growth of the Euler map ``M = I + εJ = (1 − ε)I + εcN`` of :func:`nonnormal`.

    Reference values from dense float64 products (tiny n only): ``{"norms": ‖M^k‖₂ for
    k = 0..steps, "max": max_k ‖M^k‖₂, "argmax": k, "spectral_radius": |1 − ε|}``.
    """
    n, c, eps = int(n), float(coupling), float(eps)
    M = (1.0 - eps) * np.eye(n) + eps * c * np.eye(n, k=1)
    P = np.eye(n)
    norms = [1.0]
    for _ in range(int(steps)):
        P = M @ P
        norms.append(float(np.linalg.norm(P, 2)))
    norms = np.array(norms)
    k = int(np.argmax(norms))
    return {"norms": norms, "max": float(norms[k]), "argmax": k, "spectral_radius": abs(1.0 - eps)}
