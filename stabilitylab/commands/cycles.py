"""``stabilitylab cycles``: the branch of what the relaxation settles on past the boundary."""
from __future__ import annotations

import math
import sys

import click

from ..errors import StabilityLabError
from .common import (EXIT_UNCONVERGED, console, default_out, field_options, finish, fmt, out_option,
                     resolve_eps, resolve_field, table, user_errors)
from .continuation import parse_range

DEFAULT_POINTS = 9


def _grid(range_text: str, points: int):
    import numpy as np

    text, _, count = str(range_text).rpartition(":") if str(range_text).count(":") == 2 else (range_text, "", "")
    lo, hi = parse_range(text, "--range", descending=False)
    try:
        n = int(count) if count else points
    except ValueError:
        raise StabilityLabError(f"--range {range_text!r}: the third part is the number of values") from None
    if n < 2:
        raise StabilityLabError(f"--range needs at least 2 values, got {n}")
    values = np.linspace(lo, hi, n)
    values[np.abs(values) < 1e-12 * abs(hi - lo)] = 0.0  # 0, not 1.4e-17, where the grid crosses zero
    return values


def _continuation(source: str, index: int | None):
    """(continuation dataset at ``source``, its special point ``index`` or None)."""
    from .. import store

    cont = store.read(source)
    if "param" not in cont.attrs or "special" not in cont.dims:
        raise StabilityLabError(f"{source} is not a continuation dataset (stabilitylab continuation --out)")
    if index is None:
        return cont, None
    if not 0 <= index < cont.sizes["special"]:
        kinds = ", ".join(f"{i}: {k}" for i, k in enumerate(cont["special_kind"].values)) or "none"
        raise StabilityLabError(f"--point {index}: {source} has special points {kinds}", param="point")
    return cont, cont.isel(special=index)


def _slope(cont, sp) -> float:
    """d Re λ / dp at the special point, from the branch points on either side of it."""
    import numpy as np

    i = int(sp["special_point"])
    j = min(i + 1, cont.sizes["point"] - 1)
    i = j - 1
    p = cont[str(cont.attrs["param"])].values
    re = np.nanmax(cont["eig_J"].values.real, axis=1)
    return float((re[j] - re[i]) / (p[j] - p[i]))


def _flow_start(fld, param: str, cont, sp, eps: float, offset: float):
    """(x0, T0, p0) on the normal-form cycle at |Δp| = ``offset`` from the Hopf point."""
    import numpy as np
    import torch

    from ..cycles.flow_branch import hopf_guess
    from ..dynamics.fixed_point import fixed_point_spectrum

    if str(sp["special_kind"].values) != "hopf":
        raise StabilityLabError(f"--branch flow starts at a hopf point; point {int(sp['special'])} is "
                                f"{sp['special_kind'].values} (use --branch map)", param="branch")
    p_h, omega, l1 = float(sp["special_param"]), abs(float(sp["special_frequency"])), float(sp["special_l1"])
    if not (math.isfinite(l1) and l1 != 0):
        raise StabilityLabError(f"the hopf point has no usable l1 ({l1}): the cycle's side is unknown")
    ds, why = fixed_point_spectrum(fld.with_params(**{param: p_h}), eps, k=6, vectors=True)
    if ds is None:
        raise StabilityLabError(f"no fixed point at the hopf point {param} = {p_h:g}: {why}")
    lam = ds["eig_J"].values
    m = int(np.nanargmin(np.abs(lam - 1j * omega)))
    q = torch.as_tensor(ds["vec_J"].values[m])
    z_h = torch.as_tensor(ds["z_star"].values).to(fld.dtype)
    slope = _slope(cont, sp)
    radius = math.sqrt(abs(offset * slope / (l1 * omega)))
    return hopf_guess(fld, param, z_h, p_h, q, omega, l1, slope, radius)


