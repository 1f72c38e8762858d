"""Forward-mode Jacobian–vector products: ``(f(x), J_f(x) v)`` in one pass.

Uses dual tensors (``torch.autograd.forward_ad``), which carry less per-operation overhead than
``torch.func.jvp`` on small states (where overhead dominates) and compose with ``torch.func.vmap``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.autograd.forward_ad as fwAD


def jvp(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor):
    """``(fn(x), J v)`` with ``J = ∂fn/∂x`` at ``x`` (a zero tangent if fn ignores x)."""
    with fwAD.dual_level():
        primal, tangent = fwAD.unpack_dual(fn(fwAD.make_dual(x, v)))
    return primal, torch.zeros_like(primal) if tangent is None else tangent
