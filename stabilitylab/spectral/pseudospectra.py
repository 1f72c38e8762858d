r"""Pseudospectra of J (and of M = I + εJ) near the rightmost eigenvalues, from a Krylov basis.

The δ-pseudospectrum is Λ_δ(A) = {z : σ_min(zI − A) ≤ δ}. With V (n×m, orthonormal) the final
Krylov–Schur basis of the rightmost-eigenvalue search, W = A V (m products), B = VᵀW and the
residual R = W − V B = Q R̂ (thin QR), every x = V y has

    ‖(zI − A) V y‖² = ‖(zI − B) y‖² + ‖R̂ y‖²,   so   s_V(z) = σ_min([zI − B; R̂]) ≥ σ_min(zI − A):

the rectangular-Hessenberg bound of Wright & Trefethen (SIAM J. Sci. Comput. 23, 2001; EigTool's
"projected" pseudospectra), here for any orthonormal basis (for an Arnoldi basis R̂ has one
non-zero row and [zI − B; R̂] is their (m+1)×m H̃ − zĨ). The computed Λ_δ is therefore *contained* in
the true one, and every number derived from it errs on one side:

- pseudospectral abscissa α_δ = max{Re z : s_V(z) ≤ δ} — a lower bound of the true α_δ;
- distance to instability of J, min_ω σ_min(iωI − J) (the smallest δ with α_δ ≥ 0) — an upper
  bound; of the Euler map, min_θ σ_min(e^{iθ}I − M) = ε·min_θ s((e^{iθ} − 1)/ε) — an upper bound;
- Kreiss constants K(J) = sup_{Re z>0} Re z/σ_min(zI − J) ≤ sup_t ‖e^{tJ}‖ and
  K(M) = sup_{|w|>1} (|w| − 1)/σ_min(wI − M) ≤ sup_k ‖M^k‖ — lower bounds of both, hence
  certified lower bounds of the transient growth.

Accuracy of the projection (how far s_V is above the true σ_min) is estimated by repeating with a
basis of twice the size (``check_ncv``): the largest relative drop of s_V on the grid points of
each level's band δ/10 ≤ s_V ≤ δ (where its curve runs) right of the Ritz values (the part α_δ and
the distance to instability see; further left, eigenvalues the basis was not built for crowd in)
shows how much the smaller basis missed there; α_δ and the distance are recomputed from the larger
basis (``alpha_check``, ``distance_check``). An estimate, not a bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.optimize
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..linear import LinearOperator, Linearization
from ..store import provenance
from .krylov_schur import eigs_shared

SCHEMA = 1
_CHUNK = 256  # grid points per batched SVD


@dataclass
class ProjectedResolvent:
    """``s_V(z) = σ_min([zI − B; R̂])`` for a basis V of A (module docstring)."""

    B: np.ndarray
    R: np.ndarray
    ritz: np.ndarray
    matvecs: int

    @classmethod
    def from_basis(cls, A: LinearOperator, V: torch.Tensor) -> "ProjectedResolvent":
        """From an orthonormal basis ``V`` (n×m, on A's device): W = A V, B = VᵀW, R̂ of W − VB."""
        with torch.no_grad():
            W = A.matvec(V)
            B = V.T @ W
            R = torch.linalg.qr(W - V @ B, mode="r")[1]
        Bh = B.to("cpu", torch.float64).numpy()
        return cls(Bh, R.to("cpu", torch.float64).numpy(), np.linalg.eigvals(Bh), V.shape[1])

    @property
    def norm(self) -> float:
        """‖[B; R̂]‖₂ = ‖A V‖₂ ≤ ‖A‖₂."""
        return float(np.linalg.norm(np.vstack([self.B, self.R]), 2))

    def smin(self, z) -> np.ndarray:
        """s_V at the points ``z`` (any shape, complex)."""
        z = np.asarray(z, dtype=complex)
        flat, m = z.ravel(), self.B.shape[0]
        out = np.empty(flat.size)
        eye = np.eye(m)
        for i in range(0, flat.size, _CHUNK):
            zc = flat[i: i + _CHUNK]
            top = zc[:, None, None] * eye - self.B
            stack = np.concatenate([top, np.broadcast_to(self.R, (zc.size, m, m))], axis=1)
            out[i: i + _CHUNK] = np.linalg.svd(stack, compute_uv=False)[:, -1]
        return out.reshape(z.shape)


def abscissa(s_of, delta: float, x: np.ndarray, y: np.ndarray, S: np.ndarray) -> tuple[float, float, bool]:
    """(α_δ, |Im z| there, inside_box) from grid values ``S`` (len(y) × len(x)) of ``s_of``: the
    rows whose rightmost grid point with S ≤ δ is the rightmost of all (no other row's edge can lie
    further right than its next grid point), refined by Brent on s(x + iy) = δ up to that next grid
    point (resolution in Im z: the grid's). ``inside_box`` is False when the level set reaches the
    right edge (α_δ is then at least the edge); NaN when no grid point is inside."""
    inside = S <= delta
    if not inside.any():
        return math.nan, math.nan, True
    last = np.where(inside.any(axis=1), len(x) - 1 - np.argmax(inside[:, ::-1], axis=1), -1)
    j = int(last.max())
    if j == len(x) - 1:
        return float(x[-1]), abs(float(y[int(np.argmax(last))])), False
    best = (math.nan, math.nan, True)
    for r in np.flatnonzero(last == j):
        edge = scipy.optimize.brentq(lambda t: s_of(complex(t, y[r])) - delta, x[j], x[j + 1],
                                     xtol=1e-10 * max(1.0, abs(x[j])))
        if not edge <= best[0]:
            best = (float(edge), abs(float(y[r])), True)
    return best


def distance_to_instability(s_of, omega_max: float, points: int = 801) -> tuple[float, float]:
    """(min over ω ∈ [0, ω_max] of s(iω), the ω) by a scan then a bounded refinement (s is even
    in ω for a real operator)."""
    w = np.linspace(0.0, omega_max, points)
    vals = s_of(1j * w)
    i = int(np.argmin(vals))
    lo, hi = w[max(i - 1, 0)], w[min(i + 1, points - 1)]
    res = scipy.optimize.minimize_scalar(lambda t: float(s_of(1j * t)), bounds=(lo, hi), method="bounded",
                                         options={"xatol": 1e-10 * max(omega_max, 1.0)})
    return (float(res.fun), float(res.x)) if res.fun < vals[i] else (float(vals[i]), float(w[i]))


def map_distance_to_instability(s_of, eps: float, points: int = 801) -> tuple[float, float]:
    """(min over θ ∈ [0, π] of σ_min(e^{iθ}I − M) = ε·s((e^{iθ} − 1)/ε), the θ)."""
    f = lambda t: eps * s_of((np.exp(1j * np.asarray(t)) - 1) / eps)  # noqa: E731
    th = np.linspace(0.0, math.pi, points)
    vals = f(th)
    i = int(np.argmin(vals))
    res = scipy.optimize.minimize_scalar(lambda t: float(f(t)), bounds=(th[max(i - 1, 0)], th[min(i + 1, points - 1)]),
                                         method="bounded", options={"xatol": 1e-12})
    return (float(res.fun), float(res.x)) if res.fun < vals[i] else (float(vals[i]), float(th[i]))


def kreiss(s_of, scale: float, *, eps: float | None = None, points: int = 48) -> tuple[float, complex]:
    """Kreiss constant from s: continuous (eps None) sup_{Re z>0} Re z / s(z); for the Euler map
    sup_{|w|>1} (|w| − 1)/σ_min(wI − M), σ_min(wI − M) = ε·s((w − 1)/ε). Grid (log-spaced
    distance from the boundary, ``scale`` sets the range) then Nelder–Mead; returns (K, argmax)."""
    d = np.geomspace(1e-5, 10.0, points) * (scale if eps is None else 1.0)
    if eps is None:
        ang = np.linspace(0, 1, points) * 2 * scale
        Zg = d[None, :] + 1j * ang[:, None]
        ratio = lambda z: z.real / s_of(z)  # noqa: E731
        to_z = lambda p: complex(math.exp(p[0]), p[1])  # noqa: E731
        start = lambda z: [math.log(z.real), z.imag]  # noqa: E731
    else:
        th = np.linspace(0, math.pi, points)
        Zg = (1 + d[None, :]) * np.exp(1j * th[:, None])
        ratio = lambda w: (np.abs(w) - 1) / (eps * s_of((w - 1) / eps))  # noqa: E731
        to_z = lambda p: (1 + math.exp(p[0])) * complex(math.cos(p[1]), math.sin(p[1]))  # noqa: E731
        start = lambda w: [math.log(abs(w) - 1), math.atan2(w.imag, w.real)]  # noqa: E731
    vals = ratio(Zg)
    i = np.unravel_index(np.argmax(vals), vals.shape)
    z0 = complex(Zg[i])
    res = scipy.optimize.minimize(lambda p: -float(ratio(np.array(to_z(p)))), start(z0), method="Nelder-Mead",
                                  options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 400})
    return (-float(res.fun), to_z(res.x)) if -res.fun > vals[i] else (float(vals[i]), z0)


