"""Codimension-2 points on a two-knob curve of Hopf / Neimark–Sacker / fold points: each is a
:class:`CurveEvent`, the sign change of a test function of the curve's state (:class:`Measure`),
located by the engine's secant on the curve's arclength (:mod:`stabilitylab.continuation.curve`).

    hopf:            bogdanov_takens κ = ω² (the curve ends there), bautin l1
    neimark_sacker:  resonance_1:k κ − cos(2π/k), k = 1..4 (the curve ends at 1:1 and 1:2),
                     chenciner d
    fold:            cusp ½⟨p̂, B(q, q)⟩ (a's numerator: finite where a has a pole);
                     bogdanov_takens in :mod:`.fold_bogdanov_takens`
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from . import Kind, register


@dataclass(frozen=True)
class Measure:
    """What a curve point offers the test functions: the eigenvalue parameter ``kappa`` (ω² for
    Hopf, cos θ for NS; None for real kinds), the normal-form ``coefficient`` (l1, d, or a fold's a;
    NaN when not computed) and, on fold curves, the ``pairing`` ⟨p̂, q̂⟩ of the unit left and
    right null vectors (p̂ oriented continuously along the curve; it vanishes at a
    Bogdanov–Takens point, where a = ½⟨p, B⟩/⟨p, q⟩ has a pole)."""

    kappa: float | None
    coefficient: float = math.nan
    pairing: float = math.nan


@dataclass(frozen=True)
class CurveEvent:
    """A codim-2 point of kind ``kind`` on curves of kind ``on``: its ``test`` changes sign there;
    ``coefficient``: the test needs the normal-form coefficient; ``ends(measure)`` says why the
    curve ends beyond it ('' if it goes on)."""

    kind: Kind
    on: str
    test: Callable[[Measure], float]
    coefficient: bool = False
    ends: Callable[[Measure], str] = lambda m: ""

    @property
    def name(self) -> str:
        return self.kind.name


EVENTS: list[CurveEvent] = []


def add(event: CurveEvent) -> CurveEvent:
    """Register ``event`` (its kind row must be declared; the (kind, curve) pair once)."""
    if any(e.name == event.name and e.on == event.on for e in EVENTS):
        raise ValueError(f"{event.name} on {event.on} curves is already registered")
    EVENTS.append(event)
    return event


def on(curve_kind: str) -> list[CurveEvent]:
    """The events located along a curve of ``curve_kind``."""
    return [e for e in EVENTS if e.on == curve_kind]


def _coefficient(m: Measure) -> float:
    return m.coefficient


BOGDANOV_TAKENS = register(Kind("bogdanov_takens", "Bogdanov–Takens", "D", "black", "a double zero eigenvalue "
                                "(Jordan block): Hopf and fold curves meet", "curve"))
BAUTIN = register(Kind("bautin", "Bautin", "*", "#d62728", "l1 = 0: the Hopf changes from super- to "
                       "subcritical (a fold of cycles is born)", "curve"))
CUSP = register(Kind("cusp", "cusp", "v", "black", "a = 0: two fold curves meet", "curve"))
CHENCINER = register(Kind("chenciner", "Chenciner", "*", "#9467bd", "d = 0: the Neimark–Sacker changes from "
                          "super- to subcritical", "curve"))
RESONANCES = {k: register(Kind(f"resonance_1:{k}", f"1:{k} resonance", "o", "#ff7f0e",
                               f"the multipliers pass e^(±2πi/{k}): strong resonance", "curve"))
              for k in (1, 2, 3, 4)}

add(CurveEvent(BOGDANOV_TAKENS, "hopf", lambda m: m.kappa,
               ends=lambda m: "the Hopf curve ends at a Bogdanov-Takens point (omega -> 0)" if m.kappa <= 0 else ""))
add(CurveEvent(BAUTIN, "hopf", _coefficient, coefficient=True))
for _k, _kind in RESONANCES.items():
    _c = math.cos(2 * math.pi / _k)
    _end = {1: lambda m: m.kappa >= 1, 2: lambda m: m.kappa <= -1}.get(_k, lambda m: False)
    add(CurveEvent(_kind, "neimark_sacker", lambda m, c=round(_c, 15): m.kappa - c,
                   ends=lambda m, e=_end, k=_k: f"the Neimark-Sacker curve ends at a 1:{k} resonance" if e(m) else ""))
add(CurveEvent(CHENCINER, "neimark_sacker", _coefficient, coefficient=True))
add(CurveEvent(CUSP, "fold", lambda m: m.coefficient * m.pairing if math.isfinite(m.pairing) else m.coefficient,
               coefficient=True))
