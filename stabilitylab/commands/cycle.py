"""``stabilitylab cycle``: classify the attractor of the relaxation; Floquet multipliers of a cycle."""
from __future__ import annotations

import math

import click
import numpy as np

from ..errors import StabilityLabError
from .common import check_k, console, default_out, eps_option, field_options, finish, fmt, out_option, resolve_eps, resolve_field, table, user_errors


def print_cycle(ds) -> None:
    """Attractor table, Floquet table (for a cycle), the fixed point's leading eigenvalues, verdict."""
    period = ds["period"].item()
    periodic = math.isfinite(period)  # a fixed point or a chaotic run has no period to return after
    rows = [("kind", str(ds["kind"].item())), ("evidence", str(ds["reason"].item()))]
    if periodic:
        rows += [("period (steps)", fmt(period, 10) + (f" ± {fmt(ds['period_error'].item(), 2)}"
                                                       if math.isfinite(ds["period_error"].item()) else "")),
                 ("period, autocorrelation cross-check", fmt(ds["period_coarse"].item(), 6))]
    lam, err = ds["lyapunov"].item(), ds["lyapunov_error"].item()
    rows += [("amplitude (RMS radius)", fmt(ds["amplitude"].item())),
             ("Lyapunov exponent (per step)", fmt(lam, 4) + (f" ± {fmt(err, 2)}" if math.isfinite(err) else "")),
             ("Lyapunov exponent (per unit time = per step / ε)", fmt(ds["lyapunov_per_time"].item(), 4)),
             ("force residual floor ||F||/||z||", fmt(ds["residual_floor"].item())),
             ("force residual oscillation (max-min)", fmt(ds["oscillation"].item())),
             ("step residual floor ||εF||/||z||", fmt(ds["step_residual_floor"].item()))]
    if periodic:
        rows.append(("return error after one period", fmt(ds["return_error"].item())))
    table(f"attractor of the relaxation at ε = {float(ds['eps']):g} (tail of {ds.attrs['tail']} steps)",
          ["quantity", "value"], rows)
    if "floquet_multiplier" in ds:
        triv, span = int(ds.attrs["trivial_index"]), int(ds["floquet_steps"]) * float(ds["eps"])
        rows = [(str(i), fmt(complex(mu), 5), fmt(abs(mu), 6), fmt(np.log(abs(mu)) / span, 4),
                 "trivial (phase)" if i == triv else ("[red]unstable[/]" if abs(mu) > 1 else "stable"), fmt(res, 2))
                for i, (mu, res) in enumerate(zip(ds["floquet_multiplier"].values, ds["floquet_residual"].values))
                if np.isfinite(mu)]
        table(f"Floquet multipliers of the {int(ds['floquet_steps'])}-step monodromy "
              f"(rotation mismatch {fmt(ds['floquet_mismatch'].item())} rad, "
              f"orbit from {ds.attrs['floquet_refinement']})",
              ["mode", "μ", "|μ|", "ln|μ|/(Pε) per unit time", "", "residual"], rows)
    if "eig_J" in ds:
        rows = [(fmt(complex(lam), 5), fmt(complex(mu), 5), fmt(abs(mu), 5))
                for lam, mu in zip(ds["eig_J"].values, ds["eig_M"].values) if np.isfinite(lam) or np.isfinite(mu)]
        table("spectrum at the nearest fixed point", ["λ of J (rightmost)", "μ of M (largest)", "|μ|"], rows)
    console.print(f"[bold]verdict:[/] {ds.attrs['verdict']}")


@click.command("cycle")
@field_options
@eps_option()
@click.option("--steps", default=6000, show_default=True, help="Relaxation steps.")
@click.option("--tail", default=None, type=int,
              help="Final steps analysed for floor, period, amplitude (default steps/4).")
@click.option("--k", default=6, show_default=True, help="Floquet multipliers and fixed-point eigenvalues wanted.")
@click.option("--no-floquet", is_flag=True, help="Skip the Floquet multipliers of a detected cycle.")
@click.option("--no-spectrum", is_flag=True, help="Skip the spectrum at the nearest fixed point.")
@click.option("--no-lyapunov", is_flag=True, help="Skip the Lyapunov exponent (faster; chaos is then not detected).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random projections and tangent vector.")
@out_option("cycle.zarr")
@user_errors
def command(eps, steps, tail, k, no_floquet, no_spectrum, no_lyapunov, seed, out, **fopts):
    """Relax long and classify what the relaxation settles on.

    Kinds: fixed_point, limit_cycle, quasi_periodic, chaotic, diverged — from the force-residual
    floor ||F||/||z|| and its oscillation over the tail, the period of a few random projections of
    the state (sub-step precision; non-integer periods are invariant circles of the Euler map), a
    return-map check and the largest Lyapunov exponent (JVP tangent propagation). For a limit cycle
    the Floquet multipliers of the monodromy (matrix-free, P JVPs per product) are computed and the
    trivial one checked; the spectrum at the fixed point inside the cycle says why it exists.
    """
    from ..dynamics import analyse_cycle
    from ..dynamics.figures import cycle_figure

    if k < 1:
        raise StabilityLabError(f"--k must be >= 1, got {k}")
    fld = resolve_field(**fopts)
    k = check_k(k, fld)
    eps = resolve_eps(eps, fld)
    ds = analyse_cycle(fld, eps, steps, tail=tail, k=k, with_floquet=not no_floquet, with_spectrum=not no_spectrum,
                       lyapunov=not no_lyapunov, seed=seed, progress=True)
    print_cycle(ds)
    finish(ds, default_out(out, "cycle.zarr"), cycle_figure(ds))
