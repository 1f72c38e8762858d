"""Matrix-free eigenvalues of a real non-symmetric operator: restarted Krylov–Schur (Stewart 2001).

A Krylov–Schur decomposition of order ``p`` is

    A U_p = U_p B_p + u_{p+1} b_pᵀ,        U_{p+1}ᵀ U_{p+1} = I,

with ``B_p`` (p×p) small. Each cycle

1. *expands* it to order ``m = ncv`` by Arnoldi steps ``w = A u_j``, orthogonalised against the
   whole basis by classical Gram–Schmidt applied twice (CGS2: two GEMV pairs with the basis, on the
   operator's device and dtype); the coefficients fill column ``j`` of the (m+1)×m matrix ``H``;
2. moves ``B = H[:m, :m]`` to the host (float64) and computes a real Schur form
   ``B = Z T Zᵀ`` (``scipy.linalg.schur``) reordered with LAPACK ``dtrexc`` so that the Ritz values
   (eigenvalues of T; a complex conjugate pair is one 2×2 block) come in the order of the ranking
   ``which``. Since ``b = β e_m``, the residual of the Ritz vector ``U Z y`` (``T y = θ y``) is
   ``|β e_mᵀ Z y|``; the leading Schur vectors ``U Z[:, :e]`` span an approximate invariant subspace
   with residual ``β ‖Z[m, :e]‖``;
3. *restarts*: keeps the ``p`` best Schur vectors (never splitting a 2×2 block),
   ``U_p ← U_m Z[:, :p]`` (one GEMM on the device), ``B_p = T[:p, :p]``, ``b_p = β Z[m, :p]``;
   that is again a Krylov–Schur decomposition, with no implicit shifts needed.

Converged leading Schur vectors are *locked*: their entries of ``b`` are set to zero (the
decomposition is then exact for ``A − Σ u bᵀ Uᵀ``, a perturbation of the size of the dropped
entries) and later Schur reorderings act only on the active trailing part, so converged pairs stay
put while the rest keep converging. A Ritz pair counts as converged when the residual of the Schur
subspace up to it, the dropped entries included, is ``≤ tol·‖H‖`` (``‖H‖``: the largest 2-norm of
the projected matrix seen, ``≥ |θ|`` and ``≤ ‖A‖``); by Cauchy–Schwarz every Ritz vector in that
subspace then has ``‖A x − θ x‖ ≤ tol·‖H‖·‖x‖``. The returned residuals are recomputed
*explicitly*, ``‖A x − λ x‖/‖x‖``, with one block product of all returned vectors.

Only the small projected matrix and a few norms ever go to the host: the n-vectors stay on the
operator's device in its dtype (float32 operators work; the small problem is always float64).
Operators with ``n ≤ ncv`` are handled exactly: the dense matrix ``A I`` (one block product) is
diagonalised on the host.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import torch
from scipy.linalg.lapack import dtrexc

from ..errors import ConfigError, ConvergenceWarning, NonFiniteError
from ..linear import LinearOperator

_TOL_FLOOR = 64  # tol is raised to _TOL_FLOOR·eps(dtype): below, the matvec's own rounding rules

_NONSYMMETRIC = {
    "LR": lambda z: z.real,
    "SR": lambda z: -z.real,
    "LM": np.abs,
    "SM": lambda z: -np.abs(z),
    "LI": lambda z: np.abs(z.imag),
    "SI": lambda z: -np.abs(z.imag),
}

Score = Callable[[np.ndarray], np.ndarray]


class EigenOptionError(ConfigError, ValueError):
    """Invalid arguments to an eigensolver (k, ncv, which, tol, v0, ...)."""


@dataclass
class EigResult:
    """Leading eigenvalues of an operator, ranked by ``which``.

    ``eigenvalues``: (r,) complex128 (:func:`eigs`) or float64 (:func:`eigsh`), CPU, best first;
    conjugate pairs adjacent, positive imaginary part first; ``r = k``, or ``k + 1`` when a pair
    would otherwise be split. ``eigenvectors``: (n, r) unit columns on the operator's device
    (complex for :func:`eigs`), or None. ``residuals``: (r,) float64, the explicit
    ``‖A x − λ x‖/‖x‖``. ``nconv``: how many of them meet ``tol·max(|λ|, norm_estimate)``;
    ``converged``: all do. ``matvecs``: operator products made by this call (the explicit residual
    check included); ``restarts``: Krylov–Schur restarts; ``norm_estimate``: the largest ‖H‖ seen
    (≤ ‖A‖₂); ``tol``: the tolerance actually used.
    """

    eigenvalues: torch.Tensor
    residuals: torch.Tensor
    eigenvectors: torch.Tensor | None
    converged: bool
    nconv: int
    matvecs: int
    restarts: int
    which: str
    ncv: int
    tol: float
    norm_estimate: float

    def __repr__(self) -> str:
        lam = ", ".join(f"{v:.6g}" for v in self.eigenvalues.tolist())
        return (f"EigResult(which={self.which!r}, converged={self.converged}, "
                f"nconv={self.nconv}/{len(self.eigenvalues)}, eigenvalues=[{lam}], "
                f"max_residual={self.residuals.max().item():.2e}, matvecs={self.matvecs}, "
                f"restarts={self.restarts})")


# -- operator and options ------------------------------------------------------------------------


class _Operator:
    """The operator as vector and block products on (n,) / (n, r) tensors, counting its products."""

    def __init__(self, A, n, dtype, device, v0):
        if isinstance(A, LinearOperator):
            if n is not None and int(n) != A.n:
                raise EigenOptionError(f"n={n} does not match the operator's n={A.n}")
            self.n, self.dtype, self.device = A.n, A.dtype, torch.device(A.device)
            self._vec = self._block = A.matvec
        elif callable(A):
            ref = None if v0 is None else torch.as_tensor(v0)
            if n is None and ref is None:
                raise EigenOptionError("a plain callable operator needs n= (or v0) for its size")
            ref_dtype = None if ref is None else (ref.real.dtype if ref.is_complex() else ref.dtype)
            self.n = int(n) if n is not None else ref.shape[0]
            self.dtype = dtype or ref_dtype or torch.get_default_dtype()
            if device is None:
                device = "cpu" if ref is None else ref.device
            self.device = torch.device(device)
            self._vec = A
            self._block = lambda X: torch.stack([A(x.contiguous()) for x in X.unbind(1)], 1)
        else:
            raise EigenOptionError(
                f"A must be a LinearOperator or callable, not {type(A).__name__}")
        if not self.dtype.is_floating_point:
            raise EigenOptionError(
                f"the operator must act on real floating vectors, not {self.dtype}")
        self.matvecs = 0

    def vec(self, v: torch.Tensor) -> torch.Tensor:
        self.matvecs += 1
        return self._checked(self._vec(v), (self.n,))

    def block(self, X: torch.Tensor) -> torch.Tensor:
        self.matvecs += X.shape[1]
        return self._checked(self._block(X), tuple(X.shape))

    def _checked(self, w, shape):
        if tuple(w.shape) != shape:
            raise EigenOptionError(
                f"the operator returned shape {tuple(w.shape)} for input {shape}")
        return w if w.dtype == self.dtype else w.to(self.dtype)


def _score_fn(which, table: dict) -> tuple[Score, str]:
    if callable(which):
        return which, getattr(which, "__name__", "custom")
    if which not in table:
        raise EigenOptionError(f"which={which!r}; choose one of {sorted(table)} or a callable key")
    return table[which], which


def _options(op: _Operator, k, ncv, tol, maxiter, default_ncv: int) -> tuple[int, float, int]:
    """Validated (m = ncv, effective tol, maxiter)."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise EigenOptionError(f"k must be a positive integer, got {k!r}")
    if k >= op.n:
        raise EigenOptionError(
            f"k={k} eigenvalues asked of an operator of size n={op.n}; need k < n")
    m = default_ncv if ncv is None else int(ncv)
    if m < k + 2:
        raise EigenOptionError(f"ncv={m} is too small for k={k}: need ncv >= k + 2")
    if not (tol > 0 and math.isfinite(tol)):
        raise EigenOptionError(f"tol must be a positive number, got {tol!r}")
    maxiter = 1000 if maxiter is None else int(maxiter)
    if maxiter < 1:
        raise EigenOptionError(f"maxiter must be >= 1, got {maxiter}")
    return min(m, op.n), max(float(tol), _TOL_FLOOR * torch.finfo(op.dtype).eps), maxiter


