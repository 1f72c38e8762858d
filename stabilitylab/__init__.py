"""stabilitylab: stability analysis of equilibrium (fixed-point) neural networks.

Public entry points: :class:`Field` (the contract every analysis works on), :func:`load` (a
checkpoint as a Field), :func:`save`, and the analyses, imported lazily.
"""
from .errors import StabilityLabError
from .field import Field

__version__ = "0.1.0"

_LAZY = {
    "load": ("stabilitylab.checkpoint", "load"),
    "save": ("stabilitylab.checkpoint", "save"),
    "spectrum": ("stabilitylab.spectral.spectrum", "spectrum"),
    "curve": ("stabilitylab.continuation.curve", "curve"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'stabilitylab' has no attribute {name!r}")


__all__ = ["Field", "StabilityLabError", "curve", "load", "save", "spectrum", "__version__"]
