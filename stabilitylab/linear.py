"""Matrix-free linear operators of a field at a state: J, Jᵀ, M = I + εJ, S = (J + Jᵀ)/2.

``Jᵀ u`` is a reverse-mode product on a retained graph; ``J v`` is reverse-over-reverse on the same
graph (optionally a replay of a ``torch.func.linearize`` trace, see :class:`Linearization`).
Operators act on flat vectors of shape ``(n,)`` or on blocks ``(n, m)`` (columns are vectors,
batched through one autograd call or ``torch.func.vmap``, or column by column on large CPU states).
The dense Jacobian is never formed.
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

    Products run on one retained reverse-mode graph of F at z: ``Jᵀu`` is a VJP, and ``J v`` the
    VJP of the linear map ``u ↦ Jᵀu`` (reverse over reverse: ∂/∂u ⟨Jᵀu, v⟩ = J v), each about one
    backward pass, nothing traced. ``trace_after=m`` instead traces the JVP with
    ``torch.func.linearize`` once more than ``m`` J-products have been asked for, and replays the
    trace. Measured on CPU (1 thread, thick blocks, float64 / float32), the replay is no cheaper
    than reverse over reverse (n = 131,072: 0.98 vs 1.01 forwards, and 1.53 vs 1.27 in float32;
    n = 32,768: 1.28 vs 1.44) and the trace costs 14–270 forwards, so the default (``None``) never
    traces; ``0`` traces at once.
    """

    BATCH_MAX_N = 16384

    def __init__(self, field: Field, z: torch.Tensor, trace_after: int | None = None, **overrides: float):
        self.field = field
        self.z = z.detach().reshape(-1)
        self.f = field.flat_force(**overrides)
        self.params = field._merged(overrides)
        self.n = self.z.numel()
        self.trace_after = trace_after
        self.j_products = 0
        self._graph: tuple | None = None
        self._rr: tuple | None = None
        self._traced: Matvec | None = None

    @property
    def force_value(self) -> torch.Tensor:
        """F(z) (flat)."""
        return self._record()[1].detach()

    def _record(self) -> tuple:
        if self._graph is None:
            with torch.enable_grad():
                zr = self.z.clone().requires_grad_(True)
                self._graph = (zr, self.f(zr))
        return self._graph

    def _vjp(self, u: torch.Tensor, batched: bool = False) -> torch.Tensor:
        zr, y = self._record()
        g = torch.autograd.grad(y, zr, u.T if batched else u, retain_graph=True, is_grads_batched=batched)[0]
        return (g.T if batched else g).detach()

    def _jvp_reverse(self, v: torch.Tensor, batched: bool = False) -> torch.Tensor:
        if self._rr is None:
            zr, y = self._record()
            with torch.enable_grad():
                u = torch.zeros_like(y, requires_grad=True)
                (w,) = torch.autograd.grad(y, zr, u, create_graph=True)
            self._rr = (u, w)
        u, w = self._rr
        g = torch.autograd.grad(w, u, v.T if batched else v, retain_graph=True, is_grads_batched=batched)[0]
        return (g.T if batched else g).detach()

    def _trace(self) -> Matvec:
        if self._traced is None:
            with torch.enable_grad(), warnings.catch_warnings():
                # torch.fx constant folding inside linearize warns about buffers it inlines
                warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node")
                _, fn = torch.func.linearize(self.f, self.z)
            self._traced = fn
            self._rr = None  # the double-backward graph is no longer needed
        return self._traced

    def _jvp(self, v: torch.Tensor, batched: bool = False) -> torch.Tensor:
        self.j_products += v.shape[1] if batched else 1
        if self.trace_after is not None and self.j_products > self.trace_after:
            fn = self._trace()
            return _columns(fn)(v) if batched else fn(v)
        return self._jvp_reverse(v, batched)

    def _op(self, fn) -> LinearOperator:
        """Blocks go through one batched autograd call, except on CPU from ``BATCH_MAX_N``
        numbers on, where they go column by column: measured on thick blocks (float64, 16
        columns, 1 thread), the batched call is 1.7–2.1× faster at n = 2,048, even at 8,192, and
        1.2–1.6× *slower* at 32,768 and 131,072 (not measured on GPUs, which keep batching)."""
        by_columns = self.z.device.type == "cpu" and self.n >= self.BATCH_MAX_N
        batched = None if by_columns else (lambda V: fn(V, True))
        return LinearOperator(lambda v: fn(v, False), self.n, self.z.dtype, self.z.device, batched=batched)

    def preconditioner(self, shift: float = 0.0) -> Matvec | None:
        """``v ↦ P v ≈ (J − shift·I)⁻¹ v`` on flat vectors from the field's ``precondition`` hook
        (None when the field has none)."""
        hook, shape = self.field.precondition, self.field.shape
        if hook is None:
            return None
        z = self.z.reshape(shape)
        return lambda v: hook(z, v.reshape(shape), float(shift), **self.params).reshape(-1)

    def J(self) -> LinearOperator:
        """The Jacobian ``J = ∂F/∂z``."""
        return self._op(self._jvp)

    def JT(self) -> LinearOperator:
        """The transpose ``Jᵀ`` (one VJP per product)."""
        return self._op(self._vjp)

    def M(self, eps: float) -> LinearOperator:
        """The Euler map Jacobian ``M = I + εJ``."""
        return self._op(lambda v, b: v + eps * self._jvp(v, b))

    def S(self) -> LinearOperator:
        """The symmetric part ``S = (J + Jᵀ)/2`` (its top eigenvalue is the numerical abscissa)."""
        return self._op(lambda v, b: 0.5 * (self._jvp(v, b) + self._vjp(v, b)))

    def A(self) -> LinearOperator:
        """The antisymmetric part ``A = (J − Jᵀ)/2``."""
        return self._op(lambda v, b: 0.5 * (self._jvp(v, b) - self._vjp(v, b)))
