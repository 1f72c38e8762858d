"""Non-normality diagnostics of J at a state, all matrix-free, to a stated accuracy.

With S = (J + Jᵀ)/2 and A = (J − Jᵀ)/2:

- antisymmetry ratio ‖A v‖/‖J v‖ (mean over random unit probes v, drawn in float64 whatever the
  state dtype, so float32 and float64 runs use the same probes): 0 for a conservative field;
- numerical abscissa (log-norm) ω(J) = λ_max(S), by Lanczos on v ↦ (Jv + Jᵀv)/2. ω < 0 means
  ‖e^{Jt}‖ ≤ e^{ωt}: monotone contraction in the Euclidean norm. A stable spectrum with ω > 0 still
  allows transient growth;
- transient growth of the Euler map, max_{0≤k≤K} ‖M^k‖₂ with M = I + εJ: probe vectors (the top
  eigenvector of S, which grows fastest at first) are propagated to find the peak step k*, power
  steps on (M^{k*})ᵀ M^{k*} re-locate it, then ‖M^{k*}‖₂ = √λ_max((M^{k*})ᵀ M^{k*}) by Lanczos
  (k* JVPs and k* VJPs per product). Not computed when max|μ| > 1 (it grows without bound);
- contraction-margin decomposition: ‖A‖₂ = √λ_max(−A²) and the margin −ω. When ω < 0, S is
  negative definite with ‖S⁻¹‖ = 1/|ω|, so ρ(S⁻¹A) ≤ ‖A‖/|ω| — the quantity that bounds the
  first-order AEP expansion (research seeds: ‖A_G‖ / ((1+c) − ‖S_G‖)).

Accuracy. ``full`` (tol 1e-8): every Lanczos value meets the residual test
‖Sx − θx‖ ≤ tol·max(|θ|, ‖S‖ estimate), so ω is within that of an eigenvalue of S (and, being a
Ritz value, never above λ_max); ‖M^{k*}‖ is certified likewise at a settled peak step. ``fast``
(tol 1e-3): ω to the same test at 1e-3; ‖A‖ only when ω < 0 (where it bounds ρ); the growth within
:func:`growth_budget` products (100 at n ≥ 131,072) — always a lower bound (a norm actually
reached), certified to 1e-3 only when the budget sufficed (``converged``), else
``transient_growth_residual`` says how far its last power step was from an eigenpair of
(M^k)ᵀM^k. A peak far out costs 2k products per power step: on a random C=512 block at ε = 0.1
(ω = 2.0, peak ≈ 5.65 at k ≈ 30) certifying took 848 products, the budget gives ≥ 5.07 (10% low).
A Krylov basis of J
(:class:`~stabilitylab.spectral.krylov_schur.KrylovSpace`, from the eigen-search) gives start
vectors for ω and ‖A‖ for free: ``U S Uᵀ = (B + Bᵀ)/2``, ``U A Uᵀ = (B − Bᵀ)/2`` (its projected
map ``I + εB`` showed no growth at all on that block, so the growth does not start there).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from ..errors import ConvergenceWarning
from ..linear import LinearOperator, Linearization
from .dense import leading_eigs, needs_dense
from .krylov_schur import KrylovSpace
from .lanczos import eigsh

MODES = {"fast": 1e-3, "full": 1e-8}
#: ``fast`` spends on the transient growth at most the work of 100 products at research width
#: (n = 131,072): ``max(100, FAST_GROWTH_WORK // n)`` products, so small states (n = 8,192: 1,600)
#: are still certified; ``full`` has no cap
FAST_GROWTH_BUDGET, FAST_GROWTH_WORK = 100, 100 * 131_072
#: Lanczos basis for ω in ``fast``: one cycle, no thick restart (n = 131,072: 33 products of S
#: with 32 vectors, 41 with 16 and restarts)
FAST_NCV = 32


@dataclass
class NonNormality:
    antisymmetry_ratio: float
    numerical_abscissa: float
    transient_growth: float
    transient_growth_step: int
    transient_growth_residual: float  # ‖Gx − θx‖/θ at the peak step k, G = (Mᵏ)ᵀMᵏ, θ = ‖Mᵏx‖²
    norm_A: float
    contraction_margin: float
    rho_bound: float
    converged: bool  # every value computed met its tolerance (the growth: certified, not a bound)
    matvecs: int
    skipped: str  # what was not computed and why ('' when everything was)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Growth:
    """max_k ‖Mᵏ‖₂ as found: ``value`` at step ``step`` is always a lower bound (a norm
    ‖Mᵏx‖ of a unit x, or a Rayleigh quotient of (Mᵏ)ᵀMᵏ); ``certified`` when a Lanczos/power
    value met the relative residual ``tol`` at a settled peak step; ``residual``: that relative
    residual of σ² (NaN before any adjoint pass)."""

    value: float
    step: int
    certified: bool
    residual: float
    products: int


def _probes(n: int, p: int, like: torch.Tensor, seed: int) -> torch.Tensor:
    """``p`` unit random probes drawn in float64 (the same for every dtype), cast to ``like``."""
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(n, p, generator=g, dtype=torch.float64)
    V = V / torch.linalg.vector_norm(V, dim=0, keepdim=True)
    return V.to(device=like.device, dtype=like.dtype)


def _lift(space: KrylovSpace | None, small: np.ndarray | None) -> torch.Tensor | None:
    """``Uᵀ y``: an n-vector from coefficients in the Krylov basis (None without a space)."""
    if space is None or small is None:
        return None
    y = torch.from_numpy(np.ascontiguousarray(small)).to(space.U.device, space.U.dtype)
    return space.U.T @ y


def _top_symmetric(P: np.ndarray) -> np.ndarray:
    """Top eigenvector of a symmetric matrix ``P``."""
    return np.linalg.eigh(P)[1][:, -1]


def nonnormality(lin: Linearization, eps: float, mode: str = "fast", space: KrylovSpace | None = None,
                 probes: int = 4, growth_steps: int = 100, seed: int = 0,
                 max_abs_mu: float | None = None) -> NonNormality:
    """All diagnostics of the module docstring for the linearisation ``lin`` (see there).

    ``mode``: ``'fast'`` (tol 1e-3; ‖A‖ only where it bounds ρ(S⁻¹A), i.e. ω < 0; the transient
    growth within :func:`growth_budget` products, a lower bound when that does not suffice) or
    ``'full'`` (tol 1e-8, everything, the growth certified with extra random probes). ``space``: a
    Krylov basis of J at this state (start vectors; optional). ``max_abs_mu``: the spectral radius
    of M if known; above 1, ‖Mᵏ‖ grows without bound and the growth is not computed (NaN).
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}; choose one of {sorted(MODES)}")
    tol, fast = MODES[mode], mode == "fast"
    J, JT, S, A = lin.J(), lin.JT(), lin.S(), lin.A()
    V = _probes(lin.n, probes, lin.z, seed)
    JV = J.matvec(V)
    AV = 0.5 * (JV - JT.matvec(V))
    ratio = float((torch.linalg.vector_norm(AV.double(), dim=0)
                   / torch.linalg.vector_norm(JV.double(), dim=0)).mean())
    B = None if space is None else space.B
    top = _top(S, tol=tol, ncv=FAST_NCV if fast else None, seed=seed, return_eigenvectors=True,
                v0=_lift(space, None if B is None else _top_symmetric((B + B.T) / 2)))
    omega = float(top.eigenvalues[0])
    converged, skipped = top.converged, []
    if fast and omega >= 0:
        norm_A = math.nan
        skipped.append("‖A‖: no ρ(S⁻¹A) bound when ω(J) ≥ 0 (--diagnostics full computes it)")
    elif ratio < 1e-8:  # A is round-off (a conservative field): no relative tolerance is reachable
        norm_A = ratio * float(torch.linalg.vector_norm(JV, dim=0).max())
    else:
        AtA = LinearOperator(lambda v: -A.matvec(A.matvec(v)), A.n, A.dtype, A.device,
                             batched=lambda W: -A.matvec(A.matvec(W)))
        Ba = None if B is None else (B - B.T) / 2
        res = _top(AtA, tol=tol, ncv=FAST_NCV if fast else None, seed=seed,
                    v0=_lift(space, None if Ba is None else _top_symmetric(-Ba @ Ba)))
        norm_A = math.sqrt(max(float(res.eigenvalues[0]), 0.0))
        converged &= res.converged
    count = J.count + JT.count + 2 * (S.count + A.count)  # S and A: a JVP and a VJP each (AᵀA: two A)
    if max_abs_mu is not None and max_abs_mu > 1:
        growth = Growth(math.nan, -1, True, math.nan, 0)
        skipped.append(f"transient growth: max|μ| = {max_abs_mu:.6g} > 1, ‖Mᵏ‖ grows without bound")
    else:
        starts = [top.eigenvectors[:, 0].to(V.dtype)]
        if not fast:
            starts.append(V)
        growth = transient_growth(lin.M(eps), lin.JT().shifted(eps, 1.0), torch.column_stack(starts),
                                  growth_steps, tol, budget=growth_budget(lin.n) if fast else None,
                                  ncv=3 if fast else 6, seed=seed)
        converged &= growth.certified
    margin = -omega
    rho = norm_A / margin if margin > 0 else math.inf
    return NonNormality(ratio, omega, growth.value, growth.step, growth.residual, norm_A, margin, rho,
                        bool(converged), count + growth.products, "; ".join(skipped))


