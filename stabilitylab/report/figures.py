"""Figures shared by the CLI and the PDF report: the palette and the complex-plane panels of the
spectrum of J and of the Euler map M = I + εJ. Figures are plain ``matplotlib.figure.Figure``
objects (no pyplot state, no backend choice): ``fig.savefig`` renders them anywhere."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

COLORS = {"J": "#1f77b4", "M": "#d62728", "stable": "#2ca02c", "unstable": "#d62728",
          "ep": "#ff7f0e", "bptt": "#1f77b4", "ep+jacreg": "#2ca02c", "ep-ungated": "#d62728", "boundary": "0.35",
          # attractor kinds
          "fixed_point": "#2ca02c", "limit_cycle": "#9467bd", "quasi_periodic": "#8c564b",
          "chaotic": "#d62728", "diverged": "0.55",
          # gradient estimators (bptt above)
          "implicit": "0.1", "naive": "#8c564b", "aep": "#ff7f0e", "aep_track": "#e377c2"}

#: marker, line style, marker size and line width of each gradient estimator: AEP and tracking AEP
#: often coincide, so AEP is drawn wide and hollow underneath and tracking AEP thin and dashed on top
ESTIMATOR_STYLE = {"bptt": ("s", "-", 5, 1.5), "implicit": ("o", "-", 5, 1.5), "naive": ("v", "-", 5, 1.5),
                   "aep": ("o", "-", 10, 4.0), "aep_track": ("x", "--", 6, 1.2)}

def _finite(values) -> np.ndarray:
    values = np.asarray(values)
    return values[np.isfinite(values)]


def plot_J(ax, ds) -> None:
    """Rightmost eigenvalues of J in the complex plane, the imaginary axis (Re λ = 0) dashed."""
    eps = float(ds.attrs["eps"])
    lam, mu = _finite(ds["eig_J"].values), _finite(ds["eig_M"].values)
    ax.axvline(0, color=COLORS["boundary"], lw=1, ls="--", label="Re λ = 0")
    ax.scatter(lam.real, lam.imag, c=np.where(lam.real > 0, COLORS["unstable"], COLORS["J"]), zorder=3,
               label="leading λ of J")
    ax.scatter(((mu - 1) / eps).real, ((mu - 1) / eps).imag, marker="x", c=COLORS["M"], zorder=2,
               label="(μ−1)/ε from the M search")
    ax.set_xlabel("Re λ (per unit time)")
    ax.set_ylabel("Im λ (rad per unit time)")
    ax.set_title("Jacobian J (rightmost eigenvalues)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def plot_M(ax, ds) -> None:
    """Largest-modulus multipliers of M with the unit circle (those outside ringed), and a zoom
    when they crowd."""
    eps = float(ds.attrs["eps"])
    mu = _finite(ds["eig_M"].values)
    out = np.abs(mu) > 1
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color=COLORS["boundary"], lw=1, ls="--", label="|μ| = 1")
    ax.scatter(mu[~out].real, mu[~out].imag, c=COLORS["M"], zorder=3, label="largest |μ| of M")
    if out.any():
        ax.scatter(mu[out].real, mu[out].imag, c=COLORS["unstable"], edgecolors="k", s=60, zorder=4,
                   label="|μ| > 1 (unstable)")
    ax.set_aspect("equal", adjustable="datalim")
    span = max(np.ptp(mu.real), np.ptp(mu.imag), 1e-3) if mu.size else 1.0
    if mu.size and span < 0.5:  # multipliers crowd near the circle: add a zoomed inset
        ins = ax.inset_axes([0.03, 0.6, 0.34, 0.36])
        ins.plot(np.cos(t), np.sin(t), color=COLORS["boundary"], lw=1, ls="--")
        ins.scatter(mu.real, mu.imag, s=12, c=COLORS["M"], edgecolors=np.where(out, "k", "none"))
        cx, cy, h = mu.real.mean(), mu.imag.mean(), 0.6 * span + 0.02
        ins.set_xlim(cx - h, cx + h)
        ins.set_ylim(cy - h, cy + h)
        ins.tick_params(labelsize=6)
        ins.text(0.03, 0.97, "zoom", fontsize=7, va="top", transform=ins.transAxes)
    ax.set_xlabel("Re μ")
    ax.set_ylabel("Im μ")
    ax.set_title(f"Euler map M = I + εJ, ε = {eps:g}")
    ax.grid(alpha=0.3)
    # the left margin (Re μ < −1, outside the unit disc) holds no multiplier of a map near its
    # boundary (those sit near +1); upper right could hide the very multiplier outside the circle
    ax.legend(fontsize=7, loc="upper left")


def spectrum_figure(ds, title: str | None = None):
    """J spectrum in the complex plane (imaginary axis drawn) beside the M spectrum (unit circle)."""
    fig = Figure(figsize=(10, 4.4))
    a, b = fig.subplots(1, 2)
    plot_J(a, ds)
    plot_M(b, ds)
    fig.suptitle(title or ds.attrs.get("verdict_text", ""), fontsize=9)
    fig.tight_layout()
    return fig