def _basis(lin: Linearization, k: int, ncv: int | None, tol: float, maxiter: int | None, seed: int):
    res = eigs_shared(lin.J(), {"J": ("LR", k)}, ncv=ncv, tol=tol, maxiter=maxiter, seed=seed, return_space=True)
    return res.results["J"], res.space.U.T.contiguous(), res.matvecs


def pseudospectra(field: Field, k: int = 6, eps: float = 0.1, z: torch.Tensor | None = None, *,
                  ncv: int | None = None, check_ncv: int | None = None, grid: int = 60,
                  box: Sequence[float] | None = None, deltas: Sequence[float] | None = None,
                  tol: float = 1e-8, maxiter: int | None = None, seed: int = 0,
                  relax_steps: int = 300) -> xr.Dataset:
    """Projected pseudospectra of J at the fixed point (or at ``z``), see the module docstring.

    ``ncv``: basis size (default that of the k-eigenvalue search, max(2k+1, 60)); ``check_ncv``
    (default 2·ncv, 0 to skip): the larger basis of the accuracy check. ``box`` = (x0, x1, y0, y1)
    in the λ-plane (default: around the k rightmost Ritz values and past the imaginary axis);
    ``grid`` points per side. ``deltas``: levels (default 10⁻¹, 10⁻², 10⁻³ × ‖AV‖₂). Variables:
    ``sigma_min`` (imag × real grid), ``eig_J`` (mode), ``alpha`` and ``alpha_inside`` (delta),
    scalars ``distance_to_instability`` (J) and ``map_distance_to_instability`` (M),
    ``kreiss_J``, ``kreiss_M``, ``projection_change`` (delta; the accuracy check).
    """
    from ..solvers import find_fixed_point

    if eps <= 0:
        raise StabilityLabError(f"eps must be > 0, got {eps}")
    fp_attrs = {}
    if z is None:
        fp = find_fixed_point(field, eps=eps, tol=max(1e-9, 10 * torch.finfo(field.dtype).eps),
                              relax_steps=relax_steps)
        z = fp.z
        fp_attrs = {"fixed_point_converged": int(fp.converged), "fixed_point_reason": fp.reason}
    force_res, step_res = field.residuals(z, eps)
    lin = Linearization(field, z)
    rj, V, search_matvecs = _basis(lin, k, ncv, tol, maxiter, seed)
    P = ProjectedResolvent.from_basis(lin.J(), V)
    lam = rj.eigenvalues.numpy()
    scale = max(P.norm, 1e-300)
    deltas = np.sort(np.asarray(deltas if deltas is not None else scale * np.array([1e-1, 1e-2, 1e-3]), dtype=float))[::-1]
    if box is None:
        span = max(np.ptp(lam.real), np.abs(lam.imag).max(), 0.05 * np.abs(lam).max(), 1e-8 * scale)
        x0, x1 = lam.real.min() - 0.5 * span, max(lam.real.max() + span, 0.25 * span)  # past Re z = 0
        ymax = np.abs(lam.imag).max() + 0.5 * span
        box = (x0, x1, -ymax, ymax)
    x = np.linspace(box[0], box[1], grid)
    y = np.linspace(box[2], box[3], grid if grid % 2 else grid + 1)  # odd: the real axis is a row
    S = P.smin(x[None, :] + 1j * y[:, None])
    s_of = lambda zz: P.smin(zz) if np.ndim(zz) else float(P.smin(np.array([zz]))[0])  # noqa: E731
    alphas = [abscissa(s_of, d, x, y, S) for d in deltas]
    # A Ritz value θ with residual r lies in Λ_r: with Re θ > 0 (|1 + εθ| > 1) J (M) is unstable
    # or within r (ε r) of it, so the scans' upper bounds are capped by r; the Kreiss sups over
    # the projected s are lower bounds either way
    res_J = rj.residuals.numpy()
    right, outside = lam.real > 0, np.abs(1 + eps * lam) > 1
    dist, omega = distance_to_instability(s_of, 1.5 * scale)
    dist = min(dist, float(res_J[right].min())) if right.any() else dist
    mdist, theta = map_distance_to_instability(s_of, eps)
    mdist = min(mdist, eps * float(res_J[outside].min())) if outside.any() else mdist
    kJ, zJ = kreiss(s_of, scale)
    kM, wM = kreiss(s_of, scale, eps=eps)
    change, check_m = np.full(len(deltas), math.nan), 0
    alpha_check, dist_check = np.full(len(deltas), math.nan), math.nan
    m = V.shape[1]
    check_ncv = min(2 * m, field.n) if check_ncv is None else check_ncv
    if check_ncv and check_ncv > m:
        _, V2, more = _basis(lin, k, check_ncv, tol, maxiter, seed)
        search_matvecs += more
        P2 = ProjectedResolvent.from_basis(lin.J(), V2)
        S2 = P2.smin(x[None, :] + 1j * y[:, None])
        drop = (S - S2) / S
        east = (x >= lam.real.max())[None, :]  # right of the Ritz values: what α_δ and the distance see
        band = [(S >= 0.1 * d) & (S <= d) & east for d in deltas]  # where the level curve runs there
        change = np.array([float(drop[b].max()) if b.any() else math.nan for b in band])
        s2_of = lambda zz: P2.smin(zz) if np.ndim(zz) else float(P2.smin(np.array([zz]))[0])  # noqa: E731
        alpha_check = np.array([abscissa(s2_of, d, x, y, S2)[0] for d in deltas])
        dist_check = distance_to_instability(s2_of, 1.5 * scale)[0]
        check_m = V2.shape[1]
    problems = [] if fp_attrs.get("fixed_point_converged", 1) else [f"fixed point ({fp_attrs['fixed_point_reason']})"]
    if not rj.converged:
        problems.append(f"J: {len(lam) - rj.nconv} of {len(lam)} Ritz values unconverged (the basis is used as is: "
                        "the bounds still hold, the eigenvalues shown are Ritz values)")
    data = {
        "sigma_min": (("imag", "real"), S, {"long_name": "projected sigma_min(zI - J) (upper bound of the true one)"}),
        "eig_J": ("mode", lam, {"long_name": "rightmost Ritz values of J"}),
        "residual_J": ("mode", res_J, {"long_name": "||Jx - lambda x||/||x||"}),
        "alpha": ("delta", np.array([a[0] for a in alphas]),
                  {"long_name": "pseudospectral abscissa of J from the projection (lower bound of the true)"}),
        "alpha_imag": ("delta", np.array([a[1] for a in alphas])),
        "alpha_inside": ("delta", np.array([int(a[2]) for a in alphas]),
                         {"long_name": "0: the level set reaches the box's right edge (alpha >= the edge)"}),
        "distance_to_instability": ((), dist, {"long_name": "min_omega sigma_min(i omega I - J), projected (upper bound)",
                                               "omega": omega}),
        "map_distance_to_instability": ((), mdist, {"long_name": "min_theta sigma_min(e^{i theta} I - M), projected "
                                                                 "(upper bound)", "theta": theta}),
        "kreiss_J": ((), kJ, {"long_name": "sup_{Re z>0} Re z/sigma_min(zI - J), projected: a lower bound of "
                                           "sup_t ||exp(tJ)||", "z": str(zJ)}),
        "kreiss_M": ((), kM, {"long_name": "sup_{|w|>1} (|w|-1)/sigma_min(wI - M), projected: a lower bound of "
                                           "sup_k ||M^k||", "w": str(wM)}),
        "projection_change": ("delta", change, {"long_name": "max relative drop of sigma_min where delta/10 <= "
                                                             "sigma_min <= delta right of the Ritz values when the basis "
                                                             f"grows from {m} to {check_m}"}),
        "distance_check": ((), dist_check, {"long_name": f"distance to instability of J from the larger basis ({check_m})"}),
        "alpha_check": ("delta", alpha_check, {"long_name": f"alpha from the larger basis ({check_m}): also a lower bound"}),
    }
    text = (f"distance to instability of J ≤ {dist:.3g} (at ω = {omega:.3g}), of M ≤ {mdist:.3g}; "
            f"Kreiss lower bounds: sup‖e^(tJ)‖ ≥ {kJ:.3g}, sup‖M^k‖ ≥ {kM:.3g}")
    if right.any():
        text = (f"a Ritz value of J has Re λ = {lam.real.max():.3g} > 0 (residual {res_J[right].min():.1e}): J is "
                "unstable or that close to it; " + text)
    elif outside.any():
        text = (f"M has a Ritz value with |μ| = {np.abs(1 + eps * lam).max():.4g} > 1 at ε = {eps:g}: M is unstable "
                "or that close to it; " + text)
    if np.isfinite(change).any():
        text += (f"; projection accuracy estimate (drop of σ_min along the level curves when the basis grows {m} → "
                 f"{check_m}): {', '.join(f'{c:.1%}' for c in change)} for δ = {', '.join(f'{d:.2g}' for d in deltas)}")
    attrs = provenance(field, analysis="pseudospectra", schema_version=SCHEMA, eps=eps, k=k, ncv=m,
                       check_ncv=check_m, grid=grid, box=[float(b) for b in box], tol=tol, seed=seed,
                       norm_estimate=scale, matvecs=search_matvecs + 2 * m, force_residual=force_res,
                       step_residual=step_res, residual_kind="force residual ||F(z)||/max(||z||,1)",
                       method="Wright-Trefethen projected pseudospectra on the Krylov-Schur basis", **fp_attrs,
                       converged=int(not problems), not_converged="; ".join(problems),
                       verdict=(f"not converged: {'; '.join(problems)} ({text})" if problems else text))
    return xr.Dataset(data, coords={"real": x, "imag": y, "delta": deltas, "mode": np.arange(len(lam))}, attrs=attrs)
