"""The PDF: the pages of :mod:`.pages` written with ``PdfPages`` and deterministic metadata (no
creation date, so two builds from the same datasets are byte-comparable), each page also saved
as a PNG in the folder beside the PDF (``reports/NAME.pdf`` → ``reports/NAME/report-<section>.png``)."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import xarray as xr
from matplotlib.backends.backend_pdf import PdfPages
from PIL import Image

from .. import __version__
from ..errors import StabilityLabError
from . import pages

DPI = 80  # PNG resolution: a page is 935 × 662 pixels
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
         "legend.fontsize": 8, "pdf.compression": 9}


def figure_dir(pdf: str | Path) -> Path:
    """Where the datasets and PNGs of the report ``pdf`` live: ``NAME.pdf`` → ``NAME/``."""
    pdf = Path(pdf)
    if pdf.suffix != ".pdf":
        raise StabilityLabError(f"out must name a .pdf file, got {pdf}", param="out")
    return pdf.with_suffix("")


def save_png(fig, path: Path) -> None:
    """``fig`` as a 256-colour PNG (a third of the RGBA size, indistinguishable for line art)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _source(sections: dict[str, xr.Dataset]) -> str:
    """The one checkpoint the datasets were computed on (an error if they disagree)."""
    shas = {ds.attrs["checkpoint_sha256"] for ds in sections.values() if "checkpoint_sha256" in ds.attrs}
    if len(shas) > 1:
        raise StabilityLabError("the datasets come from different checkpoints (sha256 "
                                + ", ".join(sorted(s[:12] for s in shas)) + "); a report covers one checkpoint")
    return f"checkpoint sha256 {next(iter(shas))[:16]}" if shas else "no checkpoint hash"


def build(sections: dict[str, xr.Dataset], pdf: str | Path) -> list[Path]:
    """Write the report of ``sections`` ({section: dataset}, page order) to ``pdf``; return the PNGs."""
    if not sections:
        raise StabilityLabError("no datasets to report on")
    pdf, folder = Path(pdf), figure_dir(pdf)
    folder.mkdir(parents=True, exist_ok=True)
    footer = f"stabilitylab {__version__} stability report · {_source(sections)}"
    pngs = []
    with matplotlib.rc_context(STYLE):
        built = pages.build(sections, footer)
        meta = {"Title": f"stabilitylab stability report: {pdf.stem}", "Creator": f"stabilitylab {__version__}",
                "Subject": ", ".join(kind for kind, _ in built[1:]), "CreationDate": None}
        with PdfPages(pdf, metadata=meta) as out:
            for kind, fig in built:
                out.savefig(fig)
                pngs.append(folder / f"report-{kind}.png")
                save_png(fig, pngs[-1])
    return pngs
