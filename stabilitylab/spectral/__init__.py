"""Spectra of matrix-free operators: Krylov–Schur (:func:`eigs`, non-symmetric) and thick-restart
Lanczos (:func:`eigsh`, symmetric), torch-native, returning an :class:`EigResult`."""
from .krylov_schur import EigResult, eigs
from .lanczos import eigsh

__all__ = ["EigResult", "eigs", "eigsh"]
