"""``stabilitylab sweep``: an analysis over many points, in parallel and resumable.

``sweep spectrum`` computes the spectrum of every checkpoint of a training trajectory (the drift
toward the Hopf boundary), ``sweep batches`` the spectrum of one checkpoint on several analysis
batches. Both run on :func:`stabilitylab.parallel.run_sweep`: one task per point, each writing its
own region of the zarr store, resumed by rerunning the same command.
"""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from ..errors import CheckpointError, StabilityLabError
from .common import DTYPES, console, fmt, resolve_field, table, user_errors

# torch, xarray and dask load on use (inside the functions), so ``sweep --help`` answers at once

#: per-point attributes of a spectrum Dataset kept as per-point variables of the sweep
POINT_ATTRS = ("verdict", "verdict_text", "leading_kind", "force_residual", "step_residual",
               "fixed_point_converged", "fixed_point_reason", "fixed_point_solver", "converged_J",
               "converged_M", "matvecs_J", "matvecs_M", "matvecs_nonnormality")


@dataclass(frozen=True)
class SpectrumPoint:
    """``compute(point)``: the spectrum of ``point['checkpoint']`` on batch ``point['batch_seed']``,
    exactly what ``stabilitylab spectrum --ckpt PATH --batch-seed SEED`` computes with the same
    options, with the per-point attributes :data:`POINT_ATTRS` as scalar variables. A fixed point
    that was not reached makes the point ``not_converged`` (its spectrum is kept)."""

    eps: float
    k: int
    tol: float
    ncv: int | None
    diagnostics: bool
    field_options: tuple  # (name, value) pairs for commands.common.resolve_field

    def __call__(self, point: dict):
        fld = resolve_field(ckpt=point["checkpoint"], batch_seed=point["batch_seed"], **dict(self.field_options))
        return self.analyse(fld)

    def analyse(self, fld) -> PointResult:
        from ..parallel import NOT_CONVERGED, PointResult
        from ..spectral.spectrum import spectrum

        ds = spectrum(fld, k=self.k, eps=self.eps, tol=self.tol, ncv=self.ncv, diagnostics=self.diagnostics)
        data = ds.drop_attrs().assign({a: ((), ds.attrs[a]) for a in POINT_ATTRS if a in ds.attrs})
        if ds.attrs.get("fixed_point_converged", 1):
            return PointResult(data)
        return PointResult(data, NOT_CONVERGED, f"fixed point not reached: {ds.attrs.get('fixed_point_reason')}")

    def template(self) -> xr.Dataset:
        """The per-point schema: this analysis on a small linear example field (so it follows
        whatever :func:`~stabilitylab.spectral.spectrum.spectrum` returns), ``mode`` of size k + 1
        (a complex pair is never split, so a search may return k + 1 values)."""
        from ..examples import linear
        from ..parallel import template_like

        return template_like(self.analyse(linear(n=self.k + 6)).data, mode=self.k + 1)


def _options(opts, fn):
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _analysis_options(fn):
    """The options of ``stabilitylab spectrum`` that apply to every point (field and eigensolver)."""
    return _options([
        click.option("--config", "config_text", default=None, metavar="K=V,...",
                     help="Model config for research-format checkpoints (an 'allp' list without config)."),
        click.option("--batch-size", default=1, show_default=True, help="Sequences in the input batch."),
        click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
                     help="Where each task's tensors live; auto = cuda if available."),
        click.option("--dtype", type=click.Choice(list(DTYPES)), default="float64", show_default=True,
                     help="Floating-point precision of the analysis."),
        click.option("--set", "knobs", multiple=True, metavar="NAME=VALUE",
                     help="Override a field knob (alpha, ffn_scale, c, head_3, ...); repeatable."),
        click.option("--eps", default=0.1, show_default=True, help="Euler step size ε (M = I + εJ)."),
        click.option("--k", default=8, show_default=True, help="Eigenvalues wanted from each search."),
        click.option("--tol", default=1e-8, show_default=True, help="Relative eigen-residual tolerance."),
        click.option("--ncv", default=None, type=int, help="Krylov subspace size (default max(2k+1, 40))."),
        click.option("--no-diagnostics", is_flag=True, help="Skip the non-normality diagnostics (ω(J), ...)."),
    ], fn)


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


def checkpoint_coords(path: Path, config_text: str | None = None) -> dict:
    """A point's coordinates from the checkpoint file (an unreadable one fails in its task); the
    path is made absolute, so a rerun from another directory resumes the same sweep."""
    from .. import checkpoint
    from ..model import BlockConfig

    config = BlockConfig.parse(config_text) if config_text else None
    try:
        ck = checkpoint.read(path, config)
        return {"checkpoint": str(path.resolve()), "step": int(ck.step), "rule": str(ck.rule or ""),
                "checkpoint_sha256": ck.sha256}
    except CheckpointError:
        return {"checkpoint": str(path.resolve()), "step": -1, "rule": "", "checkpoint_sha256": ""}


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


