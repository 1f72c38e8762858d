"""The spectrum at the fixed point nearest a state: why a relaxation did (not) converge there.

A limit cycle born at a Hopf / Neimark–Sacker bifurcation surrounds the fixed point it
destabilised, so Newton–Krylov started from the cycle's centroid converges to that (unstable)
fixed point. Its spectrum — rightmost eigenvalues of J, largest multipliers of M = I + εJ
(:func:`~stabilitylab.spectral.spectrum.spectrum`) — says whether the relaxation cannot converge
because a multiplier has |μ| > 1 at this ε, or whether no fixed point is found at all.
"""
from __future__ import annotations

import torch
import xarray as xr

from ..field import Field
from ..solvers import find_fixed_point
from ..spectral.spectrum import spectrum, start_vector


def newton_start(kind: str, z: torch.Tensor, centroid: torch.Tensor) -> torch.Tensor | None:
    """Where to look for a run's fixed point: its final state if it converged, the tail centroid
    otherwise (the fixed point a cycle surrounds), nowhere particular (None) if it diverged."""
    if kind == "diverged":
        return None
    return z if kind == "fixed_point" else centroid


def fixed_point_spectrum(field: Field, eps: float, k: int = 6, z0: torch.Tensor | None = None,
                         tol: float | None = None, search_start: torch.Tensor | None = None,
                         vectors: bool = False) -> tuple[xr.Dataset | None, str]:
    """(spectrum dataset, how) at the fixed point found by Newton–Krylov from ``z0``, or
    (None, why not). Without ``z0`` the fixed point is sought from ``field.z0`` (relaxation first);
    a ``z0`` that already meets ``tol`` (force residual; default max(1e-9, 100·machine ε)) is used
    as it is. ``search_start``/``vectors``: the eigen-search's start (e.g. a nearby operator's
    eigenvectors; default :func:`~stabilitylab.spectral.spectrum.start_vector` of the solve) and whether to return the eigenvectors (see :func:`~stabilitylab.spectral.spectrum.spectrum`),
    with ``vectors`` the fixed point too (``z_star`` on ``state_index``)."""
    tol = max(1e-9, 100 * torch.finfo(field.dtype).eps) if tol is None else tol
    fp = find_fixed_point(field, eps=eps, z0=z0, tol=tol, relax_steps=300 if z0 is None else 0)
    if not fp.converged:
        return None, f"no fixed point found (Newton–Krylov stopped at force residual {fp.final_force_residual:.1e})"
    start, kind = (search_start, None) if search_start is not None else start_vector(fp)
    ds = spectrum(field, k=k, eps=eps, z=fp.z, diagnostics=False, search_start=start, vectors=vectors)
    if kind is not None:
        ds.attrs["search_start"] = kind
    if vectors:
        ds["z_star"] = ("state_index", fp.z.reshape(-1).cpu().numpy(), {"long_name": "the fixed point"})
    return ds, f"fixed point with force residual {ds.attrs['force_residual']:.1e}: {ds.attrs['verdict_text']}"
