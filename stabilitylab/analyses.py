"""The analyses by name: the name each dataset carries in ``attrs["analysis"]``, the library
function that builds it, the command that runs it, and the report section it feeds.

The report tells a stored dataset's section from this name (:func:`stabilitylab.report.kinds.kind_of`).
A new analysis sets ``attrs["analysis"] = NAME`` where its dataset is built and adds one line here.
Only names are held (no imports), so any layer may read the table.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Analysis:
    name: str  # attrs["analysis"] of its datasets
    builds: str  # "module:callable" that builds the dataset
    command: str  # the CLI command that runs it
    section: str | None = None  # the report section it feeds (report.kinds.SECTIONS), if any


ANALYSES = {a.name: a for a in (
    Analysis("relax", "stabilitylab.solvers.result:SolveResult.to_dataset", "relax"),
    Analysis("spectrum", "stabilitylab.spectral.spectrum:spectrum", "spectrum", "spectrum"),
    Analysis("continuation", "stabilitylab.continuation.branch:Branch.to_dataset", "continuation", "continuation"),
    Analysis("curve", "stabilitylab.continuation.curve:curve", "curve"),
    Analysis("stability_map", "stabilitylab.report.stability_map:combine", "curve", "stability_map"),
    Analysis("cycle", "stabilitylab.dynamics.cycle:analyse_cycle", "cycle", "cycle"),
    Analysis("eps-sweep", "stabilitylab.dynamics.sweep:eps_sweep", "eps-sweep", "eps_sweep"),
    Analysis("knockout", "stabilitylab.dynamics.knockout:knockout", "knockout", "knockout"),
    Analysis("gradcheck", "stabilitylab.gradients.study:gradcheck", "gradcheck", "gradients"),
    Analysis("monitor", "stabilitylab.train.record:to_dataset", "train", "drift"),
    Analysis("drift-monitor", "stabilitylab.drift:StabilityMonitor", "python API (sl.StabilityMonitor)"),
    Analysis("sweep-spectrum", "stabilitylab.parallel.points:SpectrumPoint", "sweep spectrum", "drift"),
    Analysis("sweep-batches", "stabilitylab.parallel.points:SpectrumPoint", "sweep batches"),
    Analysis("cycles", "stabilitylab.cycles.map_branch:map_branch", "cycles", "cycles"),  # branch="map"; "flow": flow_branch.branch_dataset
    Analysis("lyapunov", "stabilitylab.dynamics.lyapunov_spectrum:lyapunov_spectrum", "lyapunov", "lyapunov"),
    Analysis("fixed-points", "stabilitylab.dynamics.all_roots:all_fixed_points", "fixed-points", "fixed_points"),
    Analysis("pseudospectra", "stabilitylab.spectral.pseudospectra:pseudospectra", "pseudospectra", "pseudospectra"),
)}