def _spectrum_sweep(points: list[dict], x: str, out: str, opts: dict, title: str) -> None:
    """Validate the options on the first readable checkpoint, run the sweep, report it
    (``x``: the coordinate the table and figure are ordered by)."""
    from .. import checkpoint, store
    from ..model import BlockConfig
    from ..parallel import run_sweep
    from ..spectral.spectrum import RESIDUAL_KIND

    eps, k = opts["eps"], opts["k"]
    if eps <= 0:
        raise StabilityLabError(f"--eps must be > 0, got {eps}")
    if opts["workers"] is not None and opts["workers"] < 0:
        raise StabilityLabError(f"--workers must be >= 0, got {opts['workers']}")
    field_options = (("config_text", opts["config_text"]), ("batch_size", opts["batch_size"]),
                     ("device", opts["device"]), ("dtype", opts["dtype"]), ("knobs", tuple(opts["knobs"])))
    readable = [p for p in points if p["checkpoint_sha256"]]
    if not readable:
        config = BlockConfig.parse(opts["config_text"]) if opts["config_text"] else None
        checkpoint.read(points[0]["checkpoint"], config)  # raises why none can be read
    fld = resolve_field(ckpt=readable[0]["checkpoint"], batch_seed=readable[0]["batch_seed"], **dict(field_options))
    if not 1 <= k <= fld.n - 2:
        raise StabilityLabError(f"--k {k}: need 1 <= k <= n - 2 = {fld.n - 2} for this state (n = {fld.n})")
    compute = SpectrumPoint(eps, k, opts["tol"], opts["ncv"], not opts["no_diagnostics"], field_options)
    settings = {"analysis": "spectrum", "eps": eps, "k": k, "tol": opts["tol"], "ncv": opts["ncv"],
                "diagnostics": not opts["no_diagnostics"], "config": opts["config_text"],
                "batch_size": opts["batch_size"], "dtype": opts["dtype"], "knobs": sorted(opts["knobs"])}
    attrs = store.provenance(None, **settings, residual_kind=RESIDUAL_KIND, model_config=fld.meta.get("config"),
                             state_size=fld.n, state_shape=list(fld.shape), field_params=dict(fld.params))
    try:
        report = run_sweep(points, compute, out, compute.template(), settings=settings, attrs=attrs,
                           workers=_default_workers(opts["workers"], len(points)), scheduler=opts["scheduler"],
                           threads=opts["threads"], retry_failed=opts["retry_failed"], progress=not opts["quiet"])
    except KeyboardInterrupt:
        click.echo(f"interrupted: finished points are stored in {out}; rerun the same command to resume", err=True)
        sys.exit(130)
    counts = ", ".join(f"{n} {s or 'pending'}" for s, n in sorted(report.counts.items()))
    console.print(f"sweep: {report.points} points, {report.computed} computed now, {report.already_done} "
                  f"already done ({counts}) in {report.seconds:.1f} s")
    summary = _summary(report.out)
    _table(summary, x, eps)
    console.print(f"dataset: {out}")
    png = Path(out).with_suffix(".png")
    _figure(summary, x, eps, title).savefig(png, dpi=130, bbox_inches="tight")
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
@_analysis_options
@_engine_options
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
    from .. import checkpoint

    patterns = [*ckpts, *ckpt_args]
    if not patterns:
        raise StabilityLabError("give the checkpoints: --ckpts 'runs/x/s*.pt' (quoted) or paths")
    points = sorted((checkpoint_coords(p, opts["config_text"]) for p in _checkpoint_paths(patterns)),
                    key=lambda q: (q["step"], q["checkpoint"]))
    _spectrum_sweep([{**p, "batch_seed": batch_seed} for p in points], "step", out, opts,
                    "spectral drift toward the stability boundary")


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
@click.option("--ckpt", default=None, metavar="PATH",
              help="Checkpoint, or the file name of a shipped one (default: the project's default).")
@click.option("--seeds", default="0:8", show_default=True, help="Analysis batch seeds: A:B (A..B-1) or a,b,c.")
@_analysis_options
@_engine_options
@click.option("--out", default="batches.zarr", show_default=True, metavar="PATH.zarr",
              help="Sweep store (a PNG is saved next to it).")
@user_errors
def batches_command(ckpt, seeds, out, **opts):
    """Spectrum of one checkpoint on several analysis batches (how much does the batch matter?).

    One point per batch seed; each point is `stabilitylab spectrum --ckpt PATH --batch-seed S`.
    """
    from .. import checkpoint

    head = checkpoint_coords(checkpoint.resolve(ckpt), opts["config_text"])
    _spectrum_sweep([{**head, "batch_seed": s} for s in parse_seeds(seeds)], "batch_seed", out, opts,
                    "spectrum across analysis batches")
