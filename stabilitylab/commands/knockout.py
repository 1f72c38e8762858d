"""``stabilitylab knockout``: scale one component and watch the attractor and the spectrum."""
from __future__ import annotations

import click
import numpy as np

from .common import check_k, console, default_out, eps_option, field_options, finish, fmt, out_option, resolve_eps, resolve_field, table, user_errors


@click.command("knockout")
@field_options
@click.option("--alpha", "--values", "values_text", default="1.0,0.7,0.4,0.2,0.0", show_default=True,
              help="Values of the target's scale: a list a,b,c or START:STOP:NUM.")
@click.option("--target", default="attn", show_default=True,
              help="What to scale: attn (knob alpha), ffn (ffn_scale), head:H (head_H), c, or any knob name.")
@eps_option()
@click.option("--steps", default=3000, show_default=True, help="Relaxation steps per value (all values run at once).")
@click.option("--tail", default=None, type=int,
              help="Final steps analysed for floor and oscillation (default steps/4).")
@click.option("--k", default=2, show_default=True, help="Eigenvalues of J and M wanted at each fixed point (the table and the verdict use the leading one; each one more costs products on a clustered spectrum).")
@click.option("--no-lyapunov", is_flag=True, help="Skip the Lyapunov exponents (faster; chaos is then not detected).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random projections and tangent vectors.")
@out_option("knockout.zarr")
@user_errors
def command(values_text, target, eps, steps, tail, k, no_lyapunov, seed, out, **fopts):
    """Scale the attention output (or FFN, one head, the damping c, any knob) over a list of values.

    For each value: attractor kind, force residual floor ||F||/||z|| and its oscillation, period,
    Lyapunov exponent, and the leading eigenvalues of J and of M = I + eps*J at the fixed point
    Newton–Krylov finds from the attractor's centroid — the research knockout table
    (α, residual floor, oscillation, kind) with the spectrum alongside.
    """
    from ..dynamics import knockout
    from ..dynamics.figures import knockout_figure
    from ..dynamics.grid import parse_grid

    values = parse_grid(values_text, "--alpha")
    fld = resolve_field(**fopts)
    k = check_k(k, fld)
    eps = resolve_eps(eps, fld)
    ds = knockout(fld, target, values, eps, steps, tail=tail, k=k, lyapunov=not no_lyapunov, seed=seed,
                  progress=True)
    knob = ds.attrs["knob"]
    rows = []
    for i, v in enumerate(values):
        lam, mu = ds["eig_J"].values[i, 0], ds["eig_M"].values[i, 0]
        rows.append((fmt(v), fmt(ds["residual_floor"].values[i]), fmt(ds["oscillation"].values[i]),
                     str(ds["kind"].values[i]), fmt(ds["period"].values[i], 5), fmt(ds["lyapunov"].values[i]),
                     *(fmt(complex(x), 4) if np.isfinite(x) else "-" for x in (lam, mu)),
                     fmt(ds["max_abs_mu"].values[i], 5)))
    table(f"knockout of {target} (knob {knob}) at ε = {eps:g}: force residual ||F||/||z|| over the last "
          f"{ds.attrs['tail']} steps",
          [knob, "res-floor", "osc", "kind", "period", "Lyapunov", "lead λ of J", "lead μ of M", "max|μ|"], rows)
    console.print(f"[bold]verdict:[/] {ds.attrs['verdict']}")
    finish(ds, default_out(out, "knockout.zarr"), knockout_figure(ds, knob))
