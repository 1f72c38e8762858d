"""``stabilitylab report``: the standard battery on a checkpoint, as a multi-page PDF."""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import click

from ..errors import StabilityLabError
from ..interrupts import Interrupted, trapped
from ..report.stages import STAGES
from .common import console, eps_option, field_options, resolve_eps, resolve_field, user_errors

REPORTS = Path("reports")


def _say(text: str) -> None:
    """Print plain text (paths and sentences are not rich markup)."""
    console.print(text, markup=False)


def _default_pdf(fld) -> Path:
    name = Path(fld.meta.get("checkpoint", "")).stem or fld.name.replace(":", "-").replace(".", "-")
    return REPORTS / f"{name}.pdf"


def _from_pdf(paths) -> Path:
    """``--from DIR/a.zarr DIR/b.zarr`` → ``DIR.pdf`` (so the PNGs land in DIR beside the datasets)."""
    common = Path(os.path.commonpath([Path(p).resolve().parent for p in paths]))
    return common.with_suffix(".pdf") if common != Path.cwd() else Path("report.pdf")


@click.command("report")
@field_options
@click.option("--from", "from_stored", is_flag=True,
              help="Build the report from stored datasets only (given as arguments), running nothing.")
@click.argument("datasets", nargs=-1, metavar="[DATASETS.zarr]...")
@click.option("--out", default=None, metavar="PATH.pdf",
              help="The PDF (default reports/<checkpoint>.pdf; with --from, <folder of the datasets>.pdf). "
                   "Datasets and PNGs go to the folder of the same name beside it.")
@eps_option("Euler step ε of every analysis.")
@click.option("--param", default="alpha", show_default=True,
              help="Knob continued and knocked out (alpha = attention output scale).")
@click.option("--range", "span", default=None, metavar="A:B",
              help="Range of the continuation in --param (default 0.2:1.5; --quick 0.5:1.0).")
@click.option("--quick", is_flag=True, help="Small settings (seconds on tiny models): for tests and smoke runs.")
@click.option("--skip", multiple=True, type=click.Choice(STAGES), help="Leave out a stage (repeatable).")
@click.option("--recompute", is_flag=True, help="Recompute every stage even when a stored result matches.")
@click.option("--threads", default=1, show_default=True,
              help="Torch CPU threads (small models run fastest on one; raise it for large states).")
@user_errors
def command(from_stored, datasets, out, eps, param, span, quick, skip, recompute, threads, **fopts):
    """Run the standard stability battery on a checkpoint and write a multi-page PDF report.

    Stages: spectrum of J and M = I + eps*J, continuation in alpha with bifurcations, attractor and
    Floquet check, eps-sweep against the predicted eps_crit, attention knockout, the training drift
    of EP vs BPTT (the run's monitor.zarr or its snapshots) and gradient-estimator fidelity. Each
    result is stored as a zarr in the folder beside the PDF and reused when it was computed for the
    same checkpoint (sha256) and settings, so re-running is fast. Page 1 gives the verdict in plain
    language; every page is also saved as a PNG.

    With --from, the report is built from the given datasets only (their kind is read from their
    variables): stabilitylab report --from reports/x/spectrum.zarr reports/x/cycle.zarr
    """
    from ..report import battery, document, kinds
    from ..report.verdict import verdict

    if from_stored:
        if not datasets:
            raise StabilityLabError("--from needs the datasets: stabilitylab report --from a.zarr b.zarr ...")
        if fopts["ckpt"] or fopts["field_spec"]:
            raise StabilityLabError("--from builds from stored datasets: drop --ckpt/--field")
        sections = kinds.load(datasets)
        pdf = Path(out) if out else _from_pdf(datasets)
    else:
        if datasets:
            raise StabilityLabError(f"unexpected arguments {' '.join(datasets)}: add --from to report on datasets")
        import torch

        torch.set_num_threads(threads)
        fld = resolve_field(**fopts)
        eps = resolve_eps(eps, fld)
        settings = battery.Settings(eps=eps, param=param)
        settings = settings.quick() if quick else settings
        if span:
            from .continuation import parse_range

            settings = dataclasses.replace(settings, span=parse_range(span, "--range", descending=False))
        pdf = Path(out) if out else _default_pdf(fld)
        folder = document.figure_dir(pdf)
        _say(f"battery on {fld.name} (n = {fld.n}, ε = {eps:g}: {fld.meta['eps_source']}{', quick' if quick else ''}) → {folder}/")
        try:
            with trapped():
                sections = battery.run(fld, settings, folder, skip=skip, recompute=recompute, progress=True,
                                       log=_say)
        except Interrupted as exc:
            click.echo(f"\ninterrupted ({exc}): the stages finished so far are stored in {folder}/; rerun the "
                       "same command to reuse them and go on", err=True)
            sys.exit(exc.exit_code)
    pngs = document.build(sections, pdf)
    console.print("[bold]verdict:[/]")
    for line in verdict(sections):
        _say(f"  • {line}")
    _say(f"report:  {pdf} ({len(pngs)} pages)")
    _say(f"figures: {pngs[0].parent}/report-*.png")
