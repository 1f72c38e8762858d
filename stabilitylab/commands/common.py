"""Shared CLI plumbing: field selection, knob overrides, device/dtype, output writing, tables.

Every analysis command decorates itself with :func:`field_options` (``--ckpt`` / ``--field`` /
batch / device / dtype / knob overrides) and :func:`out_option`, turns its options into a Field
with :func:`resolve_field`, and finishes with :func:`finish` (writes the zarr, saves the figure
next to it, prints where).
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
import torch
from rich.console import Console
from rich.table import Table

from ..errors import StabilityLabError
from ..field import Field, load_factory

# tables need ~120 columns; pipes and CI logs get that width instead of the 80-column default
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
DTYPES = {"float32": torch.float32, "float64": torch.float64}
EXIT_UNCONVERGED = 3  # the command ran, but its answer rests on unconverged numbers


def field_options(fn):
    """Add ``--ckpt/--field/--batch-seed/--batch-size/--device/--dtype/--set`` to a command."""
    opts = [
        click.option("--ckpt", default=None, metavar="PATH",
                     help="Checkpoint file, or the file name of a shipped one (e.g. s3200.pt). "
                          "Default: the project's default checkpoint."),
        click.option("--field", "field_spec", default=None, metavar="MODULE:FACTORY",
                     help="Analyse a user field instead: a zero-argument factory returning a "
                          "stabilitylab.Field. This imports and runs that module's code."),
        click.option("--config", "config_text", default=None, metavar="K=V,...",
                     help="Model config for research-format checkpoints (an 'allp' list without "
                          "config), e.g. C=512,H=16,T=256,vocab=256,c=1.0."),
        click.option("--batch-seed", default=0, show_default=True,
                     help="Seed of the deterministic input batch the checkpoint is analysed on."),
        click.option("--batch-size", default=1, show_default=True, help="Sequences in the input batch."),
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


def out_option(default_name: str):
    return click.option("--out", default=None, metavar="PATH.zarr",
                        help=f"Where to write the dataset (default: ./{default_name}). A PNG figure "
                             "is saved next to it.")


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
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StabilityLabError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


def resolve_field(ckpt=None, field_spec=None, config_text=None, batch_seed=0, batch_size=1,
                  device="cpu", dtype="float64", knobs=(), **extra_knobs) -> Field:
    """The Field an analysis runs on: ``--field`` factory, else ``--ckpt`` (else the default)."""
    from ..checkpoint import load
    from ..model import BlockConfig

    if ckpt and field_spec:
        raise StabilityLabError("give either --ckpt or --field, not both")
    if batch_size < 1:
        raise StabilityLabError(f"--batch-size must be >= 1, got {batch_size}")
    dev, dt = pick_device(device), DTYPES[dtype]
    if field_spec:
        fld = load_factory(field_spec).to(device=dev, dtype=dt)
    else:
        cfg = BlockConfig.parse(config_text) if config_text else None
        fld = load(ckpt, batch_seed=batch_seed, batch_size=batch_size, config=cfg, device=dev, dtype=dt)
    overrides = {**parse_knobs(knobs), **{k: v for k, v in extra_knobs.items() if v is not None}}
    if overrides:
        fld = fld.with_params(**overrides)
    fld.check_finite(what="initial state")
    return fld


def check_k(k: int, fld: Field) -> None:
    """``--k`` wanted eigenvalues must fit the state: 1 ≤ k ≤ n − 2 (Krylov needs two spare)."""
    if not 1 <= k <= fld.n - 2:
        raise StabilityLabError(f"--k {k} wanted eigenvalues: need 1 <= k <= {fld.n - 2} for this "
                                f"state of {fld.n} numbers")


def default_out(out, name: str) -> Path:
    return Path(out) if out else Path(name)


def finish(ds, out: Path, figure=None) -> None:
    """Write ``ds`` to ``out`` (zarr) and ``figure`` (a matplotlib Figure) to ``out`` with .png."""
    from .. import store

    store.write(ds, out)
    console.print(f"dataset: {out}")
    if figure is not None:
        import matplotlib.pyplot as plt

        png = out.with_suffix(".png")
        figure.savefig(png, dpi=130, bbox_inches="tight")
        plt.close(figure)
        console.print(f"figure:  {png}")


def table(title: str, columns, rows) -> None:
    """Print a rich table (``rows`` are sequences of already formatted strings)."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, justify="right")
    for row in rows:
        t.add_row(*row)
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
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper
