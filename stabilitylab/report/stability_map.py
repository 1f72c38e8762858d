"""The stability map: where a checkpoint's fixed point loses stability in two knobs at a time.

:func:`combine` joins curves of ``stabilitylab curve`` that share their first knob (e.g. the Hopf
curve in (α, c) and the Euler map's Neimark–Sacker curve in (α, ε)) into one dataset
(``analysis = 'stability_map'``): their points on dim ``point`` (``curve`` index, ``p1``, ``p2``,
``criticality``, ``l1``, ``frequency``), their codimension-2 points on dim ``special``, and the
``marker`` (the checkpoint's knob values) with its ``marker_label``. :func:`page` draws one panel
per curve with the checkpoint marked; :func:`sentence` states the finding.
"""
from __future__ import annotations

import json

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .. import events
from ..continuation.curve_figure import SIDE_ATTRS, curve_plane, side_ticks
from ..errors import StabilityLabError
from .text import num



def combine(curves: list[xr.Dataset], marker: dict, marker_label: str = "checkpoint") -> xr.Dataset:
    """One stability-map dataset from curve datasets of one first knob; ``marker``: {knob: value}."""
    params = {str(c.attrs["param"]) for c in curves}
    if len(params) != 1:
        raise StabilityLabError(f"a stability map needs curves in one first knob, got {sorted(params)}")
    p1 = params.pop()
    cols: dict[str, list] = {k: [] for k in ("curve", "p1", "p2", "criticality", "l1", "frequency")}
    sp: dict[str, list] = {k: [] for k in ("curve", "kind", "p1", "p2")}
    for j, c in enumerate(curves):
        p2 = str(c.attrs["param2"])
        cols["curve"] += [j] * c.sizes["point"]
        cols["p1"] += list(c[p1].values)
        cols["p2"] += list(c[p2].values)
        cols["criticality"] += [str(v) for v in c["criticality"].values]
        cols["l1"] += list(c["l1"].values)
        cols["frequency"] += list(c["frequency"].values)
        for i in range(c.sizes["special"]):
            sp["curve"].append(j)
            sp["kind"].append(str(c["special_kind"].values[i]))
            sp["p1"].append(float(c[f"special_{p1}"].values[i]))
            sp["p2"].append(float(c[f"special_{p2}"].values[i]))
    data = {k: ("point", np.array(v, dtype=object if k == "criticality" else None)) for k, v in cols.items()}
    data.update({f"special_{k}": ("special", np.array(v, dtype=object if k == "kind" else float))
                 for k, v in sp.items()})
    attrs = {**curves[0].attrs, "analysis": "stability_map", "schema_version": 1, "param": p1,
             "param2s": json.dumps([str(c.attrs["param2"]) for c in curves]),
             "kinds": json.dumps([str(c.attrs["kind"]) for c in curves]),
             "stable_sides": json.dumps([{k: int(c.attrs[k]) for k in SIDE_ATTRS if k in c.attrs} for c in curves]),
             "commands": json.dumps([str(c.attrs.get("command", "")) for c in curves]),
             "marker": json.dumps({k: float(v) for k, v in marker.items()}), "marker_label": marker_label}
    return xr.Dataset(data, coords={"point": np.arange(len(cols["p1"])), "special": np.arange(len(sp["p1"]))},
                      attrs=attrs)


def _curves(ds: xr.Dataset):
    """[(index, kind, param2, point mask)] of the map's curves."""
    curve = ds["curve"].values.astype(int)
    return [(j, k, p2, curve == j) for j, (k, p2) in
            enumerate(zip(json.loads(ds.attrs["kinds"]), json.loads(ds.attrs["param2s"])))]


def page(ds: xr.Dataset, frame) -> Figure:
    """One panel per curve in (param2, param), solid supercritical / dashed subcritical, ticks on the
    stable side, the checkpoint ★."""
    p1, marker = str(ds.attrs["param"]), json.loads(ds.attrs["marker"])
    curves = _curves(ds)
    fig = frame(f"boundaries of the fixed point's stability in ({', '.join(c[2] for c in curves)}) × {p1}; "
                f"★ = {ds.attrs.get('marker_label', 'checkpoint')}")
    axes = fig.subplots(1, len(curves), squeeze=False, gridspec_kw={"left": 0.07, "right": 0.97, "top": 0.8,
                                                                      "bottom": 0.2, "wspace": 0.25})[0]
    kinds, sk = ds["special_kind"].values, ds["special_curve"].values.astype(int)
    sides = json.loads(ds.attrs.get("stable_sides", "[]")) or [{}] * len(curves)
    for ax, (j, kind, p2, mask) in zip(axes, curves):
        specials = [(str(kinds[i]), float(ds["special_p2"].values[i]), float(ds["special_p1"].values[i]))
                    for i in np.flatnonzero(sk == j)]
        x, y = ds["p2"].values[mask], ds["p1"].values[mask]
        curve_plane(ax, x, y, ds["criticality"].values[mask], specials, label=f"{events.label(kind)} boundary",
                    **side_ticks(x, y, sides[j]))
        if p2 in marker and p1 in marker:
            ax.plot([marker[p2]], [marker[p1]], "*", color="gold", mec="black", ms=16, ls="none",
                    label=ds.attrs.get("marker_label", "checkpoint"))
        ax.set_xlabel(p2)
        ax.set_ylabel(p1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        ax.set_title(f"{events.label(kind)} curve in ({p2}, {p1}): solid supercritical, dashed subcritical",
                     fontsize=9)
    return fig


def sentence(ds: xr.Dataset) -> str:
    """The finding: each boundary's span in the first knob over its range, and where the checkpoint is."""
    p1, marker = str(ds.attrs["param"]), json.loads(ds.attrs["marker"])
    parts = []
    for j, kind, p2, mask in _curves(ds):
        y, x = ds["p1"].values[mask], ds["p2"].values[mask]
        crit = sorted({str(c) for c in ds["criticality"].values[mask] if str(c)})
        parts.append(f"the {events.label(kind)} boundary lies at {p1} = {num(y.min(), 4)} … {num(y.max(), 4)} "
                     f"for {p2} in [{num(x.min(), 3)}, {num(x.max(), 3)}] ({' / '.join(crit) or 'criticality n/a'})")
    where = ""
    if p1 in marker:
        where = f"; ★ marks {ds.attrs.get('marker_label', 'the checkpoint')} ({p1} = {num(marker[p1])})"
    return "Stability map: " + "; ".join(parts) + where + "."
