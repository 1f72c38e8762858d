"""Multiple eigenvalues: group computed copies of one eigenvalue and report the multiplicity.

A batch of identical sequences, or any symmetry, makes eigenvalues multiple. A single-vector
Krylov search sees one copy per eigenvalue in exact arithmetic and further copies only as rounding
feeds them in, so the copies it returns are arbitrary. Eigenvalues that agree to ``rtol·max(|λ|, 1)``
are one eigenvalue; :func:`multiplicity` gives, per entry, how many copies were found (a lower
bound of the algebraic multiplicity), and :func:`distinct` keeps the first of each group.

:func:`count_copies` finds the multiplicity by deflation. If the columns of Q span an A-invariant
subspace, then in the basis [Q, Q⊥] A is block upper triangular, and the deflated operator
``(I − QQᵀ) A (I − QQᵀ) + s·QQᵀ`` has the *remaining* eigenvalues of A (copies included) plus s on
span(Q), s chosen to rank last. Each search of it returns the next copy of λ while one is left;
its Ritz vector y (in Q⊥) extends Q to a larger invariant subspace.
"""
from __future__ import annotations

import numpy as np
import torch

from .krylov_schur import eigs

CLUSTER_RTOL = 1e-6


def multiplicity(values: np.ndarray, rtol: float = CLUSTER_RTOL) -> np.ndarray:
    """Per entry of ``values`` (complex), the number of entries equal to it within
    ``rtol·max(|λ|, 1)``."""
    v = np.asarray(values, dtype=np.complex128)
    close = np.abs(v[:, None] - v[None, :]) <= rtol * np.maximum(np.abs(v)[:, None], 1.0)
    return close.sum(axis=1).astype(np.int64)


def distinct(values: np.ndarray, rtol: float = CLUSTER_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the first entry of each group of equal eigenvalues, copies found per group),
    in the order of ``values``."""
    v = np.asarray(values, dtype=np.complex128)
    keep, counts, seen = [], [], np.zeros(len(v), dtype=bool)
    for i in range(len(v)):
        if seen[i]:
            continue
        same = np.abs(v - v[i]) <= rtol * max(abs(v[i]), 1.0)
        seen |= same
        keep.append(i)
        counts.append(int(same.sum()))
    return np.array(keep, dtype=np.int64), np.array(counts, dtype=np.int64)


def count_copies(op, value: complex, vector: torch.Tensor, which: str = "LR", tol: float = 1e-8,
                 maxiter: int | None = None, max_copies: int = 64, seed: int = 0,
                 rtol: float = CLUSTER_RTOL) -> tuple[int, int]:
    """(copies of the eigenvalue ``value`` of ``op`` found by deflation, products used), starting
    from its eigenvector ``vector`` (complex, (n,)); at most ``max_copies``. ``which``: 'LR' or 'LM',
    the ranking under which ``value`` leads (the deflated directions are sent to the far end)."""
    n = vector.shape[0]
    dtype = vector.real.dtype
    pair = abs(value.imag) > rtol * max(abs(value), 1.0)
    cols = [vector.real, vector.imag] if pair else [vector.real]
    Q = torch.linalg.qr(torch.stack(cols, dim=1))[0]
    scale = float(torch.linalg.vector_norm(op(Q[:, 0])))
    shift = 0.0 if which == "LM" else value.real - 10.0 * max(scale, abs(value), 1.0)
    copies, products = 1, 1

    def deflated(v):
        c = Q.T @ v
        w = op(v - Q @ c)
        return w - Q @ (Q.T @ w) + shift * (Q @ c)

    while copies < max_copies and Q.shape[1] + 2 < n:
        res = eigs(deflated, k=2 if pair else 1, which=which, tol=tol, maxiter=maxiter, seed=seed + copies,
                   return_eigenvectors=True, n=n, dtype=dtype, device=vector.device)
        products += res.matvecs
        theta = complex(res.eigenvalues[0])
        if min(abs(theta - value), abs(theta - value.conjugate())) > rtol * max(abs(value), 1.0):
            break
        y = res.eigenvectors[:, 0]
        new = [y.real, y.imag] if pair else [y.real]
        Q = torch.linalg.qr(torch.cat([Q, torch.stack(new, dim=1)], dim=1))[0]
        copies += 1
    return copies, products
