"""Figure of a Lyapunov spectrum: the running estimates (convergence) and the final exponents."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def lyapunov_figure(ds: xr.Dataset) -> Figure:
    """:func:`draw_lyapunov` on a figure of its own."""
    fig = Figure(figsize=(11, 3.8))
    draw_lyapunov(*fig.subplots(1, 2), ds)
    return fig


def draw_lyapunov(ax1, ax2, ds: xr.Dataset) -> None:
    """Left: running estimate of every exponent per unit time against counted steps (per ε for a
    sweep); right: the exponents with their uncertainty, and the Kaplan–Yorke dimension."""
    runs = [ds.sel(eps=e) for e in ds["eps"].values] if "eps" in ds.dims else [ds]
    for run in runs:
        h = float(run["eps"]) if "eps" in run.coords else float(ds.attrs["h"])
        tag = f"ε={h:g} " if len(runs) > 1 else ""
        for i in run["mode"].values:
            ax1.plot(run["step"], run["convergence"].sel(mode=i) / h, lw=0.8, label=f"{tag}λ{i + 1}")
        ax2.errorbar(run["mode"] + 1, run["lyapunov"] / h, yerr=run["uncertainty"] / h, fmt="o", ms=4,
                     capsize=3, label=f"{tag}D_KY = {float(run['kaplan_yorke']):.3g}"
                     + ("" if run["kaplan_yorke"].attrs.get("determined", 1) else " (lower bound)"))
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set(xlabel="counted step", ylabel="running estimate (per unit time)", title="convergence")
    ax1.legend(fontsize=6, ncol=2)
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set(xlabel="exponent index", ylabel="λ per unit time (per step / h)",
            title=f"Lyapunov spectrum ({ds.attrs['method']}, {ds.attrs['orbits']} orbit(s) × {ds.attrs['steps']} steps)")
    ax2.set_xticks(np.arange(1, ds.sizes["mode"] + 1))
    ax2.legend(fontsize=7)
