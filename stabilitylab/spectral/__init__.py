"""Spectra of matrix-free operators: Krylov–Schur (:func:`eigs`, non-symmetric) and thick-restart
Lanczos (:func:`eigsh`, symmetric), torch-native, returning an :class:`EigResult`;
:func:`leading_eigs` caps k at n and is exact and dense on tiny states."""
from .dense import leading_eigs
from .krylov_schur import EigResult, eigs
from .lanczos import eigsh

__all__ = ["EigResult", "eigs", "eigsh", "leading_eigs"]
