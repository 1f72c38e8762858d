"""Stop a relaxation once its fixed point is certified, instead of relaxing it for the whole budget.

Contraction at rate max|μ| takes thousands of steps to bring ‖F‖ to round-off (the ``fixed_point``
rule of :mod:`.attractor`); Newton–Krylov gets there in a few steps from a state that is already
settling. :class:`SpectralCertificate` hands such a state to Newton and certifies the fixed point
Newton converges to when its spectrum has every multiplier inside the unit circle with margin:
max|μ| + (its residual) ≤ 1 − ``margin``. The relaxation is then contracting onto that fixed
point, and running it on would only confirm it. A failed attempt (Newton stalls, or the fixed
point is unstable: a relaxation passing near a saddle or an unstable focus) is retried only once
the force residual has fallen a further factor ``retry_factor``, so attempts stay few.
"""
from __future__ import annotations

import numpy as np
import torch

from ..field import Field
from .fixed_point import fixed_point_spectrum


class SpectralCertificate:
    """``certify`` hook of :func:`~.attractor.detect` for runs of ``field`` at ``eps``; after a
    certificate, ``spectrum``/``how`` are what :func:`~.fixed_point.fixed_point_spectrum` returned
    (the fixed point's ``k`` leading modes), reusable as the run's fixed-point spectrum."""

    def __init__(self, field: Field, eps: float, k: int = 6, *, handover: float = 1e-3, margin: float = 1e-3,
                 retry_factor: float = 100.0):
        self.field, self.eps, self.k = field, eps, k
        self.handover, self.margin, self.retry_factor = handover, margin, retry_factor
        self.spectrum, self.how, self.attempts = None, "", 0

    def __call__(self, k: int, rows: np.ndarray, X: torch.Tensor, fnorm: np.ndarray, zmax: np.ndarray) -> list:
        rel = fnorm / np.maximum(X.norm(dim=1).cpu().numpy(), 1e-300)
        return [self._attempt(k, x, r) if r <= self.handover else None for x, r in zip(X, rel)]

    def _attempt(self, k: int, x: torch.Tensor, rel: float) -> str | None:
        self.handover = rel / self.retry_factor  # whatever the outcome, the next try waits for this
        self.attempts += 1
        spec, how = fixed_point_spectrum(self.field, self.eps, self.k, z0=x.reshape(self.field.shape))
        if spec is None or not int(spec.attrs["converged"]):
            return None
        bound = float(np.nanmax(np.abs(spec["eig_M"].values) + spec["residual_M"].values))
        if not bound <= 1 - self.margin:
            return None
        self.spectrum, self.how = spec, how
        return f"certified at step {k}: Newton, max|mu| {float(spec['max_abs_mu']):.4g} < {1 - self.margin:g}"
