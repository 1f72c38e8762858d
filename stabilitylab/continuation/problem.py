"""The continuation problem: fixed points of ``F(z; p) = 0`` of a Field in one named knob p.

A branch point is one flat vector ``x = (z, p)`` of ``n + 1`` numbers (the state, then the
knob). Arclength uses the weighted inner product

    ⟨(a, α), (b, β)⟩ = θ·(a·b)/n + α·β,

so the state counts by its mean square (independent of n) and, on a branch flat in z, a step of
length ds moves p by ds. ``∂F/∂p`` is a central difference with ``h = ε_mach^{1/3}·max(1, |p|)``
(truncation and rounding both ≈ 1e-11 relative in float64; two forward evaluations, cheaper than
a JVP, and it works for every knob, including those a field does not differentiate through).

J and M at a point come from :meth:`linearization` (:class:`~stabilitylab.linear.Linearization`:
cheap reverse-mode products for the tens of a Newton or tangent solve, a traced JVP once an
eigensolve on a large state asks for hundreds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError, FieldError, did_you_mean
from ..field import Field
from ..linear import Linearization
from ..solvers.result import relative_norm


@dataclass(frozen=True)
class ContinuationProblem:
    """Continue fixed points of ``field`` in the knob ``param``; ``eps`` is the Euler step whose
    map ``M = I + εJ`` is analysed alongside ``J``."""

    field: Field
    param: str
    eps: float = 0.1

    def __post_init__(self):
        if self.param not in self.field.params:
            knobs = ", ".join(sorted(self.field.params)) or "none"
            raise FieldError(f"unknown knob {self.param!r}; this field's knobs are: {knobs}"
                             + did_you_mean(self.param, self.field.params))
        eps = float(self.eps)
        if not (math.isfinite(eps) and eps > 0):
            raise ConfigError(f"eps must be a positive number, got {self.eps!r}")
        object.__setattr__(self, "eps", eps)

    @property
    def n(self) -> int:
        return self.field.n

    # -- points ------------------------------------------------------------------------------
    def point(self, z: torch.Tensor, p: float) -> torch.Tensor:
        """``x = (vec z, p)``."""
        z = z.detach().reshape(-1)
        return torch.cat([z, z.new_tensor([float(p)])])

    @staticmethod
    def split(x: torch.Tensor) -> tuple[torch.Tensor, float]:
        return x[:-1], float(x[-1])

    def weights(self, theta: float) -> torch.Tensor:
        """Diagonal of the arclength inner product: θ/n on the state, 1 on p."""
        w = torch.full((self.n + 1,), theta / self.n, dtype=self.field.dtype, device=self.field.device)
        w[-1] = 1.0
        return w

    # -- the field at (z, p) -----------------------------------------------------------------
    @torch.no_grad()
    def force(self, z: torch.Tensor, p: float) -> torch.Tensor:
        """``vec F(z; p)``."""
        return self.field.flat_force(**{self.param: p})(z)

    @torch.no_grad()
    def dF_dp(self, z: torch.Tensor, p: float) -> torch.Tensor:
        """``∂F/∂p`` at (z, p) by a central difference."""
        h = torch.finfo(self.field.dtype).eps ** (1 / 3) * max(1.0, abs(p))
        return (self.force(z, p + h) - self.force(z, p - h)) / (2 * h)

    def linearization(self, z: torch.Tensor, p: float) -> Linearization:
        """J and M = I + εJ at (z, p), matrix-free."""
        return Linearization(self.field, z, **{self.param: p})

    @staticmethod
    def residual(f: torch.Tensor, z: torch.Tensor) -> float:
        """Force residual ``‖F(z)‖/max(‖z‖, 1)`` (the solvers' test: relative, absolute near z = 0)."""
        return relative_norm(f, z)
