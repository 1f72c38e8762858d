"""Example family: energy (conservative control)."""
from __future__ import annotations

import math

import torch

from ..field import Field
from ._base import ExampleForce, _generator, _meta, _check_dtype


class EnergyForce(ExampleForce):
    r"""``F = −∇E``, ``E(z) = ½‖z‖² − g Σ log cosh((Sᵀz)_i) − bᵀz``."""

    _consts = ("S", "b")

    def __call__(self, z, *, gain):
        c = self._c(z)
        return -z + gain * (torch.tanh(z @ c["S"]) @ c["S"].T) + c["b"]

    def energy(self, z: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``E(z)`` (over the last axis), with a stable ``log cosh``."""
        c = self._c(z)
        u = z @ c["S"]
        logcosh = u.abs() + torch.nn.functional.softplus(-2.0 * u.abs()) - math.log(2.0)
        return 0.5 * (z * z).sum(-1) - gain * logcosh.sum(-1) - (c["b"] * z).sum(-1)


def energy(n: int = 16, seed: int = 0, gain: float = 1.0, dtype=torch.float64) -> Field:
    r"""A conservative (gradient) field, the symmetric control.

    .. math::  E(z) = \tfrac12\|z\|^2 - g\sum_i \log\cosh\big((S^\top z)_i\big) - b^\top z,\qquad
               F = -\nabla E = -z + g\,S\tanh(S^\top z) + b,

    ``J = −I + g·S diag(sech²(Sᵀz)) Sᵀ`` is symmetric everywhere (real spectrum; no Hopf).
    ``S`` is a seeded Gaussian n×n matrix scaled to ``‖S‖₂² = 0.8`` and ``b`` a seeded Gaussian
    vector ×0.1, so at the default ``gain = 1`` ``J ≼ −0.2·I``: one globally stable fixed
    point; instabilities (real eigenvalues through 0) need ``gain > 1.25``. Knob ``gain``.
    ``field.force.energy(z, gain)`` evaluates ``E``. ``z0`` is a seeded random state of norm 1.
    """
    _check_dtype(dtype)
    n = int(n)
    gen = _generator(seed)
    S = torch.randn(n, n, generator=gen, dtype=torch.float64)
    S = S * math.sqrt(0.8) / torch.linalg.matrix_norm(S, ord=2)
    b = 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    z0 = torch.randn(n, generator=gen, dtype=torch.float64)
    z0 = z0 / z0.norm()
    return Field(
        EnergyForce(S=S.numpy(), b=b.numpy()), z0.to(dtype), {"gain": gain}, "energy",
        _meta("energy", "conservative control: F = -grad E, E = |z|^2/2 - gain sum log cosh(S^T z) - b.z "
              "(symmetric Jacobian)", dict(n=n, seed=int(seed), gain=float(gain))),
    )
