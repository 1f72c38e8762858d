"""Spectra of a batch whose sequences do not interact: B searches in lockstep, one product each round.

A transformer block relaxes each sequence of a (B, T, C) batch on its own: the Jacobian of the
batch is block-diagonal by sequence, and its spectrum is the union of the B per-sequence spectra.
A search in the full space (n = B·T·C) must resolve B interleaved copies of the wanted part;
B searches of size T·C each resolve one. They run here *together*: each is an ordinary
Krylov–Schur search (:func:`~.krylov_schur.eigs_shared`, the shared J / M / ε_crit search of
:mod:`.spectrum`) in its own thread, and every time the searches still running have each asked
for a product, ONE product of the batch Jacobian on the stacked vectors answers all of them (the
vector of sequence b in block b, zeros in the blocks of finished searches). A round costs one
batched product, whatever B; the whole costs as many products as the longest search.

A field declares the structure as ``meta["blocks"] = B`` (the batch dimension is the state's
first axis: :func:`~stabilitylab.model.block_field` does it for the transformer block);
:func:`block_count` reads it. ``spectrum(..., search="blocks")`` (``stabilitylab spectrum
--search blocks``) runs :func:`block_search`: the merged modes carry their ``sequence``, and the
verdict on the batch is that of the worst block (the verdict on the union of the modes).
Measured (benchmarks/RESULTS.md): at C = 512, T = 256, B = 8 1.29× faster than one search in the
whole batch space (n = 1,048,576); at n = 65,536 0.98×; on tiny states the threads cost more.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import StabilityLabError
from ..field import Field
from ..linear import Linearization
from .euler import crit_key, smallest_eps_crit
from .krylov_schur import EigResult, eigs_shared


def block_count(field: Field) -> int:
    """B of a field that declares ``meta["blocks"]`` (1 when it declares nothing)."""
    B = int(field.meta.get("blocks", 1))
    if B < 1 or (B > 1 and field.z0.shape[0] != B):
        raise StabilityLabError(f"meta['blocks'] = {B} does not match the state's first axis {tuple(field.z0.shape)}")
    return B


class _Lockstep:
    """Products of the block-diagonal J for B concurrent searches (see the module docstring)."""

    def __init__(self, lin: Linearization, B: int):
        self.lin, self.B, self.nb = lin, B, lin.n // B
        self.cv = threading.Condition()
        self.active, self.pending, self.results = set(range(B)), {}, {}
        self.products = 0

    def product(self, b: int, v: torch.Tensor) -> torch.Tensor:
        with self.cv:
            self.pending[b] = v
            self._maybe_run()
            self.cv.wait_for(lambda: b in self.results)
            return self.results.pop(b)

    def leave(self, b: int) -> None:
        with self.cv:
            self.active.discard(b)
            self._maybe_run()

    def _maybe_run(self) -> None:
        if not self.pending or len(self.pending) < len(self.active):
            return
        cols = max(1 if v.dim() == 1 else v.shape[1] for v in self.pending.values())
        V = torch.zeros(self.B, self.nb, cols, dtype=self.lin.z.dtype, device=self.lin.z.device)
        for b, v in self.pending.items():
            V[b, :, : (1 if v.dim() == 1 else v.shape[1])] = v.reshape(self.nb, -1)
        W = self.lin.J().matvec(V.reshape(self.B * self.nb, cols) if cols > 1 else V.reshape(-1))
        W = W.reshape(self.B, self.nb, cols)
        self.products += cols
        for b, v in self.pending.items():
            self.results[b] = W[b, :, 0] if v.dim() == 1 else W[b, :, : v.shape[1]]
        self.pending = {}
        self.cv.notify_all()


@dataclass
class BlockSearch:
    """The merged result of :func:`block_search`: ``J`` (rightmost λ) and ``M`` (λ ranked by
    |1 + ελ|), the batch's ``k`` best of each (``k + 1`` where a pair would be split) as
    :class:`~.krylov_schur.EigResult` (``matvecs``: batched products), with the ``sequence`` of
    each mode; the smallest ε_crit over every sequence's modes; per sequence (all its modes) the
    largest |μ| and the rightmost Re λ; the products each sequence's search asked for."""

    J: EigResult
    M: EigResult
    sequence_J: np.ndarray
    sequence_M: np.ndarray
    min_crit: float
    settled: bool
    max_abs_mu_seq: np.ndarray
    leading_re_J_seq: np.ndarray
    matvecs_per_sequence: list[int]


