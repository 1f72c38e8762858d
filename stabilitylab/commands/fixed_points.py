"""``stabilitylab fixed-points``: all the fixed points reachable from many starts, and slow points."""
from __future__ import annotations

import sys

import click

from ..errors import StabilityLabError
from .common import (EXIT_UNCONVERGED, check_k, console, default_out, eps_option, field_options, finish, fmt,
                     out_option, resolve_eps, resolve_field, table)


def print_fixed_points(ds) -> None:
    """Root table (residual, norm, leading λ, max|μ|, verdict, how found), slow points, verdict."""
    rows = []
    for i in range(ds.sizes["root"]):
        lam = ds["eig_J"].values[i, 0]
        rows.append((str(i), fmt(ds["force_residual"].values[i], 2), fmt(ds["state_norm"].values[i], 5),
                     fmt(complex(lam), 5), fmt(ds["max_abs_mu"].values[i], 5), str(ds["n_unstable_J"].values[i]),
                     str(ds["verdict"].values[i]), str(ds["found_by"].values[i]), str(ds["found_from"].values[i]),
                     str(ds["times_found"].values[i])))
    table(f"fixed points (ε = {float(ds.attrs['eps']):g}; distinct when ||z − r|| > {ds.attrs['dedup_tol']:g}·max(||r||, 1))",
          ["root", "force residual", "||z||", "leading λ of J", "max|μ|", "unstable λ", "verdict", "found by",
           "start", "times found"], rows, secondary=["times found", "start", "found by", "||z||"])
    if ds.sizes["slow"]:
        rows = [(str(i), fmt(ds["slow_q"].values[i], 3), fmt(ds["slow_force_residual"].values[i], 3),
                 fmt(ds["slow_grad_norm"].values[i], 2), str(ds["slow_found_from"].values[i])) for i in range(ds.sizes["slow"])]
        table("slow points (local minima of q = ½||F||² that are not roots)",
              ["slow", "q", "force residual", "||∇q||", "start"], rows)
    color = "" if ds.attrs.get("converged", 1) else "[red]"
    console.print(f"[bold]verdict:[/] {color}{ds.attrs['verdict']}{'[/]' if color else ''}")


@click.command("fixed-points")
@field_options
@eps_option()
@click.option("--starts", default=8, show_default=True, help="Starts: z0, data windows, then noise.")
@click.option("--data-starts", default=3, show_default=True,
              help="Of the starts, initial states of other input batches (checkpoints only).")
@click.option("--noise", default=0.5, show_default=True, help="Noise starts: z0 + NOISE·rms(z0)·N(0, I).")
@click.option("--k", default=4, show_default=True, help="Leading eigenvalues per root.")
@click.option("--tol", default=1e-9, show_default=True, help="Force residual a root must reach.")
@click.option("--dedup-tol", default=1e-5, show_default=True,
              help="Two roots are the same when ||z − r|| <= DEDUP_TOL·max(||r||, 1).")
@click.option("--relax-steps", default=300, show_default=True, help="Euler steps per start before Newton.")
@click.option("--per-start", default=3, show_default=True, help="New roots sought per start (deflation) at most.")
@click.option("--no-slow-points", is_flag=True, help="Skip the L-BFGS minimisation of ½||F||².")
@click.option("--slow-maxiter", default=200, show_default=True, help="L-BFGS iterations per start at most.")
@click.option("--seed", default=0, show_default=True, help="Seed of the noise starts.")
@out_option("fixed-points.zarr")
def command(eps, starts, data_starts, noise, k, tol, dedup_tol, relax_steps, per_start, no_slow_points,
            slow_maxiter, seed, out, **fopts):
    """Find all the fixed points reachable from --starts starts: relaxation, then Newton–Krylov with
    deflation (Farrell et al. 2015) so found roots are not found again; each root classified by its
    leading spectrum (J and M = I + eps*J); slow points (local minima of ½||F||², Sussillo & Barak)
    listed separately. Exit status 3 when a root's spectrum did not converge.
    """
    from ..dynamics.all_roots import all_fixed_points, seeded_starts
    from ..dynamics.all_roots_figure import fixed_points_figure

    for name, v in (("--starts", starts), ("--per-start", per_start), ("--k", k)):
        if v < 1:
            raise StabilityLabError(f"{name} must be >= 1, got {v}")
    fld = resolve_field(**fopts)
    k = check_k(k, fld)
    eps = resolve_eps(eps, fld)
    z0s, kinds = seeded_starts(fld, starts, data=data_starts, noise=noise, seed=seed)
    with console.status(f"relaxation, deflated Newton{'' if no_slow_points else ' and L-BFGS'} from {starts} starts…"):
        ds = all_fixed_points(fld, z0s, kinds, eps=eps, k=k, tol=tol, dedup_tol=dedup_tol, relax_steps=relax_steps,
                              per_start=per_start, slow_points=not no_slow_points, slow_maxiter=slow_maxiter,
                              seed=seed)
    ds.attrs["eps_source"] = fld.meta["eps_source"]
    print_fixed_points(ds)
    finish(ds, default_out(out, "fixed-points.zarr"), fixed_points_figure(ds))
    if not ds.attrs.get("converged", 1):
        sys.exit(EXIT_UNCONVERGED)
