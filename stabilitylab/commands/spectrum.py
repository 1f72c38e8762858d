"""``stabilitylab spectrum``: leading eigenvalues of J and of M = I + εJ at a fixed point."""
from __future__ import annotations

import sys

import click
import numpy as np

from ..errors import StabilityLabError
from ..spectral.multiplicity import distinct
from .common import (EXIT_UNCONVERGED, console, default_out, field_options, finish, fmt, out_option,
                     resolve_field, table, user_errors)
from ..state_io import load_state


def _groups(values):
    """(index, copies) per distinct finite eigenvalue λ of J: copies are shown once, with a
    multiplicity (M's rows are grouped by their λ = (μ − 1)/ε, since μ = 1 + ελ crowds near 1)."""
    finite = np.flatnonzero(np.isfinite(values))
    keep, counts = distinct(values[finite])
    return zip(finite[keep], counts)


def _copies(count: int) -> str:
    return f"×{count}" if count > 1 else ""


def print_spectrum(ds) -> None:
    """The readable summary: J table, M table, non-normality line, verdict."""
    eps = float(ds.attrs["eps"])
    rows = []
    eig_J = ds["eig_J"].values
    for i, count in _groups(eig_J):
        lam, crit, res = eig_J[i], ds["eps_crit"].values[i], ds["residual_J"].values[i]
        count = max(count, int(ds["multiplicity_J"].values[i])) if "multiplicity_J" in ds else count
        mu = 1 + eps * lam
        kind = "complex" if abs(lam.imag) > 1e-8 * max(abs(lam), 1) else "real"
        mark = "[red]unstable[/]" if lam.real > 0 else ("[yellow]map-unstable[/]" if abs(mu) > 1 else "stable")
        rows.append((fmt(complex(lam), 5), _copies(count), fmt(crit), fmt(complex(mu), 5), fmt(abs(mu), 6),
                     kind, mark, fmt(res, 2)))
    how = f", shift-invert σ = {ds.attrs['sigma']:g}" if "sigma" in ds.attrs else ""
    table(f"rightmost eigenvalues λ of J (ε = {eps:g}{how})",
          ["λ", "copies", "ε_crit", "μ = 1+ελ", "|μ|", "kind", "", "residual"], rows)
    rows = []
    eig_M = ds["eig_M"].values
    for i, count in _groups(ds["lambda_of_M"].values):
        mu, lam, res = eig_M[i], ds["lambda_of_M"].values[i], ds["residual_M"].values[i]
        rows.append((fmt(complex(mu), 5), _copies(count), fmt(abs(mu), 6), fmt(complex(lam), 5),
                     "[red]>1[/]" if abs(mu) > 1 else "<1", fmt(res, 2)))
    table("largest-|μ| eigenvalues of M = I + εJ", ["μ", "copies", "|μ|", "λ = (μ−1)/ε", "", "residual"], rows)
    if "leading_multiplicity_J" in ds.attrs:
        console.print(f"multiplicity by deflation: leading λ ×{ds.attrs['leading_multiplicity_J']}, "
                      f"leading μ ×{ds.attrs['leading_multiplicity_M']}")
    if "m_search" in ds.attrs:
        console.print(f"note: {ds.attrs['m_search']}")
    if "numerical_abscissa" in ds:
        console.print(
            f"non-normality: ‖Av‖/‖Jv‖ = {fmt(ds.antisymmetry_ratio.item())}, numerical abscissa "
            f"ω(J) = {fmt(ds.numerical_abscissa.item())}, ‖A‖ = {fmt(ds.norm_A.item())}, "
            f"ρ(S⁻¹A) ≤ {fmt(ds.rho_bound.item())}, transient growth max‖Mᵏv‖ = "
            f"{fmt(ds.transient_growth.item())} at k = {int(ds.transient_growth_step)}")
    console.print(f"fixed point: force residual ||F||/max(||z||,1) {fmt(ds.attrs['force_residual'])}, step residual "
                  f"{fmt(ds.attrs['step_residual'])}"
                  + ("" if ds.attrs.get("fixed_point_converged", 1) else
                     f" [red](not converged: {ds.attrs.get('fixed_point_reason')})[/]"))
    color = "" if ds.attrs.get("converged", 1) else "[red]"
    console.print(f"[bold]verdict:[/] {color}{ds.attrs['verdict_text']}{'[/]' if color else ''}")


