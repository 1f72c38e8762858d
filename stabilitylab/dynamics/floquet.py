r"""Floquet multipliers of a cycle of the Euler map Φ(z) = z + εF(z).

**Monodromy.** Along an orbit z_{t+1} = Φ(z_t) the P-step monodromy is

    𝓜 = M(z_{P−1}) ⋯ M(z_1) M(z_0),        M(z) = I + εJ(z),

applied matrix-free: 𝓜v is one forward-mode JVP through P Euler steps (P JVPs per product; the
orbit is recomputed alongside the tangent, nothing is stored). A block of m vectors goes through
the P steps together, as m rows of a batched state (:mod:`.batch`). Its largest-modulus eigenvalues
(Krylov–Schur :func:`~stabilitylab.spectral.eigs`, ``which='LM'``) are the Floquet multipliers.

**Orbit.** P = round(period). When the period is an integer (within ``integer_tol``) the cycle is a
periodic orbit of the map and z_0 is refined by Newton–Krylov on G(z) = Φ^P(z) − z (Jacobian
𝓜 − I, invertible for a hyperbolic map cycle). Otherwise the attractor is an invariant circle
rotating by θ = 2π/period per step: no point returns exactly, and z_0 is the converged tail of the
relaxation (the transient has decayed by the nontrivial multipliers).

**Trivial multiplier.** The phase direction of an invariant circle (the sampled limit cycle of the
flow) has multiplier 1. With a non-integer period, P steps miss a full turn by the rotation
mismatch δ = 2π(P − period)/period (|δ| ≤ π/period): 𝓜 maps the tangent space at z_0 to the one
at z_P, a phase δ away, i.e. in the local (radial, phase) frame it is composed with a rotation by
δ. 𝓜 carries the orbit's velocity at z_0 to the velocity at z_P, so the phase multiplier is about
(speed at z_P / speed at z_0)·cos δ: 1 − δ²/2 on a uniformly rotating circle (Stuart–Landau), but
1 + O(δ) when the speed varies along the cycle (measured on a transformer cycle: ≈ 1 − 0.3δ), and
the others move by O(δ) relatively. So the trivial multiplier is exactly 1 only when the period
is an integer (rational rotation); a periodic orbit of the map that is not on an invariant circle
(e.g. the 2-cycle of a flip) has no trivial multiplier at all. The multiplier closest to 1 counts
as trivial when it is within max(``trivial_tol``, 2|δ|) of 1 (a speed varying along the cycle makes
the phase multiplier 1 + O(δ)); a short non-integer period is followed for several turns
(:func:`_turns`) so that δ stays small; the cycle is stable iff all others
have |μ| < 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..linear import LinearOperator
from ..solvers import newton_krylov
from ..spectral import leading_eigs
from .batch import batch_force
from .tangent import jvp


@dataclass
class Floquet:
    """Leading Floquet multipliers of a P-step cycle and the checks made on them."""

    multipliers: np.ndarray   # complex, largest modulus first
    residuals: np.ndarray     # ‖𝓜x − μx‖/‖x‖
    period: float             # the detected period (steps, maybe non-integer)
    steps: int                # P, the steps of the monodromy
    mismatch: float           # rotation mismatch δ (rad); 0 for integer periods
    closure: float            # ‖Φ^P(z_0) − z_0‖/‖z_0‖ at the orbit point used
    refinement: str           # 'newton' or 'tail'
    trivial_index: int        # index of the trivial multiplier, −1 if none (see module docstring)
    converged: bool
    matvecs: int

    @property
    def trivial_error(self) -> float:
        """|μ_trivial − 1| (NaN if no trivial multiplier)."""
        return abs(self.multipliers[self.trivial_index] - 1) if self.trivial_index >= 0 else math.nan

    @property
    def nontrivial(self) -> np.ndarray:
        return np.delete(self.multipliers, self.trivial_index) if self.trivial_index >= 0 else self.multipliers

    @property
    def stable(self) -> bool:
        """All nontrivial multipliers inside the unit circle."""
        return bool(np.all(np.abs(self.nontrivial) < 1))

    def to_dataset(self) -> xr.Dataset:
        """Multipliers on dim ``mode``; the checks as scalars."""
        return xr.Dataset(
            {"floquet_multiplier": ("mode", self.multipliers, {"long_name": "eigenvalues of the P-step monodromy"}),
             "floquet_residual": ("mode", self.residuals),
             "floquet_steps": ((), self.steps), "floquet_mismatch": ((), self.mismatch),
             "floquet_closure": ((), self.closure), "trivial_multiplier_error": ((), self.trivial_error),
             "cycle_stable": ((), self.stable)},
            coords={"mode": np.arange(len(self.multipliers))},
            attrs={"floquet_refinement": self.refinement, "floquet_converged": int(self.converged),
                   "floquet_matvecs": self.matvecs, "trivial_index": self.trivial_index})


def period_map(field: Field, eps: float, steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Φ^P on flat vectors."""
    f = field.flat_force()

    def phi(x: torch.Tensor) -> torch.Tensor:
        for _ in range(steps):
            x = x + eps * f(x)
        return x

    return phi


