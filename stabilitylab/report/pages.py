"""Page layout: a summary page, then one landscape page per section (heading, panels, table, the
section's finding in words, footer). Every page is a matplotlib ``Figure``."""
from __future__ import annotations

from pathlib import Path

import textwrap

import xarray as xr
from matplotlib.figure import Figure

from .. import __version__, store
from . import beyond, panels, stability_map, tables, verdict
from .figures import plot_J, plot_M
from .kinds import TITLES
from .text import nonnormality, num

PAGE = (11.69, 8.27)  # A4 landscape, inches
WRAP = 140  # characters per line of 9.5 pt running text across the page
CONVENTIONS = ("force residual ‖F(z)‖/‖z‖ (solver independent) and step residual ‖εF(z)‖/‖z‖ (depends on ε); "
               "Euler map z ← z + εF(z) with multipliers μ = 1 + ελ, stable iff every |μ| < 1; for Re λ < 0 a mode "
               "is stable for ε < ε_crit = −2 Re λ/|λ|²; λ is per unit of relaxation time (one Euler step = ε).")


def display_path(path) -> str:
    """A checkpoint as a reader of the PDF needs it: a shipped one by its name ("s3200.pt, shipped"),
    else relative to the working directory when inside it, else as recorded."""
    from ..checkpoint import SHIPPED_DIR

    p = Path(str(path))
    try:
        if p.resolve().parent == SHIPPED_DIR.resolve():
            return f"{p.name} (shipped with stabilitylab)"
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(p)


def wrap(text: str, width: int, **kw) -> str:
    """``textwrap.fill`` that never breaks inside 'α = 1', 'ε < 0.19', 'a ± bi' or 'x → y'."""
    for op in ("=", "<", ">", "±", "→"):
        text = text.replace(f" {op} ", f"\u00a0{op}\u00a0")
    return textwrap.fill(text, width, **kw)


def _frame(number: int, total: int, title: str, subtitle: str, footer: str) -> Figure:
    fig = Figure(figsize=PAGE)
    # drawn first (zorder < the axes'), so the heading also comes first in the PDF's text
    fig.text(0.04, 0.955, f"{number}. {title}" if number > 1 else title, fontsize=15, fontweight="bold", va="top",
             zorder=-1)
    fig.text(0.04, 0.915, subtitle, fontsize=8.5, color="0.35", va="top", zorder=-1, linespacing=1.4)
    fig.text(0.04, 0.02, footer, fontsize=7, color="0.45")
    fig.text(0.96, 0.02, f"page {number} of {total}", fontsize=7, color="0.45", ha="right")
    return fig


def _finding(fig: Figure, text: str) -> None:
    fig.text(0.04, 0.12, wrap("Finding: " + text, WRAP), fontsize=9.5, va="top",
             bbox=dict(boxstyle="round,pad=0.5", fc="#f4f4f4", ec="0.8"))


def _grid(fig: Figure, rows, cols=1, **kw):
    return fig.add_gridspec(len(rows), cols, height_ratios=rows, left=0.07, right=0.97, top=0.83, bottom=0.21, **kw)


# -- summary -----------------------------------------------------------------------------------
def source_rows(ds: xr.Dataset) -> list[list[str]]:
    """What was analysed, from a dataset's provenance attributes."""
    a = ds.attrs
    rows = []
    if "checkpoint" in a:
        rows += [["checkpoint", display_path(a["checkpoint"])], ["sha256", str(a.get("checkpoint_sha256", "–"))],
                 ["training step, rule", f"{a.get('step', '–')}, {a.get('rule') or '–'}"]]
    elif "field_name" in a:
        rows.append(["field", str(a.get("field", a["field_name"]))])
    config = store.attr_json(ds, "config") or store.attr_json(ds, "model_config") or store.attr_json(ds, "train_config")
    if isinstance(config, dict):
        rows.append(["model config", ", ".join(f"{k}={v}" for k, v in config.items())])
    if "state_shape" in a:
        shape = store.attr_json(ds, "state_shape")
        rows.append(["state size", f"n = {a.get('state_size')} numbers (B × T × C = {' × '.join(map(str, shape))})"])
    if "batch_seed" in a:
        rows.append(["analysis batch", f"seed {a['batch_seed']}, corpus {a.get('batch_corpus', '–')}"])
    if "field_params" in a:
        rows.append(["knobs", ", ".join(f"{k}={v:g}" for k, v in store.attr_json(ds, "field_params").items())])
    if "dtype" in a:
        rows.append(["precision", str(a["dtype"])])
    return rows