def _start_vector(op: _Operator, v0, gen: torch.Generator) -> torch.Tensor:
    """Unit start vector: random, a real vector ``v0`` as given (a complex one: a random combination
    of its real and imaginary parts), or, for an (n, p) block ``v0`` (a warm
    start from a nearby operator's eigenvectors; complex columns contribute their real and
    imaginary parts), a random combination of its columns plus a random vector of the same norm.
    The random half keeps every direction in the start at the level of a cold start: the old
    eigenvectors alone can hold the new rightmost mode at a tiny level only, and then the search
    converges on the modes it has and misses that one (seen on the knockout chain of s3200.pt at
    ε = 0.25 with k = 2: λ = −0.4478 reported as the rightmost at α = 0.7, where it is −0.3521)."""
    if v0 is None:
        v = _randn(op, gen)
    else:
        v0 = torch.as_tensor(v0).to(op.device)
        block = v0.dim() == 2
        if v0.dim() == 1:
            v0 = v0[:, None]
        if v0.dim() != 2 or v0.shape[0] != op.n:
            raise EigenOptionError(
                f"v0 must have shape (n,) or (n, p), n={op.n}; got {tuple(v0.shape)}")
        if v0.is_complex():
            v0 = torch.cat([v0.real, v0.imag], dim=1)
        v0 = v0.to(op.dtype)
        norms = torch.linalg.vector_norm(v0, dim=0)
        good = (norms > 0) & torch.isfinite(norms)
        if not bool(good.any()):
            raise EigenOptionError("v0 has no non-zero finite column")
        cols = v0[:, good] / norms[good]
        weights = torch.randn(cols.shape[1], generator=gen, dtype=torch.float64)
        v = cols @ weights.to(op.device, op.dtype)
        nrm = torch.linalg.vector_norm(v)
        if block and bool(nrm > 0):
            r = _randn(op, gen)
            v = v / nrm + r / torch.linalg.vector_norm(r)
    nrm = torch.linalg.vector_norm(v)
    if not bool(nrm > 0):
        raise EigenOptionError(
            "the combination of the v0 columns vanished; pass independent columns")
    return v / nrm


