"""Stop a relaxation once its fixed point is certified, instead of relaxing it for the whole budget.

Contraction at rate max|μ| takes thousands of steps to bring ‖F‖ to round-off (the ``fixed_point``
rule of :mod:`.attractor`); Newton–Krylov gets there in a few steps from a state that is already
settling. :class:`SpectralCertificate` hands such a state (force residual ≤ ``handover``) to
Newton (force residual ‖F‖/max(‖z‖, 1), so a fixed point at the origin qualifies) and certifies
the fixed point Newton converges to when its spectrum puts every multiplier
inside the unit circle with margin: max|μ| + (its residual) ≤ 1 − ``margin`` at the run's ε. The
relaxation is then contracting onto that fixed point, and running it on would only confirm it.
A failed attempt (Newton stalls, or the fixed point is unstable: a relaxation passing near a
saddle or an unstable focus) is retried only once the run's force residual has fallen a further
factor ``retry_factor``, so attempts stay few.

Runs of one field at several ε (an ε-sweep, ``shared=True``) share one fixed point: its spectrum,
computed once at ``spectrum_eps``, certifies every run that reaches it (‖x − z*‖ ≤ ``handover``·‖z*‖)
with ε ≤ (1 − ``margin``)·ε_crit, ε_crit the smallest −2a/|λ|² over all modes (settled), since
|1 + ελ| < 1 exactly for ε < ε_crit(λ). Each search starts from the last spectrum's eigenvectors
(the previous value's invariant subspace), which ``last_vectors`` keeps for the caller too.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..field import Field
from .fixed_point import fixed_point_spectrum


def eigenvectors(spec) -> torch.Tensor:
    """(n, p) complex block of a spectrum's J and M eigenvectors (the search start of a nearby one)."""
    return torch.from_numpy(np.concatenate([spec["vec_J"].values, spec["vec_M"].values]).T.copy())


class SpectralCertificate:
    """``certify`` hook of :func:`~.attractor.detect` for E runs: ``fields`` (one, or one per run)
    at step sizes ``eps`` (one, or one per run). ``spectra[e]`` is the ``(dataset, how)`` of
    :func:`~.fixed_point.fixed_point_spectrum` that certified run e (its ``k`` leading modes,
    with eigenvectors), reusable as the run's fixed-point spectrum; ``searches`` counts them."""

    def __init__(self, fields: Field | Sequence[Field], eps: float | Sequence[float], k: int = 6, *,
                 shared: bool = False, spectrum_eps: float | None = None, handover: float = 1e-3,
                 margin: float = 1e-3, retry_factor: float = 100.0):
        self.fields = [fields] if isinstance(fields, Field) else list(fields)
        self.eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
        self.k, self.shared = k, shared
        self.spectrum_eps = float(self.eps.max()) if spectrum_eps is None else spectrum_eps
        self.handover, self.margin, self.retry_factor = handover, margin, retry_factor
        self.threshold: dict[int, float] = {}
        self.spectra: dict[int, tuple] = {}
        self.last_vectors, self.searches, self.common = None, 0, None

    def _of(self, values, e: int):
        return values[e] if len(values) > 1 else values[0]

    def __call__(self, k: int, rows: np.ndarray, X: torch.Tensor, fnorm: np.ndarray, zmax: np.ndarray) -> list:
        rel = fnorm / np.maximum(X.norm(dim=1).cpu().numpy(), 1.0)  # the force residual ‖F‖/max(‖z‖, 1)
        return [self._attempt(int(e), k, x, r) if r <= self.threshold.get(int(e), self.handover) else None
                for e, x, r in zip(rows, X, rel)]

    def search(self, field: Field, eps: float, z0: torch.Tensor | None):
        """The fixed point from ``z0`` and its spectrum, the search warm-started from the last one."""
        self.searches += 1
        spec, how = fixed_point_spectrum(field, eps, self.k, z0=z0, search_start=self.last_vectors, vectors=True)
        if spec is not None:
            self.last_vectors = eigenvectors(spec)
            if self.shared and int(spec.attrs["converged"]):
                self.common = (spec, how, torch.as_tensor(spec["z_star"].values, dtype=field.dtype))
        return spec, how

    def _attempt(self, e: int, k: int, x: torch.Tensor, rel: float) -> str | None:
        self.threshold[e] = rel / self.retry_factor  # whatever the outcome, the next try waits for this
        field, eps = self._of(self.fields, e), float(self._of(self.eps, e))
        if not (self.shared and self.common is not None):
            spec, how = self.search(field, self.spectrum_eps if self.shared else eps, x.reshape(field.shape))
            if spec is None or not int(spec.attrs["converged"]):
                return None
        if self.shared:
            spec, how, zstar = self.common
            if float((x - zstar.to(x.device)).norm()) > self.handover * max(float(zstar.norm()), 1.0):
                return None
            crit = float(spec["min_eps_crit"])
            if not (int(spec["min_eps_crit"].attrs.get("settled", 1)) and eps <= (1 - self.margin) * crit):
                return None
            self.spectra[e] = (spec, how)
            return f"certified at step {k}: Newton, eps < eps_crit {crit:.4g}"
        bound = float(np.nanmax(np.abs(spec["eig_M"].values) + spec["residual_M"].values))
        if not bound <= 1 - self.margin:
            return None
        self.spectra[e] = (spec, how)
        return f"certified at step {k}: Newton, max|mu| {float(spec['max_abs_mu']):.4g} < {1 - self.margin:g}"
