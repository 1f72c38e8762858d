"""Leading eigenvalues of J (rightmost, ``LR``) and of M = I + εJ (largest modulus, ``LM``) along a
branch, warm-started from the previous point's eigenvectors, with an adaptive window.

Unstable counts: ``#{Re λ > δ}`` for J and ``#{|μ| > 1 + δ}`` for M (δ = ``detect_tol``). The
window computes ``k_eff = max(k, unstable + margin)`` eigenvalues and grows it until it holds
every unstable mode plus the margin, so a crossing mode is never outside it — but never past
``max_window`` (nor n − 1): a degenerate spectrum (copies of every eigenvalue) would otherwise grow
it step after step; a full window marks its count as a lower bound (``window_full``). Each ModeSet
says whether its eigenvalues converged and keeps their residuals (the events' error bars).

M = I + εJ has the Krylov spaces of J: with ``search="shared"`` (the default) both ModeSets of a
point come from ONE Krylov–Schur search on J that keeps two wanted sets at every restart
(:func:`~..spectral.krylov_schur.eigs_shared`): the rightmost λ, and the largest ``|1 + ελ|`` —
M's values are ``μ = 1 + ελ`` of the latter, their residuals ε times J's. Each set keeps its own
window; when one must grow, the shared search reruns (warm) with the larger window. J's ModeSet
carries the products of the shared search(es), M's none. ``search="separate"``, a tiny state (the
exact dense path) and a single operator asked for (event location) search each operator alone.
With a shift σ, J's modes come from :func:`~..spectral.transform.eigs_shift_invert` and M's are
``μ = 1 + ελ`` of the same eigenpairs (one search serves both; stiff flips are not searched).
Eigenvalues are ranked (rightmost first for J, largest modulus first for M; conjugate pairs
adjacent, Im > 0 first): the crossing indicator of :mod:`.events` is an order statistic of them.
Copies of one eigenvalue (equal to 1e-6 relative; a degenerate spectrum, e.g. a batch of identical
sequences) are kept once with the number found (``copies``): a single-vector Krylov search finds a
varying number of them, and counting them would make the counts and the order statistic jump.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..spectral import leading_eigs
from ..spectral.dense import needs_dense
from ..spectral.krylov_schur import eigs_shared
from ..spectral.multiplicity import distinct
from ..spectral.transform import eigs_shift_invert
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
    the cost of computing them (``matvecs``; 0 for M when J's search served both)."""

    operator: str
    values: np.ndarray
    vectors: torch.Tensor | None
    n_unstable: int
    matvecs: int
    residuals: np.ndarray | None = None
    converged: bool = True
    window_full: bool = False
    copies: np.ndarray | None = None


