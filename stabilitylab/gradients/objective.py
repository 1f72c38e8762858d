"""An equilibrium learning problem — force F(z; θ), loss L(z; θ), parameters θ — and the result and
bookkeeping every gradient estimator shares.

The free phase relaxes ``z ← z + εF(z)`` for T1 steps to z*. All estimators target

    dL/dθ = ∂L/∂θ + λᵀ ∂F/∂θ   at z*,   with  Jᵀ λ = −ℓ,  ℓ = ∂L/∂z*,  J = ∂F/∂z*

(implicit-function theorem: dz*/dθ = −J⁻¹ ∂F/∂θ). They differ in how they obtain λ (or, for BPTT,
in differentiating the finite unroll instead). Given any adjoint estimate a,
:meth:`Objective.param_grads` returns ``∂/∂θ [⟨a, F(z*; θ)⟩ + L(z*; θ)]``.

Cost is counted in nominal forward-pass equivalents: a forward evaluation of F = 1, a Jacobian
product (JVP or VJP) = 2, a backward pass through one evaluation of F = 2 (the cheap-gradient bound:
reverse mode costs at most about three forwards including its own forward). The readout loss and
its z-gradient are not counted (one C×vocab product). ``benchmarks/bench_gradients.py`` measures
the real ratios.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field as dc_field
from typing import Callable, Mapping

import torch

from ..errors import FieldError
from ..field import Field
from ..solvers import relax_euler

Loss = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Cost:
    """Work done by one estimator call (see the module docstring for the weights)."""

    forwards: int = 0
    jvps: int = 0
    vjps: int = 0
    backward_steps: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.forwards + other.forwards, self.jvps + other.jvps, self.vjps + other.vjps,
                    self.backward_steps + other.backward_steps)

    def __mul__(self, k: int) -> "Cost":
        return Cost(k * self.forwards, k * self.jvps, k * self.vjps, k * self.backward_steps)

    @property
    def total(self) -> float:
        return float(self.forwards + 2 * (self.jvps + self.vjps + self.backward_steps))

    def as_diagnostics(self) -> dict:
        return {"cost": self.total, "n_forward": float(self.forwards), "n_jvp": float(self.jvps),
                "n_vjp": float(self.vjps), "n_backward_steps": float(self.backward_steps)}


@dataclass
class GradientResult:
    """``grads`` (parameter name → gradient, same shapes), ``loss`` at the state the estimator uses,
    the free-phase state ``z_free`` (reusable on the same batch), float ``diagnostics``."""

    grads: dict
    loss: float
    z_free: torch.Tensor
    diagnostics: dict = dc_field(default_factory=dict)
    estimator: str = ""

    def flat(self) -> torch.Tensor:
        """All gradients concatenated in ``grads`` order."""
        return torch.cat([g.reshape(-1) for g in self.grads.values()])


@dataclass(frozen=True)
class Objective:
    """F(z; θ) as a :class:`Field` (its force closes over the live tensors ``params``), a scalar
    loss ``loss(z)`` (may also depend on θ), and optionally ``init()``, the start state as a
    differentiable function of θ (default: the constant ``field.z0``; BPTT differentiates it)."""

    field: Field
    loss: Loss
    params: Mapping[str, torch.Tensor]
    init: Callable[[], torch.Tensor] | None = None

    def start(self) -> torch.Tensor:
        return self.field.z0 if self.init is None else self.init()

    def loss_grad(self, z: torch.Tensor) -> torch.Tensor:
        """ℓ = ∂L/∂z at z (detached)."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.loss(z), z)
        return g.detach()

    @contextmanager
    def tracked(self):
        """Record graphs to θ: inside, every parameter requires grad (flags restored after)."""
        off = [t for t in self.params.values() if not t.requires_grad]
        with torch.enable_grad():
            try:
                for t in off:
                    t.requires_grad_(True)
                yield
            finally:
                for t in off:
                    t.requires_grad_(False)

    def grads_of(self, scalar: torch.Tensor) -> dict:
        """∂ scalar/∂θ by name (zeros for parameters it does not depend on); ``scalar`` must have
        been computed inside :meth:`tracked`."""
        names, tensors = list(self.params), list(self.params.values())
        gs = torch.autograd.grad(scalar, tensors, allow_unused=True)
        return {n: (torch.zeros_like(t) if g is None else g.detach()) for n, t, g in zip(names, tensors, gs)}

    def param_grads(self, z_star: torch.Tensor, a: torch.Tensor,
                    cost: Cost | None = None) -> tuple[dict, float]:
        """``∂/∂θ [⟨a, F(z*; θ)⟩ + L(z*; θ)]`` and L(z*): the gradient for an adjoint estimate a
        (its cost is added to ``cost``)."""
        z_star = z_star.detach()
        with self.tracked():
            loss = self.loss(z_star)
            total = (a.detach().reshape(self.field.shape) * self.field(z_star)).sum() + loss
            grads = self.grads_of(total)
        if cost is not None:
            cost.forwards += 1
            cost.backward_steps += 1
        return grads, float(loss.detach())

    def free_phase(self, eps: float, T1: int, z_free: torch.Tensor | None, cost: Cost):
        """z* (T1 Euler steps from the start state, or ``z_free`` as given) and its residuals."""
        if z_free is None:
            res = relax_euler(self.field, eps=eps, steps=T1)
            cost.forwards += res.nfev
            z, fr = res.z, res.final_force_residual
        else:
            z = z_free.detach().reshape(self.field.shape)
            fr = self.field.residuals(z, eps)[0]
            cost.forwards += 1
        return z, {"free_force_residual": fr, "free_step_residual": abs(eps) * fr}


def field_objective(field: Field, loss: Loss | None = None,
                    params: Mapping[str, torch.Tensor] | None = None) -> Objective:
    """The objective of a user Field: ``loss`` defaults to ``field.loss``, ``params`` to the
    parameters of its force module named by ``field.parameters`` (all of them by default)."""
    loss = field.loss if loss is None else loss
    if loss is None:
        raise FieldError("the field has no readout loss: give it one (stabilitylab.Field(..., loss=...))")
    if params is None:
        if not isinstance(field.force, torch.nn.Module):
            raise FieldError("the field's force is not an nn.Module; pass params={name: tensor} explicitly")
        named = dict(field.force.named_parameters())
        names = list(named) if field.parameters is None else list(field.parameters)
        unknown = [n for n in names if n not in named]
        if unknown:
            raise FieldError(f"Field.parameters names {unknown}, not parameters of its force module "
                             f"({sorted(named)})")
        params = {n: named[n] for n in names}
    if not params:
        raise FieldError("the objective has no parameters to differentiate")
    return Objective(field, loss, dict(params))
