"""A block plus an input batch as a :class:`~stabilitylab.Field`."""
from __future__ import annotations

import torch
from torch import nn

from ..field import Field
from .blocks import EquilibriumBlock


class BlockForce(nn.Module):
    """``z -> block.force(z, x_in, **knobs)`` with the clamped input ``x_in`` held as a buffer."""

    def __init__(self, block: EquilibriumBlock, x_in: torch.Tensor):
        super().__init__()
        self.block = block
        self.register_buffer("x_in", x_in.detach().clone())

    def forward(self, z: torch.Tensor, **knobs: float) -> torch.Tensor:
        return self.block.force(z, self.x_in, **knobs)


def block_field(block: EquilibriumBlock, idx: torch.Tensor, name: str = "block", meta=None) -> Field:
    """The Field of ``block`` on token batch ``idx`` (B, T): z0 = x_in, knobs alpha/ffn_scale/c/head_h."""
    with torch.no_grad():
        x_in = block.embed(idx)
    # sequences of the batch do not interact: J is block-diagonal by sequence (spectral.blocks)
    info = {"config": block.config.to_dict(), "batch_idx": idx.tolist(), "blocks": int(idx.shape[0]), **(meta or {})}
    return Field(BlockForce(block, x_in), x_in.clone(), block.knobs(), name=name, meta=info)
