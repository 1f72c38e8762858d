"""Shared CLI plumbing: field selection, knob overrides, device/dtype, threads, guarded output
stores, interruption, tables.

Every analysis command decorates itself with :func:`field_options` (``--ckpt`` / ``--field`` /
batch / device / dtype / knob overrides) and :func:`out_option` (``--out``, ``--overwrite``,
``--threads``), turns its options into a Field with :func:`resolve_field`, and finishes with
:func:`finish` (writes the zarr, saves the figure next to it, prints where). :func:`out_option`
does, around the command: the check of ``--out`` before any computation (writable, a ``.zarr``,
not a store of another analysis or other settings unless ``--overwrite``), the lock that refuses
a concurrent writer, and the interruption contract (SIGINT/SIGTERM: say where the partial results
are and how to resume, exit 130/143; :mod:`stabilitylab.interrupts`).
"""
from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ..errors import StabilityLabError
from ..invocation import DEFAULT_CHECKPOINT
from ..interrupts import Interrupted, trapped

if TYPE_CHECKING:  # torch loads on use, so ``COMMAND --help`` answers at once
    import torch

    from ..field import Field

# a terminal (or $COLUMNS) sets the width; pipes and CI logs get 120 instead of rich's 80 default
console = Console(highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)
DTYPES = ("float32", "float64")  # names of torch dtypes
EXIT_UNCONVERGED = 3  # the command ran, but its answer rests on unconverged numbers


def field_options(fn):
    """Add ``--ckpt/--field/--batch-seed/--batch-size/--device/--dtype/--set`` to a command."""
    opts = [
        click.option("--ckpt", default=None, metavar="PATH",
                     help="Checkpoint file, or the file name of a shipped one (e.g. s3200.pt). "
                          f"Default: {DEFAULT_CHECKPOINT} (EP's snapshot just past the boundary), or "
                          "$STABILITYLAB_CHECKPOINT when set."),
        click.option("--field", "field_spec", default=None, metavar="MODULE:FACTORY",
                     help="Analyse a user field instead: a zero-argument factory returning a "
                          "stabilitylab.Field. The current directory is on the import path (as with "
                          "python -m), so mymod:make finds ./mymod.py. This imports and runs that "
                          "module's code."),
        click.option("--config", "config_text", default=None, metavar="K=V,...",
                     help="Model config of a research-format checkpoint (an 'allp' list without config); "
                          "every key must be stated (the research code's defaults differ), e.g. "
                          "C=512,H=16,T=256,vocab=4096,c=1.0,qknorm=false,mode=thick,eps=0.1,order=research "
                          "(eps: the ε it was trained at; order=research confirms the list is in "
                          "stabilitylab.checkpoint.RESEARCH_ORDER, order=a/b/... gives another)."),
        click.option("--data", default=None, metavar="PATH",
                     help="The data the checkpoint is analysed on: a text file, a nanoGPT-style folder "
                          "(train.bin/val.bin uint16 + meta.pkl, read as plain data only), a .npy/.pt token "
                          "array, or 'generated'. Default: the data the checkpoint records, when readable "
                          "here, else uniform random tokens (the summary says so)."),
        click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True,
                     help="Which split of --data the windows are drawn from."),
        click.option("--batch-seed", default=0, show_default=True,
                     help="Seed of the input batch: the window offsets are drawn from it alone."),
        click.option("--batch-size", default=1, show_default=True,
                     help="Sequences (windows of T tokens) in the input batch."),
        click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu",
                     show_default=True, help="Where tensors live; auto = cuda if available."),
        click.option("--dtype", type=click.Choice(list(DTYPES)), default="float64", show_default=True,
                     help="Floating-point precision of the analysis."),
        click.option("--set", "knobs", multiple=True, metavar="NAME=VALUE",
                     help="Override a field knob (alpha, ffn_scale, c, head_3, ...); repeatable."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


#: states below this many numbers run on one torch thread by default (a second intra-op thread
#: only adds synchronisation there, and on a busy 2-core machine it made runs 7-16x slower)
MULTITHREAD_STATE = 1 << 16
_TARGET, _THREADS = "stabilitylab.target", "stabilitylab.threads"  # click context meta keys


def default_threads(n: int) -> int:
    """Torch threads for a state of ``n`` numbers: 1 when small, else torch's own default."""
    import torch

    return 1 if n < MULTITHREAD_STATE else max(1, min(os.cpu_count() or 1, torch.get_num_threads()))


def threads_option(fn):
    """``--threads N`` (default: chosen from the state size, see :func:`default_threads`)."""
    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help=f"Torch CPU threads (default: 1 for states under {MULTITHREAD_STATE} numbers, "
                             "else torch's default); recorded as torch_threads in the dataset.")(fn)


@dataclass
class Target:
    """The output store of the running command: where, which analysis, with which settings."""

    path: Path
    analysis: str
    settings: dict
    resumable: bool
    written: bool = False


def _settings(params: dict, ignore) -> dict:
    skip = {"out", "overwrite", "threads", "quiet", *ignore}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(params.items()) if k not in skip}


