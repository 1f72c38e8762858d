"""One training update of one lane (a block, its optimiser and its stabiliser state).

The task gradient comes from the shared estimators in :mod:`stabilitylab.gradients`:
``ep_gradient(variant="aep")`` (AsymEP, centred ±β nudges) or ``bptt_gradient`` (reverse mode
through the T1-step unroll). For EP the free phase (T1 Euler steps from x_in) is run first, so the
validity gate can skip the nudged phases when the free-phase force residual ``‖F(z)‖/‖z‖`` exceeds
it, and the nudged phases reuse the free state. The stabiliser gradients (:mod:`.stabilisers`) are
added at the T1 state with weights ``w·gain``; the total is clipped to global norm ``grad_clip``
(a single huge gradient — EP on an unconverged free phase — would otherwise inflate AdamW's second
moment and freeze the weights for thousands of steps); a non-finite gradient skips the update.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field

import torch

from ..gradients import bptt_gradient, ep_gradient, readout_loss
from ..model import EquilibriumBlock, block_field, make_block
from ..solvers import relax_euler
from .config import TrainConfig
from .stabilisers import Controller, jacobian_penalty, residual_penalty


@dataclass
class Lane:
    """The training state of one rule: weights, AdamW, stabiliser controller, and counters
    (cumulative gate / non-finite skips; training-CE and gradient-norm sums and their count since
    the last record)."""

    rule: str
    block: EquilibriumBlock
    optimizer: torch.optim.Optimizer
    probe_rng: torch.Generator
    controller: Controller
    counters: dict = dc_field(default_factory=lambda: {"gate_skips": 0, "nonfinite_skips": 0,
                                                       "loss_sum": 0.0, "grad_norm_sum": 0.0, "loss_n": 0})

    @classmethod
    def fresh(cls, rule: str, cfg: TrainConfig, vocab: int) -> "Lane":
        """A lane at initialisation: seeded weights (identical for every rule), a new AdamW."""
        block = make_block(cfg.block_config(vocab), cfg.seed)
        opt = torch.optim.AdamW(block.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return cls(rule, block, opt, torch.Generator().manual_seed(cfg.seed + 17), Controller(cfg.res_target))

    def state_dict(self) -> dict:
        return {"model": {k: v.detach().clone() for k, v in self.block.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "probe_rng": self.probe_rng.get_state(),
                "controller": self.controller.state_dict(), "counters": dict(self.counters)}

    def load_state_dict(self, d: dict) -> None:
        self.block.load_state_dict(d["model"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.probe_rng.set_state(d["probe_rng"])
        self.controller.load_state_dict(d["controller"])
        self.counters.update(d["counters"])


@dataclass
class StepOutcome:
    """What one update measured: training CE at the T1 state, free-phase force residual, the
    total gradient norm before clipping, whether the gate skipped the task gradient, whether the
    update was applied, the stabiliser gain."""

    loss: float
    force_residual: float
    grad_norm: float
    gated: bool
    applied: bool
    gain: float


def _task(lane: Lane, x, y, cfg: TrainConfig):
    """(task gradients or None when gated, CE, force residual, T1 state)."""
    blk = lane.block
    if lane.rule == "bptt":
        res = bptt_gradient(blk, x, y, eps=cfg.eps, T1=cfg.T1)
        return res.grads, res.loss, res.diagnostics["free_force_residual"], res.z_free
    free = relax_euler(block_field(blk, x), eps=cfg.eps, steps=cfg.T1)
    z, fr = free.z, free.final_force_residual
    if cfg.gate is not None and not fr <= cfg.gate:
        with torch.no_grad():
            loss = float(readout_loss(blk, z, y))
        return None, loss, fr, z
    res = ep_gradient(blk, x, y, eps=cfg.eps, T1=cfg.T1, T2=cfg.T2, beta=cfg.beta, variant="aep", z_free=z)
    return res.grads, res.loss, fr, z


def _stabiliser_grads(lane: Lane, x, z, cfg: TrainConfig, gain: float) -> dict:
    blk = lane.block
    with torch.enable_grad():
        total = blk.W_head.new_zeros(())
        if cfg.jacreg:
            total = total + cfg.jacreg * gain * jacobian_penalty(blk, x, z, lane.probe_rng)
        if cfg.resreg:
            total = total + cfg.resreg * gain * residual_penalty(blk, x, z)
        names, params = zip(*blk.named_parameters())
        gs = torch.autograd.grad(total, params, allow_unused=True)
    return {n: g for n, g in zip(names, gs) if g is not None}


def train_step(lane: Lane, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, lr: float) -> StepOutcome:
    """Compute the lane's gradient on batch (x, y) and take one AdamW step at learning rate ``lr``."""
    grads, loss, fr, z = _task(lane, x, y, cfg)
    gain = lane.controller.update(fr) if cfg.controller else lane.controller.gain
    total = dict(grads or {})
    if cfg.jacreg or cfg.resreg:
        for n, g in _stabiliser_grads(lane, x, z, cfg, gain).items():
            total[n] = total[n] + g if n in total else g
    gated = grads is None
    norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in total.values()]))) if total else 0.0
    finite = math.isfinite(norm) and math.isfinite(loss)
    applied = bool(total) and finite
    c = lane.counters
    c["gate_skips"] += gated
    c["nonfinite_skips"] += not finite
    c["loss_sum"] += loss
    c["grad_norm_sum"] += norm
    c["loss_n"] += 1
    if applied:
        scale = min(1.0, cfg.grad_clip / (norm + 1e-12)) if cfg.grad_clip is not None else 1.0
        for group in lane.optimizer.param_groups:
            group["lr"] = lr
        for n, p in lane.block.named_parameters():
            p.grad = total[n] * scale if n in total else None
        lane.optimizer.step()
        lane.optimizer.zero_grad(set_to_none=True)
    return StepOutcome(loss, fr, norm, gated, applied, gain)
