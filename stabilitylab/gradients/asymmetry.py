"""An asymmetry knob from a conservative field to the checkpoint's own block, and its measure.

:class:`BlendedBlock` is a thick block whose force blends, on the same parameters and input,

    F_r = (1 − r)·F_cons + r·F_thick,     r = knob ``asym`` ∈ [0, 1].

F_cons = −∇E is the conservative block's force (tied LogSumExp attention energy on W_Q, W_K and the
log-cosh Hopfield energy on W1, b1) evaluated on the thick block's tensors rescaled as the
conservative block's initialisation rescales them (W_Q, W_K × ½, W1 × 0.8/√ffn_mult): unscaled
thick weights make the attention energy unbounded below (its curvature beats the leak's), so no
fixed point would exist near r = 0. The Jacobian J_r = (1 − r) J_cons + r J_thick has antisymmetric
part exactly r·(J_thick − J_thickᵀ)/2 (J_cons is symmetric): r scales the non-conservative part
linearly, r = 0 is a gradient system (naive EP is exact there), r = 1 the checkpoint's own block.
At r = 0 the force does not depend on W_V, W_O, W2, b2 or the layer norms (zero gradients).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from ..field import Field
from ..model import ConservativeBlock, ThickBlock
from ..linear import Linearization

QK_SCALE = 0.5  # the conservative block's init scaling of W_Q and W_K


class BlendedBlock(ThickBlock):
    """Thick block with the extra knob ``asym`` = r (module docstring); r = 1 by default."""

    @classmethod
    def of(cls, block: ThickBlock) -> "BlendedBlock":
        """A blended block with ``block``'s config, parameters, dtype and device."""
        p = next(block.parameters())
        out = cls(block.config).to(dtype=p.dtype, device=p.device)
        out.load_state_dict(block.state_dict())
        return out

    def knobs(self) -> dict:
        return {**super().knobs(), "asym": 1.0}

    def conservative_force(self, z, x_in, **knobs):
        """F_cons on the rescaled shared tensors (ConservativeBlock.force reads only these)."""
        view = SimpleNamespace(config=self.config, head_gains=self.head_gains, b1=self.b1,
                               WQ=QK_SCALE * self.WQ, WK=QK_SCALE * self.WK,
                               W1=0.8 / math.sqrt(self.config.ffn_mult) * self.W1)
        return ConservativeBlock.force(view, z, x_in, **knobs)

    def force(self, z, x_in, asym=1.0, **knobs):
        thick = ThickBlock.force(self, z, x_in, **knobs)
        if asym == 1.0:
            return thick
        return (1.0 - asym) * self.conservative_force(z, x_in, **knobs) + asym * thick


def antisymmetry_ratio(field: Field, z: torch.Tensor, probes: int = 4, seed: int = 0) -> float:
    """Mean of ‖A v‖/‖J v‖ over seeded random v, A = (J − Jᵀ)/2 at z (0: conservative). The probes
    are drawn once in float64 (then cast), so float32 and float64 states see the same vectors."""
    P = Linearization(field, z)
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(z.numel(), probes, generator=g, dtype=torch.float64).to(device=z.device, dtype=z.dtype)
    with torch.no_grad():
        JV = P.J()(V)
        AV = 0.5 * (JV - P.JT()(V))
    return float((AV.norm(dim=0) / JV.norm(dim=0)).mean())