def out_option(default_name: str, resumable=()):
    """``--out PATH.zarr``, ``--overwrite`` and ``--threads``, and the store guard and interruption
    contract around the command (module docstring). ``resumable``: the options a rerun may change
    while resuming the store (e.g. the range end), not compared with the stored settings; a command
    with ``resumable`` options appends as it goes and is resumed by rerunning it."""

    def decorate(fn):
        @functools.wraps(fn)
        @user_errors
        def wrapper(*args, out=None, overwrite=False, threads=None, **kwargs):
            from .. import store

            ctx = click.get_current_context()
            for name, value in kwargs.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise StabilityLabError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
            if kwargs.get("ckpt") and not kwargs.get("field_spec"):  # a missing checkpoint first, not the --out guard
                from ..checkpoint import resolve

                resolve(kwargs["ckpt"])
            target = Target(default_out(out, default_name), ctx.command.name,
                            _settings(kwargs, resumable), bool(resumable))
            state = store.check_target(target.path, target.analysis,
                                       None if target.resumable else target.settings, overwrite=overwrite)
            ctx.meta[_TARGET], ctx.meta[_THREADS] = target, threads
            with store.lock(target.path), trapped():
                if state == "overwrite" or (overwrite and resumable and state == "same"):
                    store.remove(target.path)  # with its side files (a resume state would be picked up)
                try:
                    return fn(*args, out=target.path, **kwargs)
                except Interrupted as exc:
                    click.echo(f"\ninterrupted ({exc}): {_partial(target)}", err=True)
                    sys.exit(exc.exit_code)

        for opt in (click.option("--out", default=None, metavar="PATH.zarr",
                                 help=f"Where to write the dataset (default: ./{default_name}); a PNG figure "
                                      "is saved next to it. An existing store is replaced only by the same "
                                      "analysis with the same settings" + (" (or resumed)" if resumable else "")
                                      + "; --overwrite replaces anything."),
                    click.option("--overwrite", is_flag=True,
                                 help="Replace --out even when it holds another analysis or other settings."),
                    threads_option):
            wrapper = opt(wrapper)
        return wrapper

    return decorate


def _partial(target: Target) -> str:
    if target.resumable:
        return (f"the points finished so far are stored in {target.path}; rerun the same command to "
                "resume")
    if target.written:
        return f"the dataset was already written to {target.path}"
    return f"nothing was written to {target.path} (it is written whole); rerun the command to start over"


SYNTHETIC_NOTE = ("uniform random tokens: the checkpoint records no data readable here; "
                  "pass --data for the model's own data")

#: ε used when neither --eps nor the checkpoint gives one (user fields, untrained blocks)
FALLBACK_EPS = 0.1


def eps_option(what: str = "Euler step size ε of z <- z + ε F(z) (M = I + εJ)."):
    """``--eps`` defaulting to the field's own relaxation ε (see :func:`resolve_eps`)."""
    return click.option("--eps", default=None, type=float, metavar="EPS",
                        help=f"{what} Default: the ε the checkpoint was trained and deployed at "
                             f"(recorded in it), else {FALLBACK_EPS}.")


def resolve_eps(eps, fld: Field) -> float:
    """The ε an analysis runs at: ``--eps`` if given, else the checkpoint's own relaxation ε
    (``fld.meta['eps']``), else :data:`FALLBACK_EPS`. Where it came from goes to
    ``fld.meta['eps_source']``, hence into the dataset's provenance, and :func:`finish` prints it."""
    if eps is not None:
        if not (math.isfinite(eps) and eps > 0):
            raise StabilityLabError(f"--eps must be > 0 and finite, got {eps:g}")
        source = "--eps"
    elif fld.meta.get("eps"):
        eps = float(fld.meta["eps"])
        source = f"{fld.meta.get('eps_origin', 'recorded by the field')}; --eps overrides"
    else:
        eps, source = FALLBACK_EPS, "default; the field records no ε, --eps overrides"
    fld.meta["eps_source"] = source
    return eps


def parse_knobs(items) -> dict:
    out = {}
    for item in items:
        name, sep, val = item.partition("=")
        if not sep:
            raise StabilityLabError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            raise StabilityLabError(f"--set {name}: {val!r} is not a number") from None
    return out


def pick_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StabilityLabError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


