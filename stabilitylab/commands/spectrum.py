"""``stabilitylab spectrum``: leading eigenvalues of J and of M = I + εJ at a fixed point."""
from __future__ import annotations

import dataclasses
import sys

import click
import numpy as np

from ..errors import StabilityLabError
from ..report.text import nonnormality
from .common import (EXIT_UNCONVERGED, console, default_out, field_options, finish, fmt, out_option,
                     resolve_eps, resolve_field, table, user_errors)
from ..spectral.settings import SpectrumSettings
from .settings import settings_from, settings_options


def _groups(values):
    """(index, copies) per distinct finite eigenvalue λ of J: copies are shown once, with a
    multiplicity (M's rows are grouped by their λ = (μ − 1)/ε, since μ = 1 + ελ crowds near 1)."""
    from ..spectral.multiplicity import distinct

    finite = np.flatnonzero(np.isfinite(values))
    keep, counts = distinct(values[finite])
    return zip(finite[keep], counts)


def _copies(count: int) -> str:
    return f"×{count}" if count > 1 else ""


def print_spectrum(ds) -> None:
    """The readable summary: J table, M table, non-normality line, verdict."""
    eps = float(ds.attrs["eps"])
    fixed = bool(ds.attrs.get("fixed_point_converged", 1))
    if not fixed:
        console.print(f"[red]the fixed point did not converge (force residual {fmt(ds.attrs['force_residual'])}): "
                      "the eigenvalues below are of J at that state, not of a fixed point[/]")
    at = "" if fixed else " at the UNCONVERGED state"
    seq_J, seq_M = (ds[f"sequence_{m}"].values if f"sequence_{m}" in ds else None for m in "JM")
    by_seq = (lambda seq, i: (str(int(seq[i])),) if seq is not None else ())  # noqa: E731
    seq_col = ["sequence"] if seq_J is not None else []
    rows = []
    eig_J = ds["eig_J"].values
    for i, count in _groups(eig_J):
        lam, crit, res, u = (eig_J[i], ds["eps_crit"].values[i], ds["residual_J"].values[i],
                             ds["uncertainty_J"].values[i])
        count = max(count, int(ds["multiplicity_J"].values[i])) if "multiplicity_J" in ds else count
        mu = 1 + eps * lam
        kind = "complex" if abs(lam.imag) > 1e-8 * max(abs(lam), 1) else "real"
        mark = ("[yellow]marginal[/]" if abs(lam.real) <= u else "[red]unstable[/]" if lam.real > 0
                else "[yellow]map-unstable[/]" if abs(mu) > 1 else "stable")
        rows.append((fmt(complex(lam), 5), fmt(u, 2), _copies(count), fmt(crit), fmt(complex(mu), 5),
                     fmt(abs(mu), 6), kind, mark, fmt(res, 2), *by_seq(seq_J, i)))
    how = f", shift-invert σ = {ds.attrs['sigma']:g}" if "sigma" in ds.attrs else ""
    table(f"rightmost eigenvalues λ of J{at} (ε = {eps:g}{how})",
          ["λ", "±", "copies", "ε_crit (mode)", "μ = 1+ελ", "|μ|", "kind", "", "residual", *seq_col], rows,
          secondary=["residual", "copies", "kind", "ε_crit (mode)", "μ = 1+ελ"])
    rows = []
    eig_M = ds["eig_M"].values
    for i, count in _groups(ds["lambda_of_M"].values):
        mu, lam, res, u = (eig_M[i], ds["lambda_of_M"].values[i], ds["residual_M"].values[i],
                           ds["uncertainty_M"].values[i])
        side = "≈1" if abs(abs(mu) - 1) <= u else "[red]>1[/]" if abs(mu) > 1 else "<1"
        rows.append((fmt(complex(mu), 5), fmt(abs(mu), 6), fmt(u, 2), _copies(count), fmt(complex(lam), 5),
                     side, fmt(res, 2), *by_seq(seq_M, i)))
    table(f"largest-|μ| eigenvalues of M = I + εJ{at}",
          ["μ", "|μ|", "±", "copies", "λ = (μ−1)/ε", "", "residual", *seq_col], rows,
          secondary=["residual", "copies", "λ = (μ−1)/ε"])
    if "max_abs_mu_seq" in ds:
        per = ds["max_abs_mu_seq"].values
        console.print(f"per sequence (a batch's J is block-diagonal: {len(per)} searches): max|μ| "
                      f"{' '.join(fmt(v, 5) for v in per)}; the worst, whose verdict is the batch's: sequence "
                      f"{ds.attrs['worst_sequence']}")
    if "leading_multiplicity_J" in ds.attrs:
        console.print(f"multiplicity by deflation: leading λ ×{ds.attrs['leading_multiplicity_J']}, "
                      f"leading μ ×{ds.attrs['leading_multiplicity_M']}")
    if "m_search" in ds.attrs:
        console.print(f"note: {ds.attrs['m_search']}")
    if "numerical_abscissa" in ds:
        console.print(f"non-normality: {nonnormality(ds)} ({ds.attrs.get('diagnostics')}, tol "
                      f"{fmt(ds.attrs.get('nonnormality_tol'))}"
                      + (")" if ds.attrs.get("converged_nonnormality", 1) else
                         ", [yellow]not converged to that tol: a lower bound[/])"))
    console.print(f"fixed point: force residual ||F||/max(||z||,1) {fmt(ds.attrs['force_residual'])}, step residual "
                  f"{fmt(ds.attrs['step_residual'])}"
                  + ("" if ds.attrs.get("fixed_point_converged", 1) else
                     f" [red](not converged: {ds.attrs.get('fixed_point_reason')})[/]"))
    settled = ds["min_eps_crit"].attrs.get("settled", 1)
    console.print(f"ε_crit (smallest over all modes): {fmt(float(ds['min_eps_crit']), 4)}"
                  + ("" if settled else " [yellow](refinement not settled: an upper bound)[/]"))
    color = "" if ds.attrs.get("converged", 1) else "[red]"
    console.print(f"[bold]verdict:[/] {color}{ds.attrs['verdict_text']}{'[/]' if color else ''}")


