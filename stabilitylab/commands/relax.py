"""``stabilitylab relax``: find a fixed point with one of the solvers and write its trace."""
from __future__ import annotations

import click

from ..errors import StabilityLabError
from .common import console, default_out, eps_option, field_options, finish, fmt, out_option, resolve_eps, resolve_field, user_errors


def _figure(res, eps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.semilogy(res.step, res.force_residual, label="force residual ‖F(z)‖/‖z‖")
    ax.semilogy(res.step, res.step_residual, label="step residual ‖εF(z)‖/‖z‖", alpha=0.8)
    ax.set_xlabel("relaxation step")
    ax.set_ylabel("relative residual")
    ax.set_title(f"{res.solver} relaxation (ε={eps:g}): {'converged' if res.converged else 'not converged'}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


@click.command("relax")
@field_options
@eps_option()
@click.option("--steps", default=3000, show_default=True, help="Maximum relaxation steps (Newton: iterations).")
@click.option("--solver", type=click.Choice(["euler", "adaptive", "anderson", "newton"]), default="euler",
              show_default=True,
              help="euler: the deployed fixed-ε relaxation; adaptive: overshoot-driven ε controller; "
                   "anderson: Anderson-accelerated Euler; newton: Euler warm-up then Newton–Krylov "
                   "(finds unstable fixed points too).")
@click.option("--tol", default=None, type=float,
              help="Stop when the force residual ||F(z)||/||z|| reaches this (euler default: run all steps).")
@out_option("relax.zarr")
@user_errors
def command(eps, steps, solver, tol, out, **fopts):
    """Relax a checkpoint (or --field) towards a fixed point F(z*) = 0 and record the trace.

    Prints the final force residual ||F(z)||/||z|| and step residual ||eps F(z)||/||z||, whether
    the solver converged and why it stopped; writes the trace (dim `step`) to zarr and a
    residual plot next to it.
    """
    from .. import solvers, store

    if steps < 1:
        raise StabilityLabError(f"--steps must be >= 1, got {steps}")
    fld = resolve_field(**fopts)
    eps = resolve_eps(eps, fld)
    if solver == "euler":
        res = solvers.relax_euler(fld, eps=eps, steps=steps, tol=tol, progress=True)
    elif solver == "adaptive":
        res = solvers.relax_adaptive(fld, eps=eps, steps=steps, tol=tol or 1e-9, progress=True)
    elif solver == "anderson":
        res = solvers.anderson(fld, eps=eps, steps=steps, tol=tol or 1e-9, progress=True)
    else:
        res = solvers.find_fixed_point(fld, eps=eps, tol=tol or 1e-10, maxiter=min(steps, 50), progress=True)
    ds = res.to_dataset()
    ds.attrs = {**store.provenance(fld, requested_steps=steps), **ds.attrs, "eps": eps}
    first = res.force_residual[0] if len(res.force_residual) else float("nan")
    console.print(f"{res.solver}: force residual {fmt(first)} -> {fmt(res.final_force_residual)}, "
                  f"step residual {fmt(res.final_step_residual)} (ε={eps:g}), "
                  f"{'[green]converged[/]' if res.converged else '[red]not converged[/]'}: {res.reason}")
    finish(ds, default_out(out, "relax.zarr"), _figure(res, eps))