def growth_budget(n: int) -> int:
    """Products ``fast`` may spend on the transient growth of an n-state (see FAST_GROWTH_WORK)."""
    return max(FAST_GROWTH_BUDGET, FAST_GROWTH_WORK // n)


def transient_growth(M: LinearOperator, MT: LinearOperator, X: torch.Tensor, steps: int, tol: float,
                     budget: int | None = None, ncv: int = 3, seed: int = 0,
                     max_moves: int = 6) -> Growth:
    """max_{0≤k≤steps} ‖Mᵏ‖₂ from start vectors ``X`` (n × p), in about ``budget`` products.

    1. propagate the unit columns of X: ``‖Mʲx‖`` is a lower bound of ``‖Mʲ‖``; the best (j, x)
       is the candidate peak. Without a budget all ``steps`` steps are taken; with one,
       propagation stops below half the best value or 5 + j/4 steps past the best step j (a
       later second peak is then missed);
    2. a power step on ``G = (Mʲ)ᵀMʲ``: the adjoint pass ``w = (Mᵀ)ʲ Mʲ x`` gives θ = ‖Mʲx‖², the
       relative residual ‖w − θx‖/θ and the better bound ‖Mʲ‖ ≥ ‖w‖/‖Mʲx‖ (the Rayleigh
       quotient of Gx is at least ‖Gx‖²/xᵀGx); x ← w/‖w‖ is propagated again, while the peak step
       moves (at most ``max_moves``);
    3. on a settled peak, Lanczos on G from x gives ``‖Mʲ‖₂`` to ``tol`` (relative residual of σ²).
    With a budget, a step that would overrun it is not started: the best value so far is returned
    as a lower bound (``certified`` False, unless a power step already met ``tol``).
    ``‖M‖ ≤ 1`` (found at j = 1) means ``‖Mᵏ‖ ≤ 1`` for all k: the answer is 1 at k = 0.
    """
    start = M.count + MT.count

    def left() -> float:
        return math.inf if budget is None else budget - (M.count + MT.count - start)

    def propagate(X):
        cap = steps if budget is None else min(steps, int(left()) // X.shape[1])
        if budget is None:
            return _peak(M, X, cap, lambda j: cap, 0.0)
        return _peak(M, X, cap, lambda j: j + 5 + j // 4, 0.5)

    X = X / torch.linalg.vector_norm(X, dim=0, keepdim=True)
    peak, j, col, Y = propagate(X)
    best, x = (peak, j), X[:, col]
    k, settled, residual = 0, False, math.nan
    for _ in range(max_moves):
        if j == k or j == 0:
            settled = True
            break
        if left() < j:
            break
        k, W = j, Y
        for _ in range(j):
            W = MT.matvec(W)
        norm_y, norm_w = float(torch.linalg.vector_norm(Y)), float(torch.linalg.vector_norm(W))
        theta = norm_y**2
        residual = float(torch.linalg.vector_norm(W - theta * x)) / theta
        best = max(best, (norm_w / norm_y, j))
        x = W / norm_w
        if left() < j + 5:
            break
        peak, j, _, Y = propagate(x[:, None])
        best = max(best, (peak, j))
    certified = settled and residual <= tol
    if settled and not certified and left() >= 8 * max(k, 1):  # room for ~4 products of G
        k = max(k, 1)
        res = _top(_gram_power(M, MT, k), tol=tol, ncv=min(ncv, M.n - 1), seed=seed, v0=x,
                    maxiter=None if budget is None else max(1, int(left()) // (2 * k * ncv)))
        sigma2 = max(float(res.eigenvalues[0]), 0.0)
        residual = float(res.residuals[0]) / max(sigma2, np.finfo(float).tiny)
        certified = bool(res.converged)
        if k == 1 and sigma2 <= 1.0 and certified:
            return Growth(1.0, 0, True, residual, M.count + MT.count - start)
        best = max(best, (math.sqrt(sigma2), k))
    return Growth(best[0], best[1], certified, residual, M.count + MT.count - start)


def _peak(M: LinearOperator, X: torch.Tensor, steps: int, reach, drop: float):
    """Propagate the columns of X for at most ``steps`` steps: (best ‖Mʲx‖, j, its column, Mʲx),
    stopping below ``drop`` × the best value or past ``reach(j)`` for the best step j so far."""
    W, best, best_k, best_col, best_w = X, 1.0, 0, 0, X[:, 0]
    for k in range(1, steps + 1):
        W = M.matvec(W)
        g, c = (float(t) for t in torch.max(torch.linalg.vector_norm(W, dim=0), 0))
        if not math.isfinite(g):
            break
        if g > best:
            best, best_k, best_col, best_w = g, k, int(c), W[:, int(c)]
        elif g < drop * best or k >= reach(best_k):
            break
    return best, best_k, best_col, best_w


def _gram_power(M: LinearOperator, MT: LinearOperator, k: int) -> LinearOperator:
    """``v ↦ (Mᵏ)ᵀ Mᵏ v`` (k products of M, then k of Mᵀ; blocks go through as blocks)."""

    def apply(v):
        for _ in range(k):
            v = M.matvec(v)
        for _ in range(k):
            v = MT.matvec(v)
        return v

    return LinearOperator(apply, M.n, M.dtype, M.device, batched=apply)


def _top(op, *, tol: float, ncv: int | None, seed: int, v0=None, return_eigenvectors: bool = False,
         maxiter: int | None = None):
    """Largest eigenvalue (and eigenvector) of a symmetric operator: Lanczos, or dense on a state
    too small for a Krylov basis (``eigenvalues``, ``eigenvectors``, ``residuals``, ``converged``
    as eigsh)."""
    if needs_dense(op.n, 1):
        r = leading_eigs(op, k=1, which="LR", tol=tol, return_eigenvectors=True)
        return SimpleNamespace(eigenvalues=r.eigenvalues.real, eigenvectors=r.eigenvectors.real,
                               residuals=r.residuals, converged=r.converged)
    with warnings.catch_warnings():  # a capped budget is reported through ``converged``
        warnings.simplefilter("ignore", ConvergenceWarning)
        return eigsh(op, k=1, which="LA", tol=tol, ncv=ncv, seed=seed, v0=v0, maxiter=maxiter,
                     return_eigenvectors=return_eigenvectors)
