r"""ε-sweep: is a failure to converge a discretisation artifact or a real instability?

All ε of the grid relax at once (one batched run, :mod:`.batch`) and each attractor is classified
(:mod:`.attractor`): residual floor, step residual, oscillation, kind. Overlaid is the prediction
of the spectrum at the fixed point (:mod:`.fixed_point`; Newton–Krylov from the best converged
run, else from the start state) at the largest ε of the grid, where the largest-modulus search
of M = I + εJ sees the stiff modes best. ε_crit is the spectrum's refined ``min_eps_crit``, the smallest
−2 Re λ/|λ|² over *all* modes (:func:`~stabilitylab.spectral.spectrum.min_eps_crit`), the same
number ``stabilitylab spectrum`` reports; if some Re λ ≥ 0 no ε is stable (ε_crit = 0: a real,
continuous-time instability). The sweep reports that prediction next to the observed onset (the
smallest ε that does not reach a fixed point) and whether they agree. Without a grid it sweeps
:func:`default_grid` around the predicted ε_crit, so the onset is always inside the range.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from ..field import Field
from ..store import provenance
from .attractor import Criteria, detect
from .certify import SpectralCertificate


GRID_POINTS, GRID_SPAN = 12, (0.05, 2.0)  # default grid: ε_crit × 0.05 … ε_crit × 2, geometric


def default_grid(crit: float, eps: float) -> np.ndarray:
    """:data:`GRID_POINTS` step sizes geometric over ``GRID_SPAN`` × ε_crit (× ``eps`` when there is
    no finite positive ε_crit), so the grid straddles the predicted onset."""
    scale = crit if math.isfinite(crit) and crit > 0 else eps
    return np.geomspace(GRID_SPAN[0] * scale, GRID_SPAN[1] * scale, GRID_POINTS)


def _list(values) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def _span(values) -> str:
    values = sorted(values)
    return f"ε = {values[0]:.4g}" if len(values) == 1 else f"ε = {values[0]:.4g} … {values[-1]:.4g}"


def verdict_text(eps: np.ndarray, kinds: list[str], converged, predicted, crit: float,
                 how: str) -> tuple[str, float, float]:
    """The sweep's sentence, from exactly the columns its table prints: per ε the attractor
    ``kinds``, whether ‖F‖ had ``converged`` by the end (a fixed point still decaying is named)
    and the ``predicted`` max|1 + ελ| (stable iff < 1; NaN without a spectrum). Every ε where
    the observation (a fixed point or not) and the prediction differ is listed. Returns (text, the
    largest ε below the first non-fixed-point one that reaches a fixed point, that first ε)."""
    fixed = np.array([k == "fixed_point" for k in kinds])
    other = [(e, k) for e, k in zip(eps, kinds) if k != "fixed_point"]
    onset = min((e for e, _ in other), default=math.nan)
    below = [e for e, f in zip(eps, fixed) if f and not e > onset]
    last = max(below) if below else math.nan
    parts = []
    if fixed.any():
        slow = [e for e, f, c in zip(eps, fixed, converged) if f and not c]
        parts.append(f"fixed point at {_span(eps[fixed])} ({int(fixed.sum())} of {len(eps)})"
                     + (f", still decaying at the end at ε = {_list(slow)}" if slow else ""))
    for kind in dict.fromkeys(k for _, k in other):
        parts.append(f"{kind.replace('_', ' ')} at {_span([e for e, k in other if k == kind])}")
    observed = "; ".join(parts)
    if math.isnan(crit):
        return f"{observed}; no spectrum prediction ({how})", last, onset
    pred = ("the fixed point has Re λ ≥ 0: no ε is stable (a real, continuous-time instability)" if crit == 0
            else f"the spectrum predicts ε_crit = {crit:.6g}")
    stable = np.asarray(predicted) < 1
    wrong = [e for e, f, p in zip(eps, fixed, stable) if f != p]
    if wrong:
        return (f"{observed}; {pred}, but the observation differs from the predicted max|μ| at "
                f"ε = {_list(wrong)}"), last, onset
    tail = ("" if crit == 0 or fixed.all() or not fixed.any()
            else " — a discretisation artifact: ε < ε_crit restores the fixed point")
    return f"{observed}; {pred}: consistent with the predicted max|μ| at every ε{tail}", last, onset


def eps_sweep(field: Field, eps=None, steps: int = 3000, *, tail: int | None = None, k: int = 6,
              lyapunov: bool = True, seed: int = 0, criteria: Criteria | None = None,
              progress: bool = False, command: str | None = None, spectrum_eps: float = 0.1,
              tangent: str = "auto") -> xr.Dataset:
    """Dataset on dim ``eps`` (attractor scalars, traces on ``step``), the fixed point's ``eig_J``
    on ``mode``, ``predicted_max_abs_mu`` per ε and scalar ``eps_crit``; ``attrs['verdict']``;
    ``tangent``: the Lyapunov tangent's product (:func:`~.trajectory.relax_batch`).
    ``eps=None``: :func:`default_grid` around the ε_crit of the spectrum at ``spectrum_eps``."""
    cert = SpectralCertificate(field, spectrum_eps, k, shared=True)
    if eps is None:
        first, _ = cert.search(field, spectrum_eps, None)
        eps = default_grid(math.nan if first is None else float(first["min_eps_crit"]), spectrum_eps)
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    cert.eps, cert.spectrum_eps = eps, float(eps.max())
    att = detect(field, eps, steps, tail=tail, lyapunov=lyapunov, seed=seed, criteria=criteria, progress=progress,
                 certify=cert, tangent=tangent)
    ds = att.to_dataset("eps", eps)
    tr = att.trajectory
    if cert.common is not None and cert.common[0].attrs["eps"] == cert.spectrum_eps:
        spec, how, _ = cert.common  # the spectrum that certified the converging runs
    else:
        converged = [e for e, r in enumerate(att.rows) if r.kind == "fixed_point"]
        best = min(converged, key=lambda e: tr.final_force_norm[e], default=None)
        spec, how = cert.search(field, cert.spectrum_eps, None if best is None else tr.z[best].reshape(field.shape))
    if spec is not None:
        lam = np.concatenate([spec["eig_J"].values, spec["lambda_of_M"].values])
        lam = lam[np.isfinite(lam)]
        crit = float(spec["min_eps_crit"])
        settled = int(spec["min_eps_crit"].attrs.get("settled", 1))
        ds["eig_J"] = ("mode", spec["eig_J"].values, {"long_name": "rightmost eigenvalues of J at the fixed point"})
        ds["lambda_of_M"] = ("mode", spec["lambda_of_M"].values,
                             {"long_name": "(mu - 1)/eps of the largest multipliers of M at "
                                           f"eps={eps.max():g}"})
        ds = ds.assign_coords(mode=np.arange(ds.sizes["mode"]))
        ds["predicted_max_abs_mu"] = ("eps", np.abs(1 + eps[:, None] * lam[None, :]).max(axis=1),
                                      {"long_name": "max |1 + eps lambda| over eig_J and lambda_of_M"})
    else:
        crit, settled = math.nan, 0
    ds["eps_crit"] = ((), crit, {"long_name": "predicted critical step: smallest -2a/|lambda|^2 over all modes "
                                              "(the spectrum's min_eps_crit); stable for eps < eps_crit",
                                 "units": "1", "settled": settled})
    settled = (tr.stopped_at >= 0) | (tr.final_force_norm <= att.settings["fp_tol"] * np.nanmax(tr.state_norm, axis=1))
    ds["converged"] = ("eps", settled.astype(np.int8),
                       {"long_name": "1 if ||F|| <= fp_tol max||z|| at the last step or the fixed point was "
                                     "certified (0: a fixed point only by its still-decaying residual, or none)"})
    kinds = [r.kind for r in att.rows]
    predicted = ds["predicted_max_abs_mu"].values if "predicted_max_abs_mu" in ds else np.full(len(eps), np.nan)
    text, last, onset = verdict_text(eps, kinds, settled, predicted, crit, how)
    ds.attrs = provenance(field, command=command, analysis="eps-sweep", verdict=text, eps_converged_max=last,
                          eps_onset=onset, fixed_point=how,
                          spectrum_eps=float(eps.max()), **ds.attrs)
    return ds
