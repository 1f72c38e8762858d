"""What a stored dataset is: the report section it feeds, told from its dimensions, variables and
attributes (the datasets of ``spectrum``, ``continuation``, ``cycle``, ``eps-sweep``,
``knockout``, ``gradcheck``, a training run's ``monitor.zarr`` and ``sweep spectrum``)."""
from __future__ import annotations

from pathlib import Path

import xarray as xr

from .. import store
from ..errors import StabilityLabError

#: report sections, in page order
SECTIONS = ("spectrum", "continuation", "cycle", "eps_sweep", "knockout", "drift", "gradients")
#: sections outside the battery (from datasets of other recipes), after it
EXTRA_SECTIONS = ("stability_map",)
TITLES = {"spectrum": "Spectrum of J and of the Euler map M",
          "continuation": "Continuation: bifurcation diagram",
          "stability_map": "Stability map: boundaries in two knobs",
          "cycle": "Attractor of the relaxation",
          "eps_sweep": "ε-sweep: step size against the predicted ε_crit",
          "knockout": "Knockouts",
          "drift": "Training drift: EP vs BPTT",
          "gradients": "Gradient-estimator fidelity"}
_ANALYSES = {"cycle": "cycle", "eps-sweep": "eps_sweep", "knockout": "knockout", "stability_map": "stability_map"}


def kind_of(ds: xr.Dataset) -> str | None:
    """The section ``ds`` feeds, or None when it is none of the known datasets."""
    dims = set(ds.dims)
    analysis = ds.attrs.get("analysis")
    if analysis in _ANALYSES:
        return _ANALYSES[analysis]
    if "estimator" in dims and "cosine" in ds:
        return "gradients"
    if {"rule", "step"} <= dims and "max_abs_mu" in ds:
        return "drift"  # a training run's monitor
    if "point" in dims and "checkpoint" in ds.coords and "max_abs_mu" in ds and len(set(ds["step"].values)) > 1:
        return "drift"  # sweep spectrum over a run's snapshots (not over batches of one)
    if "point" in dims and "n_unstable_J" in ds:
        return "continuation"
    if "min_eps_crit" in ds and ds["eig_J"].dims == ("mode",):
        return "spectrum"
    return None


def load(paths) -> dict[str, xr.Dataset]:
    """``{section: dataset}`` from stored datasets; one dataset per section."""
    found: dict[str, tuple[Path, xr.Dataset]] = {}
    for path in map(Path, paths):
        ds = store.read(path)
        kind = kind_of(ds)
        if kind is None:
            raise StabilityLabError(f"{path} is not a dataset the report knows (spectrum, continuation, cycle, "
                                    "eps-sweep, knockout, gradcheck, training monitor, sweep spectrum)")
        if kind in found:
            raise StabilityLabError(f"{found[kind][0]} and {path} are both {kind} datasets; give one of each")
        found[kind] = (path, ds)
    return {kind: found[kind][1] for kind in SECTIONS + EXTRA_SECTIONS if kind in found}
