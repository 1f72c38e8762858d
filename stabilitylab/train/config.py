"""The trainer's hyperparameters: one frozen, validated dataclass saved with every run.

A run directory is tied to its configuration: resuming checks that everything that shapes the
trajectory (model, data, rule, solver, optimiser, stabilisers, seed) is unchanged, and lets only
the :data:`EXTENDABLE` fields (how long to train, how often to monitor and snapshot) differ.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import ConfigError
from ..model import BlockConfig

RULES = ("ep", "bptt", "both")
DECAYS = ("cosine", "linear", "none")
#: fields a resumed run may change
EXTENDABLE = ("steps", "monitor_every", "snapshot_every", "monitor_cos")
#: fields in which the lanes of one comparison from the same start differ (EP with its validity gate
#: vs BPTT, which needs none): snapshots equal in everything else are lanes of one comparison
LANE = ("rule", "gate")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (defaults: the shipped checkpoints' model and solver,
    see checkpoints/README.md).

    rule: 'ep' (AsymEP, centred nudges), 'bptt' (backprop through the T1-step unroll) or 'both'
    (same init, same batches, side by side). data: a text file, or None for the generated corpus.
    eps/T1/T2/beta: Euler step, free-phase steps, nudged-phase steps, nudge strength.
    lr/warmup/decay/min_lr_ratio: AdamW learning rate, linear warmup steps, decay shape to
    ``min_lr_ratio·lr`` at ``steps``; grad_clip: global gradient-norm clip (None = off).
    jacreg/resreg: stabiliser weights (0 = off); controller:
    residual-driven gain on them toward ``res_target``; gate: skip the EP task update when the
    free-phase force residual exceeds it (None = off).
    """

    rule: str = "both"
    data: str | None = None
    C: int = 32
    H: int = 4
    T: int = 16
    c: float = 0.25
    qknorm: bool = True
    init_gain: float = 0.5
    eps: float = 0.25
    T1: int = 40
    T2: int = 20
    beta: float = 0.02
    lr: float = 1.5e-3
    warmup: int = 100
    decay: str = "cosine"
    min_lr_ratio: float = 0.1
    steps: int = 1000
    batch_size: int = 8
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    seed: int = 0
    val_size: int = 64
    monitor_every: int = 100
    snapshot_every: int = 400
    monitor_cos: bool = False
    jacreg: float = 0.0
    resreg: float = 0.0
    controller: bool = False
    res_target: float = 1e-3
    gate: float | None = None

    def __post_init__(self):
        if self.rule not in RULES:
            raise ConfigError(f"rule must be one of {RULES}, got {self.rule!r}", param="rule")
        if self.decay not in DECAYS:
            raise ConfigError(f"decay must be one of {DECAYS}, got {self.decay!r}", param="decay")
        positive = ("T1", "steps", "batch_size", "val_size", "monitor_every", "snapshot_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", param=name)
        for name in ("T2", "warmup"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}", param=name)
        for name in ("eps", "beta", "lr", "res_target"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}", param=name)
        for name in ("weight_decay", "jacreg", "resreg", "min_lr_ratio"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}", param=name)
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be > 0, got {self.grad_clip}", param="grad_clip")
        if self.gate is not None and not self.gate > 0:
            raise ConfigError(f"gate must be a force-residual tolerance > 0, got {self.gate}", param="gate")
        if self.controller and not (self.jacreg or self.resreg):
            raise ConfigError("controller drives the stabiliser weights: give a jacreg and/or resreg weight too",
                              param="controller")
        if self.rule != "bptt" and self.T2 < 1:
            raise ConfigError("EP needs T2 >= 1 nudged steps")

    @property
    def rules(self) -> tuple[str, ...]:
        """The training lanes: ('ep', 'bptt') for 'both', else the one rule."""
        return ("ep", "bptt") if self.rule == "both" else (self.rule,)

    def block_config(self, vocab: int) -> BlockConfig:
        return BlockConfig(vocab=vocab, C=self.C, H=self.H, T=self.T, c=self.c, qknorm=self.qknorm,
                           init_gain=self.init_gain)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def mismatches(self, other: "TrainConfig") -> list[str]:
        """Fields (outside :data:`EXTENDABLE`) where ``other`` differs from this config."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: {a[k]!r} -> {b[k]!r}" for k in a if k not in EXTENDABLE and a[k] != b[k]]
