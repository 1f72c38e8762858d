"""Newton–Krylov for ``F(z) = 0``, and the standard fixed-point recipe (Euler, then Newton polish).

Newton step k solves ``J(z_k) δ = −F(z_k)`` by GMRES with matrix-free JVPs, relinearising at every
step, to the relative tolerance η_k (Eisenstat–Walker choice 2, η_k = 0.9 (‖F_k‖/‖F_{k−1}‖)², with
their safeguards and a floor against oversolving below the requested tolerance), so convergence is
quadratic near a regular root. GMRES is right-preconditioned by the field's ``precondition`` hook
when it has one; inner solves that miss their tolerance are counted and named in the stop reason. A backtracking line search (Armijo on ‖F‖, halving t) makes
``z ← z + t δ`` decrease ‖F‖. Unlike relaxation, Newton converges to unstable fixed points too.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..field import Field
from ..linear import Linearization
from .gmres import gmres
from .relax import initial_state, relax_euler
from .result import SolveResult, Trace, non_finite_reason, relative_norm

ETA_0, ETA_MAX, ETA_GAMMA = 0.5, 0.9, 0.9
RITZ_START = 8  # rightmost Ritz vectors of each GMRES space summed into SolveResult.slow_modes
STALL_STEPS, STALL_FACTOR = 5, 0.9  # stagnation: no new best ‖F‖/‖z‖ (by 10%) in 5 Newton steps


def _forcing(eta_prev: float | None, fnorm: float, fnorm_prev: float | None, floor: float) -> float:
    """Eisenstat–Walker choice 2 (α = 2, γ = 0.9) with their safeguard, clipped to [floor, η_max]."""
    if eta_prev is None:
        eta = ETA_0
    else:
        eta = ETA_GAMMA * (fnorm / fnorm_prev) ** 2
        if ETA_GAMMA * eta_prev**2 > 0.1:
            eta = max(eta, ETA_GAMMA * eta_prev**2)
    return min(ETA_MAX, max(eta, floor))


@torch.no_grad()
def newton_krylov(
    field: Field,
    z0: torch.Tensor | None = None,
    tol: float = 1e-10,
    maxiter: int = 30,
    gmres_tol: float | None = None,
    gmres_restart: int = 30,
    line_search: bool = True,
    gmres_maxiter: int = 300,
    max_backtracks: int = 20,
    **overrides: float,
) -> SolveResult:
    """Solve ``F(z; overrides) = 0`` from ``z0`` (default ``field.z0``) to force residual ≤ ``tol``.

    ``gmres_tol`` fixes the inner relative tolerance (default: Eisenstat–Walker forcing);
    ``gmres_restart``/``gmres_maxiter`` bound each inner solve. Stops when ‖F(z)‖/max(‖z‖, 1) ≤ tol, after
    ``maxiter`` Newton steps, on a non-finite state, or on stagnation (the line search finds no
    decrease of ‖F‖ in ``max_backtracks`` halvings, or no 10% improvement of ‖F‖/‖z‖ in 5 steps:
    Newton is local, and from far away it can stall at a local minimum of ‖F‖).
    """
    if overrides:
        field = field.with_params(**overrides)
    z = initial_state(field, z0)
    floor = 10 * torch.finfo(z.dtype).eps
    f = field(z)
    fnorm = float(torch.linalg.vector_norm(f))
    trace, converged, reason = Trace(), False, None
    nfev, its, matvecs, lin_its, eta, fnorm_prev = 1, 0, 0, [], None, None
    missed, worst = 0, 0.0  # GMRES solves that missed their tolerance, worst relative residual
    slow = None  # SolveResult.slow_modes
    for k in range(maxiter + 1):
        r = relative_norm(f, z)
        if math.isnan(r):
            reason = non_finite_reason(z, k)
            break
        if r <= tol or k == maxiter:
            trace.add(k, r, math.nan, math.nan)
            converged = r <= tol
            reason = (f"force residual {r:.2e} ≤ tol {tol:.0e} after {k} Newton steps" if converged
                      else f"maxiter reached ({maxiter} Newton steps), force residual {r:.2e}")
            break
        history = [row[1] for row in trace.rows] + [r]
        if k >= STALL_STEPS and min(history[-STALL_STEPS:]) > STALL_FACTOR * min(history[:-STALL_STEPS]):
            trace.add(k, r, math.nan, math.nan)
            reason = (f"stagnated at Newton step {k}: no {1 - STALL_FACTOR:.0%} improvement of the "
                      f"force residual ({r:.2e}) in {STALL_STEPS} steps (a local minimum of ||F||? "
                      f"start closer, e.g. relax first)")
            break
        if gmres_tol is None:
            eta = _forcing(eta, fnorm, fnorm_prev, max(floor, 0.5 * tol / r))
        else:
            eta = gmres_tol
        lin = Linearization(field, z)
        sol = gmres(lin.J(), -f.reshape(-1), tol=eta, restart=gmres_restart, maxiter=gmres_maxiter,
                    M=lin.preconditioner(), ritz=RITZ_START)
        matvecs += sol.matvecs
        if sol.rightmost is not None and (slow is None or sol.iterations > RITZ_START):
            slow = sol.rightmost
        lin_its.append(sol.iterations)
        if not sol.converged:
            missed, worst = missed + 1, max(worst, sol.residual_norm)
        if not math.isfinite(sol.residual_norm):
            trace.add(k, r, math.nan, math.nan)
            reason = f"non-finite Newton update at step {k} (the JVP produced NaN/Inf)"
            break
        delta = sol.x.reshape(z.shape)
        t = 1.0
        for _ in range(max_backtracks + 1 if line_search else 1):
            z_new = z + t * delta
            f_new = field(z_new)
            nfev += 1
            fn_new = float(torch.linalg.vector_norm(f_new))
            if math.isfinite(fn_new) and (not line_search or fn_new <= (1 - 1e-4 * t) * fnorm):
                break
            t *= 0.5
        else:
            trace.add(k, r, math.nan, math.nan)
            reason = (f"stagnated at Newton step {k}: no decrease of ||F|| along the Newton "
                      f"direction in {max_backtracks} halvings (force residual {r:.2e}, GMRES "
                      f"relative residual {sol.residual_norm:.1e})" if line_search
                      else f"non-finite force after Newton step {k} (no line search)")
            break
        trace.add(k, r, relative_norm(t * delta, z), math.nan)
        z, f, fnorm_prev, fnorm, its = z_new, f_new, fnorm, fn_new, its + 1
    if missed and not converged:
        reason += (f"; {missed} GMRES solve(s) missed their tolerance (worst relative residual "
                   f"{worst:.1e}): raise gmres_restart/gmres_maxiter or give the field a preconditioner")
    settings = dict(tol=tol, maxiter=maxiter,
                    gmres_tol="eisenstat-walker" if gmres_tol is None else gmres_tol,
                    gmres_restart=gmres_restart, gmres_maxiter=gmres_maxiter,
                    line_search=line_search, max_backtracks=max_backtracks,
                    gmres_unconverged=missed, preconditioned=field.precondition is not None)
    return SolveResult(z, converged, reason, "newton", settings, iterations=its, nfev=nfev,
                       matvecs=matvecs, linear_iterations=np.asarray(lin_its, dtype=np.int64),
                       slow_modes=slow, **trace.arrays())


#: stagnated Newton solves go back to relaxation at most this many times, each handing over at a
#: residual HANDOVER_SHRINK times smaller (1e-2 → 1e-4 → 1e-6 by default)
MAX_HANDOVERS, HANDOVER_SHRINK = 3, 1e-2


def _stagnated(nk: SolveResult) -> bool:
    return not nk.converged and nk.reason.startswith("stagnated")


def _chain(stages: list[tuple[SolveResult, bool]]) -> dict:
    """The traces of solver stages on one ``step`` axis; ``(result, continues)``: whether the stage
    started from the previous stage's final state (whose trace entry it then repeats)."""
    parts, offset = [], 0
    for i, (res, continues) in enumerate(stages):
        drop = 1 if continues and i else 0
        if parts and drop:  # the previous stage's last entry is this stage's first
            parts[-1] = {k: v[:-1] for k, v in parts[-1].items()}
        steps = res.step + offset + (0 if (continues or not i) else 1)
        parts.append({"step": steps, "force_residual": res.force_residual,
                      "step_residual": res.step_residual, "eps": res.eps})
        offset = int(steps[-1]) if len(steps) else offset
    return {k: np.concatenate([p[k] for p in parts]) for k in ("step", "force_residual", "step_residual", "eps")}


