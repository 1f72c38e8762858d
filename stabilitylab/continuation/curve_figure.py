"""The figure of a two-knob curve: the curve in the (p2, p1) plane with its codimension-2 points,
and the frequency and normal-form coefficient along it.

Solid where the bifurcation is supercritical (l1 < 0, or d < 0 for the map), dashed where it is
subcritical, thin dotted where the coefficient is undefined (fold / flip, or unconverged). Ticks on
one side of the curve mark its stable side (fewer unstable modes), taken from the continuation the
curve started from (attrs ``stable_side`` in the first knob at the start point ``start_index``).
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib import patheffects
from matplotlib.figure import Figure

from .. import events

STYLE = {"supercritical": "-", "subcritical": "--"}


def _runs(labels):
    """(start, stop, label) of the maximal runs of equal labels (runs share their end points)."""
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            yield start, min(i + 1, len(labels)), labels[start]
            start = i


def tick_angle(x, y, start: int, side: int) -> float | None:
    """The tick angle (±90°: left / right of the direction of travel) that points from the curve
    y(x) to the side ``side`` (+1: larger y, −1: smaller) at point ``start``; None if unknown.
    The left normal of the tangent (dx, dy) is (−dy, dx), whose y-part is dx; positive axis scales
    keep left and right, so data coordinates decide."""
    if not side or len(x) < 2 or not 0 <= start < len(x):
        return None
    a, b = max(start - 1, 0), min(start + 1, len(x) - 1)
    dx = float(x[b] - x[a])
    return None if dx == 0 else (90.0 if side * dx > 0 else -90.0)


def curve_plane(ax, x, y, criticality, specials=(), color="tab:blue", label=None, ticks=None,
                ticks_label="ticks: stable side") -> None:
    """A curve y(x) styled by ``criticality`` per point; ``specials``: (kind, x, y) marked;
    ``ticks``: the angle of :func:`tick_angle` (ticks on the stable side), None for none."""
    crit = [str(c) for c in criticality]
    effects = [] if ticks is None else [patheffects.withTickedStroke(angle=ticks, spacing=8, length=0.6)]
    for a, b, c in _runs(crit):
        ax.plot(x[a:b], y[a:b], STYLE.get(c, ":"), color=color, lw=1.6, label=label if a == 0 else None,
                path_effects=effects)
    if ticks is not None:
        ax.plot([], [], "-", color=color, lw=1.6, path_effects=effects, label=ticks_label)
    seen = set(ax.get_legend_handles_labels()[1])
    for kind, sx, sy in specials:
        marker, mcolor = events.style(kind)
        name = events.label(kind)
        ax.plot([sx], [sy], marker, color=mcolor, ms=9, ls="none", label=None if name in seen else name)
        seen.add(name)


#: the attributes of a curve that say on which side of it stability lies (:func:`~.curve.stable_side`)
SIDE_ATTRS = ("start_index", "stable_side", "stable_side_unstable")


def side_ticks(x, y, side: dict) -> dict:
    """``curve_plane`` keywords drawing ticks on the stable side of the curve y(x), from a curve's
    :data:`SIDE_ATTRS` (none when unknown); the legend says the stable side, or the side with fewer
    unstable modes."""
    n = int(side.get("stable_side_unstable", 0))
    return {"ticks": tick_angle(x, y, int(side.get("start_index", -1)), int(side.get("stable_side", 0))),
            "ticks_label": "ticks: stable side" if n == 0 else f"ticks: side with fewer unstable modes ({n})"}


def specials_of(ds: xr.Dataset):
    """[(kind, p2, p1)] of a curve dataset's codimension-2 points."""
    p1, p2 = str(ds.attrs["param"]), str(ds.attrs["param2"])
    return [(str(ds["special_kind"].values[i]), float(ds[f"special_{p2}"].values[i]),
             float(ds[f"special_{p1}"].values[i])) for i in range(ds.sizes.get("special", 0))]


def figure(ds: xr.Dataset) -> Figure:
    """Two panels: the curve in the knob plane; frequency and l1 / d / a against p2."""
    p2, kind = str(ds.attrs["param2"]), str(ds.attrs["kind"])
    fig = Figure(figsize=(7.5, 7.5))
    ax, ax_f = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1.6, 1]})
    x, y = ds[p2].values, ds[str(ds.attrs["param"])].values
    curve_plane(ax, x, y, ds["criticality"].values, specials_of(ds), label=f"{events.label(kind)} curve",
                **side_ticks(x, y, ds.attrs))
    ax.set_xlabel(p2)
    ax.set_ylabel(str(ds.attrs["param"]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    x = ds[p2].values
    if np.isfinite(ds["frequency"].values).any():
        unit = "rad/time" if kind == "hopf" else "rad/step"
        ax_f.plot(x, ds["frequency"].values, ".-", color="tab:green", label=f"frequency ({unit})")
    ax_l = ax_f.twinx()
    ax_l.plot(x, ds["l1"].values, ".-", color="tab:red", label={"hopf": "l1", "neimark_sacker": "d"}.get(kind, "a"))
    ax_l.axhline(0.0, color="gray", lw=0.8)
    ax_f.set_xlabel(p2)
    ax_f.set_ylabel("frequency")
    ax_l.set_ylabel("normal-form coefficient (< 0: supercritical)")
    handles = ax_f.get_legend_handles_labels()[0] + ax_l.get_legend_handles_labels()[0]
    ax_f.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="best")
    ax_f.grid(alpha=0.3)
    fig.suptitle(f"{kind.replace('_', '-')} curve in ({p2}, {ds.attrs['param']}): solid supercritical, "
                 "dashed subcritical")
    fig.tight_layout()
    return fig
