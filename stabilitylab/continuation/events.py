"""Bifurcation events: detect a change in the unstable count, classify it, locate it precisely.

Between consecutive branch points with unstable counts ``a < b`` (either order along the branch)
of J or M, the mode of rank ``a`` (0-based, in the ranking of :mod:`.spectra`) crosses. Its
*indicator* is continuous along the branch (an order statistic of continuous eigenvalues) and
vanishes on the true crossing — detection uses the threshold δ = ``detect_tol``, location does not:

    J:  g = Re λ_(a)          M:  g = |μ_(a)| − 1,

negative at one end and positive at the other. (If the end below the threshold is already past 0,
the true crossing lies in an earlier step: the δ-shifted indicator is located instead and the
precision widened by 2δ/|dg/dp|, about twice the distance the threshold lags.) It is located on the step's own parametrisation
s ∈ (0, s_step) (arclength for PALC, p for natural continuation — so a fold, where p is extremal,
is bracketed too): each trial s re-solves the fixed point (corrector from the linear interpolation
of the two end points, which satisfies the step's constraint exactly), recomputes that operator's
leading eigenvalues and evaluates g; the Illinois variant of regula falsi (a secant method that
keeps a bracket and converges superlinearly) shrinks the bracket to ``locate_tol`` in s. The
precision reported is the real uncertainty in p: the final bracket's width, or, if larger, the
crossing eigenvalue's residual divided by the indicator's slope across the bracket (the shift in p
that an eigenvalue error of that size makes). A complex crossing mode accounts for two of the
``b − a`` crossings, a real one for one. Copies of an eigenvalue (a degenerate spectrum) are one
mode in the tracker (:mod:`.spectra`): they cross together and are reported once, with the most
copies seen at the bracket's ends as ``multiplicity`` (a lower bound).

Classification: J — complex pair → ``hopf``; real → ``fold`` if p turns within the step (the
tangent's p-component changes sign), else ``branch_point``. M — complex → ``neimark_sacker``; real
μ through +1 → ``fold``/``branch_point`` as for J; real μ through −1 → ``flip``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import events
from ..spectral.euler import is_complex, map_instability_kind
from . import engine
from .corrector import BorderedNewton
from .criticality import annotate
from .options import ContinuationOptions
from .problem import ContinuationProblem
from .spectra import ModeSet, SpectrumTracker

KINDS = events.names("fixed_point")  # the kind table's fixed-point rows
MAX_LOCATE_ITERS = 40


@dataclass
class SpecialPoint:
    """A located bifurcation: ``kind`` (one of :data:`KINDS`) of ``operator`` ('J' or 'M') at knob
    value ``param``; the crossing eigenvalue ``eig`` (λ for J, μ for M; Im ≥ 0 for a pair), its
    ``frequency`` (Im λ, or arg μ in radians per step), the ``precision`` (width in p of the final
    bracket), the branch ``point`` it follows, ‖z‖ there (``state_norm``), the indicator value
    there, the trial solves it took (``evaluations``), the copies of the crossing eigenvalue
    that cross together (``multiplicity``); for Hopf / Neimark–Sacker the normal-form
    coefficient ``l1`` (l1, or the map's d; a fold's quadratic coefficient a) and its
    ``criticality`` (:mod:`.criticality`); ``state``, the fixed point z there (flat numpy array:
    where ``curve`` starts from)."""

    kind: str
    operator: str
    param: float
    eig: complex
    frequency: float
    precision: float
    point: int
    state_norm: float
    indicator: float
    evaluations: int
    multiplicity: int = 1
    l1: float = math.nan
    criticality: str = ""
    state: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass
class Sample:
    """The indicator's input at one s: the branch point and the operator's ranked modes."""

    s: float
    x: torch.Tensor
    modes: ModeSet


def indicator(modes: ModeSet, rank: int, delta: float = 0.0) -> float:
    v = modes.values[rank]
    return float(v.real) - delta if modes.operator == "J" else float(abs(v)) - 1.0 - delta


def event_distance(before: dict, after: dict, taken: float) -> float:
    """Step length from the ``after`` point within which an event may come, ∞ when no test
    function changes: for each operator's ModeSets (``before`` and ``after`` a step of length
    ``taken``), the indicator g of every rank held by both windows (each is continuous along the
    branch: an order statistic), and the smallest |g|/|dg/ds| with dg/ds = (g_after − g_before)/taken,
    the step at which g, at its present rate, would reach zero. Every rank counts, not only the
    next to cross (a lower mode may be rushing up past a still one), and the rate's sign is
    ignored (a mode just past a crossing, or turning back, counts as near)."""
    nearest = math.inf
    for op, modes in after.items():
        old = before.get(op)
        if old is None or not taken:
            continue
        for rank in range(min(len(modes.values), len(old.values))):
            g = indicator(modes, rank)
            rate = abs(g - indicator(old, rank)) / abs(taken)
            if rate > 0:
                nearest = min(nearest, abs(g) / rate)
    return nearest


def classify(operator: str, eig: complex, turning: bool) -> str:
    if operator == "J":
        kind = "hopf" if is_complex(eig) else "fold"
    else:
        kind = map_instability_kind(eig)
    return "branch_point" if kind == "fold" and not turning else kind


def frequency(operator: str, eig: complex) -> float:
    return float(eig.imag) if operator == "J" else float(np.angle(eig))


class EventLocator:
    """Finds and locates the crossings within one continuation step."""

    def __init__(self, problem: ContinuationProblem, options: ContinuationOptions,
                 solver: BorderedNewton, tracker: SpectrumTracker):
        self.problem, self.options, self.solver, self.tracker = problem, options, solver, tracker
        self.matvecs = 0

    def between(self, index: int, x0, modes0: dict, x1, modes1: dict, c, s1: float,
                turning: bool) -> list[SpecialPoint]:
        """Events of both operators between branch point ``index`` (``x0``) and the next (``x1``),
        reached by the step ``⟨c, x − x0⟩ = s1``."""
        out = []
        for op in ("J", "M"):
            a, b = modes0[op].n_unstable, modes1[op].n_unstable
            rank = min(a, b)
            ends = (Sample(0.0, x0, modes0[op]), Sample(s1, x1, modes1[op]))
            while rank < max(a, b):
                ends = tuple(self._widen(e, op, rank) for e in ends)
                if min(len(e.modes.values) for e in ends) <= rank:
                    break  # the window is full (max_window): ranks past it cannot be followed
                event = self.locate(index, op, rank, ends, c, turning)
                out.append(event)
                rank += 2 if is_complex(event.eig) else 1
        return out

    def _widen(self, sample: Sample, op: str, rank: int) -> Sample:
        """``sample`` with at least ``rank + 2`` modes of ``op`` (recomputed when it has fewer)."""
        if len(sample.modes.values) > rank + 1:
            return sample
        z, p = self.problem.split(sample.x)
        modes = self.tracker.modes(z, p, (op,), {op: sample.modes}, at_least=rank + 2)[op]
        self.matvecs += modes.matvecs
        return Sample(sample.s, sample.x, modes)

    def _measure(self, op: str, rank: int):
        """The :func:`~.engine.on_step` measure: the operator's modes at the re-corrected point,
        warm-started from the nearer bracket end."""
        def measure(s, corr, near: Sample) -> Sample:
            self.matvecs += corr.matvecs
            z, p = self.problem.split(corr.x)
            modes = self.tracker.modes(z, p, (op,), {op: near.modes}, at_least=rank + 2)[op]
            self.matvecs += modes.matvecs
            return Sample(s, corr.x, modes)

        return measure

    def locate(self, index: int, op: str, rank: int, ends, c, turning: bool) -> SpecialPoint:
        """The engine's Illinois locator on the indicator of mode ``rank`` between ``ends``."""
        lo, hi = ends
        straddles = (indicator(lo.modes, rank) > 0) != (indicator(hi.modes, rank) > 0)
        delta = 0.0 if straddles else self.options.detect_tol

        def g(sample: Sample) -> float:
            return indicator(sample.modes, rank, delta)

        trial = engine.on_step(self.solver, lo.x, c, self._measure(op, rank))
        br = engine.locate(lo, hi, g, trial, self.options.locate_tol, MAX_LOCATE_ITERS)
        best = br.best
        eig = complex(best.modes.values[rank])
        eig = eig.conjugate() if eig.imag < 0 else eig
        z, p = self.problem.split(best.x)
        special = SpecialPoint(
            kind=classify(op, eig, turning), operator=op, param=p, eig=eig,
            frequency=frequency(op, eig), point=index,
            precision=_precision(br.lo, br.hi, g, best, rank, br.exact, delta),
            state_norm=float(torch.linalg.vector_norm(z)), indicator=g(best), evaluations=br.evaluations,
            multiplicity=max(int(e.modes.copies[rank]) for e in (br.lo, br.hi, best)),
            state=z.detach().cpu().numpy().copy())
        self.matvecs += annotate(special, self.problem.field, self.problem.param, z, self.problem.eps)
        return special


def _precision(lo: Sample, hi: Sample, g, best: Sample, rank: int, exact: bool, lag: float) -> float:
    """Width in p of the bracket (0 if ``exact``: g vanished at ``best``), or the p-shift that an
    eigenvalue error of the size of the crossing mode's residual, plus the threshold ``lag`` of a
    δ-shifted indicator, makes (divided by |dg/dp| across the bracket), whichever is larger."""
    dp = float(hi.x[-1]) - float(lo.x[-1])
    width = 0.0 if exact else abs(dp)
    resid = best.modes.residuals
    # 2·lag: the slope is measured at the δ-crossing, the curvature in between is unknown
    err = 2 * lag + (float(resid[rank]) if resid is not None and np.isfinite(resid[rank]) else 0.0)
    if dp == 0.0 or err == 0.0:
        return width
    slope = abs((g(hi) - g(lo)) / dp)
    return max(width, err / slope) if slope > 0 else width
