"""Training drift in one layout: per training rule, the spectral quantities against the step.

Two stored sources say how the operator moved during training: a run's ``monitor.zarr`` (dims
``rule`` × ``step``, measured by the trainer) and a ``sweep spectrum`` over the run's snapshots
(dim ``point`` with ``rule`` and ``step`` coordinates). :func:`series` reads either as
``{rule: Dataset on step}`` with ``leading_re_J``, ``max_abs_mu``, ``min_eps_crit`` and, when
measured, ``val_ce``, ``force_residual``, ``numerical_abscissa`` and ``cos_ep_bptt`` (both sources
use the glossary's names; a monitor written before it did is renamed on reading).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..train.record import RENAMED

SPECTRAL = ("leading_re_J", "max_abs_mu", "min_eps_crit", "numerical_abscissa")
_MONITOR_NAMES = (*SPECTRAL, "val_ce", "force_residual", "cos_ep_bptt")


def series(ds: xr.Dataset) -> dict[str, xr.Dataset]:
    """``{rule: Dataset on step}`` (steps with a measured max|μ| only, ascending; from snapshots, a
    lane without its own step 0 starts from the shared step-0 snapshot)."""
    if "rule" in ds.dims:
        ds = ds.rename({old: new for old, new in RENAMED.items() if old in ds})
        out = {str(r): ds[[v for v in _MONITOR_NAMES if v in ds]].sel(rule=r).drop_vars("rule")
               for r in ds.rule.values}
    else:
        ok = ds.status.values.astype(object) == "ok" if "status" in ds else np.ones(ds.sizes["point"], bool)
        sub = ds[[v for v in SPECTRAL if v in ds]].isel(point=np.flatnonzero(ok))
        rules = sub.rule.values.astype(object)
        out = {str(r): sub.isel(point=np.flatnonzero(rules == r)).swap_dims(point="step")
               .drop_vars([c for c in sub.coords if c != "step"]).sortby("step") for r in dict.fromkeys(rules)}
        starts = [s.sel(step=[0]) for s in out.values() if 0 in s.step.values]
        if starts:  # the lanes of one comparison share their step-0 snapshot (computed once)
            out = {r: s if 0 in s.step.values else xr.concat([starts[0], s], "step") for r, s in out.items()}
    order = sorted(out, key=lambda r: (r != "ep", r != "bptt", r))  # EP first, as the trainer does
    return {r: out[r].isel(step=np.flatnonzero(np.isfinite(out[r].max_abs_mu.values))) for r in order}


#: a loss explosion: val CE this many nats above its best so far
EXPLOSION_NATS = 0.5


def crossing_step(s: xr.Dataset) -> int | None:
    """First step of one rule's series past the stability boundary (max|μ| > 1 or Re λ > 0)."""
    past = s.max_abs_mu.values > 1
    if "leading_re_J" in s:
        past |= s.leading_re_J.values > 0
    return int(s.step.values[past.argmax()]) if past.any() else None


def explosion_step(s: xr.Dataset) -> int | None:
    """First step whose val CE exceeds the best val CE before it by :data:`EXPLOSION_NATS`."""
    if "val_ce" not in s:
        return None
    ce = s.val_ce.values
    best = np.fmin.accumulate(np.where(np.isfinite(ce), ce, np.inf))
    blown = np.isfinite(ce) & (ce > np.r_[np.inf, best[:-1]] + EXPLOSION_NATS)
    return int(s.step.values[blown.argmax()]) if blown.any() else None


def eps(ds: xr.Dataset) -> float:
    """The training ε the spectra were measured at."""
    return float(ds.attrs["eps"])
