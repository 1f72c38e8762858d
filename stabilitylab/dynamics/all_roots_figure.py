"""Figure of an all-fixed-point search: where the roots sit (PCA of the states) and their spectra."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

COLORS = {"stable": "tab:green", "continuous-unstable": "tab:red", "discretisation-only-unstable": "tab:orange"}


def fixed_points_figure(ds: xr.Dataset) -> Figure:
    """:func:`draw_fixed_points` on a figure of its own."""
    fig = Figure(figsize=(11, 4))
    draw_fixed_points(*fig.subplots(1, 2), ds)
    return fig


def draw_fixed_points(ax1, ax2, ds: xr.Dataset) -> None:
    """Left: roots (circles, coloured by verdict) and slow points (crosses) on the two leading
    principal axes of all their states; right: each root's leading eigenvalues of J."""
    Z = np.concatenate([ds["z"].values, ds["slow_z"].values])
    if len(Z) > 1:
        centred = Z - Z.mean(axis=0)
        axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
        P = centred @ axes.T
    else:
        P = np.zeros((len(Z), 2))
    nr = ds.sizes["root"]
    for i in range(nr):
        v = str(ds["verdict"].values[i])
        ax1.scatter(P[i, 0], P[i, 1] if P.shape[1] > 1 else 0, color=COLORS.get(v, "k"), s=30)
        ax1.annotate(str(i), (P[i, 0], P[i, 1] if P.shape[1] > 1 else 0), fontsize=7)
        lam = ds["eig_J"].values[i]
        lam = lam[np.isfinite(lam)]
        ax2.scatter(lam.real, lam.imag, color=COLORS.get(v, "k"), s=12, label=f"root {i}: {v}")
    if ds.sizes["slow"]:
        ax1.scatter(P[nr:, 0], P[nr:, 1] if P.shape[1] > 1 else 0, marker="x", color="k", label="slow points")
        ax1.legend(fontsize=7)
    ax1.set(xlabel="principal axis 1", ylabel="principal axis 2",
            title=f"{nr} fixed point(s), {ds.sizes['slow']} slow point(s) from {ds.sizes['start']} starts")
    ax2.axvline(0, color="k", lw=0.5)
    ax2.set(xlabel="Re λ", ylabel="Im λ", title="rightmost eigenvalues of J at each root")
    if nr <= 12:
        ax2.legend(fontsize=6)