def fit_text(fig: Figure, x: float, y: float, text: str, above, fontsize: float, smallest: float = 6.0, **kw):
    """``text`` placed with its top at (x, y), its font shrunk (to ``smallest`` at least) until it
    ends above the artist ``above`` with a small gap: a long verdict never runs into the footer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = (fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)).get_renderer()
    limit = above.get_window_extent(renderer).y1 + 0.01 * fig.bbox.height
    size = fontsize
    while True:
        artist = fig.text(x, y, text, fontsize=size, va="top", **kw)
        if artist.get_window_extent(renderer).y0 >= limit or size <= smallest:
            return artist
        artist.remove()
        size -= 0.5


def summary_page(sections: dict, total: int, footer: str) -> Figure:
    """Page 1: what was analysed, the verdict in words, the contents and the conventions."""
    first = next(iter(sections.values()))
    source = next((ds for ds in sections.values() if "checkpoint" in ds.attrs or "field_name" in ds.attrs), first)
    name = source.attrs.get("field_name") or "training run"
    fig = _frame(1, total, f"Stability report: {name}", f"stabilitylab {__version__} · {len(sections)} analyses",
                 footer)
    rows = [[k, textwrap.shorten(v, 130)] for k, v in source_rows(source)]
    height = 0.028 * (len(rows) + 1)
    tables.draw(fig.add_axes((0.04, 0.85 - height, 0.92, height)), None, rows, widths=[0.16, 0.84], align="left",
                title="What was analysed")
    lines = [wrap(s, 136, initial_indent="•  ", subsequent_indent="    ")
             for s in verdict.verdict(sections)]
    top = 0.85 - height - 0.05
    fig.text(0.04, top, "Verdict", fontsize=12, fontweight="bold", va="top")
    contents = "    ".join(f"{i}. {TITLES[k]}" for i, k in enumerate(sections, start=2))
    box = fig.text(0.04, 0.135, textwrap.fill("Contents:  " + contents, 170), fontsize=8, va="top", color="0.25")
    fit_text(fig, 0.04, top - 0.04, "\n".join(lines), above=box, fontsize=10.5, linespacing=1.5)
    fig.text(0.04, 0.08, textwrap.fill("Conventions: " + CONVENTIONS, 185), fontsize=7.5, va="top", color="0.35")
    return fig


# -- sections ----------------------------------------------------------------------------------
def _subtitle(ds: xr.Dataset, what: str) -> str:
    """What the page shows; below it, when and by which command the dataset was made."""
    made = f"created {ds.attrs.get('created', '–')} by: {ds.attrs.get('command', '–')}"
    return textwrap.shorten(what, 175) + "\n" + textwrap.shorten(made, 175)


def spectrum_page(ds, frame) -> Figure:
    eps = float(ds.attrs["eps"])
    fig = frame(_subtitle(ds, f"ε = {eps:g}; fixed point: force residual {num(ds.attrs['force_residual'], 2)}, "
                              f"step residual {num(ds.attrs['step_residual'], 2)}"))
    gs = _grid(fig, [1.4, 1], hspace=0.35)
    top = gs[0].subgridspec(1, 2, wspace=0.25)
    plot_J(fig.add_subplot(top[0]), ds)
    plot_M(fig.add_subplot(top[1]), ds)
    columns, rows, colors = tables.eps_crit_rows(ds)
    note = ""
    if "numerical_abscissa" in ds:
        note = f" — non-normality: {nonnormality(ds)}"
    tables.draw(fig.add_subplot(gs[1]), columns, rows, title=f"ε_crit per mode (smallest over all modes: {num(float(ds['min_eps_crit']))})" + note, colors=colors)
    return fig


def continuation_page(ds, frame) -> Figure:
    param = str(ds.attrs["param"])
    p = ds[param].values
    fig = frame(_subtitle(ds, f"{param} from {num(p[0])} to {num(p[-1])} in {ds.sizes['point']} points at "
                              f"ε = {float(ds.attrs['eps']):g}; stopped: {ds.attrs.get('stop_reason', '–')}"))
    gs = _grid(fig, [1.7, 0.6], hspace=0.4)
    top = gs[0].subgridspec(1, 2, wspace=0.22)
    panels.bifurcation(fig.add_subplot(top[0]), fig.add_subplot(top[1]), ds)
    columns, rows = tables.special_rows(ds)
    tables.draw(fig.add_subplot(gs[1]), columns, rows,
                title="special points (crossings located by secant/Brent on the tracked eigenvalue)",
                empty="none: the number of unstable eigenvalues does not change along the branch")
    return fig


def cycle_page(ds, frame) -> Figure:
    fig = frame(_subtitle(ds, f"ε = {float(ds['eps']):g}, {ds.sizes['step'] - 1} relaxation steps, tail of "
                              f"{ds.attrs.get('tail')} steps"))
    gs = _grid(fig, [1.3, 1], hspace=0.4)
    top = gs[0].subgridspec(1, 3, wspace=0.35)
    panels.residual_traces(fig.add_subplot(top[0]), ds)
    panels.phase_portrait(fig.add_subplot(top[1]), ds)
    panels.multipliers(fig.add_subplot(top[2]), ds)
    bottom = gs[1].subgridspec(1, 2, wspace=0.12, width_ratios=[1.4, 1])
    columns, rows = tables.attractor_rows(ds)
    tables.draw(fig.add_subplot(bottom[0]), columns, rows, title="attractor", widths=[0.62, 0.38], align="left")
    title, columns, rows = tables.multiplier_rows(ds)
    right = bottom[1].subgridspec(2, 1, height_ratios=[max(len(rows), 2) + 1, 6], hspace=0.15)
    tables.draw(fig.add_subplot(right[0]), columns, rows, title=title)
    note = fig.add_subplot(right[1])
    note.axis("off")
    text = "Evidence: " + str(ds["reason"].item())
    circle = tables.circle_note(ds)
    note.text(0, 1, wrap(text + (" " + circle if circle else ""), 78), fontsize=7.5, va="top", color="0.2",
              transform=note.transAxes, linespacing=1.35)
    return fig


def eps_sweep_page(ds, frame) -> Figure:
    grid = ds["eps"].values
    fig = frame(_subtitle(ds, f"{len(grid)} step sizes from {num(grid.min())} to {num(grid.max())}; spectrum at "
                              f"ε = {num(ds.attrs.get('spectrum_eps'))}"))
    gs = _grid(fig, [1.15, 1.15], hspace=0.5)
    top = gs[0].subgridspec(1, 2, wspace=0.22)
    panels.sweep_floor(fig.add_subplot(top[0]), ds)
    panels.sweep_growth(fig.add_subplot(top[1]), ds)
    columns, rows, colors = tables.sweep_rows(ds)
    tables.draw(fig.add_subplot(gs[1]), columns, rows[: tables.MAX_ROWS], colors=colors[: tables.MAX_ROWS],
                title="attractor per step size")
    return fig


def knockout_page(ds, frame) -> Figure:
    fig = frame(_subtitle(ds, f"target {ds.attrs['target']} (knob {ds.attrs['knob']}), ε = {float(ds.attrs['eps']):g}"))
    gs = _grid(fig, [1.3, 1], hspace=0.4)
    top = gs[0].subgridspec(1, 2, wspace=0.22)
    panels.knockout_bars(fig.add_subplot(top[0]), fig.add_subplot(top[1]), ds)
    columns, rows, colors = tables.knockout_rows(ds)
    tables.draw(fig.add_subplot(gs[1]), columns, rows, colors=colors, title="knockout table")
    return fig


def drift_page(ds, frame) -> Figure:
    source = "training monitor" if "rule" in ds.dims else "spectra of the run's snapshots (sweep spectrum)"
    fig = frame(_subtitle(ds, f"{source}, ε = {float(ds.attrs['eps']):g}"))
    chosen = panels.drift_panels(ds)
    cols = 4 if len(chosen) > 6 else 3 if len(chosen) > 4 else 2
    gs = fig.add_gridspec(-(-len(chosen) // cols), cols, left=0.06, right=0.97, top=0.83, bottom=0.21,
                          hspace=0.45, wspace=0.25)
    for i, panel in enumerate(chosen):
        panels.drift_panel(fig.add_subplot(gs[i // cols, i % cols]), ds, panel)
    return fig


def gradients_page(ds, frame) -> Figure:
    fig = frame(_subtitle(ds, f"ε = {float(ds.attrs['eps']):g}, BPTT unroll T1 = {ds.attrs['t1']}, β = "
                              f"{ds.attrs['beta']:g}, T2 = {ds.attrs['t2']}; free state force residual "
                              f"{num(ds.attrs['fp_force_residual'], 2)}"))
    gs = _grid(fig, [0.6, 1.5], hspace=0.3)
    columns, rows = tables.gradient_rows(ds)
    tables.draw(fig.add_subplot(gs[0]), columns, rows, title="estimators at the checkpoint (all parameters)")
    bottom = gs[1].subgridspec(1, 2, wspace=0.22)
    panels.fidelity_t2(fig.add_subplot(bottom[0]), ds)
    ax = fig.add_subplot(bottom[1])
    if ds.sizes["asym"]:
        panels.fidelity_asym(ax, ds)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "no asymmetry sweep (conservative block)", ha="center", transform=ax.transAxes)
    return fig


SECTION_PAGES = {"spectrum": spectrum_page, "continuation": continuation_page, "cycle": cycle_page,
                 "eps_sweep": eps_sweep_page, "knockout": knockout_page, "drift": drift_page,
                 "gradients": gradients_page, "stability_map": stability_map.page, **beyond.PAGES}


def build(sections: dict[str, xr.Dataset], footer: str) -> list[tuple[str, Figure]]:
    """``[(slug, Figure)]``: the summary page, then one page per section in page order."""
    total = len(sections) + 1
    pages = [("summary", summary_page(sections, total, footer))]
    for number, (kind, ds) in enumerate(sections.items(), start=2):
        def frame(subtitle, number=number, kind=kind):
            return _frame(number, total, TITLES[kind], subtitle, footer)

        fig = SECTION_PAGES[kind](ds, frame)
        _finding(fig, verdict.SENTENCES[kind](ds))
        pages.append((kind, fig))
    return pages
