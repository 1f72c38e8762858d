"""The plain-language verdict: one sentence per available section, composed from its dataset.

E.g. "No stable fixed point at ε = 0.1 (...); the leading complex pair has Re λ < 0, so the loss of
stability is a discretisation effect: ε < 0.063 restores it." and "attention scale α = 0.31 is the
Neimark–Sacker point where stability is lost (|μ| crosses 1 at ε = 0.1)". Numbers are formatted by
:mod:`.text`, so a sentence quotes a dataset's value exactly as the tables do.
"""
from __future__ import annotations


import numpy as np
import xarray as xr

from .. import events, store
from ..spectral.euler import CONTINUOUS_UNSTABLE, DISCRETISATION_ONLY, MARGINAL, is_complex, map_instability_kind, modulus_text
from . import beyond, drift, stability_map
from .text import (ESTIMATOR_NAMES, KIND_NAMES, RULE_NAMES, TARGET_NAMES, eig, knob, knob_label,
                   num, values)

MAX_SPECIALS = 3


def _finite(x) -> np.ndarray:
    x = np.asarray(x)
    return x[np.isfinite(x)]


def spectrum(ds: xr.Dataset) -> str:
    """Stable / discretisation-only / continuous-time instability at the report's ε."""
    eps, crit, mu_max = float(ds.attrs["eps"]), float(ds["min_eps_crit"]), float(ds["max_abs_mu"])
    lam = _finite(ds["eig_J"].values)
    lead = lam[np.argmax(lam.real)]
    what = f"the leading {'complex pair' if is_complex(lead) else 'real mode'} λ = {eig(lead)}"
    if ds.attrs["verdict"] == CONTINUOUS_UNSTABLE:
        text = (f"No stable fixed point at any ε: {what} has Re λ > 0, a continuous-time instability that "
                "no smaller step removes.")
    elif ds.attrs["verdict"] == DISCRETISATION_ONLY:
        mu = _finite(ds["eig_M"].values)
        how = events.label(map_instability_kind(mu[np.argmax(np.abs(mu))]))
        text = (f"No stable fixed point at ε = {eps:g} (max|μ| = {modulus_text(mu_max)} > 1, {how}); {what} has "
                f"Re λ < 0, so the loss of stability is a discretisation effect: ε < {num(crit)} restores it.")
    elif ds.attrs["verdict"] == MARGINAL:
        text = f"Marginal at ε = {eps:g}: {ds.attrs['verdict_text'].split(': marginal, ')[-1]} ({what})."
    else:
        text = (f"Stable fixed point at ε = {eps:g}: max|μ| = {modulus_text(mu_max)} < 1 and {what} has Re λ < 0; "
                f"the relaxation stays stable for ε < {num(crit)}.")
    if not ds.attrs.get("converged", 1):
        return f"Not converged: {ds.attrs.get('not_converged', '')}. No verdict rests on these numbers."
    if not ds.attrs.get("fixed_point_converged", 1):
        text += f" (Caution: the fixed point was not converged, force residual {num(ds.attrs['force_residual'], 2)}.)"
    return text


def continuation(ds: xr.Dataset) -> str:
    """The special points along the branch, or that there are none; where the checkpoint sits."""
    param, eps = str(ds.attrs["param"]), float(ds.attrs["eps"])
    p = ds[param].values
    span = f"{knob(param)} = {num(p[0])} → {num(p[-1])}"
    order = np.argsort(ds["special_point"].values, kind="stable") if ds.sizes.get("special") else []
    kinds = list(ds["special_kind"].values) if len(order) else []
    found = []
    for i in order[:MAX_SPECIALS]:
        kind, op, at = str(kinds[i]), str(ds["special_operator"].values[i]), int(ds["special_point"].values[i])
        unstable = ds[f"n_unstable_{op}"].values
        b, a = int(unstable[at]), int(unstable[min(at + 1, len(unstable) - 1)])
        change = ("where stability is lost" if b == 0 < a else "where stability is regained" if a == 0 < b
                  else f"where the unstable modes go {b} → {a}")
        where = "Re λ crosses 0" if op == "J" else f"|μ| crosses 1 at ε = {eps:g}"
        crit = str(ds["special_criticality"].values[i]) if "special_criticality" in ds else ""
        where += f"; {crit}" if crit else ""
        article = "the" if kinds.count(kind) == 1 else "a"
        found.append(f"{knob_label(param)} = {num(ds['special_param'].values[i])} is {article} "
                     f"{events.label(kind)} point {change} ({where})")
    if found:
        more = len(order) - len(found)
        text = f"Along {span}: " + "; ".join(found) + (f"; and {more} more special points" if more > 0 else "") + "."
    else:
        stable = int(ds["n_unstable_M"].values[0]) == 0
        text = (f"Along {span} the fixed point stays {'stable' if stable else 'unstable'} at ε = {eps:g}: "
                "no bifurcation.")
    own = store.attr_json(ds, "field_params", {}).get(param)
    if own is not None and p.min() <= own <= p.max():
        at = int(np.argmin(np.abs(p - own)))
        side = "stable" if int(ds["n_unstable_M"].values[at]) == 0 else "unstable"
        text += f" The checkpoint itself ({knob(param)} = {num(own)}) is on the {side} side."
    if not ds.attrs.get("reached_end", ds.attrs.get("complete", 1)):
        text += f" (The continuation stopped early: {ds.attrs.get('stop_reason')}.)"
    return text


