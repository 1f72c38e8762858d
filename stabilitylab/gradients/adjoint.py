"""The exact implicit gradient by the transpose adjoint: at the free fixed point z* solve

    Jᵀ λ = −ℓ,   ℓ = ∂L/∂z*     (restarted GMRES, Jᵀ applied matrix-free by VJPs)

then ``g = ∂L/∂θ + λᵀ ∂F/∂θ``. Exact up to the free-phase residual and the GMRES tolerance; the
reported ``adjoint_residual`` is the true ‖Jᵀλ + ℓ‖/‖ℓ‖.
"""
from __future__ import annotations

import warnings

import torch

from ..errors import ConvergenceWarning
from ..solvers import gmres
from .objective import Cost, GradientResult, Objective
from ..linear import Linearization


def transpose_adjoint(obj: Objective, eps: float = 0.1, T1: int = 150, tol: float = 1e-10,
                      z_free: torch.Tensor | None = None, restart: int = 50,
                      maxiter: int | None = None) -> GradientResult:
    """The implicit gradient (module docstring). ``tol`` is GMRES's relative tolerance; a solve
    that stops short warns (:class:`ConvergenceWarning`) and returns the partial adjoint."""
    cost = Cost()
    z_star, diag = obj.free_phase(eps, T1, z_free, cost)
    ell = obj.loss_grad(z_star).reshape(-1)
    JT = Linearization(obj.field, z_star).JT()
    cost.forwards += 1
    with torch.no_grad():
        sol = gmres(JT, -ell, tol=tol, restart=restart, maxiter=maxiter)
    cost.vjps += JT.count
    if not sol.converged:
        warnings.warn(f"GMRES on Jᵀλ = −ℓ stopped at relative residual {sol.residual_norm:.2e} > tol "
                      f"{tol:.0e} after {sol.iterations} iterations; the implicit gradient is approximate",
                      ConvergenceWarning, stacklevel=2)
    grads, loss = obj.param_grads(z_star, sol.x, cost)
    diag.update(adjoint_residual=sol.residual_norm, gmres_iterations=float(sol.iterations),
                gmres_converged=float(sol.converged), **cost.as_diagnostics())
    return GradientResult(grads, loss, z_star, diag, "implicit")
