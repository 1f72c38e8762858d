"""Multiple eigenvalues: group computed copies of one eigenvalue and report the multiplicity.

A batch of identical sequences, or any symmetry, makes eigenvalues multiple. A single-vector
Krylov search sees one copy per eigenvalue in exact arithmetic and further copies only as rounding
feeds them in, so the copies it returns are arbitrary. Eigenvalues that agree to ``rtol·max(|λ|, 1)``
are one eigenvalue; :func:`multiplicity` gives, per entry, how many copies were found (a lower
bound of the algebraic multiplicity), and :func:`distinct` keeps the first of each group.
"""
from __future__ import annotations

import numpy as np

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
