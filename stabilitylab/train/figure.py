"""The monitor figure: validation CE and the leading spectral quantities vs training step, every
rule on shared axes, with the stability boundaries drawn (Re λ = 0, |μ| = 1, ε_crit = ε).

Spectral points where the long relaxation reached no fixed point (long-run force residual above
:data:`~.monitor.UNSETTLED`) are drawn as open circles: there J is the Jacobian at a point of the
attractor, not at an equilibrium."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .monitor import UNSETTLED

COLORS = {"ep": "tab:blue", "bptt": "tab:orange"}
LABELS = {"ep": "EP (AsymEP)", "bptt": "BPTT"}
BOUNDARY = dict(color="crimson", ls="--", lw=1.0)


def _lines(ax, ds, var, log=False, label=True, mark_unsettled=False, **kw):
    for rule in ds.rule.values:
        y = ds[var].sel(rule=rule).values
        ok = np.isfinite(y) & ((y > 0) if log else True)
        name = LABELS.get(str(rule), str(rule)) if label else None
        color = COLORS.get(str(rule))
        ax.plot(ds.step.values[ok], y[ok], color=color, label=name, **kw)
        if mark_unsettled:
            bad = ok & ~(ds.force_residual_long.sel(rule=rule).values <= UNSETTLED)
            ax.plot(ds.step.values[bad], y[bad], "o", mfc="white", mec=color, ms=7)
    if log:
        ax.set_yscale("log")


def monitor_figure(ds: xr.Dataset, eps: float, entropy_floor: float | None = None,
                   unigram: float | None = None, title: str = ""):
    """A 2×3 grid of panels; returns the matplotlib Figure (not registered with pyplot, so drawing
    it needs no backend and leaves the caller's one alone)."""
    fig = Figure(figsize=(14, 7.5))
    axes = fig.subplots(2, 3, sharex=True)
    ax = axes[0, 0]
    _lines(ax, ds, "val_ce", marker=".")
    _lines(ax, ds, "train_ce", label=False, ls=":", alpha=0.7)
    if unigram is not None:
        ax.axhline(unigram, color="gray", ls="-.", lw=1, label=f"unigram entropy {unigram:.2f}")
    if entropy_floor is not None:
        ax.axhline(entropy_floor, color="green", ls="-.", lw=1, label=f"entropy floor {entropy_floor:.2f}")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title("val CE (solid), train CE (dotted)")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    _lines(ax, ds, "leading_re_J", mark_unsettled=True, marker=".")
    ax.axhline(0.0, **BOUNDARY, label="Re λ = 0 (continuous-time boundary)")
    ax.set_title("leading Re λ of J (open: no fixed point reached)")
    ax.legend(fontsize=7)

    ax = axes[0, 2]
    _lines(ax, ds, "max_abs_mu", mark_unsettled=True, marker=".")
    ax.axhline(1.0, **BOUNDARY, label="|μ| = 1 (Euler-map boundary)")
    ax.set_title(f"max |μ| of M = I + εJ, ε = {eps:g}")
    ax.legend(fontsize=7)

    ax = axes[1, 0]
    _lines(ax, ds, "force_residual", log=True, marker=".")
    _lines(ax, ds, "force_residual_long", log=True, label=False, ls=":")
    _lines(ax, ds, "val_force_residual_max", log=True, label=False, ls="--", alpha=0.6)
    ax.legend(fontsize=7)
    ax.set_title("force residual ‖F‖/‖z‖: T1 (solid), long run (dotted),\nmax over val set at T1 (dashed)",
                 fontsize=10)
    ax.set_xlabel("training step")

    ax = axes[1, 1]
    _lines(ax, ds, "numerical_abscissa", mark_unsettled=True, marker=".")
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.set_title("numerical abscissa ω(J) = λmax((J+Jᵀ)/2)")
    ax.set_xlabel("training step")

    ax = axes[1, 2]
    _lines(ax, ds, "min_eps_crit", log=True, mark_unsettled=True, marker=".")
    ax.axhline(eps, **BOUNDARY, label=f"training ε = {eps:g} (unstable below)")
    ax.set_title("min ε_crit over the leading modes")
    ax.set_xlabel("training step")
    ax.legend(fontsize=7)
    for a in axes.flat:
        a.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def write_figure(path, ds: xr.Dataset, eps: float, **kwargs) -> None:
    """Draw :func:`monitor_figure` and save it to ``path`` (PNG)."""
    fig = monitor_figure(ds, eps, **kwargs)
    fig.savefig(path, dpi=110)
