"""``stabilitylab sweep``: an analysis over many points, in parallel and resumable.

``sweep spectrum`` computes the spectrum of every checkpoint of a training trajectory (the drift
toward the Hopf boundary), ``sweep batches`` the spectrum of one checkpoint on several analysis
batches. Both run on :func:`stabilitylab.parallel.run_sweep`: one task per point, each writing its
own region of the zarr store, resumed by rerunning the same command.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import sys
from pathlib import Path

from typing import TYPE_CHECKING

import click
import numpy as np

from ..errors import StabilityLabError
from ..interrupts import Interrupted, trapped
from .common import check_k, console, field_options, fmt, parse_knobs, resolve_eps, resolve_field, table, user_errors
from ..spectral.settings import SpectrumSettings
from .settings import settings_from
from .spectrum import spectrum_options

if TYPE_CHECKING:
    import xarray as xr

# torch, xarray and dask load on use (inside the functions), so ``sweep --help`` answers at once

#: the field options of ``stabilitylab spectrum`` that apply to every checkpoint of a sweep
SHARED_FIELD_OPTIONS = ("config_text", "data", "split", "batch_size", "device", "dtype", "knobs")


def _field_options(*names):
    """The options of :func:`.common.field_options` named ``names``, taken from it (the same
    declarations, so the sweeps and the single-point commands cannot disagree)."""
    declared = {p.name: p for p in field_options(lambda: None).__click_params__}

    def add(fn):
        for name in reversed(names):  # click lists a function's parameters in reverse
            fn.__click_params__ = [*getattr(fn, "__click_params__", []), declared[name]]
        return fn

    return add


def _options(opts, fn):
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _engine_options(fn):
    """Where and how the points run."""
    return _options([
        click.option("--workers", default=None, type=int,
                     help="Worker processes of a local dask cluster; 0 or 1 = serial in this process. "
                          "Default: one per CPU core."),
        click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="Run on an existing dask cluster instead (its workers must see --out)."),
        click.option("--threads", default=None, type=int,
                     help="Torch threads per task (default: cores/workers locally, 1 on a remote cluster)."),
        click.option("--retry-failed", is_flag=True, help="Also recompute points recorded as failed."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ], fn)


def _point_options(fn):
    """What every point of a spectrum sweep takes: the field options that apply to all points,
    ``stabilitylab spectrum``'s settings, and where and how the points run."""
    no_diagnostics = click.option("--no-diagnostics", is_flag=True, help="Same as --diagnostics none.")
    return _field_options(*SHARED_FIELD_OPTIONS)(spectrum_options(no_diagnostics(_engine_options(fn))))


def _checkpoint_paths(patterns) -> list[Path]:
    """Files named by glob patterns or paths (or shipped file names), sorted, without repeats."""
    from .. import checkpoint

    paths = []
    for pat in patterns:
        if glob.has_magic(pat):
            found = sorted(glob.glob(pat))
            if not found:
                raise StabilityLabError(f"no checkpoint matches {pat!r}")
            paths += [Path(p) for p in found]
        else:
            paths.append(checkpoint.resolve(pat))
    unique = {p.resolve(): p for p in paths}
    return list(unique.values())


