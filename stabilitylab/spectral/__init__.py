"""Spectra of matrix-free operators: Krylov–Schur (:func:`eigs`, non-symmetric) and thick-restart
Lanczos (:func:`eigsh`, symmetric), torch-native, returning an :class:`EigResult`;
:func:`leading_eigs` caps k at n and is exact and dense on tiny states.

The names load on first use, so the light :mod:`.settings` imports without torch (fast ``--help``).
"""
import importlib

_EXPORTS = {"EigResult": ".krylov_schur", "eigs": ".krylov_schur", "eigsh": ".lanczos", "leading_eigs": ".dense"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