def print_map_branch(ds) -> None:
    param = str(ds.attrs["param"])
    rows = [(str(d), fmt(float(v), 5), str(k), fmt(float(a), 4), fmt(float(r), 5), fmt(float(P), 5),
             fmt(float(ly), 3), "yes" if s else "no")
            for d, v, k, a, r, P, ly, s in zip(ds["direction"].values, ds[param].values, ds["kind"].values,
                                               ds["amplitude"].values, ds["rotation_number"].values,
                                               ds["period"].values, ds["lyapunov"].values, ds["settled"].values)]
    table(f"attractors of the relaxation z <- z + {ds.attrs['eps']:g} F(z) along {param} "
          "(amplitude: RMS distance to the fixed point)",
          ["sweep", param, "settles on", "amplitude", "rotation / step", "period (steps)", "Lyapunov / step",
           "settled"], rows)


def print_flow_branch(ds) -> None:
    import numpy as np

    param = str(ds.attrs["param"])
    rows = [(str(i), fmt(float(v), 7), fmt(float(T), 7), fmt(float(a), 5), "stable" if s else "unstable",
             fmt(float(np.abs(m[1]) if len(m) > 1 else math.nan), 4), fmt(float(c), 2))
            for i, (v, T, a, s, m, c) in enumerate(zip(ds[param].values, ds["period"].values,
                                                       ds["amplitude"].values, ds["stable"].values,
                                                       ds["multipliers"].values, ds["closure_residual"].values))]
    table(f"periodic orbits of dz/dt = F(z) along {param} ({ds.attrs['shooting_steps']} RK4 steps per period)",
          ["#", param, "period", "amplitude", "", "|μ2|", "closure res."], rows)
    for i in range(ds.sizes["special"]):
        s = ds.isel(special=i)
        console.print(f"{s['special_kind'].values} at {param} = {float(s['special_param']):.8g} "
                      f"(± {float(s['special_precision']):.1e} locator; closure with 2× steps "
                      f"{float(s['special_defect']):.1e}), period {float(s['special_period']):.6g}, "
                      f"amplitude {float(s['special_amplitude']):.4g}")
    console.print(f"[bold]verdict:[/] {ds.attrs['verdict']}")


@click.command("cycles")
@field_options
@click.option("--param", default="alpha", show_default=True, help="The knob the branch runs in.")
@click.option("--range", "range_text", default=None, metavar="LO:HI[:N]",
              help=f"Knob values, N of them (default {DEFAULT_POINTS}); default with --from: the continuation's own range.")
@click.option("--from", "source", default=None, type=click.Path(exists=True, dir_okay=True),
              help="A continuation store: its knob, field and range are used; with --point, its special point.")
@click.option("--point", default=None, type=int, help="Special point of --from to start at (the '#' of its table).")
@click.option("--branch", type=click.Choice(["map", "flow"]), default="map", show_default=True,
              help="map: attractors of the deployed Euler relaxation, swept up then back down (hysteresis); "
                   "flow: periodic orbits of dz/dt = F(z) continued by shooting from a hopf point of --from.")
@click.option("--eps", default=None, type=float, help="Euler step ε (map branch; default: the checkpoint's own ε).")
@click.option("--steps", default=2000, show_default=True, help="Relaxation steps per value (map branch).")
@click.option("--tail", default=500, show_default=True, help="Steps measured on the attractor (map branch).")
@click.option("--shooting-steps", default=100, show_default=True, help="RK4 steps per period (flow branch).")
@click.option("--offset", default=None, type=float,
              help="Flow branch: |Δp| of the first cycle from the hopf point (default 2% of the range).")
@click.option("--max-points", default=40, show_default=True, help="Flow branch: most orbits continued.")
@click.option("--derivative", type=click.Choice(["jvp", "difference"]), default="jvp", show_default=True,
              help="Flow branch: products with the flow map's derivative by JVP (exact) or a central "
                   "difference of two flow maps (faster on tiny states, ~1e-10 relative).")
