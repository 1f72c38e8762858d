"""The report's tables: rows of formatted strings built from each dataset, and one way to draw them."""
from __future__ import annotations

import textwrap

import numpy as np
import xarray as xr

from .. import events
from ..spectral.euler import eps_crit
from .figures import COLORS
from .text import ESTIMATOR_NAMES, KIND_NAMES, eig, knob, num

MAX_ROWS = 12
ROW_INCHES = 0.2  # row height of a table that fits its axes (rows shrink when it does not)


def draw(ax, columns, rows, title: str = "", colors=None, widths=None, fontsize: float = 8,
         align: str = "right", empty: str = "(none)") -> None:
    """``rows`` (lists of strings) as a table filling the top of ``ax`` (no header row when
    ``columns`` is None); ``colors`` per row; ``empty`` is shown when there are no rows."""
    ax.axis("off")
    if title:
        ax.set_title(textwrap.fill(title, 140), loc="left", fontsize=9, fontweight="bold")
    if not rows:
        ax.text(0, 0.9, empty, fontsize=fontsize, transform=ax.transAxes, va="top")
        return
    header = columns is not None
    height = min(1.0, (len(rows) + header) * ROW_INCHES / (ax.get_position().height * ax.figure.get_figheight()))
    tab = ax.table(cellText=rows, colLabels=columns, cellLoc=align, colLoc=align, colWidths=widths,
                   bbox=(0, 1 - height, 1, height))
    tab.auto_set_font_size(False)
    tab.set_fontsize(fontsize)
    for (r, _), cell in tab.get_celld().items():
        cell.set_edgecolor("0.8")
        if header and r == 0:
            cell.set_facecolor("0.92")
            cell.get_text().set_fontweight("bold")
        elif colors is not None and colors[r - header]:
            cell.get_text().set_color(colors[r - header])


def _status(lam: complex, eps: float) -> tuple[str, str | None]:
    if lam.real > 0:
        return "unstable (Re λ > 0)", COLORS["unstable"]
    if abs(1 + eps * lam) > 1:
        return "Euler-unstable (|μ| > 1)", COLORS["unstable"]
    return "stable", None


def eps_crit_rows(ds: xr.Dataset):
    """One row per mode (a complex pair once): λ, μ = 1 + ελ, |μ|, ε_crit, status; modes that
    only the largest-|μ| search of M found (stiff, ελ < −2) are marked 'M search'."""
    eps = float(ds.attrs["eps"])
    lam_J = ds["eig_J"].values
    lam_J = lam_J[np.isfinite(lam_J) & (lam_J.imag >= 0)]
    lam_M = ds["lambda_of_M"].values
    lam_M = lam_M[np.isfinite(lam_M) & (lam_M.imag >= 0)]
    extra = [x for x in lam_M if np.abs(lam_J - x).min(initial=np.inf) > 1e-6 * max(1.0, abs(x))]
    rows, colors = [], []
    for src, lams in (("J search", lam_J), ("M search", extra)):
        for lam in lams[:MAX_ROWS]:
            status, color = _status(complex(lam), eps)
            pair = abs(lam.imag) > 1e-8 * max(abs(lam), 1.0)
            rows.append([eig(lam, 4), "complex pair" if pair else "real", eig(1 + eps * lam, 4),
                         num(abs(1 + eps * lam), 5), num(float(eps_crit(lam))), status, src])
            colors.append(color)
    columns = ["λ of J", "kind", f"μ = 1 + ελ (ε = {eps:g})", "|μ|", "ε_crit of mode", "status", "found by"]
    return columns, rows, colors


def special_rows(ds: xr.Dataset):
    """The located special points of a branch, in branch order."""
    param, eps = str(ds.attrs["param"]), float(ds.attrs["eps"])
    rows = []
    for i in np.argsort(ds["special_point"].values, kind="stable"):
        op = str(ds["special_operator"].values[i])
        freq = float(ds["special_frequency"].values[i])
        rows.append([events.label(str(ds["special_kind"].values[i])),
                     "J (Re λ = 0)" if op == "J" else f"M (|μ| = 1, ε = {eps:g})",
                     num(float(ds["special_param"].values[i]), 6), eig(ds["special_eig"].values[i], 5),
                     f"{num(freq, 4)} {'rad/time' if op == 'J' else 'rad/step'}",
                     num(float(ds["special_precision"].values[i]), 2), *_criticality(ds, i)])
    return ["kind", "operator", knob(param), "eigenvalue (λ or μ)", "frequency",
            "bracket width", "l1 / d / a", "criticality"], rows[:MAX_ROWS]


def _criticality(ds: xr.Dataset, i: int) -> list:
    """Normal-form coefficient and criticality of special point i ('–' in stores without them)."""
    if "special_l1" not in ds:
        return ["–", "–"]
    return [num(float(ds["special_l1"].values[i]), 4), str(ds["special_criticality"].values[i]) or "–"]


def attractor_rows(ds: xr.Dataset):
    """The attractor's evidence as quantity/value rows."""
    def val(name, digits=3):
        return num(float(ds[name]), digits)

    periodic = np.isfinite(float(ds["period"]))  # a fixed point or a chaotic run has no period to return after
    rows = [["kind", KIND_NAMES.get(str(ds["kind"].item()), "?")]]  # the evidence: a note beside the table
    if periodic:
        rows.append(["period (Euler steps)", val("period", 8)])
    rows += [["amplitude (RMS radius of the tail)", val("amplitude")],
             ["Lyapunov exponent (per step)", val("lyapunov")]]
    if "lyapunov_per_time" in ds:
        rows.append(["Lyapunov exponent (per unit time, per step / ε)", val("lyapunov_per_time", 4)])
    rows += [["force-residual floor ‖F‖/‖z‖ (tail mean; at the stop if certified)", val("residual_floor")],
             ["oscillation of ‖F‖/‖z‖ (tail max − min)", val("oscillation")],
             ["step-residual floor ‖εF‖/‖z‖", val("step_residual_floor")]]
    if periodic:
        rows.append(["return error after one period", val("return_error")])
    if "max_abs_mu" in ds:
        rows.append(["max|μ| at the nearby fixed point", val("max_abs_mu", 4)])
    return ["quantity", "value"], rows


