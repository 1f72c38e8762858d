r"""Deflated Newton–Krylov and slow-point minimisation: the building blocks of an all-fixed-point search.

**Deflation** (Farrell, Birkisson & Funke, SIAM J. Sci. Comput. 37, 2015). With roots r_1..r_m
already found, Newton is applied to G(z) = m(z) F(z), where

    m(z) = Π_j ( 1/d_j(z)^p + s ),     d_j(z) = ‖z − r_j‖ / max(‖r_j‖, 1)

(relative distances, so the deflation acts on the scale of the state). G has the roots of F except
the r_j (m → ∞ there), so Newton on G cannot converge to a known root again. By Sherman–Morrison
the Newton step of G is the step of F rescaled, with δ solving J δ = −F (GMRES, JVPs):

    δ_G = τ δ,   τ = 1 / (1 − ∇(ln m)·δ),   ∇ ln m = Σ_j −p d_j^{−p} / (d_j^{−p} + s) · (z − r_j)/‖z − r_j‖²

taken whole (undeflated Newton backtracks on ‖F‖). Convergence is judged on the undeflated force
residual ‖F(z)‖/max(‖z‖, 1).

**Slow points** (Sussillo & Barak, Neural Computation 25, 2013): local minima of q(z) = ½‖F(z)‖²
with q > 0, found by L-BFGS (scipy) with the exact gradient ∇q = Jᵀ F (one VJP per evaluation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

from ..field import Field
from ..linear import Linearization
from .gmres import gmres
from .newton_krylov import _forcing
from .result import relative_norm

#: Farrell et al.'s defaults: power p = 2, shift s = 1
POWER, SHIFT = 2.0, 1.0
#: GMRES relative tolerance of the deflated steps (at most)
DEFLATED_GMRES_TOL = 1e-6


@dataclass
class Deflated:
    """Outcome of one deflated Newton run: the state, whether ‖F‖/max(‖z‖, 1) ≤ tol, why it
    stopped, Newton steps, GMRES products."""

    z: torch.Tensor
    converged: bool
    reason: str
    iterations: int
    matvecs: int
    force_residual: float


def deflation_factor(z: torch.Tensor, roots: list[torch.Tensor], power: float = POWER,
                     shift: float = SHIFT) -> tuple[float, torch.Tensor]:
    """(m(z), ∇ ln m(z)) for flat ``z`` and known flat ``roots`` (module docstring)."""
    m, grad = 1.0, torch.zeros_like(z)
    for r in roots:
        diff = z - r
        dist2 = float(diff @ diff)
        d = math.sqrt(dist2) / max(float(r.norm()), 1.0)
        inv = d ** -power if d > 0 else math.inf
        m *= inv + shift
        grad -= power * (inv / (inv + shift)) * diff / max(dist2, 1e-300)
    return m, grad


@torch.no_grad()
def deflated_newton(field: Field, z0: torch.Tensor, roots: list[torch.Tensor], *, tol: float = 1e-9,
                    maxiter: int = 40, gmres_restart: int = 30, gmres_maxiter: int = 300,
                    power: float = POWER, shift: float = SHIFT, line_search: bool | None = None,
                    max_backtracks: int = 12) -> Deflated:
    """Newton–Krylov on G = m F from ``z0`` with ``roots`` deflated (plain Newton when empty).

    ``line_search`` (default: only without roots) backtracks on ‖G‖; deflated steps are taken
    whole, as Farrell et al. do: near a deflated root ‖G‖ is steep and backtracking on it stalls
    (measured on the embedded cubic: 0 of 9 starts reached the third root with it, 7 of 9 without).
    """
    line_search = not roots if line_search is None else line_search
    f_of = field.flat_force()
    z = z0.detach().reshape(-1).clone()
    f = f_of(z)
    floor = 10 * torch.finfo(z.dtype).eps
    eta, fn_prev, matvecs = None, None, 0
    if not math.isfinite(deflation_factor(z, roots, power, shift)[0]):
        return Deflated(z, False, "the start is a deflated root", 0, 0, relative_norm(f, z))
    for it in range(maxiter + 1):
        r = relative_norm(f, z)
        if not math.isfinite(r):
            return Deflated(z, False, f"non-finite state at Newton step {it}", it, matvecs, r)
        if r <= tol:
            return Deflated(z, True, f"force residual {r:.1e} <= {tol:.0e} after {it} steps", it, matvecs, r)
        if it == maxiter:
            break
        fn = float(f.norm())
        eta = _forcing(eta, fn, fn_prev, max(floor, 0.5 * tol / r))
        if roots:  # tau depends on grad(ln m)·δ: an inexact δ would mis-scale the deflated step
            eta = min(eta, DEFLATED_GMRES_TOL)
        lin = Linearization(field, z.reshape(field.shape))
        sol = gmres(lin.J(), -f, tol=eta, restart=gmres_restart, maxiter=gmres_maxiter, M=lin.preconditioner())
        matvecs += sol.matvecs
        m, grad = deflation_factor(z, roots, power, shift)
        denom = 1.0 - float(grad @ sol.x)
        step = sol.x / denom if abs(denom) > 1e-12 else sol.x
        g_norm, t = m * fn, 1.0
        for _ in range(max_backtracks + 1):
            z_new = z + t * step
            f_new = f_of(z_new)
            g_new = deflation_factor(z_new, roots, power, shift)[0] * float(f_new.norm())
            if math.isfinite(g_new) and (not line_search or g_new <= (1 - 1e-4 * t) * g_norm):
                break
            t *= 0.5
        else:
            return Deflated(z, False, f"no decrease of the deflated residual at Newton step {it} "
                                      f"(force residual {r:.1e})", it, matvecs, r)
        z, f, fn_prev = z_new, f_new, fn
    return Deflated(z, False, f"maxiter ({maxiter} Newton steps), force residual {r:.1e}", maxiter, matvecs, r)


@dataclass
class SlowPoint:
    """A local minimum of q = ½‖F‖² from L-BFGS: the state, q, ‖∇q‖, whether L-BFGS converged."""

    z: torch.Tensor
    q: float
    grad_norm: float
    converged: bool
    evaluations: int
    message: str


def slow_point(field: Field, z0: torch.Tensor, *, gtol: float = 1e-8, maxiter: int = 300) -> SlowPoint:
    """Minimise q(z) = ½‖F(z)‖² by L-BFGS-B with ∇q = Jᵀ F (VJP); float64 on the host."""
    f_of = field.flat_force()
    shape_dev = dict(dtype=field.dtype, device=field.device)

    def q_and_grad(x):
        z = torch.as_tensor(x, **shape_dev)
        with torch.enable_grad():
            zr = z.clone().requires_grad_(True)
            f = f_of(zr)
            q = 0.5 * (f * f).sum()
            (g,) = torch.autograd.grad(q, zr)
        return float(q.detach()), g.detach().to("cpu", torch.float64).numpy()

    x0 = z0.detach().reshape(-1).to("cpu", torch.float64).numpy()
    res = scipy.optimize.minimize(q_and_grad, x0, jac=True, method="L-BFGS-B",
                                  options={"gtol": gtol, "maxiter": maxiter, "ftol": 0.0})
    g = q_and_grad(res.x)[1]
    return SlowPoint(torch.as_tensor(res.x, **shape_dev), float(res.fun), float(np.linalg.norm(g)),
                     bool(res.success), int(res.nfev), str(res.message))
