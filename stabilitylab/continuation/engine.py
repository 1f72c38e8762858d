"""The continuation engine: one predictor–corrector step with step control, the secant locator of
events within a step, and the range test, shared by every continuation problem: fixed-point
branches (:mod:`.run`), two-knob curves of a defining system (:mod:`.curve`) and branches of
periodic orbits (:mod:`stabilitylab.cycles.flow_branch`).

A problem brings a :class:`Corrector` on its unknown vector x (the continued knob last): it solves
``G(x) = 0, ⟨c, x − x0⟩ = s`` from a guess, gives the unit tangent oriented along a vector c, and
the norm of its arclength metric. The engine:

- :func:`advance`: the predictor's plan (:mod:`.predictor`) for a step ds, the correction, and its
  rejection when Newton fails, when the problem's ``accept`` refuses the point, or when the
  correction deviates from the prediction by more than ``max_angle`` (``atan(‖x − guess‖/‖guess −
  x_k‖)``: Newton jumped to another branch, or the step is too long for the curvature); ds is then
  halved, and the step fails, with the last reason, once ds < ``ds_min``;
- :func:`next_ds`: ds grown ×``grow`` (≤ ``ds_max``, or the problem's own cap) after a Newton
  solve of ≤ ``easy_iters`` steps;
- :func:`locate`: the Illinois variant of regula falsi (a secant that keeps a bracket and converges
  superlinearly) on an event's test function g(s) over the step's own parametrisation s, each
  trial re-corrected from the linear interpolation of the bracket's ends (:func:`on_step`);
- :func:`range_exit`: why a branch stops at p: past the range's end, or back out through its start.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

END_REACHED = "reached the end of the range"
LEFT_START = "left the range back through its start"


@dataclass
class Correction:
    """Outcome of one corrector solve: the point ``x``, Newton ``iterations``, Jacobian-vector
    products ``matvecs``, final ``residual`` (the problem's own, named in its docs) and, on
    failure, the ``reason``."""

    x: torch.Tensor
    converged: bool
    iterations: int
    matvecs: int
    residual: float
    reason: str = ""


class Corrector(Protocol):
    def correct(self, x0: torch.Tensor, c: torch.Tensor, s: float, guess: torch.Tensor) -> Correction: ...

    def tangent(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, int]: ...

    def norm(self, v: torch.Tensor) -> float: ...


@dataclass(frozen=True)
class StepOptions:
    """Step control: first step ``ds`` within ``[ds_min, ds_max]``, grown ×``grow`` after at most
    ``easy_iters`` Newton steps, a correction rejected beyond ``max_angle`` degrees."""

    ds: float = 0.02
    ds_min: float = 1e-5
    ds_max: float = 0.1
    grow: float = 1.5
    easy_iters: int = 3
    max_angle: float = 30.0


@dataclass
class Step:
    """An accepted step: the corrected point ``x`` of the constraint ``⟨c, x − x_k⟩ = s`` from
    ``guess``, the ``ds`` it was taken with and the arclength ``taken``; Newton's ``iterations``
    and ``residual``, the Jacobian products of every try (``matvecs``)."""

    x: torch.Tensor
    guess: torch.Tensor
    c: torch.Tensor
    s: float
    ds: float
    taken: float
    iterations: int
    residual: float
    matvecs: int


@dataclass
class Failure:
    """No step down to ds_min converged: the ``reason`` of the last try, the products spent."""

    reason: str
    matvecs: int


def deviation(corrector: Corrector, x0: torch.Tensor, guess: torch.Tensor, x: torch.Tensor) -> float:
    """``atan(‖x − guess‖/‖guess − x0‖)`` in degrees: how far the corrector moved the prediction."""
    return math.degrees(math.atan2(corrector.norm(x - guess), corrector.norm(guess - x0)))


def advance(corrector: Corrector, plan: Callable, cursor, options, accept: Callable | None = None) -> Step | Failure:
    """One accepted step from ``cursor`` (``.x``, ``.t``, ``.ds``); ``plan(cursor, ds)`` gives
    ``(c, s, guess, taken)``; ``accept(x)`` returns why a converged point is refused ('' if not)."""
    ds, matvecs = cursor.ds, 0
    while True:
        c, s, guess, taken = plan(cursor, ds)
        corr = corrector.correct(cursor.x, c, s, guess)
        matvecs += corr.matvecs
        why = corr.reason
        if corr.converged:
            why = accept(corr.x) if accept is not None else ""
            if not why:
                turn = deviation(corrector, cursor.x, guess, corr.x)
                if turn <= options.max_angle:
                    return Step(corr.x, guess, c, s, ds, taken, corr.iterations, corr.residual, matvecs)
                why = f"the correction deviates by {turn:.0f}° > max_angle {options.max_angle:g}° from the prediction"
        ds /= 2
        if ds < options.ds_min:
            return Failure(why or "the corrector did not converge", matvecs)


def next_ds(step: Step, options, cap: float | None = None) -> float:
    """The next step: ds grown ×``grow`` after an easy Newton solve, at most ``cap`` (default
    ``ds_max``)."""
    grow = options.grow if step.iterations <= options.easy_iters else 1.0
    return min(options.ds_max if cap is None else cap, step.ds * grow)


@dataclass
class Bracket:
    """The located event: the final bracket ``lo``, ``hi`` (samples with ``.s``), the sample of
    smallest |g| (``best``; ``exact`` when g vanished there) and the trial ``evaluations``."""

    lo: object
    hi: object
    best: object
    exact: bool
    evaluations: int


def locate(lo, hi, g: Callable, trial: Callable, tol: float, maxiter: int) -> Bracket:
    """Illinois iteration for the sign change of ``g(sample)`` between samples ``lo`` and ``hi``;
    ``trial(s, lo, hi)`` returns the sample at s (None when it cannot be computed: the search stops
    with the bracket it has)."""
    wlo, whi = g(lo), g(hi)  # the secant's weights: g's values, halved by Illinois
    side, evals, exact = 0, 0, None
    while abs(hi.s - lo.s) > tol and evals < maxiter and wlo != whi:
        s = hi.s - whi * (hi.s - lo.s) / (whi - wlo)
        if not min(lo.s, hi.s) < s < max(lo.s, hi.s):
            s = 0.5 * (lo.s + hi.s)
        sample = trial(s, lo, hi)
        evals += 1
        if sample is None:
            break
        gt = g(sample)
        if not math.isfinite(gt):
            break
        if gt == 0.0:
            exact = sample
            break
        if (gt > 0) == (whi > 0):
            hi, whi = sample, gt
            wlo = wlo / 2 if side == 1 else wlo
            side = 1
        else:
            lo, wlo = sample, gt
            whi = whi / 2 if side == -1 else whi
            side = -1
    best = exact or min((lo, hi), key=lambda smp: abs(g(smp)) if math.isfinite(g(smp)) else math.inf)
    return Bracket(lo, hi, best, exact is not None, evals)


def on_step(corrector: Corrector, x0: torch.Tensor, c: torch.Tensor, measure: Callable) -> Callable:
    """A :func:`locate` trial on the step ``⟨c, x − x0⟩ = s``: the point re-corrected from the
    linear interpolation of the bracket's ends (which satisfies the constraint exactly), then
    ``measure(s, correction, nearer_end)`` (None if Newton fails)."""
    def trial(s, lo, hi):
        frac = (s - lo.s) / (hi.s - lo.s)
        corr = corrector.correct(x0, c, s, lo.x + frac * (hi.x - lo.x))
        if not corr.converged:
            return None
        return measure(s, corr, lo if frac < 0.5 else hi)

    return trial


def range_exit(p: float, start: float, end: float, name: str, slack: float = 0.0) -> str:
    """Why a branch at knob value p stops ('' while it lies inside the range from ``start`` to
    ``end``; within ``slack`` of the end counts as reached)."""
    d = 1.0 if end > start else -1.0
    if (p - end) * d > -slack:
        return f"{END_REACHED} ({name}={p:.6g})"
    if (p - start) * d < -slack:
        return f"{LEFT_START} at {name}={p:.6g} (the branch turned back at a fold)"
    return ""
