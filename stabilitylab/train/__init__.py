"""The embedded trainer: the thick block as a character language model, trained by AsymEP or BPTT
(or both side by side), with an in-training stability monitor, snapshots and full-state resume.

:class:`TrainConfig` holds the hyperparameters, :class:`Run` the loop (``Run.open(cfg, dir).train()``).
"""
from .config import TrainConfig
from .loop import Run

__all__ = ["Run", "TrainConfig"]
