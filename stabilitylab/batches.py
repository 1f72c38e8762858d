"""Input batches: the token windows a checkpoint is analysed on, from the user's own data.

A *token source* is read from ``--data``:

- a text file (character vocabulary, split 90/10 into train/val; :mod:`stabilitylab.data`);
- ``generated[:seed=N]``, the offline Markov corpus the shipped runs were trained on;
- a nanoGPT-style folder: ``train.bin`` / ``val.bin`` (uint16 token ids) and optionally
  ``meta.pkl`` (``vocab_size``, ``itos``, ``stoi``), read as plain data only — a pickle that
  names any class or function is refused, never executed;
- a token array ``.npy`` (read with ``allow_pickle=False``) or ``.pt`` (``weights_only``): 1-D, a
  token stream split 90/10 like a text; 2-D, prepared sequences (rows), every row in both splits.

:func:`draw` takes ``B`` windows of ``T`` tokens (and their next-token targets) at offsets drawn by
a generator seeded with ``batch_seed`` alone, so the same arguments always give the same batch.
With no data, :func:`synthetic` gives uniform random tokens and says so (``synthetic = True``).
Every batch describes itself (:meth:`Batch.describe`): source, content hash, split, offsets, B, T.
"""
from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import GENERATED, Corpus, corpus_from_spec
from .errors import StabilityLabError

SPLITS = ("train", "val")
SYNTHETIC = "uniform-random"
#: files above this size are hashed by their size and first/last HASH_SAMPLE bytes (said so)
HASH_WHOLE, HASH_SAMPLE = 256 << 20, 16 << 20


class DataError(StabilityLabError):
    """The data source cannot be read or does not fit the model (messages start with ``data``)."""

    def __init__(self, message: str):
        super().__init__(message, param="data")


@dataclass(frozen=True)
class TokenSource:
    """Token ids of one split: a stream (1-D) or prepared sequences (2-D rows)."""

    tokens: np.ndarray
    source: str
    kind: str  # text | generated | nanogpt | array
    split: str
    sha256: str
    vocab_size: int | None = None  # what the source declares (text vocabulary, meta.pkl), if anything


@dataclass(frozen=True)
class Batch:
    """``idx`` (B, T) token ids and ``targets`` (B, T) next tokens (None where a row has no
    token after its window), with where they came from."""

    idx: torch.Tensor
    targets: torch.Tensor | None
    source: str
    kind: str
    split: str
    sha256: str
    offsets: tuple[int, ...]
    seed: int

    @property
    def synthetic(self) -> bool:
        return self.kind == "synthetic"

    def describe(self) -> dict:
        """The provenance every dataset computed on this batch carries."""
        B, T = self.idx.shape
        return {"batch_source": self.source, "batch_kind": self.kind, "batch_split": self.split,
                "batch_sha256": self.sha256, "batch_offsets": list(self.offsets), "batch_size": B,
                "batch_T": T, "batch_seed": self.seed, "batch_synthetic": int(self.synthetic)}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _file_sha(path: Path) -> str:
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= HASH_WHOLE:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            return h.hexdigest()[:16]
        h.update(str(size).encode())
        h.update(fh.read(HASH_SAMPLE))
        fh.seek(size - HASH_SAMPLE)
        h.update(fh.read(HASH_SAMPLE))
    return "sampled:" + h.hexdigest()[:16]