@click.option("--seed", default=0, show_default=True, help="Seed of the warm-start kicks and projections.")
@out_option("cycles.zarr")
@user_errors
def command(param, range_text, source, point, branch, eps, steps, tail, shooting_steps, offset, max_points,
            derivative, seed, out, **fopts):
    """Follow the oscillation past the stability boundary.

    map (default): for each knob value the relaxation starts from the previous value's attractor
    (a warm start), is classified (fixed point, invariant circle / limit cycle, quasi-periodic,
    chaotic) and measured: amplitude (RMS distance to the fixed point), rotation number (turns per
    step), period, Lyapunov exponent. Swept forward then backward: where the sweeps differ the
    fixed point and the cycle coexist (hysteresis, a hard loss of stability). Soft onsets are fitted
    as amplitude ≈ c·√|p − p0|.

    flow: from a hopf point of a continuation (--from, --point) the first cycle is guessed from the
    normal form (amplitude √|Δp·dReλ/dp / (l1 ω)|, on the side given by l1) and continued by
    pseudo-arclength on matrix-free shooting (Newton–Krylov on Φ_T(x) − x = 0 with a phase
    condition), with Floquet multipliers by Krylov–Schur on the monodromy and the fold of cycles,
    period doubling and torus points located. Exit status 3 when an attractor has not settled.
    """
    cont = sp = None
    if source is not None:
        cont, sp = _continuation(source, point)
        param = str(cont.attrs["param"])
        if not fopts.get("ckpt") and not fopts.get("field_spec"):
            fopts["ckpt"], fopts["field_spec"] = cont.attrs.get("checkpoint"), cont.attrs.get("field")
    elif point is not None:
        raise StabilityLabError("--point needs --from (a continuation store)", param="point")
    fld = resolve_field(**fopts)
    if param not in fld.params:
        raise StabilityLabError(f"--param {param!r} is not a knob of {fld.name} (knobs: {', '.join(fld.params)})",
                                param="param")
    if range_text is None:
        if cont is None:
            raise StabilityLabError("give --range LO:HI[:N] (or --from a continuation store)", param="range")
        p = cont[param].values
        range_text = f"{float(p.min())}:{float(p.max())}"
    values = _grid(range_text, DEFAULT_POINTS)
    eps = resolve_eps(eps, fld)
    if branch == "map":
        from ..cycles.map_branch import map_branch
        from ..cycles.figures import map_branch_figure

        progress = lambda pt: console.print(f"  {pt.direction:8s} {param} = {pt.value:.5g}: {pt.kind}"  # noqa: E731
                                            f"{'' if pt.kind == 'fixed_point' else f', amplitude {pt.amplitude:.3g}'}",
                                            highlight=False)
        ds = map_branch(fld, param, values, eps, steps=steps, tail=tail, seed=seed, observer=progress)
        print_map_branch(ds)
        console.print(f"[bold]verdict:[/] {ds.attrs['verdict']}")
        finish(ds, default_out(out, "cycles.zarr"), map_branch_figure(ds))
        if not ds["settled"].values.all():
            sys.exit(EXIT_UNCONVERGED)
        return
    if sp is None:
        raise StabilityLabError("--branch flow needs --from a continuation store and --point a hopf point",
                                param="branch")
    from ..cycles.figures import flow_branch_figure
    from ..cycles.flow_branch import branch_dataset, continue_cycles

    lo, hi = float(values.min()), float(values.max())
    x0, T0, p0 = _flow_start(fld, param, cont, sp, eps, offset if offset is not None else 0.02 * (hi - lo))
    end = hi if p0 >= float(sp["special_param"]) else lo
    with console.status("shooting…"):
        br = continue_cycles(fld, param, x0, T0, p0, end, steps=shooting_steps, ds=0.05 * (hi - lo),
                             ds_max=0.1 * (hi - lo), max_points=max_points, derivative=derivative,
                             observer=lambda c: console.print(f"  {param} = {c.p:.7g}: period {c.period:.6g}, "
                                                              f"amplitude {c.amplitude:.4g}, "
                                                              f"{'stable' if c.stable else 'unstable'}",
                                                              highlight=False))
    ds = branch_dataset(fld, param, br, shooting_steps, hopf_param=float(sp["special_param"]), source=str(source),
                        derivative=derivative)
    print_flow_branch(ds)
    finish(ds, default_out(out, "cycles.zarr"), flow_branch_figure(ds, cont))
    if not ds.sizes["point"]:
        sys.exit(EXIT_UNCONVERGED)
