"""Non-normality diagnostics of J at a state, all matrix-free, to a stated accuracy.

With S = (J + Jᵀ)/2 and A = (J − Jᵀ)/2:

- antisymmetry ratio ‖A v‖/‖J v‖ (mean over random unit probes v, drawn in float64 whatever the
  state dtype, so float32 and float64 runs use the same probes): 0 for a conservative field;
- numerical abscissa (log-norm) ω(J) = λ_max(S), by Lanczos on v ↦ (Jv + Jᵀv)/2. ω < 0 means
  ‖e^{Jt}‖ ≤ e^{ωt}: monotone contraction in the Euclidean norm. A stable spectrum with ω > 0 still
  allows transient growth;
- transient growth of the Euler map, max_{0≤k≤K} ‖M^k‖₂ with M = I + εJ: probe vectors are
  propagated to find the peak step k*, power steps on (M^{k*})ᵀ M^{k*} re-locate it, then
  ‖M^{k*}‖₂ = √λ_max((M^{k*})ᵀ M^{k*}) by Lanczos (k* JVPs and k* VJPs per product);
- contraction-margin decomposition: ‖A‖₂ = √λ_max(−A²) and the margin −ω. When ω < 0, S is
  negative definite with ‖S⁻¹‖ = 1/|ω|, so ρ(S⁻¹A) ≤ ‖A‖/|ω| — the quantity that bounds the
  first-order AEP expansion (research seeds: ‖A_G‖ / ((1+c) − ‖S_G‖)).

Accuracy (``tol``: 1e-3 in ``fast`` mode, 1e-8 in ``full``): every Lanczos value meets the
residual test ‖Sx − θx‖ ≤ tol·max(|θ|, ‖S‖ estimate), so ω is within that of an eigenvalue of S
(and, being a Ritz value, never above λ_max); ‖M^{k*}‖ likewise to tol/2 relative. A Krylov basis of J
(:class:`~stabilitylab.spectral.krylov_schur.KrylovSpace`, from the eigen-search) makes good start
vectors for free: ``U S Uᵀ = (B + Bᵀ)/2``, ``U A Uᵀ = (B − Bᵀ)/2`` and ``U M Uᵀ = I + εB``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from ..linear import LinearOperator, Linearization
from .dense import leading_eigs, needs_dense
from .krylov_schur import KrylovSpace
from .lanczos import eigsh

MODES = {"fast": 1e-3, "full": 1e-8}


@dataclass
class NonNormality:
    antisymmetry_ratio: float
    numerical_abscissa: float
    transient_growth: float
    transient_growth_step: int
    norm_A: float
    contraction_margin: float
    rho_bound: float
    converged: bool  # every Lanczos value met its tolerance and the growth peak was bracketed
    matvecs: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


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
                 probes: int = 4, growth_steps: int = 100, seed: int = 0) -> NonNormality:
    """All diagnostics of the module docstring for the linearisation ``lin`` (see there).

    ``mode``: ``'fast'`` (tol 1e-3, growth probes stop once past the peak) or ``'full'`` (tol 1e-8,
    all ``growth_steps`` steps with extra random probes). ``space``: a Krylov basis of J at this
    state (start vectors; optional).
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}; choose one of {sorted(MODES)}")
    tol = MODES[mode]
    J, JT, S, A = lin.J(), lin.JT(), lin.S(), lin.A()
    V = _probes(lin.n, probes, lin.z, seed)
    JV = J.matvec(V)
    AV = 0.5 * (JV - JT.matvec(V))
    ratio = float((torch.linalg.vector_norm(AV.double(), dim=0)
                   / torch.linalg.vector_norm(JV.double(), dim=0)).mean())
    B = None if space is None else space.B
    ncv = 16 if mode == "fast" else None  # thick restart with fewer vectors restarts often
    top = _top(S, tol=tol, ncv=ncv, seed=seed, return_eigenvectors=True,
                v0=_lift(space, None if B is None else _top_symmetric((B + B.T) / 2)))
    omega = float(top.eigenvalues[0])
    converged = top.converged
    AtA = LinearOperator(lambda v: -A.matvec(A.matvec(v)), A.n, A.dtype, A.device,
                         batched=lambda W: -A.matvec(A.matvec(W)))
    if ratio < 1e-8:  # A is round-off (a conservative field): no relative tolerance is reachable
        norm_A = ratio * float(torch.linalg.vector_norm(JV, dim=0).max())
    else:
        Ba = None if B is None else (B - B.T) / 2
        res = _top(AtA, tol=tol, ncv=ncv, seed=seed,
                    v0=_lift(space, None if Ba is None else _top_symmetric(-Ba @ Ba)))
        norm_A = math.sqrt(max(float(res.eigenvalues[0]), 0.0))
        converged &= res.converged
    M, MT = lin.M(eps), lin.JT().shifted(eps, 1.0)
    starts = [top.eigenvectors[:, 0].to(V.dtype)]
    reduced = _reduced_growth_vector(space, eps, growth_steps)
    if reduced is not None:
        starts.append(reduced)
    if mode == "full":
        starts.append(V)
    growth, step, ok, count = transient_growth(M, MT, torch.column_stack(starts), growth_steps, tol,
                                               stop_past_peak=mode == "fast", ncv=3 if mode == "fast" else 6,
                                               seed=seed)
    margin = -omega
    rho = norm_A / margin if margin > 0 else math.inf
    count += J.count + JT.count + 2 * (S.count + A.count)  # S and A: a JVP and a VJP each (AᵀA: two A)
    return NonNormality(ratio, omega, growth, step, norm_A, margin, rho, bool(converged and ok), count)


