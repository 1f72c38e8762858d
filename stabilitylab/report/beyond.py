"""Report pages of the analyses beyond the battery, read from their stores with
``stabilitylab report --from``: Lyapunov spectrum, all fixed points, pseudospectra, cycle branches. Each page is
the command's own figure on the report frame; each finding is the dataset's verdict."""
from __future__ import annotations

import xarray as xr
from matplotlib.figure import Figure

from ..cycles.figures import draw_flow_branch, draw_map_branch, draw_map_period
from ..dynamics.lyapunov_figure import draw_lyapunov
from ..dynamics.all_roots_figure import draw_fixed_points
from ..spectral.pseudospectra_figure import draw_pseudospectra
from .text import num


def _two_panels(frame, subtitle: str, draw, ds: xr.Dataset) -> Figure:
    fig = frame(subtitle)
    gs = fig.add_gridspec(1, 2, left=0.07, right=0.97, top=0.83, bottom=0.24, wspace=0.25)
    draw(fig.add_subplot(gs[0]), fig.add_subplot(gs[1]), ds)
    return fig


def lyapunov_page(ds: xr.Dataset, frame) -> Figure:
    a = ds.attrs
    step = f"ε = {num(a['h'])}" if a["method"] == "euler" and "h" in a else f"{a['method']}"
    return _two_panels(frame, f"QR/Benettin with {ds.sizes['mode']} JVPs per step, {step}, {a['orbits']} orbit(s) × "
                              f"{a['steps']} counted steps after {a['burn']} + {a['align']}", draw_lyapunov, ds)


def fixed_points_page(ds: xr.Dataset, frame) -> Figure:
    a = ds.attrs
    return _two_panels(frame, f"{a['starts']} starts, relaxation + deflated Newton (p = {num(a['deflation_power'])}, "
                              f"shift {num(a['deflation_shift'])}), distinct when ‖z − r‖ > {num(a['dedup_tol'])}·max(‖r‖, 1); "
                              f"ε = {num(a['eps'])}", draw_fixed_points, ds)


def pseudospectra_page(ds: xr.Dataset, frame) -> Figure:
    a = ds.attrs
    return _two_panels(frame, f"projected on the Krylov–Schur basis of {a['ncv']} vectors (Wright & Trefethen): "
                              f"contained in the true pseudospectra; check basis {a['check_ncv']}; ε = {num(a['eps'])}",
                       draw_pseudospectra, ds)


def cycles_page(ds: xr.Dataset, frame) -> Figure:
    a = ds.attrs
    if a["branch"] == "map":
        sub = (f"Euler relaxation at ε = {num(a['eps'])}, swept forward then back; {a['steps']} steps per value, "
               f"{a['tail']} measured on the attractor; hollow: not settled")
    else:
        sub = f"shooting with {a['shooting_steps']} RK4 steps per period, pseudo-arclength; dashed: unstable orbits"
    if a["branch"] == "map":
        return _two_panels(frame, sub, lambda left, right, d: (draw_map_branch(left, d), draw_map_period(right, d)), ds)
    fig = frame(sub)
    draw_flow_branch(fig.add_axes((0.1, 0.24, 0.85, 0.59)), ds)
    return fig


def sentence(ds: xr.Dataset) -> str:
    """The finding: the analysis's own verdict (Lyapunov: with the Kaplan–Yorke dimension)."""
    text = str(ds.attrs["verdict"])
    if ds.attrs.get("analysis") == "lyapunov" and "eps" not in ds.dims:
        text += f"; Kaplan–Yorke dimension {num(float(ds['kaplan_yorke']), 4)}"
    return text[0].upper() + text[1:] + "."


PAGES = {"lyapunov": lyapunov_page, "fixed_points": fixed_points_page, "pseudospectra": pseudospectra_page,
         "cycles": cycles_page}
SENTENCES = dict.fromkeys(PAGES, sentence)
