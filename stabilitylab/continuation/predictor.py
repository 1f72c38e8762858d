"""Predictors: where the next branch point is guessed, and which constraint pins it.

A run stands at a :class:`Cursor` — branch point ``x = (z, p)`` and unit direction ``t`` there.
A predictor turns a step length ``ds`` into ``(c, s, guess)``: the corrector then solves
``F = 0, ⟨c, x − x_k⟩ = s`` from ``guess`` (see :mod:`.corrector`).

- :class:`PseudoArclength` (PALC): ``c = t`` (the bordered tangent), ``s = ds``,
  ``guess = x_k + ds·t``. The constraint is a hyperplane across the branch, so the branch is
  followed around folds where p turns back.
- :class:`NaturalParameter`: ``c = e_p``, ``s = ±ds`` (p is stepped), and the secant predictor
  ``z = z_k + (z_k − z_{k−1})·s/(p_k − p_{k−1})`` — written ``x_k + (s/t_p)·t`` with ``t`` the unit
  secant direction (``t = ±e_p`` at the first point: a constant predictor); the last step is
  shortened to land on ``p_end``. It cannot pass a fold.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .corrector import BorderedNewton


@dataclass(frozen=True)
class Cursor:
    """The last accepted branch point ``x``, the unit direction ``t`` of travel at it, and the
    length ``ds`` of the next step."""

    x: torch.Tensor
    t: torch.Tensor
    ds: float


def unit_p(x: torch.Tensor, direction: float) -> torch.Tensor:
    """``direction · e_p``."""
    e = torch.zeros_like(x)
    e[-1] = direction
    return e


#: the p-component of the unit tangent above which the last PALC step holds p at the range's end
END_TP = 0.1


class PseudoArclength:
    def initial(self, solver: BorderedNewton, x: torch.Tensor, direction: float) -> tuple[torch.Tensor, int]:
        """The tangent at the starting point, pointing toward increasing ``direction·p``."""
        return solver.tangent(x, unit_p(x, direction))

    def plan(self, cur: Cursor, ds: float, p_end: float):
        """``(c, s, guess, ds)`` for a step of arclength ds along the tangent. A step that would
        pass ``p_end`` is shortened to land on it and corrected with p held at ``p_end`` (the
        branch ends exactly there), unless the branch turns nearly perpendicular to p (|t_p| <
        :data:`END_TP`, near a fold, where fixing p is ill-posed: it then ends within O(ds²))."""
        tp, remaining = float(cur.t[-1]), p_end - float(cur.x[-1])
        if tp * remaining > 0 and ds * abs(tp) >= abs(remaining):
            ds = remaining / tp
            guess = cur.x + ds * cur.t
            if abs(tp) >= END_TP:
                return unit_p(cur.x, 1.0), remaining, guess, ds
            return cur.t, ds, guess, ds
        return cur.t, ds, cur.x + ds * cur.t, ds

    def direction(self, solver: BorderedNewton, cur: Cursor, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The bordered tangent at the new point x, oriented along the previous one."""
        return solver.tangent(x, cur.t)


class NaturalParameter:
    def initial(self, solver, x, direction):
        return unit_p(x, direction), 0

    def plan(self, cur: Cursor, ds: float, p_end: float):
        """``(c, s, guess)`` for a step of ds in p, shortened to land on ``p_end``."""
        tp, remaining = float(cur.t[-1]), p_end - float(cur.x[-1])
        s = min(ds, abs(remaining)) * (1.0 if tp > 0 else -1.0)
        return unit_p(cur.x, 1.0), s, cur.x + (s / tp) * cur.t, s

    def direction(self, solver, cur, x):
        """The unit secant from the previous point (no solve)."""
        d = x - cur.x
        return d / solver.norm(d), 0


PREDICTORS = {"palc": PseudoArclength, "natural": NaturalParameter}
