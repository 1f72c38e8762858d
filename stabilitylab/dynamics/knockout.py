"""Knockout studies: scale one component of the field and watch the attractor and the spectrum.

Targets map to field knobs: ``attn`` → ``alpha`` (attention output, W_O ← αW_O), ``ffn`` →
``ffn_scale``, ``head:h`` → ``head_h`` (one head's gain), ``c`` → the damping ``c``; any other
target is taken as a knob name. All values relax at once (:mod:`.batch`); for each, the attractor
(kind, residual floor, oscillation, …, :mod:`.attractor`) and the leading eigenvalues of J and M
at the fixed point Newton–Krylov finds from the final state of a converged run, or from the tail
centroid (:mod:`.fixed_point`). A run stops once its fixed point is certified
(:class:`~.certify.SpectralCertificate`), and that spectrum is the one reported; every search
starts from the previous one's eigenvectors. This is the research knockout table (α, residual floor,
oscillation, kind) with the spectrum alongside, and a check that they agree: the relaxation should
converge exactly where a fixed point with max|μ| < 1 exists.
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..solvers.relax import progress_bar
from ..store import provenance
from .attractor import Criteria, detect
from .certify import SpectralCertificate
from .fixed_point import newton_start

TARGETS = {"attn": "alpha", "ffn": "ffn_scale", "c": "c"}


def target_knob(target: str, field: Field) -> str:
    """The knob a ``--target`` names (see module docstring); an error if the field lacks it."""
    if target.startswith("head:"):
        head = target[5:]
        if not head.isdigit():
            raise StabilityLabError(f"--target {target}: a head is named head:INDEX, e.g. head:3")
        knob = f"head_{int(head)}"
    else:
        knob = TARGETS.get(target, target)
    if knob not in field.params:
        raise StabilityLabError(f"--target {target}: this field has no knob {knob!r}; its knobs are "
                                f"{', '.join(sorted(field.params))} (targets: attn, ffn, c, head:H)")
    return knob


def _padded(rows: list[np.ndarray], width: int) -> np.ndarray:
    out = np.full((len(rows), width), complex(math.nan, math.nan))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _row_max(a: np.ndarray) -> np.ndarray:
    """Max over the finite entries of each row (NaN for a row without any)."""
    return np.array([r[np.isfinite(r)].max() if np.isfinite(r).any() else math.nan for r in a])


def knockout(field: Field, target: str, values, eps: float = 0.1, steps: int = 3000, *, tail: int | None = None,
             k: int = 4, lyapunov: bool = True, seed: int = 0, criteria: Criteria | None = None,
             progress: bool = False, command: str | None = None, tangent: str = "auto") -> xr.Dataset:
    """Dataset on dim ``alpha`` for ``attn`` (else the knob's name): attractor scalars, residual
    traces on ``step``, ``eig_J``/``eig_M`` on ``mode``, ``max_abs_mu``; ``attrs['verdict']``;
    ``tangent``: the Lyapunov tangent's product (:func:`~.trajectory.relax_batch`)."""
    knob = target_knob(target, field)
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    fields = [field.with_params(**{knob: float(v)}) for v in values]
    cert = SpectralCertificate(fields, eps, k)
    att = detect(field, eps, steps, tail=tail, knob=knob, values=values, lyapunov=lyapunov, seed=seed,
                 criteria=criteria, progress=progress, certify=cert, tangent=tangent)
    ds = att.to_dataset(knob, values)
    tr, eig_J, eig_M, verdicts = att.trajectory, [], [], []
    reused = len(cert.spectra)
    with progress_bar(len(values), f"fixed-point spectra ({reused} reused from the relaxation's certificates)",
                      progress) as advance:
        for e, v in enumerate(values):
            spec, how = cert.spectra.get(e) or cert.search(fields[e], eps, newton_start(att.rows[e].kind, tr.z[e],
                                                                                        tr.centroid[e]))
            eig_J.append(spec["eig_J"].values if spec is not None else np.zeros(0))
            eig_M.append(spec["eig_M"].values if spec is not None else np.zeros(0))
            verdicts.append(spec.attrs["verdict"] if spec is not None else how)
            advance(note=f"{cert.searches} searches")
    width = max([len(r) for r in eig_J + eig_M] + [1])
    ds["eig_J"] = ((knob, "mode"), _padded(eig_J, width),
                   {"long_name": "rightmost eigenvalues of J at the fixed point"})
    ds["eig_M"] = ((knob, "mode"), _padded(eig_M, width), {"long_name": "largest multipliers of M = I + eps J"})
    ds = ds.assign_coords(mode=np.arange(width))
    ds["max_abs_mu"] = (knob, _row_max(np.abs(ds["eig_M"].values)))
    ds["leading_re_J"] = (knob, _row_max(ds["eig_J"].values.real))
    ds["spectrum_verdict"] = (knob, np.asarray(verdicts, dtype=object))
    text = f"{target} ({knob}) at eps={eps:g}: " + ", ".join(f"{v:g} {r.kind}" for v, r in zip(values, att.rows))
    mu_max = ds["max_abs_mu"].values
    odd = [f"{v:g}" for v, r, m in zip(values, att.rows, mu_max)
           if np.isfinite(m) and (r.kind == "fixed_point") != (m < 1)]
    if odd:
        text += f"; spectrum disagrees at {knob}={', '.join(odd)}"
    elif np.isfinite(mu_max).any():
        text += "; spectrum agrees (max|mu| < 1 exactly where the relaxation converges)"
    ds.attrs = provenance(field, command=command, analysis="knockout", target=target, knob=knob, eps=eps,
                          verdict=text, **ds.attrs)
    return ds
