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
:func:`block_count` reads it. The merged modes carry their ``sequence``; the verdict on the batch
is that of the worst block (:func:`~.euler.stability_verdict` on the union).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..linear import Linearization
from .euler import UNCONVERGED, eps_crit, stability_verdict
from .krylov_schur import eigs_shared
from .spectrum import _crit_key, _min_positive


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


def block_spectrum(field: Field, z: torch.Tensor, k: int = 6, eps: float = 0.1, *, tol: float = 1e-8,
                   ncv: int | None = None, maxiter: int | None = None, seed: int = 0,
                   blocks: int | None = None) -> xr.Dataset:
    """Rightmost λ of J, largest |μ| of M = I + εJ and the smallest ε_crit of every sequence of the
    batch at state ``z``, by B lockstep searches (module docstring); ``blocks`` overrides the
    field's declaration. Dataset on ``mode`` (all B·k modes, each set ranked by its own key) with
    ``sequence_J``/``sequence_M``, the batch scalars ``max_abs_mu``, ``leading_re_J``,
    ``min_eps_crit`` and per sequence (dim ``sequence``) ``max_abs_mu_seq``; ``attrs``: verdict
    (the worst block), ``products`` (batched products: the cost in forward-equivalents),
    ``matvecs_per_sequence``."""
    B = block_count(field) if blocks is None else int(blocks)
    lin = Linearization(field, z)
    if lin.n % B:
        raise StabilityLabError(f"n = {lin.n} is not divisible into {B} blocks")
    step = _Lockstep(lin, B)
    wanted = {"J": ("LR", k), "M": (lambda lam: np.abs(1 + eps * lam), k), "eps_crit": (_crit_key, 1)}

    def search(b: int):
        try:
            return eigs_shared(lambda v: step.product(b, v), wanted, tol=tol, ncv=ncv, maxiter=maxiter,
                               seed=seed + b, n=step.nb, dtype=lin.z.dtype, device=lin.z.device)
        finally:
            step.leave(b)

    with ThreadPoolExecutor(max_workers=B) as pool:
        runs = list(pool.map(search, range(B)))
    parts = {name: [r.results[name] for r in runs] for name in wanted}
    lam = np.concatenate([r.eigenvalues.numpy() for r in parts["J"]])
    seq_J = np.concatenate([np.full(len(r.eigenvalues), b) for b, r in enumerate(parts["J"])])
    res_J = np.concatenate([r.residuals.numpy() for r in parts["J"]])
    lam_M = np.concatenate([r.eigenvalues.numpy() for r in parts["M"]])
    seq_M = np.concatenate([np.full(len(r.eigenvalues), b) for b, r in enumerate(parts["M"])])
    res_M = eps * np.concatenate([r.residuals.numpy() for r in parts["M"]])
    oj = np.lexsort((-lam.imag, -lam.real))
    mu = 1 + eps * lam_M
    om = np.lexsort((-mu.imag, -np.abs(mu)))
    every = np.concatenate([lam, lam_M, np.concatenate([r.eigenvalues.numpy() for r in parts["eps_crit"]])])
    min_crit = 0.0 if (every.real >= 0).any() else _min_positive(eps_crit(every))
    verdict, text = stability_verdict(lam, mu, eps, min_crit)
    failed = [f"sequence {b} {name}" for name, rs in parts.items() for b, r in enumerate(rs) if not r.converged]
    if failed:
        verdict, text = UNCONVERGED, f"not converged: {', '.join(failed)} ({text})"
    m = len(oj)
    per_seq = np.array([np.abs(mu[seq_M == b]).max() for b in range(B)])
    data = {
        "eig_J": ("mode", lam[oj]), "residual_J": ("mode", res_J[oj]), "sequence_J": ("mode", seq_J[oj]),
        "eig_M": ("mode_M", mu[om]), "residual_M": ("mode_M", res_M[om]), "sequence_M": ("mode_M", seq_M[om]),
        "max_abs_mu_seq": ("sequence", per_seq),
        "max_abs_mu": ((), float(np.abs(mu).max())), "leading_re_J": ((), float(lam.real.max())),
        "min_eps_crit": ((), min_crit),
    }
    return xr.Dataset(data, coords={"mode": np.arange(m), "mode_M": np.arange(len(om)), "sequence": np.arange(B)},
                      attrs={"verdict": verdict, "verdict_text": text, "eps": eps, "k": k, "blocks": B,
                             "products": step.products, "matvecs_per_sequence": [r.matvecs for r in runs],
                             "worst_sequence": int(np.argmax(per_seq))})
