"""What every fixed-point solver returns: the final state, a verdict, and residual traces.

Two residuals, never conflated (DESIGN §2), both scaled by ``max(‖z‖, 1)`` (relative for large
states, absolute near z = 0, where ‖F‖/‖z‖ means nothing), the same test in every command:

    force residual   r_F = ‖F(z)‖ / max(‖z‖, 1)        solver-independent
    step residual    r_S = ‖ε F(z)‖ / max(‖z‖, 1)      the relaxation step, with the ε actually used

Newton steps have no ε: their step residual is the update taken, ‖z_{k+1} − z_k‖ / ‖z_k‖, and their
``eps`` is NaN. Trace entry k describes the recorded state z_k (after ``step[k]`` updates) and the
step taken *from* it; the last entry is the returned state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field

import numpy as np
import torch
import xarray as xr

from ..store import jsonable

FORCE_RESIDUAL = "force_residual = ||F(z)||/max(||z||, 1)"
RESIDUAL_KINDS = FORCE_RESIDUAL + "; step_residual = ||eps F(z)||/max(||z||, 1)"
NEWTON_KIND = "; Newton steps (eps = NaN): step_residual = ||z_next - z||/max(||z||, 1)"


def relative_norm(v: torch.Tensor, z: torch.Tensor) -> float:
    """``‖v‖/max(‖z‖, 1)`` as a float (one host sync); NaN if ``v`` or ``z`` is not finite.

    With ``v = F(z)`` this is the force residual every solver and command tests."""
    vn, zn = torch.stack([torch.linalg.vector_norm(v), torch.linalg.vector_norm(z)]).tolist()
    if not (math.isfinite(vn) and math.isfinite(zn)):
        return math.nan
    return vn / max(zn, 1.0)


def non_finite_reason(z: torch.Tensor, k: int) -> str:
    """The stop reason when the state (or the force at it) stopped being finite at step ``k``."""
    what = "state" if not torch.isfinite(z).all() else "force"
    return f"non-finite {what} at step {k}"


class Trace:
    """Accumulates trace entries ``(step, force residual, step residual, eps)``."""

    def __init__(self):
        self.rows: list[tuple[int, float, float, float]] = []

    def add(self, step: int, force: float, step_res: float, eps: float) -> None:
        self.rows.append((step, force, step_res, eps))

    def arrays(self) -> dict:
        cols = list(zip(*self.rows)) if self.rows else [(), (), (), ()]
        return {
            "step": np.asarray(cols[0], dtype=np.int64),
            "force_residual": np.asarray(cols[1], dtype=np.float64),
            "step_residual": np.asarray(cols[2], dtype=np.float64),
            "eps": np.asarray(cols[3], dtype=np.float64),
        }


@dataclass
class SolveResult:
    """Final state ``z`` (field shape), verdict and traces of one solve (see module docstring).

    ``iterations`` counts state updates, ``nfev`` forward evaluations of F, ``matvecs`` Jacobian
    products (JVPs), ``linear_iterations`` the GMRES iterations of each Newton step.
    ``polished_from``: the state a Newton polish started from (None without one); after a
    relaxation, ``z − polished_from`` is its remaining error, dominated by the slowest modes of
    M = I + εJ, which makes it a good start vector for an eigen-search at ``z``. ``slow_modes``:
    the sum of the rightmost Ritz vectors of J in the Arnoldi space of the last Newton step's GMRES
    solve (the last that held more of them than it sums; None without Newton or with a
    preconditioner): a better such start, at no cost (8% fewer search products at n = 131,072).
    """

    z: torch.Tensor
    converged: bool
    reason: str
    solver: str
    settings: dict
    step: np.ndarray
    force_residual: np.ndarray
    step_residual: np.ndarray
    eps: np.ndarray
    iterations: int
    nfev: int
    matvecs: int = 0
    linear_iterations: np.ndarray = dc_field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    polished_from: torch.Tensor | None = None
    slow_modes: torch.Tensor | None = None

    @property
    def final_force_residual(self) -> float:
        return float(self.force_residual[-1]) if len(self.force_residual) else math.nan

    @property
    def final_step_residual(self) -> float:
        return float(self.step_residual[-1]) if len(self.step_residual) else math.nan

    @property
    def residual_kinds(self) -> str:
        return RESIDUAL_KINDS + (NEWTON_KIND if "newton" in self.solver else "")

    def __repr__(self) -> str:
        return (
            f"SolveResult(solver={self.solver!r}, converged={self.converged}, "
            f"force_residual={self.final_force_residual:.3e}, iterations={self.iterations}, "
            f"reason={self.reason!r})"
        )

    def to_dataset(self) -> xr.Dataset:
        """Traces on dim ``step``; verdict, residual kinds and settings as (JSON-safe) attrs."""
        ds = xr.Dataset(
            {
                "force_residual": ("step", self.force_residual, {"long_name": "||F(z)||/max(||z||, 1)"}),
                "step_residual": ("step", self.step_residual,
                                  {"long_name": "||eps F(z)||/max(||z||, 1)"}),
                "eps": ("step", self.eps, {"long_name": "step size used (NaN: Newton step)"}),
            },
            coords={"step": self.step},
        )
        if len(self.linear_iterations):
            ds["linear_iterations"] = ("newton_iteration", self.linear_iterations)
        ds.attrs = {k: jsonable(v) for k, v in self.settings.items()}
        ds.attrs.update(
            analysis="relax",
            solver=self.solver,
            converged=int(self.converged),
            reason=self.reason,
            residual_kinds=self.residual_kinds,
            iterations=int(self.iterations),
            nfev=int(self.nfev),
            matvecs=int(self.matvecs),
        )
        return ds