class SpectrumTracker:
    """Computes :class:`ModeSet` s for J and M at branch points, warm-started from the last ones."""

    def __init__(self, problem: ContinuationProblem, options):
        self.problem, self.options = problem, options
        self.n, self.k, self.margin = problem.n, options.k, options.margin
        self.tol, self.delta = options.eig_tol, options.detect_tol
        full = self.n if needs_dense(self.n, self.n) else self.n - 1  # a tiny state: all n, densely
        self.kmax = min(full, options.max_window)
        # one search for J and M: not by shift-invert, nor on a tiny state (exact dense path)
        self.shared = (options.search == "shared" and options.sigma is None
                       and not needs_dense(self.n, self.kmax))

    def _search(self, lin, operator: str, want: int, v0):
        """(eigenvalues, vectors, residuals, converged, matvecs) of one search, unranked."""
        opts = self.options
        if opts.sigma is None:
            op = lin.J() if operator == "J" else lin.M(self.problem.eps)
            res = leading_eigs(op, k=want, which=OPERATORS[operator], tol=self.tol, v0=v0,
                       maxiter=opts.eig_maxiter, return_eigenvectors=True)
            return (res.eigenvalues.numpy(), res.eigenvectors, res.residuals.numpy(),
                    res.converged, res.matvecs)
        res = eigs_shift_invert(lin, opts.sigma, k=want, tol=self.tol, v0=v0, maxiter=opts.eig_maxiter,
                                return_eigenvectors=True, gmres_restart=opts.gmres_restart,
                                gmres_maxiter=opts.gmres_maxiter)
        lam, resid = res.eigenvalues.numpy(), res.residuals.numpy()
        if operator == "M":
            lam, resid = 1 + self.problem.eps * lam, self.problem.eps * resid
        return lam, res.eigenvectors, resid, res.converged, res.matvecs

    def _want(self, warm: ModeSet | None, at_least: int) -> int:
        """First window: k, ``at_least``, and the previous point's unstable modes plus the margin."""
        return min(self.kmax, max(self.k, at_least, (warm.n_unstable if warm else 0) + self.margin))

    def _window(self, operator: str, values, vectors, resid, converged: bool, want: int,
                matvecs: int) -> tuple[ModeSet, int]:
        """(the ranked ModeSet of one search, copies kept once; the larger window the next search
        needs, 0 when this one holds every unstable mode plus the margin or is ``kmax`` already)."""
        order = rank(values, operator)
        keep, copies = distinct(values[order] if operator == "J" else (values[order] - 1) / self.problem.eps)
        order = order[keep]
        values, vectors, resid = values[order], vectors[:, torch.as_tensor(order)], resid[order]
        count = unstable_count(values, operator, self.delta)
        need = count + self.margin  # distinct modes the window must hold (copies take slots)
        full = need > len(values)
        grow = min(self.kmax, want + max(2, need - len(values))) if full and want < self.kmax else 0
        return ModeSet(operator, values, vectors, count, matvecs, resid, converged, full, copies), grow

    def _modes(self, lin, operator: str, warm: ModeSet | None, at_least: int) -> ModeSet:
        want, v0, matvecs = self._want(warm, at_least), (warm.vectors if warm is not None else None), 0
        while True:
            values, vectors, resid, converged, mv = self._search(lin, operator, want, v0)
            matvecs += mv
            modes, grow = self._window(operator, values, vectors, resid, converged, want, matvecs)
            if not grow:
                return modes
            want, v0 = grow, modes.vectors

    def _shared_modes(self, lin, warm: dict, at_least: int) -> dict:
        """J's and M's ModeSets from one :func:`eigs_shared` search on J (rerun with the larger
        window while either set needs one); its products are counted on J's."""
        eps = self.problem.eps
        key = {"J": "LR", "M": lambda lam: np.abs(1 + eps * lam)}
        want = {op: self._want(warm.get(op), at_least) for op in key}
        old = [w.vectors for w in warm.values() if w is not None and w.vectors is not None]
        v0, matvecs = (torch.cat(old, dim=1) if old else None), 0
        while True:
            res = eigs_shared(lin.J(), {op: (key[op], want[op]) for op in key}, tol=self.tol,
                              maxiter=self.options.eig_maxiter, v0=v0, return_eigenvectors=True)
            matvecs += res.matvecs
            out, grow = {}, {}
            for op, r in res.results.items():
                lam, resid = r.eigenvalues.numpy(), r.residuals.numpy()
                values, resid = (lam, resid) if op == "J" else (1 + eps * lam, eps * resid)
                out[op], grow[op] = self._window(op, values, r.eigenvectors, resid, r.converged, want[op],
                                                 matvecs if op == "J" else 0)
            if not any(grow.values()):
                return out
            want = {op: grow[op] or want[op] for op in want}
            v0 = torch.cat([out["J"].vectors, out["M"].vectors], dim=1)

    def modes(self, z: torch.Tensor, p: float, operators=("J", "M"), warm: dict | None = None,
              at_least: int = 0) -> dict:
        """``{'J': ModeSet, 'M': ModeSet}`` (or the given subset) at the branch point (z, p), with
        at least ``at_least`` eigenvalues each."""
        warm = warm or {}
        lin = self.problem.linearization(z, p)
        if self.shared and sorted(operators) == ["J", "M"]:
            return self._shared_modes(lin, warm, at_least)
        out = {}
        for name in operators:
            if name == "M" and self.options.sigma is not None:
                j = out.get("J") or self._modes(lin, "J", warm.get("J"), at_least)
                m = self._multipliers(j)
                if m.n_unstable + self.margin <= len(m.values) or len(m.values) >= self.kmax:
                    out[name] = m
                    continue
            out[name] = self._modes(lin, name, warm.get(name), at_least)
        return out

    def _multipliers(self, j: ModeSet) -> ModeSet:
        """M's modes from J's shift-invert modes: μ = 1 + ελ, ranked by |μ| (no extra products)."""
        eps = self.problem.eps
        mu = 1 + eps * j.values
        order = rank(mu, "M")
        count = unstable_count(mu[order], "M", self.delta)
        return ModeSet("M", mu[order], j.vectors[:, torch.as_tensor(order)], count, 0,
                       eps * j.residuals[order], j.converged, j.window_full, j.copies[order])
