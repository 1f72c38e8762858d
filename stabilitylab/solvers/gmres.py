"""Restarted GMRES(m) for ``A x = b`` on flat torch vectors, matrix-free.

Each cycle builds an Arnoldi basis V of K_m(A M, r₀) (CGS2: classical Gram–Schmidt applied twice,
two block products per step, stable and device-friendly), reduces the Hessenberg matrix H with
Givens rotations so ‖b − A x‖ is known at every step without forming x, and updates
``x ← x + M V y`` with ``y = argmin ‖β e₁ − H y‖``. Right preconditioning (``M ≈ A⁻¹``) keeps the
monitored residual the true one. The (m+1)×m least-squares problem lives on the host in float64
(complex128 for complex b); the n-vectors stay on b's device and dtype. Every restart recomputes
the true residual, so loss of orthogonality cannot fake convergence, and stops when a whole cycle
left it unchanged (above ``STAGNATION`` of the last: the rounding floor of the operator, or a
singular one) instead of spinning to ``maxiter``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

Matvec = Callable[[torch.Tensor], torch.Tensor]
STAGNATION = 0.999


@dataclass
class GMRESResult:
    """``x``; ``converged`` (‖b − Ax‖ ≤ max(tol‖b‖, atol)); ``residual_norm`` = ‖b − Ax‖/‖b‖ (true
    residual); ``iterations`` = Arnoldi steps in all cycles; ``matvecs`` = products with A;
    ``stagnated``: stopped because a restart cycle made no progress."""

    x: torch.Tensor
    converged: bool
    residual_norm: float
    iterations: int
    matvecs: int
    stagnated: bool = False
    rightmost: torch.Tensor | None = None


def _givens(a, b):
    """(c, s, r) with ``[[c̄, s̄], [−s, c]] @ [a, b] = [r, 0]`` (real or complex)."""
    r = np.hypot(abs(a), abs(b))
    if r == 0:
        return 1.0, 0.0, 0.0
    return a / r, b / r, r


def gmres(
    A: Matvec | torch.Tensor,
    b: torch.Tensor,
    x0: torch.Tensor | None = None,
    tol: float = 1e-8,
    restart: int = 30,
    maxiter: int | None = None,
    M: Matvec | None = None,
    atol: float = 0.0,
    ritz: int = 0,
) -> GMRESResult:
    """Solve ``A x = b`` (``A``: a callable on flat vectors, e.g. a LinearOperator, or a matrix).

    ``tol`` is relative to ‖b‖, ``restart`` the Krylov dimension per cycle, ``maxiter`` the total
    number of Arnoldi steps over all cycles (default ``max(10·restart, 1000)``), ``M`` a right
    preconditioner (a callable approximating A⁻¹). ``ritz`` > 0 (without ``M``, whose Arnoldi
    space is one of A M): also return the sum of the ``ritz`` rightmost Ritz vectors of A in the
    last cycle's space (``rightmost``), for free: an eigen-search start rich in those modes.
    """
    if isinstance(A, torch.Tensor):
        A = A.__matmul__
    precond = (lambda v: v) if M is None else M
    maxiter = max(10 * restart, 1000) if maxiter is None else maxiter
    hdt = np.complex128 if b.is_complex() else np.float64
    bnorm = float(torch.linalg.vector_norm(b))
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    if bnorm == 0.0:
        return GMRESResult(torch.zeros_like(b), True, 0.0, 0, 0)
    target = max(tol * bnorm, atol)
    matvecs, its, last = 0, 0, np.inf
    eps_mach = torch.finfo(b.dtype).eps
    rightmost = None
    while True:
        if x0 is None and its == 0:
            r = b
        else:
            r = b - A(x)
            matvecs += 1
        beta = float(torch.linalg.vector_norm(r))
        stalled = beta > STAGNATION * last
        if beta <= target or its >= maxiter or not np.isfinite(beta) or stalled:
            return GMRESResult(x, bool(beta <= target), beta / bnorm, its, matvecs,
                               stalled and beta > target, rightmost)
        last = beta
        m = min(restart, maxiter - its)
        V = torch.empty((b.numel(), m + 1), dtype=b.dtype, device=b.device)
        V[:, 0] = r / beta
        H = np.zeros((m + 1, m), dtype=hdt)
        cs, sn = np.zeros(m, dtype=hdt), np.zeros(m, dtype=hdt)
        g = np.zeros(m + 1, dtype=hdt)
        g[0] = beta
        keep = ritz > 0 and M is None
        arnoldi = np.zeros((m + 1, m), dtype=hdt) if keep else None
        for j in range(m):
            w = A(precond(V[:, j]))
            matvecs += 1
            its += 1
            w0 = float(torch.linalg.vector_norm(w))
            Vj = V[:, : j + 1]
            h = Vj.mH @ w
            w = w - Vj @ h
            h2 = Vj.mH @ w
            w = w - Vj @ h2
            h = (h + h2).cpu().numpy().astype(hdt)
            hn = float(torch.linalg.vector_norm(w))
            H[: j + 1, j] = h
            H[j + 1, j] = hn
            if keep:
                arnoldi[: j + 2, j] = H[: j + 2, j]
            for i in range(j):  # apply the previous rotations to the new column
                H[i, j], H[i + 1, j] = (np.conj(cs[i]) * H[i, j] + np.conj(sn[i]) * H[i + 1, j],
                                        -sn[i] * H[i, j] + cs[i] * H[i + 1, j])
            cs[j], sn[j], H[j, j] = _givens(H[j, j], H[j + 1, j])
            H[j + 1, j] = 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = np.conj(cs[j]) * g[j]
            breakdown = hn <= eps_mach * w0  # happy breakdown: K_j is A-invariant
            if not breakdown:
                V[:, j + 1] = w / hn
            if abs(g[j + 1]) <= target or breakdown:
                break
        k = j + 1
        rightmost = rightmost_ritz(V, arnoldi[:k, :k], ritz) if keep else None
        y = np.linalg.lstsq(np.triu(H[:k, :k]), g[:k], rcond=None)[0]  # lstsq: safe if singular
        x = x + precond(V[:, :k] @ torch.as_tensor(y, dtype=b.dtype, device=b.device))


def rightmost_ritz(V: torch.Tensor, H: np.ndarray, count: int) -> torch.Tensor:
    """``Σ (Re + Im) V_k y_i`` over the ``count`` rightmost eigenpairs (θ_i, y_i) of the k×k
    Arnoldi matrix ``H`` of ``A V_k = V_{k+1} H̄``: the sum of those Ritz vectors (unit norm each)."""
    k = H.shape[0]
    theta, Y = np.linalg.eig(H)
    Y = Y[:, np.argsort(-theta.real, kind="stable")[:count]]
    c = Y.sum(axis=1) if V.is_complex() else (Y.real + Y.imag).sum(axis=1)
    return V[:, :k] @ torch.as_tensor(c, dtype=V.dtype, device=V.device)


#: memory for the Krylov basis of an escalated solve (n-vectors of 8 bytes)
ESCALATION_BYTES = 2**28


def gmres_escalated(A: Matvec, b: torch.Tensor, tol: float, restart: int, maxiter: int,
                    M: Matvec | None = None) -> GMRESResult:
    """GMRES(restart) with ``maxiter`` steps; if it misses ``tol`` (restarts stall on a stiff,
    unpreconditioned operator), once more from where it stopped, again with ``maxiter`` steps but
    without restarts where the basis fits :data:`ESCALATION_BYTES` (GMRES(min(maxiter, n + 1)):
    exact in ≤ n + 1 steps; up to about 250 vectors at n = 131,072). The result counts both."""
    first = gmres(A, b, tol=tol, restart=restart, maxiter=maxiter, M=M)
    n = b.numel()
    longest = min(n + 1, maxiter, max(restart, ESCALATION_BYTES // (8 * (n + 1))))
    if first.converged or longest <= restart:
        return first
    second = gmres(A, b, x0=first.x, tol=tol, restart=longest, maxiter=maxiter, M=M)
    return GMRESResult(second.x, second.converged, second.residual_norm, first.iterations + second.iterations,
                       first.matvecs + second.matvecs, second.stagnated)