def _merge(results: list[EigResult], key: np.ndarray, k: int, nb: int, n: int, products: int):
    """The ``k`` best of the sequences' modes by ``key`` (decreasing), as one EigResult, and
    their sequences; eigenvectors are embedded in the batch state (zeros outside their block)."""
    lam = np.concatenate([r.eigenvalues.numpy() for r in results])
    seq = np.concatenate([np.full(len(r.eigenvalues), b) for b, r in enumerate(results)])
    res = np.concatenate([r.residuals.numpy() for r in results])
    ok = np.concatenate([r.residuals.numpy() <= r.tol * np.maximum(np.abs(r.eigenvalues.numpy()), r.norm_estimate)
                         for r in results])
    pos = np.concatenate([np.arange(len(r.eigenvalues)) for r in results])
    order = np.lexsort((-lam.imag, -key))  # best key first; a pair: positive imaginary part first
    chosen = set(order[:k].tolist())
    for i in list(chosen):  # do not split a conjugate pair: add the partner from the same sequence
        partner = np.flatnonzero((seq == seq[i]) & (np.abs(lam - np.conj(lam[i])) <= 1e-9 * max(abs(lam[i]), 1.0)))
        if lam[i].imag != 0 and len(partner):
            chosen.add(int(partner[0]))
    keep = np.array([i for i in order if i in chosen])
    take = len(keep)
    vectors = None
    if all(r.eigenvectors is not None for r in results):
        first = results[0].eigenvectors
        vectors = torch.zeros(n, take, dtype=first.dtype, device=first.device)
        for j, i in enumerate(keep):
            b = int(seq[i])
            vectors[b * nb:(b + 1) * nb, j] = results[b].eigenvectors[:, pos[i]]
    merged = EigResult(eigenvalues=torch.as_tensor(lam[keep]), residuals=torch.as_tensor(res[keep]),
                       eigenvectors=vectors, converged=all(r.converged for r in results),
                       nconv=int(ok[keep].sum()), matvecs=products, restarts=max(r.restarts for r in results),
                       which=results[0].which, ncv=results[0].ncv, tol=results[0].tol,
                       norm_estimate=max(r.norm_estimate for r in results))
    return merged, seq[keep]


def block_search(lin: Linearization, B: int, k: int, eps: float, *, tol: float = 1e-8, ncv: int | None = None,
                 maxiter: int | None = None, seed: int = 0, vectors: bool = False,
                 v0: torch.Tensor | None = None) -> BlockSearch:
    """Rightmost λ of J, largest |μ| of M = I + εJ and the smallest ε_crit of every sequence of a
    batch whose J at ``lin`` is block-diagonal in ``B`` equal blocks, by B lockstep searches
    (module docstring), merged (:class:`BlockSearch`). Sequence b starts from its block of the
    batch vector ``v0`` where that is non-zero and finite, else from a random vector (seed ``seed + b``)."""
    if lin.n % B:
        raise StabilityLabError(f"n = {lin.n} is not divisible into {B} blocks")
    step = _Lockstep(lin, B)
    starts = [None] * B if v0 is None else [
        part if bool(torch.isfinite(part).all()) and bool(part.abs().max() > 0) else None
        for part in v0.reshape(B, -1)]
    wanted = {"J": ("LR", k), "M": (lambda lam: np.abs(1 + eps * lam), k), "eps_crit": (crit_key, 1)}

    def search(b: int):
        try:
            return eigs_shared(lambda v: step.product(b, v), wanted, tol=tol, ncv=ncv, maxiter=maxiter,
                               seed=seed + b, n=step.nb, dtype=lin.z.dtype, device=lin.z.device,
                               return_eigenvectors=vectors, v0=starts[b])
        finally:
            step.leave(b)

    with ThreadPoolExecutor(max_workers=B) as pool:
        runs = list(pool.map(search, range(B)))
    parts = {name: [r.results[name] for r in runs] for name in wanted}
    every = np.concatenate([r.eigenvalues.numpy() for rs in parts.values() for r in rs])
    lam_J = [r.eigenvalues.numpy() for r in parts["J"]]
    mu_M = [np.abs(1 + eps * r.eigenvalues.numpy()) for r in parts["M"]]
    J, seq_J = _merge(parts["J"], np.concatenate(lam_J).real, k, step.nb, lin.n, step.products)
    M, seq_M = _merge(parts["M"], np.concatenate(mu_M), k, step.nb, lin.n, step.products)
    return BlockSearch(J, M, seq_J, seq_M, smallest_eps_crit(every),
                       all(r.converged for rs in parts.values() for r in rs),
                       np.array([m.max() for m in mu_M]), np.array([v.real.max() for v in lam_J]),
                       [r.matvecs for r in runs])