def monodromy(field: Field, z: torch.Tensor, eps: float, steps: int) -> LinearOperator:
    """v ↦ 𝓜v = D(Φ^P)(z) v, matrix-free (P JVPs per product)."""
    phi, x = period_map(field, eps, steps), z.detach().reshape(-1)
    rows = batch_force(field, x.expand(2, -1).clone())

    def apply(v: torch.Tensor) -> torch.Tensor:
        return jvp(phi, x, v)[1]

    def block(V: torch.Tensor) -> torch.Tensor:
        X, T = x.expand(V.shape[1], -1).clone(), V.T.contiguous()
        for _ in range(steps):
            F, JT = jvp(rows, X, T)
            X, T = X + eps * F, T + eps * JT
        return T.T

    return LinearOperator(apply, x.numel(), x.dtype, x.device, batched=block)


def _refine(field: Field, z: torch.Tensor, eps: float, steps: int, tol: float) -> torch.Tensor | None:
    """Newton–Krylov on G(z) = Φ^P(z) − z; None if it does not converge."""
    phi = period_map(field, eps, steps)
    shape = field.shape
    G = Field(lambda y: (phi(y.reshape(-1)) - y.reshape(-1)).reshape(shape), z.reshape(shape),
              name=f"{field.name}: period-{steps} map minus identity")
    sol = newton_krylov(G, tol=tol, maxiter=20)
    return sol.z if sol.converged else None


#: one turn of a non-integer period misses by more than this (rad): go round more turns
MAX_MISMATCH, MAX_TURNS = 0.05, 8


def _turns(period: float) -> int:
    """Turns of the cycle the monodromy covers: 1, unless one turn of a non-integer period misses
    a whole number of steps by more than :data:`MAX_MISMATCH` rad (a short invariant-circle period,
    e.g. 12.75 steps); then the fewest turns m ≤ :data:`MAX_TURNS` that do not (or the best), so the
    phase multiplier stays near 1. The non-trivial multipliers are those of one turn to the power m."""
    miss = [abs(2 * math.pi * (round(m * period) - m * period) / period) for m in range(1, MAX_TURNS + 1)]
    within = [m for m, d in enumerate(miss, 1) if d <= MAX_MISMATCH]
    return within[0] if within else 1 + int(np.argmin(miss))


def floquet(field: Field, z: torch.Tensor, eps: float, period: float, *, k: int = 6, tol: float = 1e-10,
            integer_tol: float = 1e-3, trivial_tol: float = 1e-2, refine: bool = True,
            newton_tol: float = 1e-12, seed: int = 0) -> Floquet:
    """Floquet multipliers of the cycle through ``z`` with the given ``period`` (see module docstring)."""
    if not (math.isfinite(period) and period >= 1):
        raise StabilityLabError(f"Floquet analysis needs a finite period >= 1 step, got {period}")
    turns = _turns(period)
    P = int(round(turns * period))
    integer = abs(period - P) <= integer_tol
    z = z.detach().reshape(field.shape)
    how = "tail"
    if integer and refine:
        better = _refine(field, z, eps, P, newton_tol)
        if better is not None:
            z, how = better, "newton"
    x = z.reshape(-1)
    with torch.no_grad():
        closure = float((period_map(field, eps, P)(x) - x).norm() / x.norm())
    res = leading_eigs(monodromy(field, z, eps, P), k=k, which="LM", tol=tol, seed=seed)
    mu = res.eigenvalues.numpy()
    near = int(np.argmin(np.abs(mu - 1)))
    mismatch = 0.0 if integer else 2 * math.pi * (P - turns * period) / period
    trivial = near if abs(mu[near] - 1) <= max(trivial_tol, 2 * abs(mismatch)) else -1
    return Floquet(mu, res.residuals.numpy(), float(period), P, mismatch, closure, how, trivial,
                   res.converged, res.matvecs)
