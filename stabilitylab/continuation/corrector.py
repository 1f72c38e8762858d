"""Bordered Newton–Krylov: the corrector and the tangent of a branch.

Both methods correct a predicted point onto the branch by solving, for x = (z, p),

    G(x) = [ F(z; p) ;  ⟨c, x − x₀⟩ − s ] = 0,

with ``⟨·,·⟩`` the arclength inner product of :mod:`.problem`: pseudo-arclength takes ``c`` = the
unit tangent at x₀ (a hyperplane at distance s along it), natural continuation ``c = e_p`` (p fixed
at p₀ + s). The constraint is linear, so every iterate is projected onto its hyperplane (g = 0
exactly; natural steps keep p exactly). Newton step: GMRES on the bordered Jacobian

    [[ J      F_p ] [δz]      [ F ]
     [ w∘c_z  c_p ]] [δp] = − [ 0 ],      w = θ/n on the state,

applied matrix-free (one JVP per product; ``F_p`` once per step), right-preconditioned by
``diag(P, 1)`` with P the field's ``precondition`` hook (≈ J⁻¹) when it has one; a solve whose
restarts stall (a stiff field without a preconditioner) is retried once with the longest Krylov
basis that fits in memory (:func:`~stabilitylab.solvers.gmres_escalated`: full GMRES up to a few
thousand unknowns). The
bordered matrix stays regular at a fold, where J alone is singular. The inner tolerance is
η_k = min(0.1, max(r_k, tol/(2 r_k))) (superlinear, without oversolving the last step). The same
system with right-hand side ``e_{n+1}`` gives the tangent τ (``J τ_z + F_p τ_p = 0``,
``⟨c, τ⟩ = 1``): normalised, oriented along the previous direction c; it is solved to √ε_mach of
the dtype (a predictor needs no more). Every GMRES solve is checked: a corrector that fails says
how far its last linear solve got, and a tangent solve that misses its tolerance by more than
:data:`TANGENT_SLACK` raises :class:`LinearSolveError` naming the residual reached.
"""
from __future__ import annotations

import math
import torch

from ..errors import StabilityLabError
from ..solvers import gmres_escalated
from .engine import Correction
from .options import ContinuationOptions
from .problem import ContinuationProblem


TANGENT_SLACK = 1e3  # a tangent solved to 1e3·√ε_mach (≈ 1.5e-5 in float64) still predicts well
STALLED = 0.5  # a linear solve that left more than half the residual made no real progress


class LinearSolveError(StabilityLabError):
    """A GMRES solve of the continuation (tangent) did not reach a usable residual."""


def linear_advice(sol) -> str:
    """Why a bordered GMRES solve failed and what to try."""
    return (f"GMRES on the bordered Jacobian reached only relative residual {sol.residual_norm:.1e} in "
            f"{sol.iterations} iterations (singular or ill-conditioned Jacobian: give the field a "
            "preconditioner, or raise --gmres-restart / --gmres-maxiter)")


class BorderedNewton:
    """Corrector and tangent solver of a problem under given options."""

    def __init__(self, problem: ContinuationProblem, options: ContinuationOptions):
        self.problem = problem
        self.options = options
        self.w = problem.weights(options.theta)
        self.last_solve = None  # the GMRESResult of the latest linear solve

    def _solve(self, x: torch.Tensor, c: torch.Tensor, rhs: torch.Tensor, tol: float):
        """GMRES on the bordered system at x; returns (solution, Jacobian products)."""
        z, p = self.problem.split(x)
        lin = self.problem.linearization(z, p)
        J, fp, wc, P = lin.J(), self.problem.dF_dp(z, p), self.w * c, lin.preconditioner()

        def bordered(v):
            return torch.cat([J(v[:-1]) + fp * v[-1], (wc * v).sum().reshape(1)])

        def block_diag(v):
            return torch.cat([P(v[:-1]), v[-1:]])

        opts = self.options
        sol = gmres_escalated(bordered, rhs, tol, opts.gmres_restart, opts.gmres_maxiter,
                              None if P is None else block_diag)
        self.last_solve = sol
        return sol, J.count

    def correct(self, x0: torch.Tensor, c: torch.Tensor, s: float, guess: torch.Tensor,
                maxiter: int | None = None) -> Correction:
        """Solve ``F = 0, ⟨c, x − x0⟩ = s`` by Newton–Krylov from ``guess`` (at most ``maxiter``
        steps, default ``newton_maxiter``)."""
        opts, prob = self.options, self.problem
        maxiter = opts.newton_maxiter if maxiter is None else maxiter
        wc = self.w * c
        cc = float((wc * c).sum())

        def project(v):  # onto the constraint hyperplane ⟨c, v − x0⟩ = s (exact: it is linear)
            return v + ((s - float((wc * (v - x0)).sum())) / cc) * c

        x = project(guess)
        matvecs, r_prev, rises = 0, math.inf, 0
        for it in range(maxiter + 1):
            z, p = prob.split(x)
            f = prob.force(z, p)
            r = prob.residual(f, z)
            if not math.isfinite(r):
                return Correction(x, False, it, matvecs, r, f"non-finite force after {it} Newton steps")
            if r <= opts.tol:
                return Correction(x, True, it, matvecs, r)
            rises = rises + 1 if r > r_prev else 0
            if rises == 2:
                return Correction(x, False, it, matvecs, r,
                                  f"Newton diverging (force residual {r:.1e}){self._stalled()}")
            if it == maxiter:
                break
            eta = min(0.1, max(r, 0.5 * opts.tol / r, 1e-13))
            sol, count = self._solve(x, c, -torch.cat([f, f.new_zeros(1)]), eta)
            matvecs += count
            if not math.isfinite(sol.residual_norm):
                return Correction(x, False, it, matvecs, r, "non-finite Newton update")
            x = project(x + sol.x)
            r_prev = r
        return Correction(x, False, maxiter, matvecs, r,
                          f"no convergence in {maxiter} Newton steps (force residual {r:.1e})"
                          f"{self._stalled()}")

    def _stalled(self) -> str:
        """'; <advice>' when the latest linear solve made no real progress, else ''."""
        sol = self.last_solve
        return f"; {linear_advice(sol)}" if sol is not None and sol.residual_norm > STALLED else ""

    def tangent(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Unit tangent at the branch point x, oriented so that ⟨c, τ⟩ > 0; and its matvecs."""
        e = torch.zeros_like(x)
        e[-1] = 1.0
        tol = torch.finfo(x.dtype).eps ** 0.5
        sol, count = self._solve(x, c, e, tol)
        if not sol.residual_norm <= TANGENT_SLACK * tol:
            raise LinearSolveError(f"tangent solve failed at {self.problem.param}={float(x[-1]):.6g}: "
                                   + linear_advice(sol))
        tau = sol.x
        return tau / self.norm(tau), count

    def norm(self, v: torch.Tensor) -> float:
        return float(torch.sqrt((self.w * v * v).sum()))
