"""Character corpora: any text file, or a generated offline corpus with a known entropy floor.

The generated corpus is an order-2 Markov chain over a small alphabet with sparse, seeded
transition rows (each two-character context has a few likely successors). Its entropy rate

    h = Σ_ctx π(ctx) · H(P(· | ctx))    (nats per character)

is computed exactly from the stationary distribution π of the pair chain, so a language model
trained on it has a known cross-entropy floor.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import StabilityLabError

ALPHABET = "abcdefghijklmnopqrstuvw .,"
GENERATED = "generated"


@dataclass(frozen=True)
class Corpus:
    """A text with its character vocabulary, split 90/10 into train/val."""

    text: str
    vocab: str
    source: str
    entropy_floor: float | None = None  # nats/char, when known

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, s: str) -> torch.Tensor:
        lut = {ch: i for i, ch in enumerate(self.vocab)}
        return torch.tensor([lut[ch] for ch in s], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)

    @property
    def ids(self) -> torch.Tensor:
        return _encoded(self)

    def split(self, which: str) -> torch.Tensor:
        ids = self.ids
        cut = int(0.9 * len(ids))
        return ids[:cut] if which == "train" else ids[cut:]

    def batch(self, which: str, B: int, T: int, generator: torch.Generator):
        """B random windows: inputs (B, T) and next-token targets (B, T)."""
        data = self.split(which)
        if len(data) <= T + 1:
            raise StabilityLabError(f"the {which} split has {len(data)} characters, fewer than T+1={T + 1}")
        starts = torch.randint(0, len(data) - T - 1, (B,), generator=generator)
        x = torch.stack([data[s:s + T] for s in starts.tolist()])
        y = torch.stack([data[s + 1:s + T + 1] for s in starts.tolist()])
        return x, y

    def unigram_entropy(self) -> float:
        counts = torch.bincount(self.split("train"), minlength=self.vocab_size).double()
        p = counts[counts > 0] / counts.sum()
        return float(-(p * p.log()).sum())

    def describe(self) -> dict:
        return {"source": self.source, "vocab": self.vocab, "chars": len(self.text),
                "sha256": hashlib.sha256(self.text.encode()).hexdigest()[:16],
                "entropy_floor": self.entropy_floor}


_ENCODED: dict = {}


def _encoded(c: Corpus) -> torch.Tensor:
    key = (c.source, len(c.text), c.vocab)
    if key not in _ENCODED:
        lut = np.zeros(0x110000 if max(map(ord, c.vocab)) > 255 else 256, dtype=np.int64)
        for i, ch in enumerate(c.vocab):
            lut[ord(ch)] = i
        codes = np.frombuffer(c.text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        _ENCODED[key] = torch.from_numpy(lut[codes])
    return _ENCODED[key]


def _markov_tables(seed: int, alphabet: str, fanout: int = 4):
    rng = np.random.default_rng(seed)
    V = len(alphabet)
    P = np.full((V, V, V), 1e-3)
    for a in range(V):
        for b in range(V):
            nxt = rng.choice(V, size=fanout, replace=False)
            P[a, b, nxt] += rng.dirichlet(np.full(fanout, 0.7)) * 10
    return P / P.sum(-1, keepdims=True)


def _entropy_rate(P: np.ndarray) -> float:
    V = P.shape[0]
    # pair chain (a,b) -> (b,c) with prob P[a,b,c]
    T = np.zeros((V * V, V * V))
    for a in range(V):
        for b in range(V):
            T[a * V + b, b * V:(b + 1) * V] = P[a, b]
    pi = np.full(V * V, 1.0 / (V * V))
    for _ in range(5000):
        new = pi @ T
        if np.abs(new - pi).max() < 1e-15:
            break
        pi = new
    H = -(P * np.log(P)).sum(-1).reshape(-1)
    return float(pi @ H)


@functools.lru_cache(maxsize=4)
def generated_corpus(n_chars: int = 300_000, seed: int = 0) -> Corpus:
    """The offline default: an order-2 Markov text with an exactly known entropy rate."""
    P = _markov_tables(seed, ALPHABET)
    V = len(ALPHABET)
    rng = np.random.default_rng(seed + 1)
    u = rng.random(n_chars)
    cdf = np.cumsum(P, axis=-1)
    out = np.empty(n_chars, dtype=np.int64)
    a, b = 0, 1
    for i in range(n_chars):
        c = int(np.searchsorted(cdf[a, b], u[i]))
        out[i] = min(c, V - 1)
        a, b = b, out[i]
    text = "".join(ALPHABET[i] for i in out)
    return Corpus(text, ALPHABET, f"{GENERATED}:seed={seed}", entropy_floor=_entropy_rate(P))


def text_corpus(path: str | Path) -> Corpus:
    """A character corpus from a text file (vocabulary = its sorted characters)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StabilityLabError(f"text file {p} not found") from None
    except UnicodeDecodeError:
        raise StabilityLabError(f"{p} is not UTF-8 text") from None
    if len(text) < 1000:
        raise StabilityLabError(f"{p} has only {len(text)} characters; a corpus needs at least 1000")
    return Corpus(text, "".join(sorted(set(text))), str(p.resolve()))


def corpus_from_spec(spec: str | None) -> Corpus:
    """``None``/"generated[:seed=N]" → the generated corpus; otherwise a text file path."""
    if not spec or spec.startswith(GENERATED):
        seed = int(spec.split("seed=")[1]) if spec and "seed=" in spec else 0
        return generated_corpus(seed=seed)
    return text_corpus(spec)