def _randn(op: _Operator, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(op.n, generator=gen, dtype=torch.float64).to(op.device, op.dtype)


# -- the Krylov basis (device side) --------------------------------------------------------------


class _Basis:
    """Rows ``U[0..m]`` (orthonormal, on the device) and the (m+1)×m coefficient matrix ``H``
    (float64, on the device while expanding) of ``A U[:m] = U[:m+1] H``."""

    def __init__(self, op: _Operator, m: int, v: torch.Tensor, gen: torch.Generator):
        self.op, self.m, self.gen = op, m, gen
        self.U = torch.zeros(m + 1, op.n, dtype=op.dtype, device=op.device)
        self.U[0] = v
        self.H = torch.zeros(m + 1, m, dtype=torch.float64, device=op.device)
        self._eps = torch.finfo(op.dtype).eps

    def _orthogonalize(self, w: torch.Tensor, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """CGS2: ``w ← (I − U Uᵀ)² w`` against rows ``U[:j]``; returns (w, the coefficients).
        Always twice: a DGKS test (repeat only on cancellation) would read the host once per
        product, and at n = 131,072 it saved under 1% of the search's time."""
        Uj = self.U[:j]
        h = Uj @ w
        w = torch.addmv(w, Uj.T, h, alpha=-1.0)
        h2 = Uj @ w
        w = torch.addmv(w, Uj.T, h2, alpha=-1.0)
        return w, h + h2

    def expand(self, p: int) -> np.ndarray:
        """Arnoldi steps ``p .. m-1``; returns ``H`` on the host (the only transfer of the cycle).

        Breakdowns (``β_j ≤ eps·‖A u_j‖``: an invariant subspace to working precision) are found
        afterwards on the host; ``β_j`` is then set to 0 and the expansion resumes from a random
        vector orthogonal to the basis.
        """
        m, U, H = self.m, self.U, self.H
        tiny = torch.finfo(self.op.dtype).tiny
        while True:
            for j in range(p, m):
                w, h = self._orthogonalize(self.op.vec(U[j]), j + 1)
                beta = torch.linalg.vector_norm(w)
                H[: j + 1, j] = h
                H[j + 1, j] = beta
                U[j + 1] = w / beta.clamp_min(tiny)
            Hh = H.cpu().numpy()
            if not np.isfinite(Hh).all():
                raise NonFiniteError("the operator returned NaN or Inf inside the eigensolver")
            broken = [j for j in range(p, m)
                      if Hh[j + 1, j] <= self._eps * np.linalg.norm(Hh[: j + 2, j])]
            if not broken:
                return Hh
            j = broken[0]
            H[j + 1, j] = 0.0
            w, _ = self._orthogonalize(_randn(self.op, self.gen), j + 1)
            U[j + 1] = w / torch.linalg.vector_norm(w)
            p = j + 1

    def compress(self, lock: int, Z: np.ndarray, Hnew: np.ndarray) -> None:
        """Restart: ``U[lock:keep] ← Zᵀ U[lock:m]``, ``U[keep] ← U[m]``, ``H ← Hnew``."""
        keep = lock + Z.shape[1]
        self.U[lock:keep] = _to_device(self.op, Z.T) @ self.U[lock : self.m]
        self.U[keep] = self.U[self.m]
        self.H.copy_(torch.from_numpy(Hnew))

    def vectors(self, W: np.ndarray) -> torch.Tensor:
        """``U[:m]ᵀ W``: (n, r) vectors from coefficients W (m × r, host)."""
        return self.U[: W.shape[0]].T @ _to_device(self.op, W)


class _IdentityBasis:
    """``n ≤ ncv``: the basis is the identity, so ``B = A I`` (one block product) is exact."""

    def __init__(self, op: _Operator):
        self.op = op

    def matrix(self) -> np.ndarray:
        I = torch.eye(self.op.n, dtype=self.op.dtype, device=self.op.device)
        return self.op.block(I).to("cpu", torch.float64).numpy()

    def vectors(self, W: np.ndarray) -> torch.Tensor:
        return _to_device(self.op, W)


def _to_device(op: _Operator, X: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(X)).to(op.device, op.dtype)


# -- the generic restarted loop (host side) ------------------------------------------------------

RayleighRitz = Callable[[np.ndarray, Score], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
Wanted = list[tuple[Score, int]]  # (ranking key, how many eigenvalues) per wanted set


@dataclass
class _Run:
    basis: _Basis | _IdentityBasis
    B: np.ndarray
    norm: float
    restarts: int
    converged: bool  # by the Ritz (Schur-subspace) estimates


def _solve(op: _Operator, wanted: Wanted, m: int, tol: float, maxiter: int, v0, seed: int,
          rayleigh_ritz: RayleighRitz) -> _Run:
    """The restarted loop, or the exact dense projection when ``m ≥ n``."""
    gen = torch.Generator().manual_seed(int(seed))
    start = _start_vector(op, v0, gen)  # validates v0 on both paths
    if m < op.n:
        return _krylov_schur_loop(op, start, gen, wanted, m, tol, maxiter, rayleigh_ritz)
    basis = _IdentityBasis(op)
    B = basis.matrix()
    return _Run(basis, B, np.linalg.norm(B, 2), 0, True)


def _blocks_of(T: np.ndarray, real: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values, sizes) of the diagonal blocks of a quasi-triangular ``T`` (real values if ``real``)."""
    _, sizes, vals = _block_values(T, 0)
    if len(vals) == 0:
        return np.zeros(0, dtype=float if real else complex), np.zeros(0, dtype=int)
    return (vals.real if real else vals), sizes


def _cut(key: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """Indices of the best blocks by ``key`` (decreasing) holding at least ``k`` eigenvalues."""
    order = np.argsort(-key, kind="stable")
    t = int(np.searchsorted(np.cumsum(sizes[order]), k)) + 1
    return order[:t]


def _union(wanted: Wanted, values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Mask of the blocks in the union of all wanted sets."""
    mask = np.zeros(len(values), dtype=bool)
    for score, k in wanted:
        mask[_cut(score(values), sizes, k)] = True
    return mask


def _priority(wanted: Wanted, values: np.ndarray, sizes: np.ndarray) -> Score:
    """One ranking key that puts the union of the wanted sets first.

    A single set ranks by its own key. Several sets: ``−min_s rank_s(λ)/t_s``, with ``rank_s`` the
    number of reference blocks (``values``: the current Ritz values) strictly better than λ for set
    ``s`` and ``t_s`` how many blocks set ``s`` wants, so exactly the wanted blocks have key ``> −1``
    and each set's best come first, interleaved.
    """
    if len(wanted) == 1:
        return wanted[0][0]
    tables = []
    for score, k in wanted:
        ref = np.sort(score(values))
        scale = 1e-12 * max(float(np.abs(ref).max()), np.finfo(float).tiny)
        tables.append((score, ref, scale, len(_cut(score(values), sizes, k))))

    def key(v):
        ranks = [(len(ref) - np.searchsorted(ref, score(v) + scale, side="right")) / t
                 for score, ref, scale, t in tables]
        return -np.min(ranks, axis=0)

    return key


def _krylov_schur_loop(op: _Operator, start: torch.Tensor, gen: torch.Generator, wanted: Wanted,
                      m: int, tol: float, maxiter: int, rayleigh_ritz: RayleighRitz) -> _Run:
    """Expand / Rayleigh–Ritz / lock / restart until every wanted Ritz value has converged.

    ``wanted``: one or more (key, k) sets; the restart keeps the union of their best Ritz values
    (:func:`_priority`), so one subspace serves e.g. the rightmost λ of J and the largest
    ``|1 + ελ|`` of M = I + εJ (same Krylov space). ``rayleigh_ritz(B, key) -> (T, Z, sizes,
    values)``: ``B = Z T Zᵀ`` with the blocks of T (sizes 1 or 2, one representative eigenvalue
    each) sorted by decreasing key. Returns the last expanded decomposition (basis and
    ``B = H[:m, :m]``) for the caller's extraction.
    """
    basis = _Basis(op, m, start, gen)
    p = lock = restarts = 0
    dropped = 0.0  # squared norm of the residual entries zeroed by locking
    norm = 0.0
    while True:
        H = basis.expand(p)
        B, beta = H[:m, :m], H[m, m - 1]
        norm = max(norm, np.linalg.norm(B, 2))
        real = rayleigh_ritz is not _sorted_schur
        lv, ls = _blocks_of(B[:lock, :lock], real)  # locked blocks (B is block upper triangular)
        if len(wanted) == 1:
            key = wanted[0][0]
        else:  # rank against all current Ritz values: locked and active
            av = np.linalg.eigvals(B[lock:, lock:])
            av = av[av.imag >= 0]
            av = av.real if real else av
            asz = np.where(np.abs(np.imag(av)) > 0, 2, 1)
            key = _priority(wanted, np.concatenate([lv, av]), np.concatenate([ls, asz]))
        T, Z, sizes, values = rayleigh_ritz(B[lock:, lock:], key)
        ends = np.cumsum(sizes)
        c = beta * Z[-1, :]
        resid = np.sqrt(dropped + np.cumsum(c**2))[ends - 1] / max(norm, np.finfo(float).tiny)
        nblk = _leading(resid <= tol)  # converged leading blocks
        # done when every wanted block is converged (locked or in the converged prefix)
        allv, alls = np.concatenate([lv, values]), np.concatenate([ls, sizes])
        ok = np.concatenate([np.ones(len(lv), dtype=bool), np.arange(len(sizes)) < nblk])
        union = _union(wanted, allv, alls)
        done = bool(ok[union].all())
        if done or restarts == maxiter - 1:
            return _Run(basis, B, norm, restarts, done)
        k = int(alls[union].sum())
        # lock leading blocks converged to tol/2 (so locking never uses up the tolerance), up to k
        nlock, lockable = 0, _leading(resid <= tol / 2)
        while nlock < lockable and lock + int(ends[nlock] - sizes[nlock]) < k:
            nlock += 1
        r = int(ends[nlock - 1]) if nlock else 0
        # keep half of the active part (at least k), ending on a block boundary, below m
        target = max(k, lock + r + (m - lock - r) // 2)
        feasible = np.concatenate([[0], ends])
        feasible = feasible[feasible <= m - 1 - lock]
        a = int(feasible[min(np.searchsorted(feasible, target - lock), len(feasible) - 1)])
        keep = lock + a
        Hn = np.zeros((m + 1, m))
        Hn[:lock, :lock] = B[:lock, :lock]
        Hn[:lock, lock:keep] = B[:lock, lock:] @ Z[:, :a]
        Hn[lock:keep, lock:keep] = T[:a, :a]
        Hn[keep, lock + r : keep] = c[r:a]
        basis.compress(lock, Z[:, :a], Hn)
        dropped += float(np.sum(c[:r] ** 2))
        lock, p = lock + r, keep
        restarts += 1


def _leading(flags: np.ndarray) -> int:
    """Length of the leading run of True in ``flags``."""
    return len(flags) if flags.all() else int(np.argmin(flags))


def _finish(op: _Operator, run: _Run, tol: float, name: str, m: int, values: np.ndarray,
           residuals: np.ndarray, vectors, which: str) -> EigResult:
    """Build the result; warn (ConvergenceWarning) when a returned pair misses the tolerance."""
    norm, restarts = run.norm, run.restarts
    ok = residuals <= tol * np.maximum(np.abs(values), norm)
    nconv = int(ok.sum())
    converged = nconv == len(values)
    if not converged:
        why = ("stopped at maxiter" if not run.converged else
               "the explicit residual check failed although the Ritz estimates converged "
               "(inexact or non-deterministic operator?)")
        warnings.warn(
            f"{name}: {nconv} of {len(values)} eigenvalues converged to tol={tol:.2g} after "
            f"{restarts} restarts ({op.matvecs} matvecs, ncv={m}): {why}; raise maxiter or ncv, "
            "or loosen tol",
            ConvergenceWarning, stacklevel=3)
    dtype = torch.complex128 if np.iscomplexobj(values) else torch.float64
    return EigResult(
        eigenvalues=torch.as_tensor(values, dtype=dtype),
        residuals=torch.as_tensor(residuals, dtype=torch.float64),
        eigenvectors=vectors, converged=converged, nconv=nconv, matvecs=op.matvecs,
        restarts=restarts, which=which, ncv=m, tol=tol, norm_estimate=float(norm))


# -- non-symmetric specifics ---------------------------------------------------------------------


def _block_values(T: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, sizes, eigenvalues with Im ≥ 0) of the diagonal blocks of T from ``start`` on."""
    n = T.shape[0]
    starts, sizes, vals = [], [], []
    i = start
    while i < n:
        if i + 1 < n and T[i + 1, i] != 0.0:
            a, b, c, d = T[i, i], T[i, i + 1], T[i + 1, i], T[i + 1, i + 1]
            disc = ((a - d) / 2) ** 2 + b * c
            vals.append(complex((a + d) / 2, math.sqrt(max(-disc, 0.0))))
            starts.append(i), sizes.append(2)
            i += 2
        else:
            vals.append(complex(T[i, i], 0.0))
            starts.append(i), sizes.append(1)
            i += 1
    return np.array(starts), np.array(sizes), np.array(vals)


def _sorted_schur(B: np.ndarray, score: Score):
    """Real Schur form ``B = Z T Zᵀ`` with diagonal blocks in decreasing ``score`` (selection sort
    by ``dtrexc`` swaps; a swap LAPACK rejects as too ill-conditioned leaves that block behind).
    Returns (T, Z, block sizes, block eigenvalues with Im ≥ 0)."""
    T, Z = scipy.linalg.schur(B, output="real")
    pos, sizes, vals = 0, [], []
    while pos < T.shape[0]:
        starts, _, v = _block_values(T, pos)
        best = int(np.argmax(score(v)))
        if starts[best] != pos:
            T, Z, _ = dtrexc(T, Z, int(starts[best]) + 1, pos + 1)
        _, s, v = _block_values(T[: pos + 2, : pos + 2], pos)
        sizes.append(int(s[0])), vals.append(v[0])
        pos += int(s[0])
    return T, Z, np.array(sizes), np.array(vals)


def eigs(A, k: int = 6, which="LR", ncv: int | None = None, tol: float = 1e-8,
         maxiter: int | None = None, v0=None, seed: int = 0, return_eigenvectors: bool = False,
         n: int | None = None, dtype: torch.dtype | None = None, device=None) -> EigResult:
    """The ``k`` eigenvalues of a real operator ``A`` that rank first by ``which`` (Krylov–Schur).

    ``A``: a :class:`~stabilitylab.linear.LinearOperator` or any callable on (n,) tensors (then
    ``n``/``dtype``/``device`` come from the arguments or ``v0``). ``which``: 'LR'/'SR' (largest /
    smallest real part), 'LM'/'SM' (modulus), 'LI'/'SI' (|imaginary part|), or a callable
    ``key(λ: complex ndarray) -> float ndarray`` (larger = wanted; it must give conjugates the same
    key), e.g. to keep the rightmost λ *and* the largest ``|1 + ελ|`` in one subspace.
    ``ncv``: Krylov dimension (default ``max(2k + 1, 40)``, needs ``ncv ≥ k + 2``; on spectra
    filling a region of the left half plane 40 needs 1.5–5× fewer matvecs than ARPACK's 20 and
    misses fewer interior-ranked eigenvalues, for ~6 ms of CGS2 per step at n = 131,072 on CPU).
    ``tol``: relative residual ``‖Ax − λx‖ ≤ tol·max(|λ|, ‖H‖)``, raised to 64·eps of the dtype.
    ``maxiter``: maximum number of expansion cycles (default 1000). ``v0``: start vector, or a
    block (n, p) of warm-start vectors, e.g. the eigenvectors of a nearby operator (complex columns
    allowed); their random combination plus an equal-norm random vector starts the iteration
    (the random half keeps a mode the old vectors lack from being missed). ``seed``: for random
    vectors.
    Not converged within ``maxiter``: the partial result, ``converged=False`` and a
    :class:`~stabilitylab.errors.ConvergenceWarning`.
    """
    op = _Operator(A, n, dtype, device, v0)
    score, name = _score_fn(which, _NONSYMMETRIC)
    m, tol, maxiter = _options(op, k, ncv, tol, maxiter, max(2 * k + 1, 40))
    with torch.no_grad():
        run = _solve(op, [(score, k)], m, tol, maxiter, v0, seed, _sorted_schur)
        values, residuals, vectors = _extract(op, run.basis, run.B, k, score, return_eigenvectors)
    return _finish(op, run, tol, "eigs", m, values, residuals, vectors, name)


def _extract(op: _Operator, basis: _Basis, B: np.ndarray, k: int, score: Score, want_vectors: bool):
    """Top-k Ritz pairs of ``B`` (pairs never split), explicit residuals from one block product."""
    T, Z, sizes, _ = _sorted_schur(B, score)
    r = int(np.cumsum(sizes)[np.searchsorted(np.cumsum(sizes), k)])
    w, Y = scipy.linalg.eig(T[:r, :r])
    reps = np.flatnonzero(w.imag >= 0)  # one eigenvalue per real eigenvalue or conjugate pair
    reps = reps[np.lexsort((-w[reps].imag, -score(w[reps])))]
    cols, lam, pair = [], [], []
    for i in reps:
        y = Y[:, i]
        a, b = w[i].real, w[i].imag
        if b > 0:
            cols += [y.real, y.imag]
            lam.append(np.array([[a, b], [-b, a]]))
        else:
            cols.append(y.real)
            lam.append(np.array([[a]]))
        pair.append(b > 0)
    X = basis.vectors(Z[:, :r] @ np.stack(cols, axis=1))
    R = op.block(X) - X @ torch.from_numpy(scipy.linalg.block_diag(*lam)).to(X.device, X.dtype)
    sq = torch.stack([(R**2).sum(0), (X**2).sum(0)]).to("cpu", torch.float64).numpy()
    values, residuals, columns, j = [], [], [], 0
    for i, is_pair in zip(reps, pair):
        width = 2 if is_pair else 1
        res = math.sqrt(sq[0, j : j + width].sum() / sq[1, j : j + width].sum())
        values += [w[i], np.conj(w[i])] if is_pair else [complex(w[i].real, 0.0)]
        residuals += [res] * width
        columns.append((j, is_pair))
        j += width
    cut = next(c for c in range(k, len(values) + 1) if c == len(values) or values[c - 1].imag <= 0)
    vectors = _complex_vectors(X, sq[1], columns, cut) if want_vectors else None
    return np.array(values[:cut], dtype=np.complex128), np.array(residuals[:cut]), vectors


def _complex_vectors(X: torch.Tensor, sqnorm: np.ndarray, columns, cut: int) -> torch.Tensor:
    """Unit complex eigenvectors ``(u ± i w)/‖·‖`` from the real columns ``[u, w]`` of X."""
    out = []
    for j, is_pair in columns:
        if is_pair:
            x = torch.complex(X[:, j], X[:, j + 1]) / math.sqrt(sqnorm[j] + sqnorm[j + 1])
            out += [x, x.conj()]
        else:
            out.append(torch.complex(X[:, j], torch.zeros_like(X[:, j])) / math.sqrt(sqnorm[j]))
    return torch.stack(out[:cut], dim=1)


# -- several wanted sets from one Krylov space ---------------------------------------------------


@dataclass
class KrylovSpace:
    """The last Krylov–Schur basis: rows ``U`` (m × n, orthonormal, on the operator's device) and
    the projection ``B = U A Uᵀ`` (m × m, float64, host). Rayleigh–Ritz for any operator built from
    A and Aᵀ is then free, e.g. ``(B + Bᵀ)/2`` for ``(A + Aᵀ)/2``."""

    U: torch.Tensor
    B: np.ndarray


@dataclass
class SharedResult:
    """:func:`eigs_shared`: one :class:`EigResult` per wanted set (``matvecs``/``restarts`` are
    those of the one shared search), and the Krylov space when asked for."""

    results: dict[str, EigResult]
    matvecs: int
    restarts: int
    space: KrylovSpace | None


def eigs_shared(A, wanted: dict, ncv: int | None = None, tol: float = 1e-8,
                maxiter: int | None = None, v0=None, seed: int = 0,
                return_eigenvectors: bool = False, return_space: bool = False,
                n: int | None = None, dtype: torch.dtype | None = None, device=None) -> SharedResult:
    """Several wanted sets of eigenvalues of ``A`` from ONE restarted Krylov–Schur search.

    ``wanted``: ``{name: (which, k)}`` with ``which`` as in :func:`eigs` (a code or a key callable
    on λ). Every restart keeps the union of the sets' best Ritz values, and the search stops when
    all of them have converged. Since ``M = I + εJ`` has the Krylov spaces of ``J``, one search on
    J serves the rightmost λ (``'LR'``) and the largest ``|1 + ελ|`` (key ``|1 + ελ|``) at about
    the cost of the harder of the two. ``ncv`` (default ``max(2K + 1, 60)``, ``K = Σ k``) is raised
    to at least ``K + 2``: keeping several sets fills the restart, so a larger space pays (at
    n = 131,072, J 8 + M 8 + 1: 431 products with 40, 384 with 60, 359 with 80, whose
    orthogonalisation then costs more than it saves). Each result is ranked by its own key;
    residuals are the explicit ``‖Ax − λx‖/‖x‖`` (one block product of the union).
    ``return_space``: also return the final :class:`KrylovSpace`.
    """
    op = _Operator(A, n, dtype, device, v0)
    sets = {name: (*_score_fn(which, _NONSYMMETRIC), k) for name, (which, k) in wanted.items()}
    if not sets:
        raise EigenOptionError("wanted must name at least one set")
    total = sum(k for *_, k in sets.values())
    for _, _, k in sets.values():
        _, tol_eff, maxiter_eff = _options(op, k, None, tol, maxiter, k + 2)
    default = max(2 * total + 1, 60) if ncv is None else int(ncv)
    m = min(max(default, total + 2), op.n)
    pairs = [(score, k) for score, _, k in sets.values()]
    with torch.no_grad():
        run = _solve(op, pairs, m, tol_eff, maxiter_eff, v0, seed, _sorted_schur)
        allv, alls = _blocks_of(_sorted_schur(run.B, pairs[0][0])[0], False)
        union = _union(pairs, allv, alls)
        key = _priority(pairs, allv, alls)
        values, residuals, vectors = _extract(op, run.basis, run.B, int(alls[union].sum()), key,
                                              return_eigenvectors)
        results = {}
        for name, (score, label, k) in sets.items():
            idx = _set_columns(values, score, k)
            vec = None if vectors is None else vectors[:, idx]
            results[name] = _finish(op, run, tol_eff, f"eigs_shared[{name}]", m, values[idx],
                                    residuals[idx], vec, label)
        space = None
        if return_space:
            U = (run.basis.U[:m] if isinstance(run.basis, _Basis)
                 else torch.eye(op.n, dtype=op.dtype, device=op.device))
            space = KrylovSpace(U, run.B.copy())
    return SharedResult(results, op.matvecs, run.restarts, space)


def _set_columns(values: np.ndarray, score: Score, k: int) -> np.ndarray:
    """Indices into ``values`` (pairs adjacent, Im > 0 first) of the best blocks for ``score``
    holding at least ``k`` eigenvalues, best first."""
    starts = [i for i in range(len(values)) if i == 0 or values[i - 1].imag <= 0]
    sizes = np.array([2 if values[i].imag > 0 else 1 for i in starts])
    reps = values[starts]
    chosen = _cut(score(reps), sizes, min(k, int(sizes.sum())))
    chosen = chosen[np.lexsort((-reps[chosen].imag, -score(reps[chosen])))]
    return np.array([j for b in chosen for j in range(starts[b], starts[b] + sizes[b])], dtype=int)
