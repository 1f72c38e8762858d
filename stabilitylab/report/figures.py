"""Figures shared by the CLI and the PDF report (matplotlib, Agg backend)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {"J": "#1f77b4", "M": "#d62728", "stable": "#2ca02c", "unstable": "#d62728",
          "ep": "#ff7f0e", "bptt": "#1f77b4", "boundary": "0.35"}


def spectrum_figure(ds, title: str | None = None):
    """J spectrum in the complex plane (imaginary axis drawn) beside the M spectrum (unit circle)."""
    eps = float(ds.attrs["eps"])
    lam = ds["eig_J"].values
    lam = lam[np.isfinite(lam)]
    mu = ds["eig_M"].values
    mu = mu[np.isfinite(mu)]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.4))
    a.axvline(0, color=COLORS["boundary"], lw=1, ls="--", label="Re λ = 0")
    a.scatter(lam.real, lam.imag, c=np.where(lam.real > 0, COLORS["unstable"], COLORS["J"]), zorder=3,
              label="leading λ of J")
    a.scatter(((mu - 1) / eps).real, ((mu - 1) / eps).imag, marker="x", c=COLORS["M"], zorder=2,
              label="(μ−1)/ε from the M search")
    a.set_xlabel("Re λ")
    a.set_ylabel("Im λ")
    a.set_title("Jacobian J (rightmost eigenvalues)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8, loc="best")
    t = np.linspace(0, 2 * np.pi, 400)
    b.plot(np.cos(t), np.sin(t), color=COLORS["boundary"], lw=1, ls="--", label="|μ| = 1")
    b.scatter(mu.real, mu.imag, c=np.where(np.abs(mu) > 1, COLORS["unstable"], COLORS["M"]), zorder=3,
              label="largest |μ| of M")
    b.set_aspect("equal", adjustable="datalim")
    span = max(np.ptp(mu.real), np.ptp(mu.imag), 1e-3) if mu.size else 1.0
    if mu.size and span < 0.5:  # multipliers crowd near the circle: add a zoomed inset
        ins = b.inset_axes([0.05, 0.05, 0.42, 0.42])
        ins.plot(np.cos(t), np.sin(t), color=COLORS["boundary"], lw=1, ls="--")
        ins.scatter(mu.real, mu.imag, s=12, c=np.where(np.abs(mu) > 1, COLORS["unstable"], COLORS["M"]))
        cx, cy, h = mu.real.mean(), mu.imag.mean(), 0.6 * span + 0.02
        ins.set_xlim(cx - h, cx + h)
        ins.set_ylim(cy - h, cy + h)
        ins.tick_params(labelsize=6)
        ins.set_title("zoom", fontsize=7)
    b.set_xlabel("Re μ")
    b.set_ylabel("Im μ")
    b.set_title(f"Euler map M = I + εJ, ε = {eps:g}")
    b.grid(alpha=0.3)
    b.legend(fontsize=8, loc="best")
    fig.suptitle(title or ds.attrs.get("verdict_text", ""), fontsize=9)
    fig.tight_layout()
    return fig
