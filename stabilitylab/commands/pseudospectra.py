"""``stabilitylab pseudospectra``: projected pseudospectra of J and M near the rightmost eigenvalues."""
from __future__ import annotations

import sys

import click
import numpy as np

from ..errors import StabilityLabError
from .common import (EXIT_UNCONVERGED, check_k, console, default_out, eps_option, field_options, finish, fmt,
                     out_option, resolve_eps, resolve_field, table)


def print_pseudospectra(ds) -> None:
    """Ritz values, α_δ per level, distances to instability, Kreiss bounds, accuracy, verdict."""
    eps = float(ds.attrs["eps"])
    rows = [(fmt(complex(lam), 5), fmt(abs(1 + eps * lam), 5), fmt(r, 2))
            for lam, r in zip(ds["eig_J"].values, ds["residual_J"].values)]
    table("rightmost Ritz values of J (the basis the pseudospectra are projected on)", ["λ", "|1+ελ|", "residual"], rows)
    rows = [(fmt(d, 3), fmt(d / ds.attrs["norm_estimate"], 2),
             (fmt(a, 5) if np.isfinite(a) else "-") + ("" if inside else " (≥, box edge)"), fmt(y, 4),
             fmt(a2, 5), f"{c:.2%}" if np.isfinite(c) else "-")
            for d, a, inside, y, a2, c in zip(ds["delta"].values, ds["alpha"].values, ds["alpha_inside"].values,
                                              ds["alpha_imag"].values, ds["alpha_check"].values,
                                              ds["projection_change"].values)]
    table(f"pseudospectral abscissa α_δ(J) (lower bounds of the true: the projection is contained in it); check: "
          f"basis {ds.attrs['ncv']} → {ds.attrs['check_ncv']} (an estimate, not a bound)",
          ["δ", "δ/‖AV‖", "α_δ", "|Im z| there", f"α_δ, basis {ds.attrs['check_ncv']}", "σ_min drop on the level, right of the Ritz values"],
          rows)
    console.print(f"distance to instability of J (min_ω σ_min(iω − J)) ≤ {fmt(float(ds['distance_to_instability']), 4)}; "
                  f"of M (min_θ σ_min(e^iθ − M)) ≤ {fmt(float(ds['map_distance_to_instability']), 4)}")
    if np.isfinite(float(ds["distance_check"])):
        console.print(f"  with the check basis ({ds.attrs['check_ncv']}): distance to instability of J ≤ "
                      f"{fmt(float(ds['distance_check']), 4)}")
    console.print(f"Kreiss lower bounds: sup_t ‖e^(tJ)‖ ≥ {fmt(float(ds['kreiss_J']), 4)}, "
                  f"sup_k ‖M^k‖ ≥ {fmt(float(ds['kreiss_M']), 4)}")
    color = "" if ds.attrs.get("converged", 1) else "[red]"
    console.print(f"[bold]verdict:[/] {color}{ds.attrs['verdict']}{'[/]' if color else ''}")


@click.command("pseudospectra")
@field_options
@eps_option()
@click.option("--k", default=6, show_default=True, help="Rightmost eigenvalues the Krylov–Schur basis is built for.")
@click.option("--ncv", default=None, type=int, help="Basis size (default max(2k+1, 60)).")
@click.option("--check-ncv", default=None, type=int,
              help="Basis of the accuracy check (default 2·ncv; 0 skips it).")
@click.option("--grid", default=60, show_default=True, help="Grid points per side.")
@click.option("--box", default=None, metavar="X0:X1:Y0:Y1", help="λ-plane box (default: around the Ritz values).")
@click.option("--deltas", default=None, metavar="D1,D2,...",
              help="Levels δ (default 1e-1, 1e-2, 1e-3 times ‖AV‖₂, the projected norm).")
@click.option("--tol", default=1e-8, show_default=True, help="Krylov–Schur tolerance.")
@click.option("--seed", default=0, show_default=True, help="Seed of the Krylov start vector.")
@out_option("pseudospectra.zarr")
def command(eps, k, ncv, check_ncv, grid, box, deltas, tol, seed, out, **fopts):
    """Projected pseudospectra (Wright & Trefethen 2001) of J at the fixed point and of the Euler
    map M = I + eps*J: sigma_min(zI - J) bounded above on a grid from the Krylov–Schur basis, the
    pseudospectral abscissa per level, the distance to instability (J and M) and Kreiss lower
    bounds on the transient growth sup ||exp(tJ)|| and sup ||M^k||. Exit status 3 when the fixed
    point or the Ritz values did not converge.
    """
    from ..spectral.pseudospectra import pseudospectra
    from ..spectral.pseudospectra_figure import pseudospectra_figure

    if grid < 5:
        raise StabilityLabError(f"--grid must be >= 5, got {grid}")
    try:
        box_v = [float(v) for v in box.split(":")] if box else None
        deltas_v = [float(v) for v in deltas.split(",")] if deltas else None
    except ValueError:
        raise StabilityLabError("--box expects X0:X1:Y0:Y1 and --deltas comma-separated numbers") from None
    if box_v is not None and (len(box_v) != 4 or box_v[0] >= box_v[1] or box_v[2] >= box_v[3]):
        raise StabilityLabError(f"--box must be X0:X1:Y0:Y1 with X0 < X1 and Y0 < Y1, got {box}")
    if deltas_v is not None and min(deltas_v) <= 0:
        raise StabilityLabError("--deltas must be positive")
    fld = resolve_field(**fopts)
    k = check_k(k, fld)
    eps = resolve_eps(eps, fld)
    with console.status("fixed point, Krylov–Schur basis, σ_min on the grid…"):
        ds = pseudospectra(fld, k=k, eps=eps, ncv=ncv, check_ncv=check_ncv, grid=grid, box=box_v,
                           deltas=deltas_v, tol=tol, seed=seed)
    ds.attrs["eps_source"] = fld.meta["eps_source"]
    print_pseudospectra(ds)
    finish(ds, default_out(out, "pseudospectra.zarr"), pseudospectra_figure(ds))
    if not ds.attrs.get("converged", 1):
        sys.exit(EXIT_UNCONVERGED)
