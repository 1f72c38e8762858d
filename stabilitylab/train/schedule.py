"""Learning-rate schedule: linear warmup, then cosine or linear decay to a floor.

For update number ``k`` (0-based) of ``K`` with ``W`` warmup steps and floor ratio ``r``::

    k < W:   lr_k = lr · (k + 1) / W
    k ≥ W:   p = min(1, (k − W) / max(1, K − W))
             cosine: lr_k = lr · (r + (1 − r) · ½(1 + cos πp));  linear: lr · (1 − (1 − r) p);  none: lr

The schedule is a pure function of the step, so resuming needs only the step count.
"""
from __future__ import annotations

import math


def lr_at(step: int, lr: float, warmup: int, total: int, decay: str = "cosine", floor: float = 0.1) -> float:
    """The learning rate of update ``step`` (see the module docstring)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    if decay == "cosine":
        return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p)))
    if decay == "linear":
        return lr * (1.0 - (1.0 - floor) * p)
    return lr
