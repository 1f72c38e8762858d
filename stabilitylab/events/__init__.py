"""The one table of special-point kinds: every figure, table, verdict and store takes a kind's
name, label, marker, colour and meaning from here.

A kind is declared once, by the module that detects it (:mod:`.fixed_point`: bifurcations of a
fixed-point branch; :mod:`.curves`: codimension-2 points on a two-knob curve; :mod:`.cycles`:
bifurcations of a branch of periodic orbits), with :func:`register`. A new event type is one
module plus one import line below. This package imports no numerical library, so report pages
can read labels without loading torch.
"""
from __future__ import annotations

from dataclasses import dataclass

#: where a kind lives: on a fixed-point branch, on a two-knob curve, or on a branch of cycles
FAMILIES = ("fixed_point", "curve", "cycle")


@dataclass(frozen=True)
class Kind:
    """One row of the kind table: stored ``name``, display ``label``, figure ``marker`` and
    ``color``, the report's one-line ``meaning``, the ``family`` it belongs to; for fixed-point
    kinds the ``operator`` whose spectrum crosses ('J' or 'M'), whether a complex ``pair`` crosses,
    and whether ``curve`` continues it in two knobs."""

    name: str
    label: str
    marker: str
    color: str
    meaning: str
    family: str
    operator: str = ""
    pair: bool = False
    curve: bool = False

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add ``kind`` to the table (a name is declared once)."""
    if kind.name in KINDS:
        raise ValueError(f"the special-point kind {kind.name!r} is already declared")
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    """The row of ``name``; an unknown name (a store written by another version) gets a plain row."""
    name = str(name)
    return KINDS.get(name) or Kind(name, name.replace("_", " "), "*", "black", "", "fixed_point")


def label(name: str) -> str:
    return get(name).label


def style(name: str) -> tuple[str, str]:
    """(marker, colour) of ``name`` in every figure."""
    k = get(name)
    return k.marker, k.color


def names(family: str, **where) -> tuple[str, ...]:
    """The kinds of ``family`` (in declaration order) whose attributes equal ``where``."""
    return tuple(k.name for k in KINDS.values()
                 if k.family == family and all(getattr(k, a) == v for a, v in where.items()))


from . import fixed_point, curves, fold_bogdanov_takens, cycles  # noqa: E402,F401  (registration)
