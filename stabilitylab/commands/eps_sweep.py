"""``stabilitylab eps-sweep``: attractors over a grid of step sizes against the predicted ε_crit."""
from __future__ import annotations

import click
import numpy as np

from .common import (check_k, console, default_out, field_options, finish, fmt, out_option, resolve_eps,
                     resolve_field, table, user_errors)


@click.command("eps-sweep")
@field_options
@click.option("--eps", "eps_text", default=None,
              help="Step sizes: START:STOP:NUM (inclusive) or a list a,b,c. Default: 12 geometric "
                   "points from 0.05 to 2 times the spectrum's predicted eps_crit.")
@click.option("--log", is_flag=True, help="Space a START:STOP:NUM range geometrically.")
@click.option("--steps", default=3000, show_default=True, help="Relaxation steps per ε (all ε run at once).")
@click.option("--tail", default=None, type=int,
              help="Final steps analysed for floor and oscillation (default steps/4).")
@click.option("--k", default=6, show_default=True, help="Eigenvalues of J and M wanted at the fixed point.")
@click.option("--no-lyapunov", is_flag=True, help="Skip the Lyapunov exponents (faster; chaos is then not detected).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random projections and tangent vectors.")
@out_option("eps_sweep.zarr")
@user_errors
def command(eps_text, log, steps, tail, k, no_lyapunov, seed, out, **fopts):
    """Relax at every ε of a grid and compare with the spectrum's ε_crit.

    For each ε: force residual floor ||F||/||z||, step residual ||eps F||/||z||, tail oscillation,
    attractor kind, Lyapunov exponent. Overlaid: ε_crit = min -2a/(a^2+b^2) over all eigenvalues
    lambda = a + ib of J at the fixed point (0 if some Re lambda > 0), refined exactly as
    `stabilitylab spectrum` reports it (min_eps_crit). A floor that vanishes below
    ε_crit is a discretisation artifact; one that persists at every ε is a real instability.
    """
    from ..dynamics import eps_sweep
    from ..dynamics.figures import sweep_figure
    from ..dynamics.grid import parse_grid

    eps = None if eps_text is None else parse_grid(eps_text, "--eps", log=log, positive=True)
    fld = resolve_field(**fopts)
    k = check_k(k, fld)
    own = resolve_eps(None, fld)
    ds = eps_sweep(fld, eps, steps, tail=tail, k=k, lyapunov=not no_lyapunov, seed=seed, progress=True,
                   spectrum_eps=own)
    eps = ds["eps"].values
    pred = ds["predicted_max_abs_mu"].values if "predicted_max_abs_mu" in ds else np.full(len(eps), np.nan)
    rows = [(fmt(e, 4), str(kind), "yes" if done else "[yellow]decaying[/]", fmt(fl), fmt(osc), fmt(sr),
             fmt(p, 5), fmt(lam), fmt(m, 5))
            for e, kind, done, fl, osc, sr, p, lam, m in zip(
                eps, ds["kind"].values, ds["converged"].values, ds["residual_floor"].values,
                ds["oscillation"].values, ds["step_residual_floor"].values, ds["period"].values,
                ds["lyapunov"].values, pred)]
    table("ε-sweep (force residual ||F||/||z||, step residual ||εF||/||z||, tail of "
          f"{ds.attrs['tail']} steps)",
          ["ε", "kind", "settled", "force res. floor", "oscillation", "step res. floor", "period", "Lyapunov",
           "pred. max|μ|"], rows, secondary=["period", "oscillation", "step res. floor", "Lyapunov"])
    console.print(f"fixed point: {ds.attrs['fixed_point']}")
    console.print(f"[bold]verdict:[/] {ds.attrs['verdict']}")
    crit = float(ds["eps_crit"])
    if fld.meta.get("eps") and crit == crit:
        side = "below ε_crit: the fixed point is stable there" if own < crit else "at or above ε_crit: Euler-unstable there"
        console.print(f"the field's own ε = {own:g} ({fld.meta.get('eps_origin', 'recorded by the field')}) is {side}")
    finish(ds, default_out(out, "eps_sweep.zarr"), sweep_figure(ds, log=log or eps_text is None))
