"""stabilitylab: stability analysis of equilibrium (fixed-point) neural networks.

Public entry points: :class:`Field` (the contract every analysis works on), :func:`load` (a
checkpoint as a Field), :func:`save`, the analyses, and :class:`StabilityMonitor` (the drift
monitor for a user's own training loop), imported lazily. Every quantity has one
name across datasets, monitors and tables (``docs/GLOSSARY.md``): ``force_residual`` = ‖F‖/‖z‖,
``step_residual`` = ‖εF‖/‖z‖, ``leading_re_J``, ``max_abs_mu``, ``min_eps_crit``,
``numerical_abscissa``, ...; every dataset names its analysis (:mod:`stabilitylab.analyses`).
"""
from .errors import StabilityLabError

__version__ = "0.1.0"

_LAZY = {  # torch loads on first use, so the CLI's --help answers at once
    "Field": ("stabilitylab.field", "Field"),
    "load": ("stabilitylab.checkpoint", "load"),
    "save": ("stabilitylab.checkpoint", "save"),
    "spectrum": ("stabilitylab.spectral.spectrum", "spectrum"),
    "curve": ("stabilitylab.continuation.curve", "curve"),
    "StabilityMonitor": ("stabilitylab.drift", "StabilityMonitor"),
    "BoundaryWarning": ("stabilitylab.drift", "BoundaryWarning"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'stabilitylab' has no attribute {name!r}")


__all__ = ["BoundaryWarning", "Field", "StabilityMonitor", "StabilityLabError", "curve", "load", "save", "spectrum", "__version__"]