def _floquet(ds: xr.Dataset) -> str:
    mu = ds["floquet_multiplier"].values
    triv = int(ds.attrs.get("trivial_index", -1))
    rest = np.abs(np.delete(mu, triv) if 0 <= triv < len(mu) else mu)
    rest = _finite(rest)
    if not rest.size:
        return ""
    state = "stable" if rest.max() < 1 else "unstable"
    return f"; Floquet multipliers: a {state} cycle (largest non-trivial |μ| = {num(rest.max(), 4)})"


def cycle(ds: xr.Dataset) -> str:
    """What the long relaxation settles on."""
    kind, eps = str(ds["kind"].item()), float(ds["eps"])
    if kind == "fixed_point":
        last = float(ds["force_residual"].values[-1])
        return (f"A long relaxation at ε = {eps:g} converges to a fixed point (force residual ‖F‖/‖z‖ = "
                f"{num(last, 2)} after {ds.sizes['step'] - 1} steps).")
    if kind == "diverged":
        return f"At ε = {eps:g} the relaxation diverges."
    what = "a limit cycle" if kind == "limit_cycle" else f"a {KIND_NAMES.get(kind, kind)} attractor"
    text = (f"At ε = {eps:g} the relaxation settles on {what}: force-residual floor "
            f"{num(float(ds['residual_floor']), 2)}, oscillating by {num(float(ds['oscillation']), 2)}")
    if kind == "limit_cycle":
        text += f", period {num(float(ds['period']), 4)} steps, amplitude {num(float(ds['amplitude']))}"
    if np.isfinite(float(ds["lyapunov"])):
        text += f", Lyapunov exponent {num(float(ds['lyapunov']), 2)} per step"
        if "lyapunov_per_time" in ds:
            text += f" ({num(float(ds['lyapunov_per_time']), 3)} per unit time)"
    if "floquet_multiplier" in ds:
        text += _floquet(ds)
    return text + "."


def eps_sweep(ds: xr.Dataset) -> str:
    """The sweep's own sentence (derived from its table by :func:`stabilitylab.dynamics.sweep.verdict_text`)."""
    return f"ε-sweep: {ds.attrs['verdict']}."

def knockout(ds: xr.Dataset) -> str:
    """Which scales of the knocked-out component converge, and whether the spectrum agrees."""
    name, target, eps = str(ds.attrs["knob"]), str(ds.attrs["target"]), float(ds.attrs["eps"])
    vals, kinds = ds[name].values, ds["kind"].values.astype(object)
    groups = {}
    for v, k in zip(vals, kinds):
        groups.setdefault(KIND_NAMES.get(k, k), []).append(v)
    parts = "; ".join(f"{k} at {knob(name)} = {values(vs)}" for k, vs in groups.items())
    agree = ((kinds == "fixed_point") == (ds["max_abs_mu"].values < 1)).all()
    return (f"Knocking out {TARGET_NAMES.get(target, target)} at ε = {eps:g}: {parts}; the fixed-point spectrum "
            + ("agrees (max|μ| < 1 exactly where the relaxation converges)." if agree else
               "disagrees somewhere (see the table)."))


def _drift_rule(rule: str, s: xr.Dataset) -> str:
    steps, mu, re = s.step.values, s.max_abs_mu.values, s.leading_re_J.values
    name = RULE_NAMES.get(rule, rule)
    out = [f"{name} moves max|μ| {num(mu[0], 4)} → {num(mu[-1], 4)} by step {steps[-1]}"]
    peak = int(np.argmax(mu))
    if mu[peak] > 1.1 * max(mu[0], mu[-1]):
        out.append(f"peaking at {num(mu[peak], 4)} at step {steps[peak]}")
    over = np.flatnonzero(mu > 1)
    if over.size:
        out.append(f"crossing |μ| = 1 at step {steps[over[0]]}")
    hopf = np.flatnonzero(re > 0)
    if hopf.size:
        out.append(f"Re λ > 0 first at step {steps[hopf[0]]}")
    return ", ".join(out)


def drift_text(ds: xr.Dataset) -> str:
    """Per rule: how far max|μ| moved and when it crossed the boundaries."""
    per = drift.series(ds)
    return (f"Training drift at ε = {drift.eps(ds):g}: "
            + "; ".join(_drift_rule(r, s) for r, s in per.items() if s.sizes["step"]) + ".")


def gradients(ds: xr.Dataset) -> str:
    """Cosine of each estimator with the exact implicit gradient."""
    ref = str(ds.attrs["reference"])
    cos = ds["cosine"].sel(estimator2=ref, group="all")
    parts = [f"{ESTIMATOR_NAMES.get(e, e)} {num(float(cos.sel(estimator=e)), 4)}"
             for e in ds.estimator.values if e != ref]
    return (f"Gradient fidelity (cosine with the exact {ref} gradient, all parameters): " + ", ".join(parts)
            + f" (BPTT unrolls T1 = {ds.attrs['t1']} steps).")


SENTENCES = {"spectrum": spectrum, "continuation": continuation, "cycle": cycle, "eps_sweep": eps_sweep,
             "knockout": knockout, "drift": drift_text, "gradients": gradients,
             "stability_map": stability_map.sentence, **beyond.SENTENCES}


def verdict(sections: dict[str, xr.Dataset]) -> list[str]:
    """One sentence per section present, in page order."""
    return [SENTENCES[kind](ds) for kind, ds in sections.items()]
