"""Contour figure of projected pseudospectra, in the λ-plane of J and the μ-plane of M = I + εJ."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def pseudospectra_figure(ds: xr.Dataset) -> Figure:
    """:func:`draw_pseudospectra` on a figure of its own."""
    fig = Figure(figsize=(12, 4.6))
    draw_pseudospectra(*fig.subplots(1, 2), ds)
    return fig


def draw_pseudospectra(ax1, ax2, ds: xr.Dataset) -> None:
    """Left: log10 σ_min(zI − J) contours at the levels δ, Ritz values, Re z = 0, α_δ; right: the
    same data mapped to μ = 1 + ελ, where σ_min(μI − M) = ε σ_min(λI − J), with the unit circle."""
    eps = float(ds.attrs["eps"])
    X, Y = np.meshgrid(ds["real"].values, ds["imag"].values)
    S, levels = ds["sigma_min"].values, np.sort(np.log10(ds["delta"].values))
    lam = ds["eig_J"].values
    for ax, (U, V, W, lv, pts) in zip((ax1, ax2), ((X, Y, S, levels, lam),
                                                   (1 + eps * X, eps * Y, eps * S, levels + np.log10(eps), 1 + eps * lam))):
        cs = ax.contour(U, V, np.log10(np.maximum(W, 1e-300)), levels=lv, cmap="viridis")
        ax.clabel(cs, fmt=lambda v: f"1e{v:.1f}", fontsize=7)
        ax.plot(pts.real, pts.imag, "k.", ms=5, label="Ritz values")
        ax.set(xlim=(U.min(), U.max()), ylim=(V.min(), V.max()))
    ax1.axvline(0, color="r", lw=0.7, label="Re λ = 0")
    for d, a, inside in zip(ds["delta"].values, ds["alpha"].values, ds["alpha_inside"].values):
        if np.isfinite(a):
            ax1.axvline(a, color="0.5", lw=0.5, ls=":" if inside else "--")
    t = np.linspace(0, 2 * np.pi, 400)
    ax2.plot(np.cos(t), np.sin(t), "r", lw=0.7, label="|μ| = 1")
    ax2.set(xlim=(1 + eps * X.min(), 1 + eps * X.max()), ylim=(eps * Y.min(), eps * Y.max()))
    ax1.set(xlabel="Re λ", ylabel="Im λ",
            title=f"projected ε-pseudospectra of J (basis {ds.attrs['ncv']}); dotted: α_δ")
    ax2.set(xlabel="Re μ", ylabel="Im μ", title=f"of M = I + εJ at ε = {eps:g} (levels ×ε)")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