class _PlainUnpickler(pickle.Unpickler):
    """Dicts, lists, tuples, strings and numbers only: any class or function is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name}")


def read_meta(path: Path) -> dict:
    """A nanoGPT ``meta.pkl`` as plain data (never executes pickled code)."""
    try:
        meta = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"data {path} holds Python objects ({exc}), not plain data; stabilitylab "
                        "refuses to run pickled code — re-save it with plain dicts/lists/str/int") from None
    except Exception as exc:
        raise DataError(f"data {path} is not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise DataError(f"data {path} holds a {type(meta).__name__}, expected a dict with vocab_size")
    return meta


def _stream_split(tokens: np.ndarray, split: str) -> np.ndarray:
    if tokens.ndim == 2:
        return tokens
    cut = int(0.9 * len(tokens))
    return tokens[:cut] if split == "train" else tokens[cut:]


def _integer_tokens(arr, path) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iu" or arr.ndim not in (1, 2):
        raise DataError(f"data {path} holds a {arr.ndim}-D {arr.dtype} array; expected a 1-D token "
                        "stream or 2-D sequences of integer token ids")
    if arr.size and int(arr.min()) < 0:
        raise DataError(f"data {path} has negative token ids")
    return arr


def _array(path: Path, split: str) -> TokenSource:
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError as exc:
            raise DataError(f"data {path} cannot be read without pickle ({exc})") from None
    else:
        try:
            arr = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DataError(f"data {path} is not a plain tensor file ({str(exc).splitlines()[0][:120]})") from None
        if not isinstance(arr, torch.Tensor):
            raise DataError(f"data {path} holds a {type(arr).__name__}, expected a tensor of token ids")
        arr = arr.numpy()
    arr = _integer_tokens(arr, path)
    return TokenSource(_stream_split(arr, split), str(path), "array", split, _file_sha(path))


def _nanogpt(folder: Path, split: str) -> TokenSource:
    binary = folder / f"{split}.bin"
    if not binary.is_file():
        have = sorted(p.name for p in folder.glob("*.bin"))
        raise DataError(f"data {folder} has no {split}.bin (found: {', '.join(have) or 'no .bin files'}); "
                        "a nanoGPT-style folder holds train.bin and val.bin (uint16 token ids)")
    meta_path = folder / "meta.pkl"
    vocab = None
    if meta_path.is_file():
        vocab = read_meta(meta_path).get("vocab_size")
        if not (isinstance(vocab, int) and vocab > 0):
            raise DataError(f"data {meta_path}: vocab_size is {vocab!r}, expected a positive integer")
    tokens = np.memmap(binary, dtype=np.uint16, mode="r")
    return TokenSource(tokens, str(folder), "nanogpt", split, _file_sha(binary), vocab)


def open_source(spec: str, split: str = "val") -> TokenSource:
    """The token source named by ``spec`` (see the module docstring), restricted to ``split``."""
    if split not in SPLITS:
        raise StabilityLabError(f"split must be one of {', '.join(SPLITS)}, got {split!r}", param="split")
    path = Path(spec)
    if spec.startswith(GENERATED) or path.suffix.lower() not in (".npy", ".pt") and path.is_file():
        corpus = corpus_from_spec(spec)
        kind = "generated" if spec.startswith(GENERATED) else "text"
        return TokenSource(corpus.split(split).numpy(), corpus.source, kind, split,
                           _sha(corpus.text.encode()), corpus.vocab_size)
    if path.is_dir():
        return _nanogpt(path, split)
    if path.is_file():
        return _array(path, split)
    raise DataError(f"data {spec} not found (give a text file, a nanoGPT folder with train.bin/val.bin, "
                    "a .npy/.pt token array, or generated)")


def check_vocab(src: TokenSource, vocab: int) -> None:
    """The source's tokens must index the model's embedding (and a declared vocabulary match it)."""
    if src.vocab_size is not None and src.vocab_size != vocab:
        raise DataError(f"data {src.source} has a vocabulary of {src.vocab_size} tokens but the model "
                        f"embeds {vocab}; give the data the model was trained on")
    top = int(src.tokens.max()) if src.tokens.size else -1
    if top >= vocab:
        raise DataError(f"data {src.source} has token id {top}, outside the model's vocabulary of {vocab}")


def draw(src: TokenSource, B: int, T: int, seed: int = 0) -> Batch:
    """``B`` windows of ``T`` tokens from ``src`` at offsets drawn from ``seed`` alone.

    A stream gives windows at offsets ``randint(0, len − T − 1)`` (the draw of
    :meth:`stabilitylab.data.Corpus.batch`, so text corpora give the same batches as before);
    prepared sequences give ``B`` rows (a seeded permutation) cut to their first ``T`` tokens.
    """
    g = torch.Generator().manual_seed(seed)
    tokens = src.tokens
    if tokens.ndim == 1:
        if len(tokens) <= T + 1:
            raise DataError(f"data {src.source}: the {src.split} split has {len(tokens)} tokens, fewer "
                            f"than T+1 = {T + 1}")
        offsets = torch.randint(0, len(tokens) - T - 1, (B,), generator=g).tolist()
        windows = np.stack([np.asarray(tokens[s:s + T + 1], dtype=np.int64) for s in offsets])
        targets = torch.from_numpy(windows[:, 1:])
    else:
        rows, length = tokens.shape
        if length < T:
            raise DataError(f"data {src.source}: its sequences have {length} tokens, the model needs T = {T}")
        if B > rows:
            raise DataError(f"data {src.source} has {rows} sequences, fewer than the batch size {B}")
        offsets = torch.randperm(rows, generator=g)[:B].tolist()
        windows = np.stack([np.asarray(tokens[r, :T + 1], dtype=np.int64) for r in offsets])
        targets = torch.from_numpy(windows[:, 1:]) if length > T else None
    return Batch(torch.from_numpy(windows[:, :T].copy()), targets, src.source, src.kind, src.split,
                 src.sha256, tuple(int(o) for o in offsets), seed)


def synthetic(vocab: int, B: int, T: int, seed: int = 0) -> Batch:
    """Uniform random tokens (and random next tokens): a batch that is no one's data, and says so."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, vocab, (B, T), generator=g)
    nxt = torch.randint(0, vocab, (B, 1), generator=g)
    return Batch(idx, torch.cat([idx[:, 1:], nxt], dim=1), SYNTHETIC, "synthetic", "none", "none",
                 (), seed)


def batch_for(vocab: int, T: int, B: int = 1, seed: int = 0, data: str | None = None,
              split: str = "val") -> Batch:
    """The analysis batch: ``B`` windows of ``data`` (checked against the model's ``vocab``), or a
    synthetic one when ``data`` is None."""
    if data is None:
        return synthetic(vocab, B, T, seed)
    src = open_source(data, split)
    check_vocab(src, vocab)
    return draw(src, B, T, seed)


def analysis_batch(vocab_size: int, T: int, B: int = 1, seed: int = 0, corpus: Corpus | None = None):
    """The token ids (B, T) of :func:`batch_for` on ``corpus`` (when its vocabulary matches the
    model's, else synthetic): the trainer's monitor batch, the one ``stabilitylab.load`` draws."""
    data = corpus.source if corpus is not None and corpus.vocab_size == vocab_size else None
    return batch_for(vocab_size, T, B, seed, data).idx
