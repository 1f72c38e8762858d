"""Matrix-free eigenvalues of a symmetric operator: thick-restart Lanczos (Wu & Simon 2000).

For symmetric ``A`` the Krylov–Schur decomposition ``A U = U B + u bᵀ`` of
:mod:`~stabilitylab.spectral.krylov_schur` has a symmetric ``B``: tridiagonal after expansion,
arrowhead ("thick") after a restart that keeps Ritz vectors. The expansion is the same Arnoldi
step with full reorthogonalisation (CGS2 against the whole basis on the device), which is what
keeps Lanczos free of ghost eigenvalues; the Rayleigh–Ritz step is ``eigh`` of the symmetrised
projected matrix on the host (float64); the restart keeps the best Ritz vectors and locks the
converged ones. Used for the numerical abscissa ``ω(J) = λ_max((J + Jᵀ)/2)``.
"""
from __future__ import annotations

import numpy as np
import torch

from .krylov_schur import EigResult, Score, _finish, _Operator, _options, _score_fn, _solve

_SYMMETRIC = {
    "LA": lambda x: x,
    "SA": lambda x: -x,
    "LM": np.abs,
    "SM": lambda x: -np.abs(x),
}


def _sorted_eigh(B: np.ndarray, score: Score):
    """Eigen-decomposition of ``(B + Bᵀ)/2 = Z diag(θ) Zᵀ`` with θ in decreasing ``score``, in the
    (T, Z, block sizes, values) form of the Krylov–Schur loop."""
    theta, Z = np.linalg.eigh((B + B.T) / 2)
    order = np.argsort(-score(theta), kind="stable")
    theta, Z = theta[order], Z[:, order]
    return np.diag(theta), Z, np.ones(len(theta), dtype=int), theta


def eigsh(A, k: int = 1, which="LA", ncv: int | None = None, tol: float = 1e-8,
          maxiter: int | None = None, v0=None, seed: int = 0, return_eigenvectors: bool = False,
          n: int | None = None, dtype: torch.dtype | None = None, device=None) -> EigResult:
    """The ``k`` eigenvalues of a symmetric operator ``A`` that rank first by ``which``.

    ``which``: 'LA'/'SA' (largest / smallest algebraic), 'LM'/'SM' (modulus), or a callable key on
    real arrays (larger = wanted). Other arguments as in :func:`~stabilitylab.spectral.eigs`.
    Eigenvalues are real (float64), eigenvectors real unit columns; only the symmetric part of
    ``A`` is seen by the Rayleigh–Ritz step, so pass a genuinely symmetric operator.
    """
    op = _Operator(A, n, dtype, device, v0)
    score, name = _score_fn(which, _SYMMETRIC)
    m, tol, maxiter = _options(op, k, ncv, tol, maxiter, max(2 * k + 1, 20))
    with torch.no_grad():
        run = _solve(op, [(score, k)], m, tol, maxiter, v0, seed, _sorted_eigh)
        _, Z, _, theta = _sorted_eigh(run.B, score)
        X = run.basis.vectors(Z[:, :k])
        R = op.block(X) - X * torch.from_numpy(theta[:k]).to(X.device, X.dtype)
        sq = torch.stack([(R**2).sum(0), (X**2).sum(0)]).to("cpu", torch.float64).numpy()
    residuals, norms = np.sqrt(sq[0] / sq[1]), np.sqrt(sq[1])
    vectors = X / torch.from_numpy(norms).to(X.device, X.dtype) if return_eigenvectors else None
    return _finish(op, run, tol, "eigsh", m, theta[:k], residuals, vectors, name)
