"""The report's plot panels, each drawn onto axes it is given (the pages lay them out).

Colours come from :data:`.figures.COLORS`; boundaries (Re λ = 0, |μ| = 1, ε_crit) are dashed grey
or red, unstable parts of a branch dashed.
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from .. import events, store
from . import drift
from .figures import COLORS, ESTIMATOR_STYLE
from .text import ESTIMATOR_NAMES, KIND_NAMES, RULE_NAMES, knob, num

BOUNDARY = dict(color=COLORS["boundary"], ls="--", lw=1)


def _rowmax(a: np.ndarray) -> np.ndarray:
    """Max over the finite entries of each row (NaN for a row without any)."""
    return np.array([r[np.isfinite(r)].max() if np.isfinite(r).any() else np.nan for r in a])


def _styled(ax, x, y, stable, color, label) -> None:
    """y(x) solid where ``stable``, dashed elsewhere (segments share their end points)."""
    cut = np.flatnonzero(np.diff(stable.astype(int))) + 1
    for i, (a, b) in enumerate(zip(np.r_[0, cut], np.r_[cut, len(x)])):
        seg = slice(a, min(b + 1, len(x)))
        ax.plot(x[seg], y[seg], "-" if stable[a] else "--", color=color, marker=".", ms=4,
                label=label if i == 0 else None)


def _legend_kinds(ax, kinds, **kw) -> None:
    handles = [Line2D([], [], marker="o", ls="none", color=COLORS.get(k, "k"), label=KIND_NAMES.get(k, k))
               for k in dict.fromkeys(kinds)]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=7, **kw)


# -- continuation ------------------------------------------------------------------------------
def bifurcation(ax_j, ax_m, ds: xr.Dataset) -> None:
    """Leading Re λ(J) and max|μ|(M) along the branch, special points marked by kind."""
    param, eps = str(ds.attrs["param"]), float(ds.attrs["eps"])
    p = ds[param].values
    lead = _rowmax(ds["eig_J"].values.real)
    mu = _rowmax(np.abs(ds["eig_M"].values))
    _styled(ax_j, p, lead, ds["n_unstable_J"].values == 0, COLORS["J"], "leading Re λ of J")
    _styled(ax_m, p, mu, ds["n_unstable_M"].values == 0, COLORS["M"], f"max |μ| of M = I + εJ, ε = {eps:g}")
    ax_j.axhline(0, **BOUNDARY, label="Re λ = 0 (Hopf boundary)")
    ax_m.axhline(1, **BOUNDARY, label="|μ| = 1 (Euler-map boundary)")
    seen = set()
    for i in range(ds.sizes.get("special", 0)):
        kind, op = str(ds["special_kind"].values[i]), str(ds["special_operator"].values[i])
        marker, color = events.style(kind)
        ax, y = (ax_j, ds["special_eig"].values[i].real) if op == "J" else (ax_m, abs(ds["special_eig"].values[i]))
        label = f"{events.label(kind)} ({op})"
        ax.plot([ds["special_param"].values[i]], [y], marker, color=color, ms=9, ls="none",
                label=None if label in seen else label, zorder=4)
        seen.add(label)
    own = store.attr_json(ds, "field_params", {}).get(param)
    for ax in (ax_j, ax_m):
        if own is not None and p.min() <= own <= p.max():
            ax.axvline(own, color="0.5", ls=":", lw=1, label=f"checkpoint ({knob(param)} = {num(own)})")
        ax.set_xlabel(knob(param))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    ax_j.set_ylabel("max Re λ of J (per unit time)")
    ax_m.set_ylabel("max |μ| of M")
    ax_j.set_title("continuous time: J (solid stable, dashed unstable)")
    ax_m.set_title(f"Euler map at ε = {eps:g}: M (solid stable, dashed unstable)")


# -- attractor ---------------------------------------------------------------------------------
def residual_traces(ax, ds: xr.Dataset) -> None:
    """Force and step residual along the relaxation, the analysed tail shaded."""
    ax.axvspan(float(ds["tail_step"][0]), float(ds["tail_step"][-1]), color="0.92", label="analysed tail")
    ax.semilogy(ds["step"], ds["force_residual"], lw=0.8, color=COLORS["J"], label="force ‖F(z)‖/‖z‖")
    ax.semilogy(ds["step"], ds["step_residual"], lw=0.8, color=COLORS["M"], label="step ‖εF(z)‖/‖z‖")
    ax.set(xlabel="relaxation step", ylabel="relative residual",
           title=f"residuals at ε = {float(ds['eps']):g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")


def phase_portrait(ax, ds: xr.Dataset) -> None:
    """The tail of the trajectory on two random projections."""
    p = ds["tail_projection"].values
    p = p - p.mean(axis=0)
    p = p / (np.abs(p).max() or 1.0)  # the projections are random: only the shape matters
    kind = str(ds["kind"].item())
    ax.plot(p[:, 0], p[:, 1], "-", lw=0.6, color=COLORS.get(kind, "k"))
    ax.plot(p[-1:, 0], p[-1:, 1], "o", ms=4, color="k", label="last state")
    title = f"tail: {KIND_NAMES.get(kind, kind)}"
    if kind == "limit_cycle":
        title += f", period {num(float(ds['period']), 4)} steps"
    ax.set(xlabel="random projection 1 of z (scaled)", ylabel="random projection 2 of z (scaled)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def multipliers(ax, ds: xr.Dataset) -> None:
    """Floquet multipliers of the cycle and the multipliers of M at the fixed point inside."""
    t = np.linspace(0, 2 * np.pi, 300)
    ax.plot(np.cos(t), np.sin(t), **BOUNDARY, label="|μ| = 1")
    for name, marker, color, label in (("floquet_multiplier", "o", COLORS["limit_cycle"], "Floquet multipliers"),
                                       ("eig_M", "x", COLORS["M"], "fixed point: μ of M")):
        if name in ds:
            mu = ds[name].values
            mu = mu[np.isfinite(mu)]
            ax.plot(mu.real, mu.imag, marker, ls="none", color=color, label=label)
    ax.set(aspect="equal", xlabel="Re μ", ylabel="Im μ", title="multipliers")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


# -- ε-sweep -----------------------------------------------------------------------------------
def _eps_axis(ax, ds: xr.Dataset) -> None:
    crit = float(ds["eps_crit"])
    if np.isfinite(crit) and crit > 0:
        ax.axvline(crit, color=COLORS["unstable"], ls="--", lw=1, label=f"predicted ε_crit = {num(crit)}")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ticks = []
    for e in ds["eps"].values:  # label the grid, skipping values too close to the last one labelled
        if not ticks or np.log10(e / ticks[-1]) > 0.06:
            ticks.append(e)
    ax.set_xticks(ticks, [num(e, 2) for e in ticks], fontsize=7, rotation=45)
    ax.set_xlabel("Euler step ε")
    ax.grid(alpha=0.3)


def sweep_floor(ax, ds: xr.Dataset) -> None:
    """Residual floor per ε (band: tail min–max), attractor kind by colour, predicted ε_crit."""
    eps, kinds = ds["eps"].values, list(ds["kind"].values)
    ax.fill_between(eps, ds["residual_min"], ds["residual_max"], color="0.88", label="tail min–max")
    ax.plot(eps, ds["residual_floor"], "-", color="0.3", lw=0.8, label="force-residual floor ‖F‖/‖z‖")
    ax.scatter(eps, ds["residual_floor"], c=[COLORS.get(k, "k") for k in kinds], zorder=3)
    ax.set(yscale="log", ylabel="force residual ‖F‖/‖z‖ (tail)", title="where the relaxation settles")
    _eps_axis(ax, ds)
    _legend_kinds(ax, kinds, loc="upper left")


def sweep_growth(ax, ds: xr.Dataset) -> None:
    """Predicted growth per step ln max|1 + ελ| against the measured Lyapunov exponent."""
    eps = ds["eps"].values
    if "predicted_max_abs_mu" in ds:
        ax.plot(eps, np.log(ds["predicted_max_abs_mu"].values), "-", color=COLORS["M"],
                label="predicted: ln max|1 + ελ| at the fixed point")
    if np.isfinite(ds["lyapunov"].values).any():
        ax.plot(eps, ds["lyapunov"], "o", color="0.2", label="measured Lyapunov exponent")
    ax.axhline(0, **BOUNDARY)
    ax.set(ylabel="growth rate per Euler step", title="spectrum prediction vs measurement")
    _eps_axis(ax, ds)
    ax.legend(fontsize=7, loc="upper left")


# -- knockout ----------------------------------------------------------------------------------
def knockout_bars(ax_floor, ax_mu, ds: xr.Dataset) -> None:
    """Residual floor (bar: oscillation) and max|μ| at the fixed point, per knob value."""
    name = str(ds.attrs["knob"])
    x = np.arange(ds.sizes[name])
    kinds = list(ds["kind"].values)
    colors = [COLORS.get(k, "k") for k in kinds]
    ax_floor.bar(x, ds["residual_floor"], yerr=ds["oscillation"].values / 2, color=colors, capsize=3)
    ax_floor.set(yscale="log", ylabel="force-residual floor ‖F‖/‖z‖", title="attractor per value")
    _legend_kinds(ax_floor, kinds, loc="upper right")
    ax_mu.bar(x, ds["max_abs_mu"], color=colors)
    ax_mu.axhline(1, **BOUNDARY, label="|μ| = 1")
    ax_mu.set(ylabel="max |μ| of M at the fixed point", title=f"fixed-point stability at ε = {float(ds.attrs['eps']):g}")
    lo = np.nanmin(ds["max_abs_mu"].values) if np.isfinite(ds["max_abs_mu"].values).any() else 0.0
    ax_mu.set_ylim(min(0.9 * lo, 0.95), None)
    ax_mu.legend(fontsize=7, loc="upper right")
    for ax in (ax_floor, ax_mu):
        ax.set_xticks(x, [num(v) for v in ds[name].values])
        ax.set_xlabel(knob(name))
        ax.grid(alpha=0.3, axis="y")


# -- training drift ----------------------------------------------------------------------------
#: (variable, title, boundary value or "eps" for the training ε, its label, log scale when it spans decades)
DRIFT_PANELS = (("max_abs_mu", "max |μ| of M", 1.0, "|μ| = 1 (Euler-map boundary)", False),
                ("leading_re_J", "leading Re λ of J", 0.0, "Re λ = 0 (Hopf boundary)", False),
                ("min_eps_crit", "min ε_crit", "eps", "training ε (Euler-unstable below)", True),
                ("val_ce", "validation cross-entropy (nats/char)", None, "", False),
                ("force_residual", "force residual ‖F‖/‖z‖ after T1 steps", None, "", True),
                ("numerical_abscissa", "numerical abscissa ω(J)", 0.0, "ω = 0 (no transient growth below)", False),
                ("cos_ep_bptt", "cosine of the EP and BPTT gradients", None, "", False))


def drift_panels(ds: xr.Dataset) -> list[tuple]:
    """The panels :func:`drift_panel` can draw for ``ds`` (variables it has)."""
    per = drift.series(ds)
    return [p for p in DRIFT_PANELS if any(p[0] in s and np.isfinite(s[p[0]].values).any() for s in per.values())]


def drift_panel(ax, ds: xr.Dataset, panel: tuple) -> None:
    """One quantity against the training step, one line per rule, its boundary dashed."""
    var, title, boundary, label, log = panel
    lines = {rule: (s.step.values, s[var].values) for rule, s in drift.series(ds).items() if var in s}
    y = np.concatenate([v[np.isfinite(v)] for _, v in lines.values()]) if lines else np.zeros(0)
    log = log and y.size > 0 and y.min() > 0 and y.max() / y.min() > 20
    for rule, (x, v) in lines.items():
        ok = np.isfinite(v) & ((v > 0) if log else True)
        ax.plot(x[ok], v[ok], "o-", ms=3, color=COLORS.get(rule, "0.3"), label=RULE_NAMES.get(rule, rule))
    for rule, s in drift.series(ds).items():
        for step, style, what in ((drift.crossing_step(s), ":", "crosses the boundary"),
                                  (drift.explosion_step(s), "-.", "val CE explodes")):
            if step is not None:
                ax.axvline(step, color=COLORS.get(rule, "0.3"), ls=style, lw=1,
                           label=f"{RULE_NAMES.get(rule, rule)} {what} (step {step})")
    if boundary is not None:
        value = drift.eps(ds) if boundary == "eps" else boundary
        ax.axhline(value, color=COLORS["unstable"] if boundary == "eps" else COLORS["boundary"], ls="--", lw=1,
                   label=label.replace("training ε", f"training ε = {value:g}"))
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="training step", title=title)
    ax.grid(alpha=0.3)
    if var == DRIFT_PANELS[0][0]:  # one legend for the page (lanes, markers), on the first panel
        ax.legend(fontsize=6, framealpha=0.6)


# -- gradient fidelity -------------------------------------------------------------------------
def _estimator_style(e: str) -> dict:
    """Line keywords of estimator ``e`` (:data:`~.figures.ESTIMATOR_STYLE`): a wide one is drawn
    hollow and translucent underneath, so a coinciding estimator stays visible on top."""
    marker, _, size, width = ESTIMATOR_STYLE.get(e, ("o", "-", 5, 1.5))
    wide = width > 2
    return dict(marker=marker, ms=size, lw=width, alpha=0.45 if wide else 1.0, mfc="none" if wide else None,
                zorder=1 if wide else 2, color=COLORS.get(e, "k"))


def fidelity_t2(ax, ds: xr.Dataset) -> None:
    """EP variants' cosine with the exact gradient against the nudge length T2, at each β."""
    ref = str(ds.attrs["reference"])
    for v in ds.variant.values:
        for b, style in zip(ds.beta.values, ("-", "--", ":", "-.")):
            ax.plot(ds.t2.values, ds["sweep_cosine"].sel(variant=v, beta=b, group="all"), style,
                    **_estimator_style(v), label=f"{ESTIMATOR_NAMES.get(v, v)}, β = {b:g}")
    ax.set_xscale("log")
    ax.set_xticks(ds.t2.values, [str(t) for t in ds.t2.values])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="nudged-phase length T2 (Euler steps)", ylabel=f"cosine vs {ref}",
           title="EP fidelity vs nudge length")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def fidelity_asym(ax, ds: xr.Dataset) -> None:
    """Each estimator's cosine with the exact gradient against the asymmetry r of F_r."""
    ref = str(ds.attrs["reference"])
    for e in ds.estimator.values:
        if e != ref:
            ax.plot(ds.asym.values, ds["asym_cosine"].sel(estimator=e, group="all"),
                    ESTIMATOR_STYLE.get(e, ("o", "-"))[1], **_estimator_style(e), label=ESTIMATOR_NAMES.get(e, e))
    ax.set(xlabel="asymmetry r   (F_r = (1 − r) F_conservative + r F_thick)", ylabel=f"cosine vs {ref}",
           title="fidelity vs asymmetry of the Jacobian")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
