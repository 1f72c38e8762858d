"""The bifurcation diagram of a branch: knob vs leading Re λ, vs max|μ| and vs ‖z‖.

Each curve is solid where the fixed point is stable for that panel's operator (J: no Re λ > 0;
M and the ‖z‖ panel: no |μ| > 1, i.e. Euler relaxation at the run's ε converges to it) and dashed
where it is unstable. Special points are marked by kind: J events on the Re λ and ‖z‖ panels,
M events on the |μ| and ‖z‖ panels.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import events
from .branch import Branch


def _with_specials(branch: Branch, y, stable, operators, y_of):
    """The curve with the located special points of ``operators`` inserted between their branch
    points (flagged like the point after them), so solid/dashed switch exactly there."""
    xs, ys, flags = [], [], []
    after = {}
    for sp in branch.specials:
        if sp.operator in operators:
            after.setdefault(sp.point, []).append(sp)
    for i, pt in enumerate(branch.points):
        xs.append(pt.param), ys.append(y[i]), flags.append(bool(stable[i]))
        for sp in sorted(after.get(i, []), key=lambda sp: abs(sp.param - pt.param)):
            if i + 1 < len(branch.points):
                xs.append(sp.param), ys.append(y_of(sp)), flags.append(bool(stable[i + 1]))
    return np.array(xs), np.array(ys), np.array(flags)


def _styled(ax, x, y, stable, color, label):
    """Plot y(x) solid on stable runs, dashed on unstable ones (runs share their end points)."""
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or stable[i] != stable[start]:
            seg = slice(start, min(i + 1, len(x)))
            ax.plot(x[seg], y[seg], "-" if stable[start] else "--", color=color,
                    label=label if start == 0 else None)
            start = i
    if len(x) == 1:
        ax.plot(x, y, "o", color=color, label=label)


def _mark(ax, branch: Branch, operators, y_of, seen: set):
    for sp in branch.specials:
        if sp.operator in operators:
            marker, color = events.style(sp.kind)
            name = f"{sp.kind.replace('_', '-')} ({sp.operator})"
            ax.plot([sp.param], [y_of(sp)], marker, color=color, markersize=8, linestyle="none",
                    label=None if name in seen else name)
            seen.add(name)


def figure(branch: Branch, eps: float) -> Figure:
    """A three-panel matplotlib Figure of ``branch`` (ε labels the map panel)."""
    name = branch.param
    lead_J = np.array([pt.eig_J[0].real if len(pt.eig_J) else np.nan for pt in branch.points])
    max_M = np.array([np.abs(pt.eig_M).max() if len(pt.eig_M) else np.nan for pt in branch.points])
    stable_J = branch.column("n_unstable_J") == 0
    stable_M = branch.column("n_unstable_M") == 0
    fig = Figure(figsize=(7.5, 8.5))
    ax_j, ax_m, ax_z = fig.subplots(3, 1, sharex=True)
    _styled(ax_j, *_with_specials(branch, lead_J, stable_J, ("J",), lambda sp: sp.eig.real),
            "tab:blue", "leading Re λ(J)")
    ax_j.axhline(0.0, color="gray", lw=0.8)
    ax_j.set_ylabel("max Re λ (J)")
    _styled(ax_m, *_with_specials(branch, max_M, stable_M, ("M",), lambda sp: abs(sp.eig)),
            "tab:blue", f"max |μ| (M = I + {eps:g} J)")
    ax_m.axhline(1.0, color="gray", lw=0.8)
    ax_m.set_ylabel("max |μ| (M)")
    _styled(ax_z, *_with_specials(branch, branch.column("state_norm"), stable_M, ("M",),
                                  lambda sp: sp.state_norm), "tab:blue", "fixed point ‖z‖")
    ax_z.set_ylabel("‖z*‖")
    ax_z.ticklabel_format(axis="y", useOffset=False)
    ax_z.set_xlabel(name)
    seen: set = set()
    _mark(ax_j, branch, ("J",), lambda sp: sp.eig.real, seen)
    _mark(ax_m, branch, ("M",), lambda sp: abs(sp.eig), seen)
    _mark(ax_z, branch, ("J", "M"), lambda sp: sp.state_norm, seen)
    for ax in (ax_j, ax_m, ax_z):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"continuation in {name}: solid = stable, dashed = unstable")
    fig.tight_layout()
    return fig
