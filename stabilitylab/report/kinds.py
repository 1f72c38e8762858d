"""What a stored dataset is: the report section it feeds, from its ``analysis`` attribute (the
registry :data:`stabilitylab.analyses.ANALYSES`); stores written before every dataset carried
one are recognised from their dimensions and variables."""
from __future__ import annotations

from pathlib import Path

import xarray as xr

from .. import store
from ..analyses import ANALYSES
from ..errors import StabilityLabError
from .stages import STAGES

BEYOND_TITLES = {"lyapunov": "Lyapunov spectrum of the relaxation", "fixed_points": "All fixed points and slow points",
                 "pseudospectra": "Pseudospectra, distance to instability, Kreiss bounds"}  # report.beyond's pages

#: report sections, in page order
SECTIONS = STAGES  # the battery's stages (report.stages, light for the CLI)
#: sections outside the battery (from datasets of other recipes), after it
EXTRA_SECTIONS = ("stability_map", *BEYOND_TITLES)
TITLES = {"spectrum": "Spectrum of J and of the Euler map M",
          "continuation": "Continuation: bifurcation diagram",
          "stability_map": "Stability map: boundaries in two knobs",
          "cycles": "Cycle branch: the oscillation past the boundary",
          "cycle": "Attractor of the relaxation",
          "eps_sweep": "ε-sweep: step size against the predicted ε_crit",
          "knockout": "Knockouts",
          "drift": "Training drift: EP vs BPTT",
          "gradients": "Gradient-estimator fidelity", **BEYOND_TITLES}
#: the analyses whose datasets the report shows
REPORTED = tuple(name for name, a in ANALYSES.items() if a.section)


def kind_of(ds: xr.Dataset) -> str | None:
    """The section ``ds`` feeds, or None when it is none of the known datasets."""
    analysis = ds.attrs.get("analysis")
    if "sweep_fingerprint" in ds.attrs and analysis == "spectrum":
        analysis = None  # a sweep store written before sweeps were named: its points' analysis
    return ANALYSES[analysis].section if analysis in ANALYSES else _guess(ds)


def _guess(ds: xr.Dataset) -> str | None:
    """The section of a dataset without an ``analysis`` attribute, from its dims and variables."""
    dims = set(ds.dims)
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
            raise StabilityLabError(f"{path} is not a dataset the report knows ({', '.join(REPORTED)})")
        if kind in found:
            raise StabilityLabError(f"{found[kind][0]} and {path} are both {kind} datasets; give one of each")
        found[kind] = (path, ds)
    return {kind: found[kind][1] for kind in SECTIONS + EXTRA_SECTIONS if kind in found}