def resolve_field(ckpt=None, field_spec=None, config_text=None, batch_seed=0, batch_size=1,
                  device="cpu", dtype="float64", knobs=(), data=None, split="val", **extra_knobs) -> Field:
    """The Field an analysis runs on: ``--field`` factory, else ``--ckpt`` (else the default) on
    the batch ``--data``/``--split``/``--batch-size``/``--batch-seed`` selects."""
    import torch

    from ..checkpoint import load
    from ..field import load_factory

    if ckpt and field_spec:
        raise StabilityLabError("give either --ckpt or --field, not both")
    if field_spec and data:
        raise StabilityLabError("--data selects a checkpoint's input batch; a --field defines its own state")
    if batch_size < 1:
        raise StabilityLabError(f"--batch-size must be >= 1, got {batch_size}")
    dev, dt = pick_device(device), getattr(torch, dtype)
    if field_spec:
        fld = load_factory(field_spec).to(device=dev, dtype=dt)
    else:
        fld = load(ckpt, batch_seed=batch_seed, batch_size=batch_size, config=config_text, device=dev,
                   dtype=dt, data=data, split=split)
    overrides = {**parse_knobs(knobs), **{k: v for k, v in extra_knobs.items() if v is not None}}
    if overrides:
        fld = fld.with_params(**overrides)
    fld.check_finite(what="initial state")
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _THREADS in ctx.meta:  # set by out_option: --threads, else from the state size
        torch.set_num_threads(ctx.meta[_THREADS] or default_threads(fld.n))
    return fld


def check_k(k: int, fld: Field) -> int:
    """``--k`` wanted eigenvalues: capped at n on a tiny state (all n eigenvalues, exact and dense);
    on a larger one 1 ≤ k ≤ n − 2 (Krylov–Schur needs two spare vectors)."""
    from ..spectral.dense import DENSE_MAX_N

    if k < 1 or (fld.n > DENSE_MAX_N and k > fld.n - 2):
        raise StabilityLabError(f"--k {k} wanted eigenvalues: need 1 <= k <= {fld.n - 2} for this "
                                f"state of {fld.n} numbers")
    return min(k, fld.n)


def default_out(out, name: str) -> Path:
    return Path(out) if out else Path(name)


def finish(ds, out: Path, figure=None) -> None:
    """Write ``ds`` to ``out`` (zarr; with the running command's analysis and settings) and
    ``figure`` (a matplotlib Figure) to ``out`` with .png."""
    from .. import store
    from ..interrupts import deferred

    target = click.get_current_context().meta[_TARGET]
    with deferred():
        store.write(ds.assign_attrs(settings=store.jsonable(target.settings)), out, target.analysis)
        target.written = True
    eps = ds.attrs.get("eps", ds["eps"].item() if "eps" in ds.variables and ds["eps"].size == 1 else None)
    if eps is not None and "eps_source" in ds.attrs:
        console.print(f"ε = {float(eps):g} ({ds.attrs['eps_source']})")
    if ds.attrs.get("batch_synthetic"):
        console.print(f"input: [yellow]synthetic[/] batch ({SYNTHETIC_NOTE})")
    console.print(f"dataset: {out}")
    if figure is not None:
        import matplotlib.pyplot as plt

        png = out.with_suffix(".png")
        figure.savefig(png, dpi=130, bbox_inches="tight")
        plt.close(figure)
        console.print(f"figure:  {png}")


def _cell_width(text: str) -> int:
    from rich.text import Text

    return Text.from_markup(text).cell_len


def fitting_columns(columns, rows, width: int, secondary=None) -> list[int]:
    """Indices of the columns to print in ``width`` cells: a column is as wide as its widest cell
    (numbers are never cut; a header counts whole: rich shrinks other columns rather than wrap it
    when the table is at the console's width); while the table is too wide, the
    ``secondary`` columns (names, dropped first to last; default: from the right, all but the
    first column) are left out."""
    need = [max([_cell_width(str(c))] + [_cell_width(r[i]) for r in rows]) for i, c in enumerate(columns)]
    keep = list(range(len(columns)))
    order = ([columns.index(c) for c in secondary] if secondary is not None
             else list(range(len(columns) - 1, 0, -1)))
    for i in order:
        if sum(need[j] + 3 for j in keep) + 1 <= width:
            break
        keep.remove(i)
    return keep


def table(title: str, columns, rows, secondary=None) -> None:
    """Print a rich table (``rows`` are sequences of already formatted strings) that fits the
    console: columns the width cannot hold are left out, never cut (:func:`fitting_columns`)."""
    columns, rows = list(columns), [list(r) for r in rows]
    keep = fitting_columns(columns, rows, console.width, secondary)
    dropped = [columns[i] for i in range(len(columns)) if i not in keep and columns[i]]
    t = Table(title=title, title_justify="left", header_style="bold",
              caption=f"left out at this width: {', '.join(dropped)} (all are in the dataset)" if dropped else None,
              caption_justify="left")
    for i in keep:
        t.add_column(columns[i], justify="right", overflow="fold")
    for row in rows:
        t.add_row(*(row[i] for i in keep))
    console.print(t)


def fmt(x, digits: int = 3) -> str:
    """Compact number formatting for tables (complex as a±bi)."""
    if x is None:
        return "-"
    if isinstance(x, complex):
        sign = "+" if x.imag >= 0 else "-"
        return f"{x.real:.{digits}g}{sign}{abs(x.imag):.{digits}g}i"
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)


def user_errors(fn):
    """Turn StabilityLabError into a one-line message and exit status 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StabilityLabError as exc:
            from ..cli import user_message

            click.echo(f"error: {user_message(exc)}", err=True)
            sys.exit(2)

    return wrapper
