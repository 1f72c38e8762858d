"""Matrix-free linear operators of a field at a state: J, Jᵀ, M = I + εJ, S = (J + Jᵀ)/2.

``J v`` is a forward-mode product (``torch.func.linearize``: the JVP graph is traced once at z and
re-applied cheaply), ``Jᵀ u`` a reverse-mode product (``torch.func.vjp``, its pullback kept and
re-applied). Operators act on flat vectors of shape ``(n,)`` or on blocks ``(n, m)`` (columns are
vectors; blocks go through ``torch.func.vmap``). The dense Jacobian is never formed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from .field import Field

Matvec = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class LinearOperator:
    """``v -> A v`` on flat vectors, with a matvec counter.

    ``matvec`` takes ``(n,)`` or ``(n, m)``; for a block it counts ``m`` products.
    """

    apply: Matvec
    n: int
    dtype: torch.dtype
    device: torch.device
    batched: Matvec | None = None
    count: int = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        if v.dim() == 1:
            self.count += 1
            return self.apply(v)
        self.count += v.shape[1]
        if self.batched is not None:
            return self.batched(v)
        return torch.stack([self.apply(v[:, j]) for j in range(v.shape[1])], dim=1)

    __call__ = matvec

    def shifted(self, scale: float, shift: float = 0.0) -> "LinearOperator":
        """The operator ``shift·I + scale·A`` sharing this one's counter semantics."""
        base = self

        def apply(v):
            return shift * v + scale * base.matvec(v)

        op = LinearOperator(apply, self.n, self.dtype, self.device)
        op.batched = apply
        return op


def _columns(fn: Matvec) -> Matvec:
    """Lift a vector map to columns of a block via vmap (falls back to a loop if vmap fails)."""
    vm = torch.func.vmap(fn, in_dims=1, out_dims=1)

    def batched(V):
        try:
            return vm(V)
        except RuntimeError:
            return torch.stack([fn(V[:, j]) for j in range(V.shape[1])], dim=1)

    return batched


class Linearization:
    """J, Jᵀ and derived operators of ``field`` at state ``z`` (knobs fixed).

    Construction costs one forward (plus the JVP trace on first use of J); products then cost about
    one forward each at large n.
    """

    def __init__(self, field: Field, z: torch.Tensor, **overrides: float):
        self.field = field
        self.z = z.detach().reshape(-1)
        self.f = field.flat_force(**overrides)
        self.n = self.z.numel()
        self._jvp: Matvec | None = None
        self._vjp: Matvec | None = None
        self.force_value: torch.Tensor | None = None

    def _jvp_fn(self) -> Matvec:
        if self._jvp is None:
            with torch.enable_grad(), warnings.catch_warnings():
                # torch.fx constant folding inside linearize warns about buffers it inlines
                warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node")
                out, fn = torch.func.linearize(self.f, self.z)
            self.force_value = out.detach()
            self._jvp = fn
        return self._jvp

    def _vjp_fn(self) -> Matvec:
        if self._vjp is None:
            with torch.enable_grad():
                out, pull = torch.func.vjp(self.f, self.z)
            self.force_value = out.detach()
            self._vjp = lambda u: pull(u)[0].detach()
        return self._vjp

    def _op(self, fn: Matvec) -> LinearOperator:
        return LinearOperator(fn, self.n, self.z.dtype, self.z.device, batched=_columns(fn))

    def J(self) -> LinearOperator:
        """The Jacobian ``J = ∂F/∂z`` (forward mode)."""
        return self._op(self._jvp_fn())

    def JT(self) -> LinearOperator:
        """The transpose ``Jᵀ`` (reverse mode)."""
        return self._op(self._vjp_fn())

    def M(self, eps: float) -> LinearOperator:
        """The Euler map Jacobian ``M = I + εJ``."""
        jvp = self._jvp_fn()
        return self._op(lambda v: v + eps * jvp(v))

    def S(self) -> LinearOperator:
        """The symmetric part ``S = (J + Jᵀ)/2`` (its top eigenvalue is the numerical abscissa)."""
        jvp, vjp = self._jvp_fn(), self._vjp_fn()
        return self._op(lambda v: 0.5 * (jvp(v) + vjp(v)))

    def A(self) -> LinearOperator:
        """The antisymmetric part ``A = (J − Jᵀ)/2``."""
        jvp, vjp = self._jvp_fn(), self._vjp_fn()
        return self._op(lambda v: 0.5 * (jvp(v) - vjp(v)))

