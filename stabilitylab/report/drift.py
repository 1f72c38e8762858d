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
    """``{rule: Dataset on step}`` (steps with a measured max|μ| only, ascending)."""
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
    order = sorted(out, key=lambda r: (r != "ep", r != "bptt", r))  # EP first, as the trainer does
    return {r: out[r].isel(step=np.flatnonzero(np.isfinite(out[r].max_abs_mu.values))) for r in order}


def eps(ds: xr.Dataset) -> float:
    """The training ε the spectra were measured at."""
    return float(ds.attrs["eps"])
