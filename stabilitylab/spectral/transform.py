"""Shift-invert spectral transform: the eigenvalues of a stiff J nearest a real shift σ.

``T = (J − σI)⁻¹`` has the eigenvectors of J and eigenvalues ``θ = 1/(λ − σ)``, so

    λ = σ + 1/θ.

The eigenvalues of J nearest σ become the largest-|θ|, well separated from the bulk (a stiff
spectrum, e.g. a diffusion operator's −d·κ_max, collapses to θ ≈ 0), so the Krylov–Schur LM search
of :func:`~.krylov_schur.eigs` on T converges in a few restarts where a search on J itself crawls
through clustered rightmost eigenvalues. Each product with T is one GMRES solve of
``(J − σI) x = v``, right-preconditioned by the field's ``precondition(z, v, σ)`` hook when it has
one, to a relative residual well below the eigen-tolerance; solves that miss it are counted.
With σ on or right of the rightmost eigenvalues, "nearest σ" holds the rightmost ones: ``extra``
more than asked are computed and the result is re-ranked by Re λ. The residuals returned are the
explicit ``‖J x − λ x‖/‖x‖`` on J itself (T's residual would hide the inner solves' error).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import StabilityLabError
from ..linear import Linearization
from ..solvers import gmres
from .krylov_schur import EigResult, eigs


def _norm_estimate(J, n: int, seed: int) -> float:
    """``‖Jg‖/‖g‖`` for a seeded Gaussian g (one product)."""
    g = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    g = g.to(J.device, J.dtype)
    return float(torch.linalg.vector_norm(J(g)) / torch.linalg.vector_norm(g))


@dataclass
class ShiftInvertResult(EigResult):
    """An :class:`EigResult` of J (eigenvalues λ, best first by Re λ, explicit J residuals) from a
    search on ``(J − σI)⁻¹``, plus ``sigma``, the inner GMRES solves made (``inner_solves``,
    ``inner_unconverged``, ``inner_worst`` relative residual) and ``inner_tol``. ``matvecs`` counts
    products with J (inner GMRES products and the residual check)."""

    sigma: float = 0.0
    inner_solves: int = 0
    inner_unconverged: int = 0
    inner_worst: float = 0.0
    inner_tol: float = 0.0

    @property
    def problems(self) -> str:
        """What is not converged, in words ('' when everything is)."""
        out = []
        if self.nconv < len(self.eigenvalues):
            out.append(f"{len(self.eigenvalues) - self.nconv} of {len(self.eigenvalues)} eigenvalues "
                       f"(shift-invert σ={self.sigma:g}, max residual {float(self.residuals.max()):.1e})")
        if self.inner_unconverged:
            out.append(f"{self.inner_unconverged} of {self.inner_solves} inner GMRES solves (worst "
                       f"relative residual {self.inner_worst:.1e} > {self.inner_tol:.0e})")
        return "; ".join(out)


def eigs_shift_invert(lin: Linearization, sigma: float, k: int = 6, *, tol: float = 1e-8,
                      ncv: int | None = None, maxiter: int | None = None, v0=None, seed: int = 0,
                      return_eigenvectors: bool = False, extra: int | None = None,
                      gmres_tol: float | None = None, gmres_restart: int = 40,
                      gmres_maxiter: int = 1000) -> ShiftInvertResult:
    """The ``k`` rightmost eigenvalues of J (of ``lin``) among those nearest the real shift σ.

    ``extra`` (default ``max(2, k // 2)``) more eigenvalues than ``k`` are computed before the
    re-ranking by Re λ; ``gmres_tol`` (default ``max(tol/100, 10⁵ε_mach)``) is the inner relative
    tolerance, ``gmres_restart``/``gmres_maxiter`` bound each inner solve. A pair counts as
    converged when its explicit residual ``‖Jx − λx‖ ≤ tol·max(|λ|, |σ|, 1, ν)·‖x‖`` with
    ``ν = ‖Jg‖/‖g‖`` for a seeded random g (a backward-error scale: ν ≤ ‖J‖, and for a stiff J
    the residual of a computed eigenvector is of order ε_solve·‖J‖, not ε_solve·|λ|).
    """
    sigma = float(sigma)
    if not np.isfinite(sigma):
        raise StabilityLabError(f"the shift sigma must be a finite real number, got {sigma!r}")
    n = lin.n
    extra = max(2, k // 2) if extra is None else int(extra)
    want = min(n - 2, k + extra)
    floor = 1e5 * torch.finfo(lin.z.dtype).eps  # the rounding floor of a stiff (J − σI) solve
    inner_tol = max(tol / 100, floor) if gmres_tol is None else float(gmres_tol)
    J, P = lin.J(), lin.preconditioner(sigma)
    stats = dict(solves=0, missed=0, worst=0.0)

    def shifted(x):
        return J(x) - sigma * x

    def solve(v):
        sol = gmres(shifted, v, tol=inner_tol, restart=gmres_restart, maxiter=gmres_maxiter, M=P)
        stats["solves"] += 1
        if not sol.converged:
            stats["missed"] += 1
            stats["worst"] = max(stats["worst"], sol.residual_norm)
        return sol.x

    res = eigs(solve, k=want, which="LM", tol=tol, ncv=ncv, maxiter=maxiter, v0=v0, seed=seed,
               return_eigenvectors=True, n=n, dtype=lin.z.dtype, device=lin.z.device)
    theta = res.eigenvalues.numpy()
    with np.errstate(divide="ignore"):
        lam = sigma + 1.0 / theta
    X = res.eigenvectors
    JX = J(torch.cat([X.real, X.imag], dim=1))
    JX = torch.complex(JX[:, : X.shape[1]], JX[:, X.shape[1]:])
    R = JX - X * torch.as_tensor(lam, dtype=X.dtype, device=X.device)
    resid = (torch.linalg.vector_norm(R, dim=0) / torch.linalg.vector_norm(X, dim=0)).cpu().numpy()
    order = np.lexsort((-lam.imag, -lam.real))
    cut = min(len(order), k + (1 if k < len(order) and abs(lam[order[k - 1]].imag) > 0
                              and lam[order[k - 1]].imag > 0 else 0))
    order = order[:cut]
    lam, resid = lam[order], resid[order]
    nu = _norm_estimate(J, n, seed)
    ok = resid <= tol * np.maximum(np.abs(lam), max(abs(sigma), 1.0, nu))
    vectors = X[:, torch.as_tensor(order, device=X.device)] if return_eigenvectors else None
    return ShiftInvertResult(
        eigenvalues=torch.as_tensor(lam, dtype=torch.complex128),
        residuals=torch.as_tensor(resid, dtype=torch.float64), eigenvectors=vectors,
        converged=bool(ok.all()) and stats["missed"] == 0, nconv=int(ok.sum()), matvecs=J.count,
        restarts=res.restarts, which=f"LR near sigma={sigma:g}", ncv=res.ncv, tol=tol,
        norm_estimate=nu, sigma=sigma, inner_solves=stats["solves"],
        inner_unconverged=stats["missed"], inner_worst=stats["worst"], inner_tol=inner_tol)
