"""Bifurcations along a branch of periodic orbits (:mod:`stabilitylab.cycles.flow_branch`): each a
kind row and a test function of the orbit's tangent and non-trivial Floquet multipliers that
changes sign at the event (NaN where undefined)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import Kind, register

REAL = 1e-8  # a multiplier with |Im μ| ≤ REAL·max(|μ|, 1) is real


@dataclass(frozen=True)
class CycleEvent:
    kind: Kind
    test: Callable[[float, np.ndarray], float]  # (tangent's p-component, non-trivial multipliers)


def _split(mu: np.ndarray):
    real = np.abs(mu.imag) <= REAL * np.maximum(np.abs(mu), 1)
    return mu[real], mu[~real]


def _pd(tp: float, mu: np.ndarray) -> float:
    real, _ = _split(mu)
    return float(np.min(real.real) + 1) if real.size else math.nan


def _torus(tp: float, mu: np.ndarray) -> float:
    _, cplx = _split(mu)
    return float(np.max(np.abs(cplx)) - 1) if cplx.size else math.nan


EVENTS = (
    CycleEvent(register(Kind("fold_of_cycles", "fold of cycles (LPC)", "v", "0.1", "the branch of cycles turns "
                             "back: a stable and an unstable cycle meet", "cycle")), lambda tp, mu: tp),
    CycleEvent(register(Kind("period_doubling", "period doubling", "^", "#ff7f0e", "a Floquet multiplier passes "
                             "−1: a cycle of twice the period is born", "cycle")), _pd),
    CycleEvent(register(Kind("torus", "torus (NS of cycles)", "s", "#9467bd", "a complex pair of Floquet "
                             "multipliers leaves the unit circle: quasi-periodic motion on a torus", "cycle")), _torus),
)