def multiplier_rows(ds: xr.Dataset):
    """(title, columns, rows): the Floquet multipliers of a cycle, else the multipliers of M at the
    fixed point; a complex pair once."""
    floquet = "floquet_multiplier" in ds
    name = "floquet_multiplier" if floquet else "eig_M"
    triv = int(ds.attrs.get("trivial_index", -1)) if floquet else -1
    rows = [[eig(m, 5), num(abs(m), 5), "trivial (phase)" if i == triv else ("unstable" if abs(m) > 1 else "stable")]
            for i, m in enumerate(ds[name].values if name in ds else []) if np.isfinite(m) and m.imag >= 0]
    title = "Floquet multipliers of the cycle" if floquet else "multipliers of M at the fixed point (a pair once)"
    return title, ["μ", "|μ|", ""], rows[:MAX_ROWS]


def circle_note(ds: xr.Dataset) -> str:
    """On an invariant circle (a non-integer period) the multipliers over P = round(k·period) steps
    are approximate — the orbit does not close after P steps, and the trivial multiplier's distance
    from 1 is their error scale; the rotation number 1/period and the transverse rate ln|μ|/P of
    the leading non-trivial multiplier are well defined. The sentence saying so ('' for a closed
    cycle or no Floquet data)."""
    period = float(ds["period"]) if "period" in ds else float("nan")
    if "floquet_multiplier" not in ds or not np.isfinite(period) or abs(period - round(period)) <= 1e-3:
        return ""
    steps = int(ds["floquet_steps"]) if "floquet_steps" in ds else int(round(period))
    triv = int(ds.attrs.get("trivial_index", -1))
    mu = ds["floquet_multiplier"].values
    rest = np.abs(np.delete(mu, triv) if 0 <= triv < len(mu) else mu)
    rest = rest[np.isfinite(rest)]
    error = abs(mu[triv] - 1) if 0 <= triv < len(mu) else float("nan")
    text = (f"The period {num(period, 6)} is not an integer: the attractor is an invariant circle, and these "
            f"multipliers, of the map over {steps} steps along an orbit that does not close there, are "
            f"approximate (to about {num(error, 2)}, the trivial multiplier's distance from 1). Well defined: "
            f"the rotation number 1/period = {num(1 / period, 5)} turns per step")
    if rest.size:
        text += f" and the transverse rate ln|μ|/{steps} = {num(np.log(rest.max()) / steps, 3)} per step"
    return text + "."


def sweep_rows(ds: xr.Dataset):
    """Per ε: attractor kind, floors, period, predicted max|μ|."""
    pred = ds["predicted_max_abs_mu"].values if "predicted_max_abs_mu" in ds else np.full(ds.sizes["eps"], np.nan)
    rows, colors = [], []
    for i, e in enumerate(ds["eps"].values):
        kind = str(ds["kind"].values[i])
        rows.append([num(e, 4), KIND_NAMES.get(kind, kind), num(ds["residual_floor"].values[i], 2),
                     num(ds["oscillation"].values[i], 2), num(ds["step_residual_floor"].values[i], 2),
                     num(ds["period"].values[i], 4), num(pred[i], 4)])
        colors.append(None if kind == "fixed_point" else COLORS["unstable"])
    return ["ε", "attractor", "force-res. floor", "oscillation", "step-res. floor", "period (steps)",
            "predicted max|μ|"], rows, colors


def knockout_rows(ds: xr.Dataset):
    """Per knob value: attractor, floors, period, leading λ of J and max|μ| at the fixed point."""
    name = str(ds.attrs["knob"])
    rows, colors = [], []
    for i, v in enumerate(ds[name].values):
        kind = str(ds["kind"].values[i])
        lam = ds["eig_J"].values[i]
        lam = lam[np.isfinite(lam)]
        rows.append([num(v), KIND_NAMES.get(kind, kind), num(ds["residual_floor"].values[i], 2),
                     num(ds["oscillation"].values[i], 2), num(ds["period"].values[i], 4),
                     eig(lam[np.argmax(lam.real)], 4) if lam.size else "–", num(ds["max_abs_mu"].values[i], 4)])
        colors.append(None if kind == "fixed_point" else COLORS["unstable"])
    return [knob(name), "attractor", "force-res. floor", "oscillation", "period (steps)", "leading λ of J",
            "max|μ| of M"], rows, colors


def gradient_rows(ds: xr.Dataset):
    """Per estimator: agreement with the exact gradient and with BPTT, convergence, cost."""
    ref = str(ds.attrs["reference"])
    rows = []
    for e in ds.estimator.values:
        def at(var, **sel):
            return float(ds[var].sel(estimator=e, **sel))

        rows.append([ESTIMATOR_NAMES.get(e, e), num(at("cosine", estimator2=ref, group="all"), 5),
                     num(at("norm_ratio", estimator2=ref, group="all"), 4),
                     num(at("cosine", estimator2="bptt", group="all"), 5), num(at("free_force_residual"), 2),
                     num(at("adjoint_residual"), 2), num(at("cost"), 4)])
    return ["estimator", f"cos vs {ref}", f"|g|/|g_{ref}|", "cos vs BPTT", "free force res.",
            "adjoint res.", "cost (fwd passes)"], rows
