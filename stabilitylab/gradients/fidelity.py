"""Fidelity of gradient estimates: cosine and norm ratio between every pair, overall and per group.

For gradient vectors g_a, g_b restricted to a parameter group:
``cos = ⟨g_a, g_b⟩ / (‖g_a‖ ‖g_b‖)`` and ``ratio = ‖g_a‖ / ‖g_b‖`` (NaN when a norm is zero,
e.g. the V/O groups of a purely conservative force).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from ..model import EquilibriumBlock

ALL = "all"


def groups_of(names: Iterable[str], groups: Mapping[str, Sequence[str]] | None = None) -> dict:
    """``{"all": names, group: its names present}``; ``groups`` default to
    :attr:`EquilibriumBlock.GROUPS` when every name is a block parameter, else one group per name."""
    names = list(names)
    if groups is None:
        known = {n for members in EquilibriumBlock.GROUPS.values() for n in members}
        groups = EquilibriumBlock.GROUPS if set(names) <= known else {n: (n,) for n in names}
    return {ALL: names, **{g: [n for n in members if n in names] for g, members in groups.items()}}


def _vector(grads: Mapping[str, torch.Tensor], members: Sequence[str]) -> torch.Tensor | None:
    return torch.cat([grads[n].reshape(-1) for n in members]) if members else None


def pair(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], groups: Mapping[str, Sequence[str]]):
    """``(cosine, ratio)`` of gradient dicts ``a`` vs ``b`` per group: arrays of shape (G,)."""
    cos, ratio = np.full(len(groups), np.nan), np.full(len(groups), np.nan)
    for k, members in enumerate(groups.values()):
        if not members:
            continue
        va, vb = _vector(a, members), _vector(b, members)
        na, nb = float(va.norm()), float(vb.norm())
        if nb > 0:
            ratio[k] = na / nb
        if na > 0 and nb > 0:
            cos[k] = float(va @ vb) / (na * nb)
    return cos, ratio


def compare(grads: Mapping[str, Mapping[str, torch.Tensor]], groups: Mapping[str, Sequence[str]]):
    """``(cosine, ratio, norm)`` for estimators ``grads`` (name → {param: grad}) and ``groups``
    (from :func:`groups_of`): arrays of shape (E, E, G), (E, E, G) and (E, G)."""
    est = list(grads.values())
    cos = np.stack([np.stack([pair(a, b, groups)[0] for b in est]) for a in est])
    ratio = np.stack([np.stack([pair(a, b, groups)[1] for b in est]) for a in est])
    norm = np.array([[float(_vector(a, m).norm()) if m else np.nan for m in groups.values()] for a in est])
    return cos, ratio, norm


def cosine(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> float:
    """Cosine between two gradient dicts over all of ``a``'s parameters."""
    return float(pair(a, b, {ALL: list(a)})[0][0])
