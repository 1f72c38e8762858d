"""Explicit Euler relaxation ``z ← z + ε F(z)``: fixed ε (the deployed computation) and adaptive ε.

The adaptive controller is overshoot-driven: when the force residual rose since the previous state,
ε ← max(ε_min, shrink·ε), otherwise ε ← min(ε_max, grow·ε). Every step is *accepted* (no
reject/retry): the trajectory stays a genuine variable-step Euler trajectory, and on non-normal
fields, where ‖F‖ can rise transiently along the flow however small ε is, a rejecting controller
would stall at ε_min for ever. A flip-unstable mode (ε λ < −2) makes ‖F‖ rise step after step, so
ε is driven below ε_crit = −2a/|λ|² and the mode is damped. If ε_min itself is above ε_crit the
overshoot never ends: after ``patience`` overshoots at the floor without a new best force
residual the controller stops and says so ("step size hit the floor").
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch

from ..errors import ConfigError
from ..field import Field
from .result import SolveResult, Trace, non_finite_reason, relative_norm


@contextmanager
def progress_bar(total: int, description: str, enabled: bool):
    """Yield ``advance(residual, note)``; a transient rich bar when ``enabled``, a no-op otherwise. The
    bar shows the elapsed time and ``note`` (e.g. the stage's cost so far)."""
    if not enabled:
        yield lambda residual=None, note=None: None
        return
    from rich.progress import Progress, TimeElapsedColumn

    with Progress(*Progress.get_default_columns(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(residual=None, note=None):
            text = description if residual is None else f"{description} r_F={residual:.2e}"
            bar.update(task, advance=1, description=text if note is None else f"{text} ({note})")

        yield advance


def initial_state(field: Field, z0: torch.Tensor | None) -> torch.Tensor:
    """A private copy of ``z0`` (default ``field.z0``) in the field's shape."""
    return (field.z0 if z0 is None else z0).detach().reshape(field.shape).clone()


#: a force residual within this many ulps is at the round-off floor of the state's dtype
ROUNDOFF_ULPS = 1000


def trend(residuals, ulp: float) -> str:
    """What a residual trace did over its last quarter: at the round-off floor, still decreasing
    (by the factor per step), stalled, or rising."""
    r = np.asarray(residuals, dtype=float)
    if r[-1] <= ROUNDOFF_ULPS * ulp:
        return "at the round-off floor (converged as far as the dtype allows)"
    q = max(1, len(r) // 4)
    start, end = r[-1 - q], r[-1]
    rate = (end / start) ** (1 / q) if start > 0 else math.nan
    if rate < 0.999:
        return f"still decreasing (×{rate:.4f} per step over the last {q} steps): give more steps or a tol"
    if rate > 1.001:
        return f"rising (×{rate:.4f} per step over the last {q} steps): not settling on a fixed point"
    return f"stalled (no decrease over the last {q} steps): not a fixed point within round-off"


def _done(tol, r, k) -> str:
    return f"force residual {r:.2e} ≤ tol {tol:.0e} after {k} steps"


@torch.no_grad()
def relax_euler(
    field: Field,
    eps: float = 0.1,
    steps: int = 3000,
    z0: torch.Tensor | None = None,
    tol: float | None = None,
    record_every: int = 1,
    progress: bool = False,
) -> SolveResult:
    """Run ``steps`` Euler steps ``z ← z + εF(z)`` from ``z0`` (default ``field.z0``).

    Stops early only when ``tol`` is given and the force residual ‖F(z)‖/max(‖z‖, 1) ≤ tol. Residuals are
    recorded (and NaN/Inf detected) every ``record_every`` steps and at the last state; a
    non-finite state stops the run and returns the last recorded finite state.
    """
    if record_every < 1:
        raise ConfigError(f"record_every must be ≥ 1, got {record_every}")
    z = initial_state(field, z0)
    trace, nfev = Trace(), 0
    good, good_k, converged, reason = z, 0, False, None
    with progress_bar(steps, "Euler relaxation", progress) as advance:
        for k in range(steps + 1):
            f = field(z)
            nfev += 1
            if k % record_every == 0 or k == steps:
                r = relative_norm(f, z)
                if math.isnan(r):
                    reason = non_finite_reason(z, k)
                    break
                trace.add(k, r, eps * r, eps)
                good, good_k = z, k
                if tol is not None and r <= tol:
                    converged, reason = True, _done(tol, r, k)
                    break
            if k == steps:
                break
            z = z + eps * f
            advance(trace.rows[-1][1])
    if reason is None:
        r = trace.rows[-1][1]
        reason = (f"maxiter reached ({steps} steps), force residual {r:.2e} > tol {tol:.0e}"
                  if tol is not None else f"ran all {steps} steps (no tol): force residual {r:.2e}, "
                  f"{trend([row[1] for row in trace.rows], torch.finfo(z.dtype).eps)}")
    settings = dict(eps=eps, steps=steps, tol=tol, record_every=record_every)
    return SolveResult(good, converged, reason, "euler", settings, iterations=good_k, nfev=nfev,
                       **trace.arrays())


@torch.no_grad()
def relax_adaptive(
    field: Field,
    eps: float = 0.1,
    steps: int = 3000,
    z0: torch.Tensor | None = None,
    eps_min: float = 1e-3,
    eps_max: float | None = None,
    shrink: float = 0.7,
    grow: float = 1.05,
    tol: float | None = 1e-9,
    patience: int = 50,
    progress: bool = False,
) -> SolveResult:
    """Euler relaxation with the overshoot-driven ε controller (see the module docstring).

    ``eps`` is the starting step, ``eps_max`` defaults to it (the controller never exceeds the
    deployed ε unless asked). Stops when the force residual ≤ ``tol``, after ``steps`` steps, on a
    non-finite state, or when ε is stuck at ``eps_min`` (``patience`` overshoots at the floor with
    no new best force residual). ``settings`` records ``floor_hit`` (stopped at the floor),
    ``floor_step`` (start of that stuck stretch, −1 if none) and ``floor_hits`` (all overshoots
    clamped at the floor).
    """
    eps_max = eps if eps_max is None else eps_max
    if not 0 < eps_min <= eps_max:
        raise ConfigError(f"need 0 < eps_min ≤ eps_max, got eps_min={eps_min}, eps_max={eps_max}")
    if not (0 < shrink < 1 and grow >= 1):
        raise ConfigError(f"need 0 < shrink < 1 ≤ grow, got shrink={shrink}, grow={grow}")
    z = initial_state(field, z0)
    e = min(max(eps, eps_min), eps_max)
    trace, nfev = Trace(), 0
    good, good_k, converged, reason = z, 0, False, None
    prev = best = math.inf
    floor_hits, stuck, floor_step = 0, 0, -1
    with progress_bar(steps, "adaptive relaxation", progress) as advance:
        for k in range(steps + 1):
            f = field(z)
            nfev += 1
            r = relative_norm(f, z)
            if math.isnan(r):
                reason = non_finite_reason(z, k)
                break
            if r > prev:  # overshoot
                if e * shrink < eps_min:
                    floor_hits, stuck = floor_hits + 1, stuck + 1
                    floor_step = k if floor_step < 0 else floor_step
                e = max(eps_min, e * shrink)
            elif k > 0:
                e = min(eps_max, e * grow)
            if r < best:
                best, stuck, floor_step = r, 0, -1
            prev = r
            trace.add(k, r, e * r, e)
            good, good_k = z, k
            if tol is not None and r <= tol:
                converged, reason = True, _done(tol, r, k)
                break
            if stuck >= patience:
                reason = (f"step size hit the floor eps_min={eps_min:g} at step {floor_step} "
                          f"(overshoot persists: {stuck} overshoots at the floor, no new best "
                          f"force residual; best {best:.2e}, now {r:.2e})")
                break
            if k == steps:
                break
            z = z + e * f
            advance(r)
    if reason is None:
        reason = f"maxiter reached ({steps} steps), force residual {trace.rows[-1][1]:.2e}"
    floor_hit = stuck >= patience
    settings = dict(eps=eps, steps=steps, eps_min=eps_min, eps_max=eps_max, shrink=shrink,
                    grow=grow, tol=tol, patience=patience, floor_hit=floor_hit,
                    floor_step=floor_step if floor_hit else -1, floor_hits=floor_hits)
    return SolveResult(good, converged, reason, "euler_adaptive", settings, iterations=good_k,
                       nfev=nfev, **trace.arrays())
