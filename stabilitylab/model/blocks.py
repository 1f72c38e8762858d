"""Equilibrium blocks: the non-conservative ``thick`` transformer block and a conservative control.

Thick (pre-LN transformer block run as a fixed point, explicit-math attention so forward-mode AD
works)::

    F(z) = -(z - x_in) + α·Attn(LN1 z) + s·FFN(LN2 z) - c·z
    Attn(h) = concat_h(g_h · softmax_causal(q_h k_hᵀ/√d) v_h) W_O,  q = h W_Q, k = h W_K, v = h W_V
    FFN(h)  = GELU_tanh(h W1 + b1) W2 + b2

with knobs α = ``alpha`` (attention-output scale, W_O ← α W_O), s = ``ffn_scale``, ``c`` and a
per-head gain g_h = ``head_h``.

Conservative (``F = -∇E``, symmetric Jacobian)::

    E(z) = ½‖z - x_in‖² + ½c‖z‖² - α Σ_heads Σ_t logsumexp_{s≤t}(q_t·k_s/√d) - s Σ log cosh(z W1 + b1)

whose force is written out analytically (q = zW_Q, k = zW_K):
``-∇E = -(z - x_in) - c z + α[(A K)W_Qᵀ + (Aᵀ Q)W_Kᵀ]/√d + s tanh(z W1 + b1) W1ᵀ``.

Both blocks embed tokens as ``x_in = tok_emb[idx] + pos_emb`` and read out ``logits = z W_head``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import BlockConfig

_NEG = -1e9  # additive causal mask (finite: keeps forward-mode AD free of inf arithmetic)


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


def _heads(x: torch.Tensor, H: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.reshape(B, T, H, C // H).transpose(1, 2)  # (B, H, T, d)


def _causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    T = scores.shape[-1]
    mask = torch.ones(T, T, dtype=torch.bool, device=scores.device).tril()
    return torch.softmax(scores + (~mask) * _NEG, dim=-1)


class EquilibriumBlock(nn.Module):
    """Shared parameters and plumbing; subclasses define :meth:`force`."""

    def __init__(self, config: BlockConfig):
        super().__init__()
        self.config = config
        C, V, T, W = config.C, config.vocab, config.T, config.ffn_mult * config.C
        self.tok_emb = nn.Parameter(torch.zeros(V, C))
        self.pos_emb = nn.Parameter(torch.zeros(T, C))
        self.WQ = nn.Parameter(torch.zeros(C, C))
        self.WK = nn.Parameter(torch.zeros(C, C))
        self.W1 = nn.Parameter(torch.zeros(C, W))
        self.b1 = nn.Parameter(torch.zeros(W))
        self.W_head = nn.Parameter(torch.zeros(C, V))

    # parameter groups used by gradient reports
    GROUPS = {
        "Q": ("WQ",), "K": ("WK",), "V": ("WV",), "O": ("WO",),
        "FFN": ("W1", "b1", "W2", "b2", "ln2_w", "ln2_b"), "LN": ("ln1_w", "ln1_b"),
        "embeddings": ("tok_emb", "pos_emb"), "head": ("W_head",),
    }

    def reset_parameters(self, seed: int = 0) -> "EquilibriumBlock":
        """Seeded init: N(0, gain²/fan_in) for block matrices, N(0, 1) embeddings, zero biases."""
        g = torch.Generator().manual_seed(seed)
        gain = self.config.init_gain
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name in ("tok_emb", "pos_emb"):
                    p.copy_(torch.randn(p.shape, generator=g) * (0.5 if name == "pos_emb" else 1.0))
                elif name == "W_head":
                    p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[0]))
                elif name.endswith("_w"):
                    p.fill_(1.0)
                elif p.dim() == 1:
                    p.zero_()
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * gain / math.sqrt(p.shape[0]))
        return self

    def knobs(self) -> dict:
        """The default knob values of :meth:`force` (the Field's params)."""
        return {"alpha": 1.0, "ffn_scale": 1.0, "c": self.config.c,
                **{f"head_{h}": 1.0 for h in range(self.config.H)}}

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """x_in = tok_emb[idx] + pos_emb[:T] for token ids ``idx`` of shape (B, T)."""
        T = idx.shape[-1]
        return self.tok_emb[idx] + self.pos_emb[:T]

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_head

    def head_gains(self, knobs: dict, like: torch.Tensor) -> torch.Tensor:
        gains = [knobs.get(f"head_{h}", 1.0) for h in range(self.config.H)]
        return torch.tensor(gains, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)

    def force(self, z: torch.Tensor, x_in: torch.Tensor, **knobs: float) -> torch.Tensor:
        raise NotImplementedError


class ThickBlock(EquilibriumBlock):
    """Non-conservative pre-LN transformer block with independent W_Q, W_K, W_V, W_O."""

    def __init__(self, config: BlockConfig):
        super().__init__(config)
        C, W = config.C, config.ffn_mult * config.C
        self.ln1_w = nn.Parameter(torch.ones(C))
        self.ln1_b = nn.Parameter(torch.zeros(C))
        self.WV = nn.Parameter(torch.zeros(C, C))
        self.WO = nn.Parameter(torch.zeros(C, C))
        self.ln2_w = nn.Parameter(torch.ones(C))
        self.ln2_b = nn.Parameter(torch.zeros(C))
        self.W2 = nn.Parameter(torch.zeros(W, C))
        self.b2 = nn.Parameter(torch.zeros(C))

    def attention(self, h: torch.Tensor, knobs: dict) -> torch.Tensor:
        cfg = self.config
        q, k, v = _heads(h @ self.WQ, cfg.H), _heads(h @ self.WK, cfg.H), _heads(h @ self.WV, cfg.H)
        if cfg.qknorm:
            q, k = _rms(q), _rms(k)
        a = _causal_softmax(q @ k.transpose(-2, -1) / math.sqrt(cfg.head_dim))
        o = (a @ v) * self.head_gains(knobs, h)
        B, _, T, _ = o.shape
        return o.transpose(1, 2).reshape(B, T, cfg.C) @ self.WO

    def ffn(self, h: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(h @ self.W1 + self.b1, approximate="tanh") @ self.W2 + self.b2

    def force(self, z, x_in, alpha=1.0, ffn_scale=1.0, c=None, **heads):
        c = self.config.c if c is None else c
        ln = nn.functional.layer_norm
        h1 = ln(z, (self.config.C,), self.ln1_w, self.ln1_b)
        h2 = ln(z, (self.config.C,), self.ln2_w, self.ln2_b)
        return (-(z - x_in) + alpha * self.attention(h1, heads)
                + ffn_scale * self.ffn(h2) - c * z)


class ConservativeBlock(EquilibriumBlock):
    """Energy-based control: tied LogSumExp attention energy + log-cosh Hopfield FFN energy."""

    def reset_parameters(self, seed: int = 0) -> "ConservativeBlock":
        """As the thick init, with W1 ~ N(0, 0.64 gain²/(4C)) and W_Q, W_K halved so that the
        energy's curvature stays below the leak's at init (a stable, bounded-below energy)."""
        super().reset_parameters(seed)
        with torch.no_grad():
            self.W1.mul_(0.8 / math.sqrt(self.config.ffn_mult))
            self.WQ.mul_(0.5)
            self.WK.mul_(0.5)
        return self

    def energy(self, z, x_in, alpha=1.0, ffn_scale=1.0, c=None, **heads):
        """E(z) summed over the batch (its negative gradient is :meth:`force`)."""
        cfg = self.config
        c = cfg.c if c is None else c
        q, k = _heads(z @ self.WQ, cfg.H), _heads(z @ self.WK, cfg.H)
        s = q @ k.transpose(-2, -1) / math.sqrt(cfg.head_dim)
        T = s.shape[-1]
        mask = torch.ones(T, T, dtype=torch.bool, device=z.device).tril()
        lse = torch.logsumexp(s + (~mask) * _NEG, dim=-1)  # (B, H, T)
        e_att = (lse * self.head_gains(heads, z)[..., 0]).sum()
        u = z @ self.W1 + self.b1
        e_ffn = (u.abs() + nn.functional.softplus(-2 * u.abs()) - math.log(2)).sum()  # Σ log cosh u
        return (0.5 * (z - x_in).pow(2).sum() + 0.5 * c * z.pow(2).sum()
                - alpha * e_att - ffn_scale * e_ffn)

    def force(self, z, x_in, alpha=1.0, ffn_scale=1.0, c=None, **heads):
        cfg = self.config
        c = cfg.c if c is None else c
        d = math.sqrt(cfg.head_dim)
        Q, K = _heads(z @ self.WQ, cfg.H), _heads(z @ self.WK, cfg.H)
        a = _causal_softmax(Q @ K.transpose(-2, -1) / d) * self.head_gains(heads, z)
        B, _, T, _ = Q.shape
        merge = lambda x: x.transpose(1, 2).reshape(B, T, cfg.C)  # noqa: E731
        grad_att = (merge(a @ K) @ self.WQ.T + merge(a.transpose(-2, -1) @ Q) @ self.WK.T) / d
        grad_ffn = torch.tanh(z @ self.W1 + self.b1) @ self.W1.T
        return -(z - x_in) - c * z + alpha * grad_att + ffn_scale * grad_ffn


BLOCKS = {"thick": ThickBlock, "conservative": ConservativeBlock}


def make_block(config: BlockConfig, seed: int = 0) -> EquilibriumBlock:
    """A seeded, randomly initialised block of the config's mode."""
    return BLOCKS[config.mode](config).reset_parameters(seed)
