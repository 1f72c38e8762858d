"""``stabilitylab lyapunov``: the leading Lyapunov exponents of the relaxation (or of the flow)."""
from __future__ import annotations

import sys

import click

from ..errors import StabilityLabError
from .common import (EXIT_UNCONVERGED, console, default_out, field_options, finish, fmt, out_option,
                     resolve_eps, resolve_field, table)


def print_lyapunov(ds) -> None:
    """Exponent table (per step, per unit time, uncertainty), sum, Kaplan–Yorke, verdict."""
    runs = [(float(e), ds.sel(eps=e)) for e in ds["eps"].values] if "eps" in ds.dims else [(float(ds.attrs["h"]), ds)]
    for h, run in runs:
        rows = [(str(i + 1), fmt(lam, 5), fmt(unc, 2), fmt(lam / h, 5))
                for i, (lam, unc) in enumerate(zip(run["lyapunov"].values, run["uncertainty"].values))]
        step = f"ε = {h:g}" if ds.attrs["method"] == "euler" else f"RK4 dt = {h:g}"
        table(f"Lyapunov exponents ({step}; {ds.attrs['orbits']} orbit(s) × {ds.attrs['steps']} counted steps)",
              ["i", "λ per step", "± (3 s.e.)", "λ per unit time"], rows)
        kyd = run["kaplan_yorke"]
        console.print(f"sum {fmt(float(run['lyapunov_sum']), 6)} per step; Kaplan–Yorke dimension "
                      f"{fmt(float(kyd), 4)}" + ("" if int(kyd.attrs.get("determined", 1)) else f" ({kyd.attrs['note']})"))
    verdicts = ds["verdict"].values if "verdict" in ds else [ds.attrs["verdict"]]
    for v in verdicts:
        color = "[red]" if str(v).startswith("not converged") else ""
        console.print(f"[bold]verdict:[/] {color}{v}{'[/]' if color else ''}")


@click.command("lyapunov")
@field_options
@click.option("--eps", default=None, metavar="EPS[,EPS...]",
              help="Euler step(s) ε of z <- z + εF(z); several (comma-separated) give the ε dependence. "
                   "Default: the checkpoint's training ε, else 0.1.")
@click.option("--method", type=click.Choice(["euler", "rk4"]), default="euler", show_default=True,
              help="euler: the deployed relaxation map; rk4: the flow dz/dt = F(z) by RK4 steps of --dt.")
@click.option("--dt", default=None, type=float, help="RK4 step (with --method rk4).")
@click.option("--k", default=4, show_default=True, help="Exponents wanted (capped at the state size).")
@click.option("--steps", default=2000, show_default=True, help="Counted steps per orbit.")
@click.option("--burn", default=500, show_default=True, help="Steps relaxed first (transient, no tangents).")
@click.option("--align", default=None, type=int, help="Tangent alignment steps before counting (default steps/10).")
@click.option("--orbits", default=1, show_default=True, help="Orbits from seeded perturbations of the start.")
@click.option("--tol", default=1e-3, show_default=True,
              help="Converged when every exponent's uncertainty is <= max(tol, 0.05|λ|) per step.")
@click.option("--seed", default=0, show_default=True, help="Seed of the perturbations and tangent frames.")
@out_option("lyapunov.zarr")
def command(eps, method, dt, k, steps, burn, align, orbits, tol, seed, out, **fopts):
    """Leading Lyapunov exponents by QR (Benettin) with k JVPs per step.

    Per step and per unit time (per step / h, h = ε or dt), 3-standard-error uncertainty from block
    means, the running estimates (convergence), the Kaplan–Yorke dimension and a verdict (chaotic
    when λ1 > 0 beyond its uncertainty). Exit status 3 when an exponent is not converged to --tol.
    """
    from ..dynamics.lyapunov_figure import lyapunov_figure
    from ..dynamics.lyapunov_spectrum import lyapunov_spectrum, lyapunov_sweep

    fld = resolve_field(**fopts)
    if k < 1:
        raise StabilityLabError(f"--k must be >= 1, got {k}")
    k = min(k, fld.n)
    kw = dict(k=k, steps=steps, burn=burn, align=align, orbits=orbits, tol=tol, seed=seed)
    try:
        values = [float(e) for e in eps.split(",")] if eps else None
    except ValueError:
        raise StabilityLabError(f"--eps expects numbers separated by commas, got {eps!r}") from None
    with console.status("tangent propagation…"):
        if method == "rk4":
            if dt is None:
                raise StabilityLabError("--method rk4 needs --dt")
            ds = lyapunov_spectrum(fld, method="rk4", dt=dt, **kw)
        elif values and len(values) > 1:
            for e in values:
                resolve_eps(e, fld)
            ds = lyapunov_sweep(fld, values, **kw)
        else:
            e = resolve_eps(values[0] if values else None, fld)
            ds = lyapunov_spectrum(fld, eps=e, **kw)
            ds.attrs["eps_source"] = fld.meta["eps_source"]
    print_lyapunov(ds)
    finish(ds, default_out(out, "lyapunov.zarr"), lyapunov_figure(ds))
    if not ds.attrs.get("converged", 1):
        sys.exit(EXIT_UNCONVERGED)
