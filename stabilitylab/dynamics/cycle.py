"""One attractor, fully analysed: classification, Floquet multipliers, and the nearby fixed point.

:func:`analyse_cycle` relaxes the field at one ε (:func:`~.attractor.detect`); for a limit cycle it
computes the Floquet multipliers at the final (converged) state (:func:`~.floquet.floquet`), and it
computes the spectrum at the fixed point Newton–Krylov finds from the tail centroid, or from the
final state of a converged run (:func:`~.fixed_point.fixed_point_spectrum`), so a cycle can be checked against the instability
that produced it (a cycle at ε should sit around a fixed point with |μ| > 1, or around none).
With the spectrum wanted, the relaxation stops as soon as that spectrum certifies its fixed point
(:class:`~.certify.SpectralCertificate`), and the certificate's spectrum is the one reported.
"""
from __future__ import annotations

import xarray as xr

from ..field import Field
from ..spectral.euler import modulus_text
from ..store import provenance
from .attractor import Criteria, detect
from .certify import SpectralCertificate
from .fixed_point import fixed_point_spectrum, newton_start
from .floquet import floquet


def analyse_cycle(field: Field, eps: float = 0.1, steps: int = 6000, *, tail: int | None = None, k: int = 6,
                  with_floquet: bool = True, with_spectrum: bool = True, lyapunov: bool = True, seed: int = 0,
                  criteria: Criteria | None = None, progress: bool = False, command: str | None = None) -> xr.Dataset:
    """Dataset with the run's scalars (kind, period, amplitude, lyapunov, residual floor, ...), its
    residual traces on ``step``, Floquet multipliers (``floquet_multiplier``) and the fixed point's
    ``eig_J``/``eig_M`` on ``mode``; ``attrs['verdict']`` is a one-line summary."""
    cert = SpectralCertificate(field, eps, k) if with_spectrum else None
    att = detect(field, eps, steps, tail=tail, lyapunov=lyapunov, seed=seed, criteria=criteria, progress=progress,
                 certify=cert)
    row, tr = att.rows[0], att.trajectory
    parts = [att.to_dataset("eps", [eps]).isel(eps=0)]
    attrs = dict(parts[0].attrs)
    verdict = f"{row.kind.replace('_', ' ')} at eps={eps:g}: {row.reason}"
    if with_floquet and row.kind == "limit_cycle":
        fl = floquet(field, tr.z[0], eps, row.period, k=k, seed=seed)
        parts.append(fl.to_dataset())
        attrs.update(parts[-1].attrs)
        triv = (f"trivial multiplier within {fl.trivial_error:.1e} of 1" if fl.trivial_index >= 0
                else "no trivial multiplier")
        verdict += f"; {'stable' if fl.stable else 'unstable'} cycle ({triv})"
    attrs["fixed_point"] = "not computed"
    if with_spectrum:
        if 0 in cert.spectra:
            spec, attrs["fixed_point"] = cert.spectra[0]
        else:
            spec, attrs["fixed_point"] = fixed_point_spectrum(field, eps, k, z0=newton_start(row.kind, tr.z[0],
                                                                                              tr.centroid[0]))
        if spec is not None:
            parts.append(spec[["eig_J", "eig_M", "eps_crit", "min_eps_crit", "max_abs_mu", "leading_re_J"]]
                         .rename(eps_crit="eps_crit_J"))
            verdict += f"; fixed point: max|mu|={modulus_text(float(spec['max_abs_mu']))} ({spec.attrs['verdict']})"
        else:
            verdict += f"; {attrs['fixed_point']}"
    ds = xr.merge(parts, join="outer", compat="override", combine_attrs="drop")
    ds.attrs = provenance(field, command=command, analysis="cycle", eps=eps, verdict=verdict, kind=row.kind, **attrs)
    return ds