def _reduced_growth_vector(space: KrylovSpace | None, eps: float, steps: int) -> torch.Tensor | None:
    """Start vector from the projected map ``I + εB``: the top right singular vector of its power
    with the largest norm, lifted to the state space (None without a space)."""
    if space is None:
        return None
    Mb = np.eye(len(space.B)) + eps * space.B
    P, best, best_y = np.eye(len(Mb)), 1.0, None
    for _ in range(steps):
        P = Mb @ P
        _, s, Vt = np.linalg.svd(P)
        if not np.isfinite(s[0]):
            break
        if s[0] > best:
            best, best_y = s[0], Vt[0]
    v = _lift(space, best_y)
    return None if v is None else v / torch.linalg.vector_norm(v)


def transient_growth(M: LinearOperator, MT: LinearOperator, X: torch.Tensor, steps: int, tol: float,
                     stop_past_peak: bool = True, ncv: int = 3, seed: int = 0,
                     max_moves: int = 6) -> tuple[float, int, bool, int]:
    """max_{0≤k≤steps} ‖M^k‖₂ from start vectors ``X`` (n × p): (value, k, converged, products).

    1. propagate the unit columns of X: ``‖M^j x‖`` is a lower bound of ``‖M^j‖``; the best (j, x)
       is the candidate peak (with ``stop_past_peak``, stop once below half the best value or twice
       as far as the best step, + 5: a later second peak is then missed);
    2. a power step ``x ← (M^j)ᵀ M^j x`` (normalised) moves x towards the top right singular vector
       of ``M^j``; propagate it again; repeat while the peak step moves (at most ``max_moves``);
    3. Lanczos on ``(M^j)ᵀ M^j`` from x gives ``‖M^j‖₂`` to ``tol`` (relative residual of σ²).
    ``‖M‖ ≤ 1`` (found at j = 1) means ``‖M^k‖ ≤ 1`` for all k: the answer is 1 at k = 0.
    """
    start = M.count + MT.count
    X = X / torch.linalg.vector_norm(X, dim=0, keepdim=True)
    k, settled = 0, False
    for _ in range(max_moves):
        peak, j, col, Y = _peak(M, X, steps, stop_past_peak)
        x = X[:, col]
        if j == k or j == 0:
            settled = True
            break
        k = j
        for _ in range(j):
            Y = MT.matvec(Y)
        X = (Y / torch.linalg.vector_norm(Y))[:, None]
    k = max(k, 1)
    res = _top(_gram_power(M, MT, k), tol=tol, ncv=min(ncv, M.n - 1), seed=seed,
                v0=x, return_eigenvectors=True)
    sigma = math.sqrt(max(float(res.eigenvalues[0]), 0.0))
    count = M.count + MT.count - start
    if k == 1 and sigma <= 1.0:
        return 1.0, 0, res.converged, count
    best, best_k = max((sigma, k), (peak, j))
    return best, best_k, bool(res.converged and settled), count


def _peak(M: LinearOperator, X: torch.Tensor, steps: int, stop_past_peak: bool):
    """Propagate the columns of X: (best ‖M^j x‖, j, its column, M^j x) over j = 0..steps."""
    W, best, best_k, best_col, best_w = X, 1.0, 0, 0, X[:, :1]
    for k in range(1, steps + 1):
        W = M.matvec(W)
        g, c = (float(t) for t in torch.max(torch.linalg.vector_norm(W, dim=0), 0))
        if not math.isfinite(g):
            break
        if g > best:
            best, best_k, best_col, best_w = g, k, int(c), W[:, int(c)]
        elif stop_past_peak and (g < 0.5 * best or k >= 2 * best_k + 5):
            break
    return best, best_k, best_col, best_w


def _gram_power(M: LinearOperator, MT: LinearOperator, k: int) -> LinearOperator:
    """``v ↦ (M^k)ᵀ M^k v`` (k products of M, then k of Mᵀ; blocks go through as blocks)."""

    def apply(v):
        for _ in range(k):
            v = M.matvec(v)
        for _ in range(k):
            v = MT.matvec(v)
        return v

    return LinearOperator(apply, M.n, M.dtype, M.device, batched=apply)


def _top(op, *, tol: float, ncv: int | None, seed: int, v0=None, return_eigenvectors: bool = False):
    """Largest eigenvalue (and eigenvector) of a symmetric operator: Lanczos, or dense on a state
    too small for a Krylov basis (``eigenvalues``, ``eigenvectors``, ``converged`` as eigsh)."""
    if needs_dense(op.n, 1):
        r = leading_eigs(op, k=1, which="LR", tol=tol, return_eigenvectors=True)
        return SimpleNamespace(eigenvalues=r.eigenvalues.real, eigenvectors=r.eigenvectors.real, converged=r.converged)
    return eigsh(op, k=1, which="LA", tol=tol, ncv=ncv, seed=seed, v0=v0, return_eigenvectors=return_eigenvectors)
