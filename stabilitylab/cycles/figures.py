"""Bifurcation diagrams of cycle branches: amplitude against the knob, the fixed point at 0."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

SWEEP_STYLE = {"forward": dict(marker="o", color="C0", label="sweep up"),
               "backward": dict(marker="x", color="C3", label="sweep back down")}


def draw_map_branch(ax, ds: xr.Dataset) -> None:
    """Attractor amplitude per sweep; filled where settled, hollow where still approaching; the
    hysteresis interval shaded."""
    param = str(ds.attrs["param"])
    for direction, style in SWEEP_STYLE.items():
        sel = ds["direction"].values == direction
        p, a, settled = ds[param].values[sel], ds["amplitude"].values[sel], ds["settled"].values[sel] == 1
        order = np.argsort(p)
        ax.plot(p[order], a[order], lw=1, color=style["color"], alpha=0.6)
        ax.scatter(p[settled], a[settled], marker=style["marker"], color=style["color"], label=style["label"], zorder=3)
        if (~settled).any():
            ax.scatter(p[~settled], a[~settled], marker="o", facecolors="none", edgecolors=style["color"],
                       label=f"{style['label']} (not settled)", zorder=3)
    lo, hi = float(ds.attrs.get("hysteresis_lo", np.nan)), float(ds.attrs.get("hysteresis_hi", np.nan))
    if np.isfinite(lo):
        ax.axvspan(lo, hi, color="0.85", zorder=0, label="hysteresis (fixed point and cycle coexist)")
    p0 = float(ds.attrs.get("onset_p0", np.nan))
    if ds.attrs.get("onset_kind") == "soft" and np.isfinite(p0):
        ax.axvline(p0, color="0.4", ls=":", lw=1, label=f"onset {param} ≈ {p0:.4g} (√ fit)")
    ax.set_xlabel(param)
    ax.set_ylabel("amplitude (RMS distance to z*)")
    ax.legend(fontsize=7, loc="upper left")


def draw_map_period(ax, ds: xr.Dataset) -> None:
    """Period of the oscillation (relaxation steps; 1/rotation number) per sweep, where there is one;
    hollow where the attractor had not settled (a period measured on a transient)."""
    param = str(ds.attrs["param"])
    for direction, style in SWEEP_STYLE.items():
        sel = (ds["direction"].values == direction) & np.isfinite(ds["rotation_number"].values)
        p, period = ds[param].values[sel], 1.0 / ds["rotation_number"].values[sel]
        settled = ds["settled"].values[sel] == 1
        order = np.argsort(p)
        ax.plot(p[order], period[order], lw=1, color=style["color"], alpha=0.6)
        ax.scatter(p[settled], period[settled], marker=style["marker"], color=style["color"], label=style["label"])
        if (~settled).any():
            ax.scatter(p[~settled], period[~settled], marker="o", facecolors="none", edgecolors=style["color"],
                       label=f"{style['label']} (not settled)")
    ax.set_xlabel(param)
    ax.set_ylabel("period (relaxation steps) = 1 / rotation number")
    ax.set_xlim(*sorted((float(ds[param].min()), float(ds[param].max()))))
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "no oscillation on the grid", ha="center", va="center", transform=ax.transAxes)


def draw_flow_branch(ax, ds: xr.Dataset, cont: xr.Dataset | None = None) -> None:
    """Orbit amplitude, stable solid and unstable dashed; located events marked; the fixed-point
    branch of ``cont`` on the axis (stable solid, unstable dashed)."""
    param = str(ds.attrs["param"])
    p, a, stable = ds[param].values, ds["amplitude"].values, ds["stable"].values == 1
    for i in range(len(p) - 1):
        ax.plot(p[i:i + 2], a[i:i + 2], color="C0", ls="-" if stable[i] and stable[i + 1] else "--")
    ax.plot([], [], color="C0", label="periodic orbit, stable")
    ax.plot([], [], color="C0", ls="--", label="periodic orbit, unstable")
    for i in range(ds.sizes["special"]):
        s = ds.isel(special=i)
        ax.plot(float(s["special_param"]), float(s["special_amplitude"]), "s", color="C3")
        ax.annotate(str(s["special_kind"].values).replace("_", " "),
                    (float(s["special_param"]), float(s["special_amplitude"])), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    if cont is not None and param in cont.coords:
        q = cont[param].values
        ok = cont["n_unstable_J"].values == 0
        ax.plot(np.where(ok, q, np.nan), np.zeros_like(q), color="k", lw=2, label="fixed point, stable")
        ax.plot(np.where(~ok, q, np.nan), np.zeros_like(q), color="k", lw=2, ls="--", label="fixed point, unstable")
    ax.set_xlabel(param)
    ax.set_ylabel("orbit amplitude")
    ax.legend(fontsize=7, loc="upper left")


def map_branch_figure(ds: xr.Dataset) -> Figure:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    draw_map_branch(left, ds)
    draw_map_period(right, ds)
    fig.suptitle(f"what the relaxation settles on (ε = {ds.attrs['eps']:g})", fontsize=10)
    return fig


def flow_branch_figure(ds: xr.Dataset, cont: xr.Dataset | None = None) -> Figure:
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    draw_flow_branch(fig.add_subplot(), ds, cont)
    fig.suptitle("periodic orbits of the flow from the Hopf point", fontsize=10)
    return fig
