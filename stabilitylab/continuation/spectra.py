"""Leading eigenvalues of J (rightmost, ``LR``) and of M = I + εJ (largest modulus, ``LM``) along a
branch, warm-started from the previous point's eigenvectors, with an adaptive window.

Unstable counts: ``#{Re λ > δ}`` for J and ``#{|μ| > 1 + δ}`` for M (δ = ``detect_tol``). The
window computes ``k_eff = max(k, unstable + margin)`` eigenvalues (capped at n − 1) and grows it
until it holds every unstable mode plus the margin, so a crossing mode is never outside it.
Eigenvalues are ranked (rightmost first for J, largest modulus first for M; conjugate pairs
adjacent, Im > 0 first): the crossing indicator of :mod:`.events` is an order statistic of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..linear import LinearOperator
from ..spectral import leading_eigs
from ..spectral.dense import needs_dense
from .problem import ContinuationProblem

OPERATORS = {"J": "LR", "M": "LM"}


def rank(values: np.ndarray, operator: str) -> np.ndarray:
    """Ranking key order: J by Re λ, M by |μ| (descending; Im > 0 first within a pair)."""
    key = values.real if operator == "J" else np.abs(values)
    return np.lexsort((-values.imag, -key))


def unstable_count(values: np.ndarray, operator: str, delta: float) -> int:
    if operator == "J":
        return int((values.real > delta).sum())
    return int((np.abs(values) > 1.0 + delta).sum())


@dataclass
class ModeSet:
    """Ranked leading eigenvalues of one operator at one point, their vectors (warm start) and
    the cost of computing them."""

    operator: str
    values: np.ndarray
    vectors: torch.Tensor | None
    n_unstable: int
    matvecs: int


class SpectrumTracker:
    """Computes :class:`ModeSet` s for J and M at branch points, warm-started from the last ones."""

    def __init__(self, problem: ContinuationProblem, k: int, margin: int, tol: float, delta: float):
        self.problem = problem
        self.n, self.k, self.margin, self.tol, self.delta = problem.n, k, margin, tol, delta

    def _modes(self, op: LinearOperator, operator: str, warm: ModeSet | None, at_least: int) -> ModeSet:
        kmax = self.n if needs_dense(self.n, self.n) else self.n - 1  # a tiny state: all n, densely
        want = min(kmax, max(self.k, at_least, (warm.n_unstable if warm else 0) + self.margin))
        v0 = warm.vectors if warm is not None else None
        matvecs = 0
        while True:
            res = leading_eigs(op, k=want, which=OPERATORS[operator], tol=self.tol, v0=v0,
                               return_eigenvectors=True)
            matvecs += res.matvecs
            values = res.eigenvalues.numpy()
            order = rank(values, operator)
            values, vectors = values[order], res.eigenvectors[:, torch.as_tensor(order)]
            count = unstable_count(values, operator, self.delta)
            if count + self.margin <= want or want == kmax:
                return ModeSet(operator, values, vectors, count, matvecs)
            want, v0 = min(kmax, count + self.margin), vectors

    def modes(self, z: torch.Tensor, p: float, operators=("J", "M"), warm: dict | None = None,
              at_least: int = 0) -> dict:
        """``{'J': ModeSet, 'M': ModeSet}`` (or the given subset) at the branch point (z, p), with
        at least ``at_least`` eigenvalues each."""
        warm = warm or {}
        lin = self.problem.linearization(z, p)
        ops = {"J": lin.J(), "M": lin.M(self.problem.eps)}
        return {name: self._modes(ops[name], name, warm.get(name), at_least) for name in operators}
