"""Non-normality diagnostics of J at a state, all matrix-free.

With S = (J + Jᵀ)/2 and A = (J − Jᵀ)/2:

- antisymmetry ratio ‖A v‖/‖J v‖ (averaged over random unit probes v): 0 for a conservative field;
- numerical abscissa (log-norm) ω(J) = λ_max(S), by Lanczos on v ↦ (Jv + Jᵀv)/2. ω < 0 means
  ‖e^{Jt}‖ ≤ e^{ωt}: monotone contraction in the Euclidean norm. A stable spectrum with ω > 0 still
  allows transient growth;
- transient growth of the Euler map: max_k ‖M^k v‖/‖v‖ over unit probes v (the top eigenvector
  of S, where growth starts fastest, and random vectors), M = I + εJ: a lower bound of max_k ‖M^k‖;
- contraction-margin decomposition: ‖A‖₂ = √λ_max(−A²) and the margin −ω. When ω < 0, S is
  negative definite with ‖S⁻¹‖ = 1/|ω|, so ρ(S⁻¹A) ≤ ‖A‖/|ω| — the quantity that bounds the
  first-order AEP expansion (research seeds: ‖A_G‖ / ((1+c) − ‖S_G‖)). High ρ arises either from a
  large ‖A‖ or from a collapsing margin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..linear import Linearization
from .dense import leading_eigs, needs_dense
from .lanczos import eigsh


@dataclass
class NonNormality:
    antisymmetry_ratio: float
    numerical_abscissa: float
    transient_growth: float
    transient_growth_step: int
    norm_A: float
    contraction_margin: float
    rho_bound: float
    matvecs: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _probes(n: int, p: int, like: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(n, p, generator=g, dtype=torch.float64).to(device=like.device, dtype=like.dtype)
    return V / torch.linalg.vector_norm(V, dim=0, keepdim=True)


def _largest(op, tol: float, seed: int) -> tuple[float, torch.Tensor]:
    """Largest eigenvalue and unit eigenvector (n, 1) of a symmetric operator: Lanczos, or dense on
    a state too small for it."""
    if needs_dense(op.n, 1):
        top = leading_eigs(op, k=1, which="LR", tol=tol, return_eigenvectors=True)
        return float(top.eigenvalues[0].real), top.eigenvectors.real
    top = eigsh(op, k=1, which="LA", tol=tol, seed=seed, return_eigenvectors=True)
    return float(top.eigenvalues[0]), top.eigenvectors


def nonnormality(lin: Linearization, eps: float, probes: int = 4, growth_steps: int = 100,
                 tol: float = 1e-6, seed: int = 0) -> NonNormality:
    """All diagnostics of the module docstring for the linearisation ``lin`` (see there)."""
    J, JT, S, A = lin.J(), lin.JT(), lin.S(), lin.A()
    V = _probes(lin.n, probes, lin.z, seed)
    JV, AV = J.matvec(V), A.matvec(V)
    ratio = float((torch.linalg.vector_norm(AV, dim=0) / torch.linalg.vector_norm(JV, dim=0)).mean())
    omega, top = _largest(S, tol, seed)
    AtA = type(A)(lambda v: -A.matvec(A.matvec(v)), A.n, A.dtype, A.device,
                  batched=lambda W: -A.matvec(A.matvec(W)))
    if ratio < 1e-8:  # A is round-off (a conservative field): no relative tolerance is reachable
        norm_A = ratio * float(torch.linalg.vector_norm(JV, dim=0).max())
    else:
        norm_A = math.sqrt(max(_largest(AtA, tol, seed)[0], 0.0))
    M = lin.M(eps)
    # probe from the direction of fastest instantaneous growth (top eigenvector of S) and randoms
    W, best, best_k = torch.cat([top.to(V.dtype), V], dim=1), 1.0, 0
    for k in range(1, growth_steps + 1):
        W = M.matvec(W)
        g = float(torch.linalg.vector_norm(W, dim=0).max())
        if not math.isfinite(g):
            break
        if g > best:
            best, best_k = g, k
    margin = -omega
    rho = norm_A / margin if margin > 0 else math.inf
    count = J.count + JT.count + S.count + A.count + M.count  # A products include those of AᵀA
    return NonNormality(ratio, omega, best, best_k, norm_A, margin, rho, count)