@click.command("spectrum")
@field_options
@click.option("--eps", default=0.1, show_default=True, help="Euler step size ε (M = I + εJ).")
@click.option("--k", default=8, show_default=True, help="Eigenvalues wanted from each search.")
@click.option("--alpha", default=None, type=float, help="Attention-output scale α (shorthand for --set alpha=A).")
@click.option("--tol", default=1e-8, show_default=True, help="Relative eigen-residual tolerance.")
@click.option("--ncv", default=None, type=int, help="Krylov subspace size (default max(2k+1, 20)).")
@click.option("--maxiter", default=None, type=int, help="Eigensolver restarts at most (default 1000).")
@click.option("--sigma", default=None, type=float,
              help="Shift-invert about this real shift: J's eigenvalues nearest sigma (for stiff "
                   "fields, a sigma at or right of the rightmost ones), via preconditioned GMRES.")
@click.option("--relax-steps", default=300, show_default=True,
              help="Euler steps before the Newton–Krylov polish of the fixed point (0: Newton only).")
@click.option("--state", "state_path", default=None, metavar="PATH",
              help="Start the fixed-point search from a saved state (relax dataset, .npy or .pt).")
@click.option("--gmres-restart", default=40, show_default=True, help="GMRES restart length (Krylov dimension).")
@click.option("--gmres-maxiter", default=1000, show_default=True, help="GMRES iterations per linear solve at most.")
@click.option("--multiplicity", is_flag=True,
              help="Count the copies of the leading eigenvalues by deflation (batches of identical "
                   "sequences, symmetric fields: every eigenvalue multiple).")
@click.option("--vectors", is_flag=True, help="Also store the eigenvectors (mode × state).")
@click.option("--no-diagnostics", is_flag=True, help="Skip the non-normality diagnostics.")
@out_option("spectrum.zarr")
@user_errors
def command(eps, k, alpha, tol, ncv, maxiter, sigma, relax_steps, state_path, gmres_restart,
            gmres_maxiter, multiplicity, vectors, no_diagnostics, out, **fopts):
    """Leading spectrum of J = dF/dz and of the Euler map M = I + eps*J at the fixed point.

    Finds the fixed point (Euler relaxation, then Newton–Krylov, so unstable ones too), then runs
    two matrix-free Krylov–Schur searches: rightmost eigenvalues of J and largest-modulus
    eigenvalues of M (the second catches flips, eps*lambda < -2, that the first ranks last).
    Prints both tables with eps_crit = -2a/(a^2+b^2), non-normality diagnostics and a verdict:
    stable, continuous-unstable (Re lambda > 0) or discretisation-only-unstable (Re lambda < 0 but
    |1 + eps*lambda| > 1). If the fixed point, an eigenvalue or a linear solve did not converge the
    verdict says "not converged: ..." and the exit status is 3.
    """
    from ..spectral.spectrum import spectrum
    from ..report.figures import spectrum_figure

    if eps <= 0:
        raise StabilityLabError(f"--eps must be > 0, got {eps}")
    for name, v, lo in (("--relax-steps", relax_steps, 0), ("--gmres-restart", gmres_restart, 1),
                        ("--gmres-maxiter", gmres_maxiter, 1), ("--maxiter", maxiter or 1, 1)):
        if v < lo:
            raise StabilityLabError(f"{name} must be >= {lo}, got {v}")
    fld = resolve_field(alpha=alpha, **fopts)
    z0 = load_state(state_path, fld) if state_path else None
    with console.status("fixed point and Krylov–Schur searches…"):
        ds = spectrum(fld, k=k, eps=eps, tol=tol, ncv=ncv, maxiter=maxiter, vectors=vectors,
                      diagnostics=not no_diagnostics, z0=z0, sigma=sigma, relax_steps=relax_steps,
                      gmres_restart=gmres_restart, gmres_maxiter=gmres_maxiter,
                      multiplicity=multiplicity and sigma is None)
    print_spectrum(ds)
    finish(ds, default_out(out, "spectrum.zarr"), spectrum_figure(ds))
    if not ds.attrs.get("converged", 1):
        sys.exit(EXIT_UNCONVERGED)
