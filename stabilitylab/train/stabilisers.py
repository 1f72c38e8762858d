"""Stabilisers (all off by default): Jacobian penalty, residual penalty, their controller.

At the free-phase state z (held fixed, the gradient flows into the weights only):

- Jacobian penalty (Hutchinson): ``R_J = E_v ‖J_g v‖² / n`` with ``v ~ N(0, I)``, an unbiased
  estimate of ``‖J_g‖²_F / n``, where ``J_g = J + (1 + c)·I`` is the Jacobian of the block's
  interaction term ``g(z) = F(z) + (1 + c)z`` (attention + FFN). Penalising ``J_g`` shrinks the
  couplings that move eigenvalues of ``J`` away from ``−(1 + c)``, not the leak itself.
  ``J_g v`` is a forward-mode product whose weights are passed as primals (zero tangents), so
  reverse mode differentiates it.
- Residual penalty: ``R_F = ‖F(z)‖² / ‖z‖²``, the squared force residual at the T1 state.
- Controller: a multiplicative gain on both weights driven by the EMA ``r̄`` of the free-phase
  force residual, ``gain ← clip(gain · (r̄ / r_target)^κ, GAIN_MIN, GAIN_MAX)``: above target the
  stabilisers strengthen, below it they relax.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..model import BlockForce, EquilibriumBlock

GAIN_MIN, GAIN_MAX = 0.1, 64.0
KAPPA = 0.2  # controller exponent per update
EMA = 0.9


def jacobian_penalty(block: EquilibriumBlock, idx: torch.Tensor, z: torch.Tensor,
                     generator: torch.Generator, probes: int = 1) -> torch.Tensor:
    """Hutchinson estimate of ``‖J_g‖²_F / n`` at ``z`` (differentiable in the weights)."""
    fm = BlockForce(block, block.embed(idx))
    names = [n for n, _ in fm.named_parameters()]
    params = tuple(p for _, p in fm.named_parameters())
    zeros = tuple(torch.zeros_like(p) for p in params)
    lam = 1.0 + block.config.c
    z = z.detach()

    def force(zz, *pp):
        return torch.func.functional_call(fm, dict(zip(names, pp)), (zz,))

    total = z.new_zeros(())
    for _ in range(probes):
        v = torch.randn(z.shape, generator=generator, dtype=z.dtype)
        _, jv = torch.func.jvp(force, (z, *params), (v, *zeros))
        total = total + (jv + lam * v).pow(2).sum()
    return total / (probes * z.numel())


def residual_penalty(block: EquilibriumBlock, idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``‖F(z)‖² / ‖z‖²`` at the (fixed) T1 state ``z``, differentiable in the weights."""
    z = z.detach()
    return block.force(z, block.embed(idx)).pow(2).sum() / z.pow(2).sum().clamp_min(1e-30)


@dataclass
class Controller:
    """Residual-driven gain on the stabiliser weights (see the module docstring)."""

    target: float
    gain: float = 1.0
    ema: float | None = None

    def update(self, residual: float) -> float:
        """Feed one free-phase force residual; return the new gain."""
        if not math.isfinite(residual):
            residual = 1.0
        self.ema = residual if self.ema is None else EMA * self.ema + (1 - EMA) * residual
        ratio = max(self.ema, 1e-30) / self.target
        self.gain = min(GAIN_MAX, max(GAIN_MIN, self.gain * ratio ** KAPPA))
        return self.gain

    def state_dict(self) -> dict:
        return {"target": self.target, "gain": self.gain, "ema": self.ema}

    def load_state_dict(self, d: dict) -> None:
        self.target, self.gain, self.ema = d["target"], d["gain"], d["ema"]
