"""Shared machinery of the example fields: picklable forces holding float64 constants, seeded
orthogonal embeddings, metadata."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


# _NOTE_0D: the forces slice coordinates with keep-dim slices (``y[..., 0:1]``), never ``y[..., 0]``.
# In torch 2.13, under ``torch.func.jvp`` a 0-d float32 tensor times a Python float gets a float64
# tangent (the scalar's "wrapped number" status is lost), which breaks float32 fields downstream.
class ExampleForce:
    """Base of the example forces: a picklable callable holding float64 constants.

    Constants named in ``_consts`` are stored as float64 CPU tensors (attributes of the same
    name) and cast to the dtype/device of ``z`` on each call (cached per dtype/device).
    """

    _consts: tuple[str, ...] = ()

    def __init__(self, **consts: Any):
        for k in self._consts:
            setattr(self, k, torch.as_tensor(np.asarray(consts[k], dtype=np.float64)).clone())
        self._cache: dict = {}

    def _c(self, z: torch.Tensor) -> dict:
        key = (z.dtype, z.device)
        hit = self._cache.get(key)
        if hit is None:
            hit = {k: getattr(self, k).to(dtype=z.dtype, device=z.device) for k in self._consts}
            self._cache[key] = hit
        return hit

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EmbeddedForce(ExampleForce):
    """A normal form in coordinates ``y`` embedded as ``z = Q y`` (``Q`` orthogonal)."""

    def to_z(self, y) -> torch.Tensor:
        """``z = Q y`` on the last axis (float64 unless ``y`` is a float tensor)."""
        y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float64))
        return y @ self._c(y)["Q"].T

    def to_y(self, z) -> torch.Tensor:
        """``y = Qᵀ z`` on the last axis."""
        z = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z, dtype=np.float64))
        return z @ self._c(z)["Q"]


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-random orthogonal n×n matrix (float64)."""
    g = torch.randn(n, n, generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    d = torch.sign(torch.diagonal(r))
    d = torch.where(d == 0, torch.ones_like(d), d)
    return q * d


def _spread(lo: float, hi: float, k: int) -> np.ndarray:
    """``k`` rates evenly spread over ``[lo, hi]`` (``[lo]`` for k = 1)."""
    return np.linspace(float(lo), float(hi), int(k)) if k > 0 else np.zeros(0)


def _call(name: str, **args: Any) -> str:
    inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"stabilitylab.examples:{name}({inner})"


def _meta(name: str, description: str, args: dict) -> dict:
    return {"description": description, "factory": _call(name, **args)}


def _check_dtype(dtype) -> torch.dtype:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype!r}")
    return dtype


def _sort_spectrum(lam) -> np.ndarray:
    """Complex eigenvalues sorted by descending real part, then descending imaginary part."""
    lam = np.asarray(lam, dtype=np.complex128).ravel()
    return lam[np.lexsort((-lam.imag, -lam.real))]
