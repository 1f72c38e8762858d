"""``stabilitylab spectrum``: leading eigenvalues of J and of M = I + εJ at a fixed point."""
from __future__ import annotations

import dataclasses

import click
import numpy as np

from ..errors import StabilityLabError
from ..report.text import nonnormality
from .common import console, default_out, field_options, finish, fmt, out_option, resolve_eps, resolve_field, table, user_errors
from ..spectral.settings import SpectrumSettings
from .settings import settings_from, settings_options


def print_spectrum(ds) -> None:
    """The readable summary: J table, M table, non-normality line, verdict."""
    eps = float(ds.attrs["eps"])
    rows = []
    for lam, crit, res in zip(ds["eig_J"].values, ds["eps_crit"].values, ds["residual_J"].values):
        if not np.isfinite(lam):
            continue
        mu = 1 + eps * lam
        kind = "complex" if abs(lam.imag) > 1e-8 * max(abs(lam), 1) else "real"
        mark = "[red]unstable[/]" if lam.real > 0 else ("[yellow]map-unstable[/]" if abs(mu) > 1 else "stable")
        rows.append((fmt(complex(lam), 5), fmt(crit), fmt(complex(mu), 5), fmt(abs(mu), 6), kind, mark, fmt(res, 2)))
    table(f"rightmost eigenvalues λ of J (ε = {eps:g})",
          ["λ", "ε_crit (mode)", "μ = 1+ελ", "|μ|", "kind", "", "residual"], rows)
    rows = []
    for mu, lam, res in zip(ds["eig_M"].values, ds["lambda_of_M"].values, ds["residual_M"].values):
        if not np.isfinite(mu):
            continue
        rows.append((fmt(complex(mu), 5), fmt(abs(mu), 6), fmt(complex(lam), 5),
                     "[red]>1[/]" if abs(mu) > 1 else "<1", fmt(res, 2)))
    table("largest-|μ| eigenvalues of M = I + εJ", ["μ", "|μ|", "λ = (μ−1)/ε", "", "residual"], rows)
    if "numerical_abscissa" in ds:
        console.print(f"non-normality: {nonnormality(ds)} ({ds.attrs.get('diagnostics')}, tol "
                      f"{fmt(ds.attrs.get('nonnormality_tol'))}"
                      + (")" if ds.attrs.get("converged_nonnormality", 1) else
                         ", [yellow]not converged to that tol: a lower bound[/])"))
    console.print(f"fixed point: force residual {fmt(ds.attrs['force_residual'])}, step residual "
                  f"{fmt(ds.attrs['step_residual'])}"
                  + ("" if ds.attrs.get("fixed_point_converged", 1) else
                     f" [red](not converged: {ds.attrs.get('fixed_point_reason')})[/]"))
    settled = ds["min_eps_crit"].attrs.get("settled", 1)
    console.print(f"ε_crit (smallest over all modes): {fmt(float(ds['min_eps_crit']), 4)}"
                  + ("" if settled else " [yellow](refinement not settled: an upper bound)[/]"))
    console.print(f"[bold]verdict:[/] {ds.attrs['verdict_text']}")


#: ``--eps/--k/--tol/--ncv/--diagnostics``, generated from the library's SpectrumSettings
spectrum_options = settings_options(SpectrumSettings)


@click.command("spectrum")
@field_options
@spectrum_options
@click.option("--alpha", default=None, type=float, help="Attention-output scale α (shorthand for --set alpha=A).")
@click.option("--no-diagnostics", is_flag=True, help="Same as --diagnostics none.")
@click.option("--vectors", is_flag=True, help="Also store the eigenvectors (mode × state).")
@out_option("spectrum.zarr")
@user_errors
def command(alpha, vectors, no_diagnostics, out, **opts):
    """Leading spectrum of J = dF/dz and of the Euler map M = I + eps*J at the fixed point.

    Finds the fixed point (Euler relaxation, then Newton–Krylov, so unstable ones too), then runs
    one matrix-free Krylov–Schur search that keeps the rightmost eigenvalues of J, the
    largest-modulus eigenvalues of M (flips, eps*lambda < -2, that the first set ranks last) and the
    smallest eps_crit (--search separate: two independent searches).
    Prints both tables with eps_crit = -2a/(a^2+b^2), non-normality diagnostics and a verdict:
    stable, continuous-unstable (Re lambda > 0) or discretisation-only-unstable (Re lambda < 0 but
    |1 + eps*lambda| > 1).
    """
    from ..spectral.spectrum import spectrum
    from ..report.figures import spectrum_figure

    if no_diagnostics:
        opts["diagnostics"] = "none"
    settings = settings_from(SpectrumSettings, opts)
    fld = resolve_field(alpha=alpha, **opts)
    settings = dataclasses.replace(settings, eps=resolve_eps(settings.eps, fld))
    with console.status("fixed point and Krylov–Schur searches…"):
        ds = spectrum(fld, **settings.kwargs(), vectors=vectors)
    print_spectrum(ds)
    finish(ds, default_out(out, "spectrum.zarr"), spectrum_figure(ds))
