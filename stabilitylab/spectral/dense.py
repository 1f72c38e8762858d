"""Leading eigenvalues of an operator of any size: exact and dense on tiny states.

Krylov–Schur (:func:`~.krylov_schur.eigs`) needs two spare basis vectors (``k ≤ n − 2``), so a
state of 1 or 2 numbers (a 1-D map, the Hénon map) has no Krylov answer, nor has a request for
(nearly) all eigenvalues of a small one. :func:`leading_eigs` caps ``k`` at ``n`` and, when
``k > n − 2`` on a state of ``n ≤ DENSE_MAX_N``, forms the matrix ``A·I`` by one block product
(n operator products, no Jacobian trace) and diagonalises it on the host: every eigenvalue exact to
round-off, residuals explicit. Every other request goes to Krylov–Schur unchanged (which is itself
exact on states no larger than its basis).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from ..linear import LinearOperator
from .krylov_schur import _NONSYMMETRIC, EigResult, eigs

#: operators this small are diagonalised densely (an n×n matrix, n products)
DENSE_MAX_N = 64


def needs_dense(n: int, k: int) -> bool:
    """True where Krylov–Schur cannot serve ``k`` eigenvalues of an n×n operator but a dense
    eigendecomposition may: ``k > n − 2`` on a state of at most ``DENSE_MAX_N`` numbers."""
    return n <= DENSE_MAX_N and k > n - 2


def leading_eigs(A: LinearOperator, k: int = 6, which="LR", *, tol: float = 1e-8,
                 return_eigenvectors: bool = False, **kw) -> EigResult:
    """The ``min(k, n)`` eigenvalues of ``A`` ranking first by ``which`` (ties: larger Im first)."""
    if not needs_dense(A.n, k):
        return eigs(A, k=k, which=which, tol=tol, return_eigenvectors=return_eigenvectors, **kw)
    start = A.count
    with torch.no_grad():
        B = A.matvec(torch.eye(A.n, dtype=A.dtype, device=A.device)).to("cpu", torch.float64).numpy()
    w, V = scipy.linalg.eig(B)
    score = which if callable(which) else _NONSYMMETRIC[which]
    order = np.lexsort((-w.imag, -score(w)))[: min(k, A.n)]
    w, V = w[order].astype(np.complex128), V[:, order]
    res = np.linalg.norm(B @ V - V * w, axis=0) / np.linalg.norm(V, axis=0)
    ok = res <= tol * max(np.linalg.norm(B, 2), 1e-300) + 1e-300
    cdt = torch.complex64 if A.dtype == torch.float32 else torch.complex128
    vecs = torch.from_numpy(V).to(A.device, cdt) if return_eigenvectors else None
    return EigResult(torch.from_numpy(w), torch.from_numpy(res), vecs, bool(ok.all()), int(ok.sum()),
                     A.count - start, 0, getattr(which, "__name__", which), A.n, tol, float(np.linalg.norm(B, 2)))