def _spectrum_sweep(points: list[dict], x: str, out: str, opts: dict, title: str, analysis: str) -> None:
    """Validate the options on the first readable checkpoint, run the sweep, report it
    (``x``: the coordinate the table and figure are ordered by; ``analysis``: the store's name)."""
    from .. import checkpoint, store
    from ..parallel import run_sweep
    from ..parallel.points import CheckpointSource, SpectrumPoint
    from ..spectral.spectrum import RESIDUAL_KIND

    if opts.pop("no_diagnostics", False):
        opts["diagnostics"] = "none"
    spec = settings_from(SpectrumSettings, opts)
    readable = [p for p in points if p["checkpoint_sha256"]]
    if not readable:
        checkpoint.read(points[0]["checkpoint"], opts["config_text"])  # raises why none can be read
    fld = resolve_field(ckpt=readable[0]["checkpoint"], batch_seed=readable[0]["batch_seed"],
                        **{name: opts[name] for name in SHARED_FIELD_OPTIONS})
    check_k(spec.k, fld)
    spec = dataclasses.replace(spec, eps=resolve_eps(spec.eps, fld))
    source = CheckpointSource(opts["config_text"], opts["batch_size"], str(fld.device), opts["dtype"],
                              tuple(sorted(parse_knobs(opts["knobs"]).items())), opts["data"], opts["split"])
    compute = SpectrumPoint(**spec.kwargs(), source=source)
    settings = {"analysis": "spectrum", **spec.kwargs(), "config": opts["config_text"],
                "data": opts["data"], "split": opts["split"], "batch_size": opts["batch_size"], "dtype": opts["dtype"], "knobs": sorted(opts["knobs"])}
    attrs = {**store.provenance(None, **settings, residual_kind=RESIDUAL_KIND, model_config=fld.meta.get("config"),
                                state_size=fld.n, state_shape=list(fld.shape), field_params=dict(fld.params)),
             "analysis": analysis}  # the store's analysis; settings["analysis"] is each point's
    try:
        with store.lock(out), trapped():
            report = run_sweep(points, compute, out, compute.template(), settings=settings, attrs=attrs,
                               workers=_default_workers(opts["workers"], len(points)), scheduler=opts["scheduler"],
                               threads=opts["threads"], retry_failed=opts["retry_failed"], progress=not opts["quiet"])
    except (KeyboardInterrupt, Interrupted) as exc:
        click.echo(f"interrupted: finished points are stored in {out}; rerun the same command to resume", err=True)
        sys.exit(exc.exit_code if isinstance(exc, Interrupted) else 130)
    counts = ", ".join(f"{n} {s or 'pending'}" for s, n in sorted(report.counts.items()))
    console.print(f"sweep: {report.points} points, {report.computed} computed now, {report.already_done} "
                  f"already done ({counts}) in {report.seconds:.1f} s")
    summary = _summary(report.out)
    _table(summary, x, spec.eps)
    console.print(f"dataset: {out}")
    png = Path(out).with_suffix(".png")
    _figure(summary, x, spec.eps, title).savefig(png, dpi=130, bbox_inches="tight")
    console.print(f"figure:  {png}")


def _default_workers(workers: int | None, npoints: int) -> int:
    return min(os.cpu_count() or 1, npoints) if workers is None else workers


SUMMARY = ("leading_re_J", "eig_J", "max_abs_mu", "min_eps_crit", "numerical_abscissa", "verdict", "status", "reason")


def _summary(out: Path) -> xr.Dataset:
    """The few per-point values the table and the figure show (leading mode only), in memory."""
    from ..parallel.sweepstore import open_lazy

    ds = open_lazy(out)
    ds = ds[[v for v in SUMMARY if v in ds]].isel(mode=0).load()
    return ds.assign({k: v.astype(object) for k, v in ds.variables.items() if v.dtype.kind == "T"})


def _table(ds: xr.Dataset, x: str, eps: float) -> None:
    """One row per point with a spectrum; points without one listed below with their reason."""
    from ..parallel import NOT_CONVERGED, OK

    omega = "numerical_abscissa" in ds
    rows, failed = [], []
    for i in range(ds.sizes["point"]):
        p = ds.isel(point=i)
        status, name = str(p.status.values), Path(str(p.checkpoint.values)).name
        if status not in (OK, NOT_CONVERGED):
            failed.append(f"  {name} ({x} {int(p[x])}): {status or 'pending'}: {p.reason.values}")
            continue
        rows.append((str(int(p[x])), name, fmt(float(p.leading_re_J), 4), fmt(abs(complex(p.eig_J.values).imag), 4),
                     fmt(float(p.max_abs_mu), 6), fmt(float(p.min_eps_crit)),
                     fmt(float(p.numerical_abscissa)) if omega else "-", str(p.verdict.values),
                     status if status == OK else "[yellow]not converged[/]"))
    table(f"leading eigenvalue λ of J and largest |μ| of M = I + εJ (ε = {eps:g})",
          [x.replace("_", " "), "checkpoint", "Re λ", "|Im λ|", "max|μ|", "min ε_crit", "ω(J)", "verdict",
           "status"], rows)
    if failed:
        console.print("[red]points without a spectrum:[/]\n" + "\n".join(failed))


