"""Model configuration: a frozen dataclass validated at construction."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import ConfigError

MODES = ("thick", "conservative")


@dataclass(frozen=True)
class BlockConfig:
    """Shape and physics of one equilibrium block.

    vocab: token alphabet size; C: channels; H: heads (C % H == 0); T: context length;
    c: damping leak (F gets −c·z); qknorm: RMS-normalise q and k per head; mode: 'thick'
    (non-conservative transformer block) or 'conservative' (force = −∇E); ffn_mult: FFN width
    multiplier; init_gain: scale of the random block weights at initialisation.
    """

    vocab: int = 32
    C: int = 32
    H: int = 4
    T: int = 16
    c: float = 1.0
    qknorm: bool = True
    mode: str = "thick"
    ffn_mult: int = 4
    init_gain: float = 1.0

    def __post_init__(self):
        for name in ("vocab", "C", "H", "T", "ffn_mult"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"config {name} must be a positive integer, got {v!r}")
        if self.vocab < 2:
            raise ConfigError(f"config vocab must be at least 2, got {self.vocab}")
        if self.C % self.H:
            raise ConfigError(f"config C={self.C} must be divisible by H={self.H} (head size C/H)")
        if not (isinstance(self.c, (int, float)) and self.c >= 0):
            raise ConfigError(f"config c (damping) must be a float >= 0, got {self.c!r}")
        if self.mode not in MODES:
            raise ConfigError(f"config mode must be one of {MODES}, got {self.mode!r}")
        if not isinstance(self.qknorm, bool):
            raise ConfigError(f"config qknorm must be true/false, got {self.qknorm!r}")
        if not (isinstance(self.init_gain, (int, float)) and self.init_gain > 0):
            raise ConfigError(f"config init_gain must be > 0, got {self.init_gain!r}")
        object.__setattr__(self, "c", float(self.c))
        object.__setattr__(self, "init_gain", float(self.init_gain))

    @property
    def head_dim(self) -> int:
        return self.C // self.H

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "BlockConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"model config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config key(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def parse(cls, text: str) -> "BlockConfig":
        """Parse ``"C=64,H=4,T=32,vocab=65,c=1.0,qknorm=true"`` (command-line form)."""
        out: dict = {}
        types = {f.name: f.type for f in fields(cls)}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, sep, val = item.partition("=")
            key = key.strip()
            if not sep or key not in types:
                raise ConfigError(f"bad config item {item!r}; use KEY=VALUE with KEY in {sorted(types)}")
            kind = types[key]
            try:
                if kind == "bool":
                    if val.lower() not in ("true", "false", "1", "0"):
                        raise ValueError
                    out[key] = val.lower() in ("true", "1")
                elif kind == "int":
                    out[key] = int(val)
                elif kind == "float":
                    out[key] = float(val)
                else:
                    out[key] = val
            except ValueError:
                raise ConfigError(f"config {key} has an invalid value {val!r}") from None
        return cls(**out)