#: ``--eps/--k/--tol/--ncv/--diagnostics``, generated from the library's SpectrumSettings
spectrum_options = settings_options(SpectrumSettings)


@click.command("spectrum")
@field_options
@spectrum_options
@click.option("--alpha", default=None, type=float, help="Attention-output scale α (shorthand for --set alpha=A).")
@click.option("--no-diagnostics", is_flag=True, help="Same as --diagnostics none.")
@click.option("--maxiter", default=None, type=int, help="Eigensolver restarts at most (default 1000).")
@click.option("--sigma", default=None, type=float,
              help="Shift-invert about this real shift: J's eigenvalues nearest sigma (for stiff "
                   "fields, a sigma at or right of the rightmost ones), via preconditioned GMRES.")
@click.option("--relax-steps", default=300, show_default=True,
              help="Euler steps at most before the Newton–Krylov polish of the fixed point; relaxation hands "
                   "over early once the force residual is below 1e-2 (0: Newton only).")
@click.option("--state", "state_path", default=None, metavar="PATH",
              help="Start the fixed-point search from a saved state (relax dataset, .npy or .pt).")
@click.option("--gmres-restart", default=40, show_default=True, help="GMRES restart length (Krylov dimension).")
@click.option("--gmres-maxiter", default=1000, show_default=True, help="GMRES iterations per linear solve at most.")
@click.option("--multiplicity", is_flag=True,
              help="Count the copies of the leading eigenvalues by deflation (batches of identical "
                   "sequences, symmetric fields: every eigenvalue multiple).")
@click.option("--vectors", is_flag=True, help="Also store the eigenvectors (mode × state).")
@out_option("spectrum.zarr")
@user_errors
def command(alpha, vectors, no_diagnostics, maxiter, sigma, relax_steps, state_path, gmres_restart,
            gmres_maxiter, multiplicity, out, **opts):
    """Leading spectrum of J = dF/dz and of the Euler map M = I + eps*J at the fixed point.

    Finds the fixed point (Euler relaxation, then Newton–Krylov, so unstable ones too), then runs
    one matrix-free Krylov–Schur search that keeps the rightmost eigenvalues of J, the
    largest-modulus eigenvalues of M (flips, eps*lambda < -2, that the first set ranks last) and the
    smallest eps_crit (--search separate: two independent searches; --search blocks: one such
    search per sequence of a batch, whose J is block-diagonal, modes labelled by sequence, the
    verdict the worst sequence's).
    Prints both tables with eps_crit = -2a/(a^2+b^2), each eigenvalue's uncertainty (±: its residual
    plus 10x the fixed point's force residual plus round-off), non-normality diagnostics and a
    verdict: stable, marginal (the leading Re lambda within its uncertainty of 0 -- a null space or
    the Hopf boundary -- or max|mu| within its uncertainty of 1), continuous-unstable
    (Re lambda > 0) or discretisation-only-unstable (Re lambda < 0 but |1 + eps*lambda| > 1). If the
    fixed point, an eigenvalue or a linear solve did not converge the verdict says
    "not converged: ..." and the exit status is 3; an unconverged fixed point gives no stability
    verdict at all.
    """
    from ..report.figures import spectrum_figure
    from ..spectral.spectrum import spectrum
    from ..state_io import load_state

    for name, v, lo in (("--relax-steps", relax_steps, 0), ("--gmres-restart", gmres_restart, 1),
                        ("--gmres-maxiter", gmres_maxiter, 1), ("--maxiter", maxiter or 1, 1)):
        if v < lo:
            raise StabilityLabError(f"{name} must be >= {lo}, got {v}")
    if no_diagnostics:
        opts["diagnostics"] = "none"
    settings = settings_from(SpectrumSettings, opts)
    fld = resolve_field(alpha=alpha, **opts)
    settings = dataclasses.replace(settings, eps=resolve_eps(settings.eps, fld))
    z0 = load_state(state_path, fld) if state_path else None
    with console.status("fixed point and Krylov–Schur searches…"):
        ds = spectrum(fld, **settings.kwargs(), maxiter=maxiter, vectors=vectors, z0=z0, sigma=sigma,
                      relax_steps=relax_steps, gmres_restart=gmres_restart, gmres_maxiter=gmres_maxiter,
                      multiplicity=multiplicity and sigma is None)
    print_spectrum(ds)
    finish(ds, default_out(out, "spectrum.zarr"), spectrum_figure(ds))
    if not ds.attrs.get("converged", 1):
        sys.exit(EXIT_UNCONVERGED)