def _figure(ds: xr.Dataset, x: str, eps: float, title: str):
    """Leading Re λ and max|μ| against ``x``, one line per training rule, boundaries dashed."""
    import matplotlib

    from ..parallel import NOT_CONVERGED, OK

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report.figures import COLORS

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rules, status = ds.rule.values, ds.status.values
    for rule in sorted(set(rules)):
        keep = np.flatnonzero((rules == rule) & np.isin(status, [OK, NOT_CONVERGED]))
        if not keep.size:
            continue
        sel = ds.isel(point=keep).sortby(x)
        unreached = sel.status.values == NOT_CONVERGED
        for ax, y in zip(axes, (sel.leading_re_J, sel.max_abs_mu)):
            line, = ax.plot(sel[x], y, marker="o", color=COLORS.get(rule), label=rule or "checkpoint")
            ax.plot(sel[x][unreached], y[unreached], "o", mfc="white", color=line.get_color())
    axes[0].axhline(0.0, color=COLORS["boundary"], ls="--", lw=1, label="Re λ = 0 (continuous boundary)")
    axes[1].axhline(1.0, color=COLORS["boundary"], ls="--", lw=1, label="|μ| = 1 (Euler-map boundary)")
    axes[0].set_ylabel("leading Re λ of J")
    axes[1].set_ylabel(f"max |μ| of M = I + εJ (ε = {eps:g})")
    for ax in axes:
        ax.set_xlabel(x.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{title} (open markers: fixed point not reached)")
    fig.tight_layout()
    return fig


@click.group("sweep")
def command():
    """Run an analysis over many points on a dask cluster, resumably.

    Each point is one task that writes its own region of a zarr store (dim `point`, with per-point
    `status`, `reason` and `done`); rerunning the same command computes only the missing points.
    Failures (unreadable checkpoints, NaN/Inf, non-convergence) are recorded per point.
    """


@command.command("spectrum")
@click.argument("ckpt_args", nargs=-1, metavar="[CKPTS]...")
@click.option("--ckpts", multiple=True, metavar="PATTERN",
              help="Checkpoints: a glob in quotes ('runs/x/s*.pt'), a path or a shipped file name; "
                   "repeatable (paths may also be given as arguments).")
@click.option("--batch-seed", default=0, show_default=True, help="Seed of the analysis batch of every point.")
@_point_options
@click.option("--out", default="drift.zarr", show_default=True, metavar="PATH.zarr",
              help="Sweep store (a PNG of the drift is saved next to it).")
@user_errors
def spectrum_command(ckpt_args, ckpts, batch_seed, out, **opts):
    """Spectrum of every checkpoint of a trajectory: the drift toward the Hopf boundary.

    One point per checkpoint (coordinates checkpoint, step, rule), sorted by training step; each
    point is `stabilitylab spectrum` on that checkpoint. Prints the drift table (step, leading
    Re λ and Im λ of J, max|μ| of M = I + εJ, min ε_crit, numerical abscissa ω(J), verdict) and
    plots leading Re λ and max|μ| against the step with the stability boundaries.
    """
    from ..parallel.points import checkpoint_coords

    patterns = [*ckpts, *ckpt_args]
    if not patterns:
        raise StabilityLabError("give the checkpoints: --ckpts 'runs/x/s*.pt' (quoted) or paths")
    points = sorted((checkpoint_coords(p, opts["config_text"]) for p in _checkpoint_paths(patterns)),
                    key=lambda q: (q["step"], q["checkpoint"]))
    _spectrum_sweep([{**p, "batch_seed": batch_seed} for p in points], "step", out, opts,
                    "spectral drift toward the stability boundary", "sweep-spectrum")


def parse_seeds(text: str) -> list[int]:
    """``A:B`` (A, A+1, ..., B−1) or ``a,b,c``."""
    try:
        if ":" in text:
            a, b = (int(v) for v in text.split(":"))
            seeds = list(range(a, b))
        else:
            seeds = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise StabilityLabError(f"--seeds {text!r}: give A:B (A..B-1) or a,b,c") from None
    if not seeds:
        raise StabilityLabError(f"--seeds {text!r} is empty")
    return seeds


@command.command("batches")
@_field_options("ckpt")
@click.option("--seeds", default="0:8", show_default=True, help="Analysis batch seeds: A:B (A..B-1) or a,b,c.")
@_point_options
@click.option("--out", default="batches.zarr", show_default=True, metavar="PATH.zarr",
              help="Sweep store (a PNG is saved next to it).")
@user_errors
def batches_command(ckpt, seeds, out, **opts):
    """Spectrum of one checkpoint on several analysis batches (how much does the batch matter?).

    One point per batch seed; each point is `stabilitylab spectrum --ckpt PATH --batch-seed S`.
    """
    from .. import checkpoint
    from ..parallel.points import checkpoint_coords

    head = checkpoint_coords(checkpoint.resolve(ckpt), opts["config_text"])
    _spectrum_sweep([{**head, "batch_seed": s} for s in parse_seeds(seeds)], "batch_seed", out, opts,
                    "spectrum across analysis batches", "sweep-batches")
