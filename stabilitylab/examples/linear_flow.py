"""Example family: linear."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..field import Field
from ._base import ExampleForce, _generator, _meta, _check_dtype, _sort_spectrum


class LinearForce(ExampleForce):
    r"""``F(z) = (A + p I) z``."""

    _consts = ("A",)

    def __call__(self, z, *, p):
        return z @ self._c(z)["A"].T + p * z


def _default_linear_matrix(n: int, seed: int) -> np.ndarray:
    g = torch.randn(n, n, generator=_generator(seed), dtype=torch.float64).numpy() / math.sqrt(n)
    shift = np.linalg.eigvals(g).real.max() + 0.5
    return g - shift * np.eye(n)


def linear(A=None, n: int = 8, seed: int = 0, p: float = 0.0, dtype=torch.float64) -> Field:
    r"""Linear field ``F(z) = (A + p·I) z`` with knob ``p`` (a shift of the whole spectrum).

    The spectrum of ``J`` is ``eig(A) + p`` (:func:`linear_spectrum`); the only fixed point is 0.
    Default ``A`` (when ``A is None``): ``G/√n − s·I`` with ``G`` a seeded standard Gaussian n×n
    matrix and ``s`` chosen so that the rightmost eigenvalue of ``A`` has real part exactly
    ``−0.5`` — stable, non-symmetric, with complex pairs; ``J`` loses stability at ``p = 0.5``.
    A given ``A`` (numpy or torch, square) overrides ``n`` and ``seed``. ``field.force.A`` is A.
    """
    _check_dtype(dtype)
    if A is None:
        Am = _default_linear_matrix(int(n), seed)
        what = f"seeded random stable non-symmetric {n}x{n} A (seed {seed}), rightmost Re = -0.5"
        args = dict(n=int(n), seed=int(seed), p=float(p))
    else:
        Am = A.detach().cpu().numpy() if isinstance(A, torch.Tensor) else np.asarray(A)
        Am = np.asarray(Am, dtype=np.float64)
        if Am.ndim != 2 or Am.shape[0] != Am.shape[1]:
            raise ValueError(f"A must be a square matrix, got shape {Am.shape}")
        what = f"user-supplied {Am.shape[0]}x{Am.shape[0]} A"
        args = dict(A="<matrix>", p=float(p))
    m = Am.shape[0]
    z0 = torch.randn(m, generator=_generator(int(seed) + 1), dtype=torch.float64)
    z0 = z0 / z0.norm()
    return Field(
        LinearForce(A=Am), z0.to(dtype), {"p": p}, "linear",
        _meta("linear", f"F(z) = (A + p I) z, {what}", args),
    )


def linear_spectrum(A=None, p: float = 0.0) -> np.ndarray:
    """Eigenvalues of ``A + p·I`` (complex128, sorted by descending real part).

    ``A`` may be a matrix (numpy/torch), a Field made by :func:`linear` (its ``A``), or ``None``
    (the default ``A`` of ``linear()``).
    """
    if A is None:
        Am = _default_linear_matrix(8, 0)
    elif isinstance(A, Field):
        Am = A.force.A.numpy()
    elif isinstance(A, torch.Tensor):
        Am = A.detach().cpu().double().numpy()
    else:
        Am = np.asarray(A, dtype=np.float64)
    return _sort_spectrum(np.linalg.eigvals(Am) + float(p))
