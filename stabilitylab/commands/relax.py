"""``stabilitylab relax``: find a fixed point with one of the solvers and write its trace."""
from __future__ import annotations

import sys

import click

from ..errors import StabilityLabError
from .common import (EXIT_UNCONVERGED, console, default_out, eps_option, field_options, finish, fmt,
                     out_option, resolve_eps, resolve_field, user_errors)


def _figure(res, eps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.semilogy(res.step, res.force_residual, label="force residual ‖F(z)‖/max(‖z‖, 1)")
    ax.semilogy(res.step, res.step_residual, label="step residual ‖εF(z)‖/max(‖z‖, 1)", alpha=0.8)
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
              help="Stop when the force residual ||F(z)||/max(||z||,1) reaches this (euler default: run all steps).")
@click.option("--state", "state_path", default=None, metavar="PATH",
              help="Start from a saved state (a relax dataset, .npy or .pt) instead of the field's z0.")
@click.option("--relax-steps", default=300, show_default=True,
              help="newton: Euler warm-up steps at most before Newton–Krylov, which takes over once the force "
                   "residual is below 1e-2 (0: Newton only).")
@click.option("--gmres-restart", default=30, show_default=True, help="newton: GMRES restart length.")
@click.option("--gmres-maxiter", default=300, show_default=True, help="newton: GMRES iterations per solve at most.")
@out_option("relax.zarr")
@user_errors
def command(eps, steps, solver, tol, state_path, relax_steps, gmres_restart, gmres_maxiter, out, **fopts):
    """Relax a checkpoint (or --field) towards a fixed point F(z*) = 0 and record the trace.

    Prints the final force residual ||F(z)||/max(||z||,1) and step residual ||eps F(z)||/max(||z||,1),
    whether the solver converged and why it stopped; writes the trace (dim `step`) and the final
    state (`state`, reusable with --state) to zarr and a residual plot next to it. A solver given
    a tolerance that it did not reach exits with status 3.
    """
    from .. import solvers, store
    from ..state_io import load_state

    if steps < 1:
        raise StabilityLabError(f"--steps must be >= 1, got {steps}")
    for name, v, lo in (("--relax-steps", relax_steps, 0), ("--gmres-restart", gmres_restart, 1),
                        ("--gmres-maxiter", gmres_maxiter, 1)):
        if v < lo:
            raise StabilityLabError(f"{name} must be >= {lo}, got {v}")
    fld = resolve_field(**fopts)
    eps = resolve_eps(eps, fld)
    z0 = load_state(state_path, fld) if state_path else None
    if solver == "euler":
        res = solvers.relax_euler(fld, eps=eps, steps=steps, z0=z0, tol=tol, progress=True)
    elif solver == "adaptive":
        res = solvers.relax_adaptive(fld, eps=eps, steps=steps, z0=z0, tol=tol or 1e-9, progress=True)
    elif solver == "anderson":
        res = solvers.anderson(fld, eps=eps, steps=steps, z0=z0, tol=tol or 1e-9, progress=True)
    else:
        res = solvers.find_fixed_point(fld, eps=eps, z0=z0, tol=tol or 1e-10, maxiter=min(steps, 50),
                                       relax_steps=relax_steps, gmres_restart=gmres_restart,
                                       gmres_maxiter=gmres_maxiter, progress=True)
    ds = res.to_dataset()
    ds["state"] = ("state_index", res.z.detach().reshape(-1).cpu().double().numpy(),
                   {"long_name": "final state z (flat; reuse with --state)"})
    ds.attrs = {**store.provenance(fld, requested_steps=steps), **ds.attrs, "eps": eps}
    first = res.force_residual[0] if len(res.force_residual) else float("nan")
    status = ("[green]converged[/]" if res.converged else "no tolerance given" if tol is None and solver == "euler"
              else "[red]not converged[/]")
    console.print(f"{res.solver}: force residual {fmt(first)} -> {fmt(res.final_force_residual)}, "
                  f"step residual {fmt(res.final_step_residual)} (ε={eps:g}), {status}: {res.reason}")
    finish(ds, default_out(out, "relax.zarr"), _figure(res, eps))
    if not res.converged and (tol is not None or solver != "euler"):
        sys.exit(EXIT_UNCONVERGED)
