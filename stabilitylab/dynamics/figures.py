"""Figures of the dynamics analyses (matplotlib ``Figure`` objects, no pyplot state)."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

COLORS = {"fixed_point": "tab:green", "limit_cycle": "tab:orange", "quasi_periodic": "tab:purple",
          "chaotic": "tab:red", "diverged": "tab:gray"}


def _legend_kinds(ax, kinds) -> None:
    for kind in dict.fromkeys(kinds):
        ax.scatter([], [], color=COLORS.get(kind, "k"), label=kind.replace("_", " "))
    ax.legend(fontsize=7)


def cycle_figure(ds: xr.Dataset) -> Figure:
    """Residual traces (tail shaded), tail phase portrait, multipliers on the unit circle."""
    fig = Figure(figsize=(13, 3.8))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.semilogy(ds["step"], ds["force_residual"], lw=0.8, label="force ||F||/||z||")
    ax1.semilogy(ds["step"], ds["step_residual"], lw=0.8, label="step ||εF||/||z||")
    ax1.axvspan(float(ds["tail_step"][0]), float(ds["tail_step"][-1]), color="0.9", label="tail")
    ax1.set(xlabel="relaxation step", ylabel="residual", title=f"{ds['kind'].item()} at ε={float(ds['eps']):g}")
    ax1.legend(fontsize=7)
    p = ds["tail_projection"].values
    ax2.plot(p[:, 0], p[:, 1], ".-", ms=2, lw=0.4)
    period = float(ds["period"])
    ax2.set(xlabel="projection 1", ylabel="projection 2",
            title=(f"tail: period {period:.4g} steps, " if np.isfinite(period) else "tail: ")
            + f"amplitude {float(ds['amplitude']):.3g}")
    t = np.linspace(0, 2 * np.pi, 200)
    ax3.plot(np.cos(t), np.sin(t), "k", lw=0.6)
    for name, marker, label in (("floquet_multiplier", "o", "Floquet multipliers"),
                                ("eig_M", "x", "fixed point: eig of M")):
        if name in ds:
            mu = ds[name].values
            ax3.plot(mu.real, mu.imag, marker, ls="none", label=label)
    ax3.set(aspect="equal", xlabel="Re μ", ylabel="Im μ", title="multipliers")
    if ax3.get_legend_handles_labels()[0]:  # nothing to label without a cycle and a spectrum
        ax3.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sweep_figure(ds: xr.Dataset, log: bool = False) -> Figure:
    """ε vs residual floor (band: tail min–max) with ε_crit marked; λ vs ln max|1 + ελ|."""
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    eps, kinds = ds["eps"].values, list(ds["kind"].values)
    ax1.fill_between(eps, ds["residual_min"], ds["residual_max"], color="0.85", label="force residual tail min–max")
    ax1.plot(eps, ds["residual_floor"], "k-", lw=0.8, label="force residual floor")
    ax1.plot(eps, ds["step_residual_floor"], "k:", lw=0.8, label="step residual floor")
    ax1.scatter(eps, ds["residual_floor"], c=[COLORS.get(k, "k") for k in kinds], zorder=3)
    ax2.plot(eps, ds["lyapunov"], "o-", label="measured Lyapunov exponent λ")
    if "predicted_max_abs_mu" in ds:
        ax2.plot(eps, np.log(ds["predicted_max_abs_mu"]), "--", label="ln max|1 + ελ| (fixed point)")
    ax2.axhline(0, color="k", lw=0.5)
    crit = float(ds["eps_crit"])
    for ax in (ax1, ax2):
        if np.isfinite(crit) and crit > 0:
            ax.axvline(crit, color="tab:red", ls="--", lw=1, label=f"ε_crit = {crit:.4g}")
        ax.set_xscale("log" if log else "linear")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("ε")
    ax1.set(yscale="log", ylabel="residual", title="relaxation floor vs step size")
    ax2.set(ylabel="growth per step", title="Lyapunov exponent vs spectrum prediction")
    _legend_kinds(ax1, kinds)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def knockout_figure(ds: xr.Dataset, dim: str) -> Figure:
    """Bars per knob value: residual floor (error bar: oscillation), and max|μ| at the fixed point."""
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    labels = [f"{v:g}" for v in ds[dim].values]
    x = np.arange(len(labels))
    colors = [COLORS.get(k, "k") for k in ds["kind"].values]
    ax1.bar(x, ds["residual_floor"], yerr=ds["oscillation"] / 2, color=colors, capsize=3)
    ax1.set(yscale="log", ylabel="force residual floor (bar: oscillation)", title="attractor per value")
    _legend_kinds(ax1, ds["kind"].values)
    ax2.bar(x, ds["max_abs_mu"], color=colors)
    ax2.axhline(1, color="k", lw=0.8)
    ax2.set(ylabel="max |μ| of M at the fixed point", title="fixed-point stability")
    for ax in (ax1, ax2):
        ax.set_xticks(x, labels)
        ax.set_xlabel(dim)
    fig.tight_layout()
    return fig
