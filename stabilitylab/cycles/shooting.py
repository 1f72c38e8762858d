r"""Periodic orbits of the flow ż = F(z; p) by matrix-free single shooting.

The flow map Φ_T is RK4 with ``N`` equal steps h = T/N (the step count is fixed, so Φ depends
smoothly on the period T). A periodic orbit is a root of

    G(x, T) = ( Φ_T(x) − x ,  ⟨F(x_r), x − x_r⟩ )                  (n + 1 equations),

the second row a phase condition that pins the orbit's phase to a reference point x_r (the
previous iterate, whose tangent F(x_r) the correction must be orthogonal to). Newton–Krylov solves
``DG δ = −G`` by GMRES, each product

    DG (v, τ) = ( Φ_x v + Φ_T τ − v ,  ⟨F(x_r), v⟩ )

being ONE forward-mode JVP through the N RK4 steps (4N JVPs of F; the dense monodromy is never
formed). The monodromy Φ_x at the solution has the Floquet multipliers as eigenvalues (found by
the project's Krylov–Schur, :func:`floquet_multipliers`): one is 1 (the phase direction F(x)),
the orbit is stable iff all others lie inside the unit circle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..dynamics.tangent import jvp
from ..field import Field
from ..linear import LinearOperator
from ..solvers import gmres
from ..spectral.dense import leading_eigs


def flow_map(field: Field, steps: int, **knobs: float):
    """``y = (x, T) ↦ Φ_T(x)``: ``steps`` RK4 steps of size T/steps of ż = F(z) on flat vectors."""
    f = field.flat_force(**knobs)

    def phi(y: torch.Tensor) -> torch.Tensor:
        x, h = y[:-1], y[-1] / steps
        for _ in range(steps):
            k1 = f(x)
            k2 = f(x + 0.5 * h * k1)
            k3 = f(x + 0.5 * h * k2)
            k4 = f(x + h * k3)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    return phi


#: how products with the flow map's derivative are formed: ``jvp`` (forward-mode AD through the RK4
#: steps: exact) or ``difference`` (central difference of two flow maps, step ε^(1/3)·max(‖y‖, 1)/‖v‖:
#: relative error ~1e-10; cheaper where the AD bookkeeping dominates, i.e. tiny states)
DERIVATIVES = ("jvp", "difference")
#: the eigen-tolerance the difference derivative's ~1e-10 relative noise can support
DIFFERENCE_TOL = 1e-7


def flow_derivative(phi, y: torch.Tensor, v: torch.Tensor, how: str = "jvp") -> torch.Tensor:
    """D Φ(y) v by ``how`` (see :data:`DERIVATIVES`)."""
    if how == "jvp":
        return jvp(phi, y, v)[1]
    vn = float(v.norm())
    if vn == 0:
        return torch.zeros_like(phi(y))
    h = torch.finfo(y.dtype).eps ** (1 / 3) * max(float(y.norm()), 1.0) / vn
    with torch.no_grad():
        return (phi(y + h * v) - phi(y - h * v)) / (2 * h)


@dataclass
class PeriodicOrbit:
    """A point ``x`` on a periodic orbit of period ``period``; ``residual`` = ‖Φ_T(x) − x‖/max(‖x‖, 1)
    (the *closure residual*), ``converged`` against ``tol``; ``matvecs``: JVPs through Φ."""

    x: torch.Tensor
    period: float
    residual: float
    converged: bool
    reason: str
    iterations: int
    matvecs: int
    steps: int

    def amplitude(self, field: Field, **knobs) -> tuple[float, torch.Tensor]:
        """(max over the orbit of ‖z(t) − z̄‖, the centroid z̄ over one period), from the states
        at every RK4 step (the radius, for a circular orbit)."""
        pts = orbit_points(field, self, **knobs)
        centre = pts.mean(0)
        return float((pts - centre).norm(dim=1).max()), centre


def orbit_points(field: Field, orbit: PeriodicOrbit, **knobs) -> torch.Tensor:
    """The ``orbit.steps`` states z(kT/steps), k = 0 … steps − 1, along the orbit (rows)."""
    phi = flow_map(field, 1, **knobs)
    h = torch.tensor([orbit.period / orbit.steps], dtype=orbit.x.dtype, device=orbit.x.device)
    x, out = orbit.x, []
    with torch.no_grad():
        for _ in range(orbit.steps):
            out.append(x)
            x = phi(torch.cat([x, h]))
    return torch.stack(out)


def shoot(field: Field, x0: torch.Tensor, period: float, *, steps: int = 100, tol: float = 1e-10,
          maxiter: int = 25, gmres_tol: float = 1e-12, gmres_restart: int = 60, derivative: str = "jvp",
          **knobs: float) -> PeriodicOrbit:
    """Newton–Krylov on G(x, T) = 0 from the guess ``(x0, period)`` (module docstring).

    Stops when the closure residual ‖Φ_T(x) − x‖/max(‖x‖, 1) ≤ ``tol``, after ``maxiter`` steps, or
    when a step does not reduce ‖G‖ (halving the step up to 10 times) — the guess is then too far
    from an orbit, or there is none (e.g. the state collapses onto a fixed point: T is then
    undetermined and the reason says so).
    """
    phi = flow_map(field, steps, **knobs)
    f = field.flat_force(**knobs)
    x = x0.detach().reshape(-1).clone()
    T = torch.tensor([float(period)], dtype=x.dtype, device=x.device)
    matvecs, reason, converged = 0, "", False

    def residual(x, T, ref, fref):
        return torch.cat([phi(torch.cat([x, T])) - x, (fref @ (x - ref)).reshape(1)])

    with torch.no_grad():
        G = residual(x, T, x, f(x))
    k = 0
    for k in range(maxiter + 1):
        closure = float(G[:-1].norm()) / max(float(x.norm()), 1.0)
        if not math.isfinite(closure):
            reason = f"non-finite closure residual at Newton step {k}"
            break
        if closure <= tol:
            converged, reason = True, f"closure residual {closure:.1e} ≤ tol {tol:.0e} after {k} Newton steps"
            break
        if k == maxiter:
            reason = f"maxiter reached ({maxiter} Newton steps), closure residual {closure:.1e}"
            break
        ref, fref = x.clone(), f(x).detach()
        if float(fref.norm()) <= 1e-12 * max(float(x.norm()), 1.0):
            reason = f"the state is a fixed point (‖F‖ = {float(fref.norm()):.1e}): no period to find"
            break
        y = torch.cat([x, T])

        def apply(v, y=y, fref=fref):
            d = flow_derivative(phi, y, v, derivative)
            return torch.cat([d - v[:-1], (fref @ v[:-1]).reshape(1)])

        op = LinearOperator(apply, y.numel(), y.dtype, y.device)
        sol = gmres(op, -G, tol=gmres_tol, restart=gmres_restart, maxiter=10 * gmres_restart)
        matvecs += sol.matvecs
        t, gnorm = 1.0, float(G.norm())
        for _ in range(11):
            x_new, T_new = x + t * sol.x[:-1], T + t * sol.x[-1:]
            with torch.no_grad():
                G_new = residual(x_new, T_new, ref, fref)
            if float(G_new.norm()) < gnorm and float(T_new) > 0:
                break
            t *= 0.5
        else:
            reason = (f"stagnated at Newton step {k}: no decrease of the shooting residual along the Newton "
                      f"direction (closure residual {closure:.1e}; GMRES residual {sol.residual_norm:.1e})")
            break
        x, T = x_new, T_new
        with torch.no_grad():  # the phase reference moves with the iterate
            G = residual(x, T, x, f(x))
    return PeriodicOrbit(x, float(T), closure, converged, reason, k, matvecs, steps)


def monodromy(field: Field, orbit: PeriodicOrbit, derivative: str = "jvp", **knobs: float) -> LinearOperator:
    """v ↦ Φ_x(x, T) v, the monodromy of the orbit (one JVP through the RK4 steps per product, or two
    flow maps: :func:`flow_derivative`)."""
    phi = flow_map(field, orbit.steps, **knobs)
    y = torch.cat([orbit.x, torch.tensor([orbit.period], dtype=orbit.x.dtype, device=orbit.x.device)])
    zero = torch.zeros(1, dtype=y.dtype, device=y.device)
    return LinearOperator(lambda v: flow_derivative(phi, y, torch.cat([v, zero]), derivative), orbit.x.numel(),
                          y.dtype, y.device)


@dataclass
class Multipliers:
    """Floquet multipliers (largest modulus first) with residuals; ``trivial``: index of the one
    nearest 1 (the phase direction); ``stable``: all others inside the unit circle."""

    values: np.ndarray
    residuals: np.ndarray
    trivial: int
    converged: bool
    matvecs: int

    @property
    def stable(self) -> bool:
        rest = np.delete(self.values, self.trivial)
        return bool(np.all(np.abs(rest) < 1))


def floquet_multipliers(field: Field, orbit: PeriodicOrbit, k: int = 6, tol: float = 1e-9,
                        derivative: str = "jvp", **knobs: float) -> Multipliers:
    """The ``k`` largest-modulus Floquet multipliers of ``orbit`` (Krylov–Schur on the monodromy);
    with the ``difference`` derivative ``tol`` is raised to :data:`DIFFERENCE_TOL`, its noise floor."""
    op = monodromy(field, orbit, derivative, **knobs)
    tol = max(tol, DIFFERENCE_TOL) if derivative == "difference" else tol
    res = leading_eigs(op, k=min(k, op.n), which="LM", tol=tol)
    w = res.eigenvalues.numpy()
    return Multipliers(w, res.residuals.numpy(), int(np.argmin(np.abs(w - 1))), bool(res.converged), op.count)