def find_fixed_point(
    field: Field,
    eps: float = 0.1,
    z0: torch.Tensor | None = None,
    tol: float = 1e-9,
    relax_steps: int = 300,
    newton: bool = True,
    newton_from: float = 1e-2,
    maxiter: int = 30,
    gmres_tol: float | None = None,
    gmres_restart: int = 30,
    line_search: bool = True,
    progress: bool = False,
    gmres_maxiter: int = 300,
    **overrides: float,
) -> SolveResult:
    """Euler relaxation (≤ ``relax_steps`` steps) then Newton–Krylov polish to ``tol``.

    Relaxation hands over to Newton once the force residual is ≤ ``newton_from`` (it is then
    settling on the fixed point it selects: Newton gets there in a few steps, where contraction at
    rate max|μ| would take hundreds; at n = 131,072 this cut the fixed point from 315 to 172
    forward-equivalents); without ``newton`` it relaxes to ``tol``. Newton starts from the relaxed
    state, or from ``z0`` when relaxation increased the force residual (it ran away from an
    unstable fixed point, or blew up): Newton can still reach that fixed point.

    Newton is local: from the hand-over state it can stagnate in a local minimum of ‖F‖ (where J
    is nearly singular) although the relaxation converges. A stagnated Newton solve goes back to
    relaxation (the same Euler map, at most ``relax_steps`` more steps from the relaxed state —
    not an overshoot-driven ε, which on non-normal fields shrinks ε at every transient rise of ‖F‖)
    and hands over again at a residual 100× smaller, up to :data:`MAX_HANDOVERS` times. Where the
    relaxation makes no progress (it circles an unstable fixed point, as past a Hopf point, or one
    sequence of a batch does), Newton still starts again from where it stopped: another phase of
    the oscillation, from which Newton often converges where it stagnated before (a random C=32
    block on 8 sequences, one of them oscillating: Newton from the relaxation after 156, 200, 300,
    400, 500, 700 and 1,000 steps stagnated, stagnated, converged, stagnated, converged, converged,
    stagnated). The reason names every stage. The returned traces concatenate all stages on one ``step`` axis (Newton entries
    have ``eps`` = NaN); ``solver`` lists the stages (``'euler+newton'``, ``'euler'`` if Newton was
    not needed, ``'euler+newton+euler+newton'`` after a fallback).
    """
    if overrides:
        field = field.with_params(**overrides)
    z_start = initial_state(field, z0)
    handover = max(tol, newton_from) if newton else tol
    rel = relax_euler(field, eps, relax_steps, z_start, tol=handover, progress=progress)
    stages, names, reasons = [(rel, True)], ["euler"], [f"euler: {rel.reason}"]
    if not newton or rel.final_force_residual <= tol:
        return rel
    from_relaxed = len(rel.step) > 0 and rel.final_force_residual <= rel.force_residual[0]
    newton_start, relaxed = (rel.z if from_relaxed else z_start), rel
    for attempt in range(MAX_HANDOVERS + 1):
        nk = newton_krylov(field, newton_start, tol=tol, maxiter=maxiter, gmres_tol=gmres_tol,
                           gmres_restart=gmres_restart, line_search=line_search, gmres_maxiter=gmres_maxiter)
        start = ("relaxed state" if newton_start is relaxed.z else
                 "z0 (relaxation increased the force residual)")
        stages.append((nk, newton_start is relaxed.z))
        names.append("newton")
        reasons.append(f"newton from {start}: {nk.reason}")
        if nk.converged or not _stagnated(nk) or attempt == MAX_HANDOVERS or newton_start is not relaxed.z:
            break
        handover = max(tol, handover * HANDOVER_SHRINK)
        again = relax_euler(field, eps, relax_steps, relaxed.z, tol=handover, progress=progress)
        stages.append((again, False))  # restarts from the relaxed state, not from Newton's
        names.append("euler")
        stuck = not again.final_force_residual < relaxed.final_force_residual
        reasons.append(f"back to relaxation (Newton stagnated): {again.reason}"
                       + ("; no progress, so Newton again from where it stopped" if stuck else ""))
        if again.converged and handover <= tol:
            nk = again
            break
        if not math.isfinite(again.final_force_residual):
            break  # the relaxation blew up: report the stagnation
        newton_start, relaxed = again.z, again
    settings = {**nk.settings, "eps": eps, "relax_steps": relax_steps, "newton_from": newton_from,
                "newton_start": "relaxed" if newton_start is relaxed.z else "z0",
                "handovers": names.count("newton")}
    newtons = [r for r, _ in stages if r.solver == "newton"]
    return SolveResult(
        nk.z, nk.converged, "; ".join(reasons), "+".join(names), settings, **_chain(stages),
        iterations=sum(r.iterations for r, _ in stages), nfev=sum(r.nfev for r, _ in stages),
        matvecs=sum(r.matvecs for r in newtons),
        linear_iterations=np.concatenate([r.linear_iterations for r in newtons]),
        polished_from=newton_start if nk.solver == "newton" else None,
        slow_modes=nk.slow_modes if nk.solver == "newton" else None,
    )
