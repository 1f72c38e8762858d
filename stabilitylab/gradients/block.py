"""The estimators on an equilibrium block with the next-token readout loss.

For a block, θ is every parameter in ``block.named_parameters()``; F depends on the embeddings
through the clamped input x_in = tok_emb[idx] + pos_emb, and L = mean cross-entropy of
``block.logits(z) = z W_head`` against ``targets`` depends on W_head directly (the ∂L/∂θ term).
``**knobs`` are the block's force knobs (alpha, ffn_scale, c, head_h, ...).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import FieldError
from ..field import Field
from ..model import BlockForce, EquilibriumBlock
from .adjoint import transpose_adjoint
from .eprop import equilibrium_propagation
from .objective import GradientResult, Objective
from .unroll import bptt


def readout_loss(block: EquilibriumBlock, z: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of ``block.logits(z)`` (B, T, vocab) against ``targets`` (B, T)."""
    logits = block.logits(z)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def readout_batch(field: Field) -> tuple[EquilibriumBlock, torch.Tensor, torch.Tensor]:
    """The block, its token batch ``idx`` and the next-token ``targets`` behind a checkpoint's Field
    (:func:`stabilitylab.load`, which records both)."""
    if not isinstance(field.force, BlockForce):
        raise FieldError("gradcheck needs a checkpoint's field (an equilibrium block with a next-token "
                         "readout loss); for another field use stabilitylab.gradients.field_objective")
    targets = field.meta.get("batch_targets")
    if targets is None:
        raise FieldError("the input batch has no next token after its windows (prepared sequences of "
                         "exactly T tokens): a readout loss needs sequences of at least T + 1 tokens")
    idx = torch.tensor(field.meta["batch_idx"])
    return field.force.block, idx.to(field.device), torch.tensor(targets).to(field.device)


def block_objective(block: EquilibriumBlock, idx: torch.Tensor, targets: torch.Tensor,
                    **knobs: float) -> Objective:
    """The block's objective on token batch ``idx`` (B, T): free phase from x_in, readout loss."""
    with torch.no_grad():
        x_in = block.embed(idx)
    field = Field(lambda z, **kn: block.force(z, block.embed(idx), **kn), x_in, block.knobs(),
                  name=type(block).__name__).with_params(**knobs)
    return Objective(field, lambda z: readout_loss(block, z, targets), dict(block.named_parameters()),
                     init=lambda: block.embed(idx))


def bptt_gradient(block, idx, targets, eps: float = 0.1, T1: int = 150, **knobs) -> GradientResult:
    """BPTT through the T1-step unroll from x_in (see :mod:`.unroll`)."""
    return bptt(block_objective(block, idx, targets, **knobs), eps, T1)


def implicit_gradient(block, idx, targets, eps: float = 0.1, T1: int = 150, tol: float = 1e-10,
                      z_free=None, restart: int = 50, maxiter: int | None = None,
                      **knobs) -> GradientResult:
    """The exact implicit gradient by the transpose adjoint (see :mod:`.adjoint`)."""
    return transpose_adjoint(block_objective(block, idx, targets, **knobs), eps, T1, tol, z_free,
                             restart, maxiter)


def ep_gradient(block, idx, targets, eps: float = 0.1, T1: int = 150, T2: int = 40,
                beta: float = 0.02, variant: str = "aep", z_free=None, window: int = 10,
                **knobs) -> GradientResult:
    """Naive EP / AEP / tracking AEP with centred ±β nudges (see :mod:`.eprop`)."""
    return equilibrium_propagation(block_objective(block, idx, targets, **knobs), eps, T1, T2, beta,
                                   variant, z_free, window)
