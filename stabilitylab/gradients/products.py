"""Jacobian products of a field at one state, on a retained reverse-mode graph.

``Jᵀu`` is a VJP of F at z. ``J v`` is the VJP of the linear map ``u ↦ Jᵀu`` with cotangent v
(reverse over reverse): ``⟨Jᵀu, v⟩ = ⟨u, J v⟩`` so ``∂/∂u ⟨Jᵀu, v⟩ = J v``. Both reuse one recorded
graph: setting up costs one forward pass (plus, on first use of J, one backward pass with graph),
each product about one backward pass, and nothing is traced.
(:class:`~stabilitylab.linear.Linearization` traces the JVP with ``torch.func.linearize``: seconds
per point on a block, which pays off only for thousands of products at one point; the estimators
take few products per point.)
"""
from __future__ import annotations

import torch

from ..field import Field
from ..linear import LinearOperator


class Products:
    """J and Jᵀ of ``field`` at ``z`` as :class:`LinearOperator` s on flat vectors."""

    def __init__(self, field: Field, z: torch.Tensor):
        with torch.enable_grad():
            self._z = z.detach().reshape(-1).requires_grad_(True)
            self._y = field.flat_force()(self._z)

    def _op(self, out, wrt) -> LinearOperator:
        def apply(v):
            return torch.autograd.grad(out, wrt, v, retain_graph=True)[0].detach()

        return LinearOperator(apply, self._z.numel(), self._z.dtype, self._z.device)

    def J(self) -> LinearOperator:
        """``v ↦ J v`` (reverse over reverse: records ``u ↦ Jᵀu`` once, with graph)."""
        u = torch.zeros_like(self._z, requires_grad=True)
        with torch.enable_grad():
            (w,) = torch.autograd.grad(self._y, self._z, u, create_graph=True)
        return self._op(w, u)

    def JT(self) -> LinearOperator:
        """``u ↦ Jᵀ u`` (one VJP)."""
        return self._op(self._y, self._z)
