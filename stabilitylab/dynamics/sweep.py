r"""ε-sweep: is a failure to converge a discretisation artifact or a real instability?

All ε of the grid relax at once (one batched run, :mod:`.batch`) and each attractor is classified
(:mod:`.attractor`): residual floor, step residual, oscillation, kind. Overlaid is the prediction
of the spectrum at the fixed point (:mod:`.fixed_point`; Newton–Krylov from the best converged
run, else from the start state), taken at the largest ε of the grid, where the largest-modulus
search of M = I + εJ sees the stiff modes best. With λ the known eigenvalues — the rightmost of J
and those recovered from M, λ = (μ − 1)/ε — the map is stable iff every |1 + ελ| < 1, i.e. for
ε < ε_crit = min over Re λ < 0 of −2 Re λ/|λ|² (:mod:`~stabilitylab.spectral.euler`); if some
Re λ ≥ 0 no ε is stable (ε_crit = 0: a real, continuous-time instability). The sweep reports that
prediction next to the observed onset (the smallest ε that does not reach a fixed point) and
whether they agree.
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ..field import Field
from ..spectral.euler import eps_crit
from ..store import provenance
from .attractor import Criteria, detect
from .fixed_point import fixed_point_spectrum


def predicted_eps_crit(lam: np.ndarray) -> float:
    """ε_crit of the eigenvalues ``lam``: 0 if any Re λ ≥ 0, else min −2a/|λ|²."""
    lam = np.asarray(lam, dtype=complex)
    lam = lam[np.isfinite(lam)]
    if not lam.size:
        return math.nan
    return 0.0 if np.any(lam.real >= 0) else float(eps_crit(lam).min())


def _verdict(eps: np.ndarray, kinds: list[str], crit: float, how: str) -> tuple[str, float, float]:
    """(text, last converging ε below the onset, onset ε)."""
    bad = [e for e, k in zip(eps, kinds) if k != "fixed_point"]
    onset = min(bad) if bad else math.nan
    good = [e for e, k in zip(eps, kinds) if k == "fixed_point" and not e > onset]
    last = max(good) if good else math.nan
    if math.isnan(crit):
        pred = f"no spectrum prediction ({how})"
    elif crit == 0:
        pred = "the fixed point has Re λ ≥ 0: unstable for every ε — a real (continuous-time) instability"
    else:
        pred = f"spectrum predicts ε_crit = {crit:.6g}"
    if not bad:
        return f"converges for every ε up to {max(eps):g}; {pred}", last, onset
    kind = kinds[list(eps).index(onset)].replace("_", " ")
    if not good:
        return f"converges for no ε down to {min(eps):g} ({kind} at ε={onset:g}); {pred}", last, onset
    agree = "" if math.isnan(crit) or crit == 0 else (
        "; consistent: a discretisation artifact, ε < ε_crit restores the fixed point" if last < crit <= onset
        else "; inconsistent with the observed onset")
    return f"fixed point up to ε={last:g}, {kind} from ε={onset:g}; {pred}{agree}", last, onset


def eps_sweep(field: Field, eps, steps: int = 3000, *, tail: int | None = None, k: int = 6,
              lyapunov: bool = True, seed: int = 0, criteria: Criteria | None = None,
              progress: bool = False, command: str | None = None) -> xr.Dataset:
    """Dataset on dim ``eps`` (attractor scalars, traces on ``step``), the fixed point's ``eig_J``
    on ``mode``, ``predicted_max_abs_mu`` per ε and scalar ``eps_crit``; ``attrs['verdict']``."""
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    att = detect(field, eps, steps, tail=tail, lyapunov=lyapunov, seed=seed, criteria=criteria, progress=progress)
    ds = att.to_dataset("eps", eps)
    converged = [e for e, r in enumerate(att.rows) if r.kind == "fixed_point"]
    best = min(converged, key=lambda e: att.trajectory.force_norm[e, -1], default=None)
    start = None if best is None else att.trajectory.z[best].reshape(field.shape)
    spec, how = fixed_point_spectrum(field, float(eps.max()), k, z0=start)
    if spec is not None:
        lam = np.concatenate([spec["eig_J"].values, spec["lambda_of_M"].values])
        lam = lam[np.isfinite(lam)]
        crit = predicted_eps_crit(lam)
        ds["eig_J"] = ("mode", spec["eig_J"].values, {"long_name": "rightmost eigenvalues of J at the fixed point"})
        ds["lambda_of_M"] = ("mode", spec["lambda_of_M"].values,
                             {"long_name": f"(mu - 1)/eps of the largest multipliers of M at eps={eps.max():g}"})
        ds = ds.assign_coords(mode=np.arange(ds.sizes["mode"]))
        ds["predicted_max_abs_mu"] = ("eps", np.abs(1 + eps[:, None] * lam[None, :]).max(axis=1),
                                      {"long_name": "max |1 + eps lambda| over the known eigenvalues"})
    else:
        crit = math.nan
    ds["eps_crit"] = ((), crit, {"long_name": "predicted critical step: the map is stable for eps < eps_crit"})
    text, last, onset = _verdict(eps, [r.kind for r in att.rows], crit, how)
    ds.attrs = provenance(field, command=command, analysis="eps-sweep", verdict=text, eps_converged_max=last,
                          eps_onset=onset, fixed_point=how, spectrum_eps=float(eps.max()), **ds.attrs)
    return ds
