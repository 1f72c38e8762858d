"""``stabilitylab spectrum``: leading eigenvalues of J and of M = I + εJ at a fixed point."""
from __future__ import annotations

import click
import numpy as np

from ..errors import StabilityLabError
from .common import console, default_out, field_options, finish, fmt, out_option, resolve_field, table, user_errors


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
          ["λ", "ε_crit", "μ = 1+ελ", "|μ|", "kind", "", "residual"], rows)
    rows = []
    for mu, lam, res in zip(ds["eig_M"].values, ds["lambda_of_M"].values, ds["residual_M"].values):
        if not np.isfinite(mu):
            continue
        rows.append((fmt(complex(mu), 5), fmt(abs(mu), 6), fmt(complex(lam), 5),
                     "[red]>1[/]" if abs(mu) > 1 else "<1", fmt(res, 2)))
    table("largest-|μ| eigenvalues of M = I + εJ", ["μ", "|μ|", "λ = (μ−1)/ε", "", "residual"], rows)
    if "numerical_abscissa" in ds:
        console.print(
            f"non-normality: ‖Av‖/‖Jv‖ = {fmt(ds.antisymmetry_ratio.item())}, numerical abscissa "
            f"ω(J) = {fmt(ds.numerical_abscissa.item())}, ‖A‖ = {fmt(ds.norm_A.item())}, "
            f"ρ(S⁻¹A) ≤ {fmt(ds.rho_bound.item())}, transient growth max_k ‖Mᵏ‖ = "
            f"{fmt(ds.transient_growth.item())} at k = {int(ds.transient_growth_step)} "
            f"({ds.attrs.get('diagnostics')}, tol {fmt(ds.attrs.get('nonnormality_tol'))}"
            + (")" if ds.attrs.get("converged_nonnormality", 1) else
               ", [yellow]not converged to that tol: a lower bound[/])"))
    console.print(f"fixed point: force residual {fmt(ds.attrs['force_residual'])}, step residual "
                  f"{fmt(ds.attrs['step_residual'])}"
                  + ("" if ds.attrs.get("fixed_point_converged", 1) else
                     f" [red](not converged: {ds.attrs.get('fixed_point_reason')})[/]"))
    console.print(f"[bold]verdict:[/] {ds.attrs['verdict_text']}")


@click.command("spectrum")
@field_options
@click.option("--eps", default=0.1, show_default=True, help="Euler step size ε (M = I + εJ).")
@click.option("--k", default=8, show_default=True, help="Eigenvalues wanted from each search.")
@click.option("--alpha", default=None, type=float, help="Attention-output scale α (shorthand for --set alpha=A).")
@click.option("--tol", default=1e-8, show_default=True, help="Relative eigen-residual tolerance.")
@click.option("--ncv", default=None, type=int,
              help="Krylov subspace size (default max(2K+1, 40), K = all wanted eigenvalues of the search).")
@click.option("--vectors", is_flag=True, help="Also store the eigenvectors (mode × state).")
@click.option("--diagnostics", type=click.Choice(["fast", "full", "none"]), default="fast", show_default=True,
              help="Non-normality diagnostics: fast (tol 1e-3, start vectors from the eigen-search), "
                   "full (tol 1e-8, more probes), none.")
@click.option("--no-diagnostics", is_flag=True, help="Same as --diagnostics none.")
@click.option("--search", type=click.Choice(["shared", "separate"]), default="shared", show_default=True,
              help="One Krylov space for J, M and eps_crit (shared) or two independent searches.")
@out_option("spectrum.zarr")
@user_errors
def command(eps, k, alpha, tol, ncv, vectors, diagnostics, no_diagnostics, search, out, **fopts):
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

    if eps <= 0:
        raise StabilityLabError(f"--eps must be > 0, got {eps}")
    fld = resolve_field(alpha=alpha, **fopts)
    with console.status("fixed point and Krylov–Schur searches…"):
        ds = spectrum(fld, k=k, eps=eps, tol=tol, ncv=ncv, vectors=vectors, search=search,
                      diagnostics="none" if no_diagnostics else diagnostics)
    print_spectrum(ds)
    finish(ds, default_out(out, "spectrum.zarr"), spectrum_figure(ds))
