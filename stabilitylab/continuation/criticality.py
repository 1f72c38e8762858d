"""Normal-form coefficients at Hopf, Neimark–Sacker and fold points: soft or hard loss of stability.

With ``B(u, v)`` and ``C(u, v, w)`` the second and third derivatives of F at the fixed point
(nested forward-mode JVPs, exact; complex arguments by multilinearity), right and left eigenvectors
``J q = λ q``, ``Jᵀ p = λ̄ p`` normalised ``⟨q, q⟩ = 1/2`` and ``⟨p, q⟩ = p̄ᵀq = 1``, and

    h11 = J⁻¹ B(q, q̄),   h20 = (σ I − J)⁻¹ B(q, q),   g = ⟨p, C(q,q,q̄)⟩ − 2⟨p, B(q,h11)⟩ + ⟨p, B(q̄,h20)⟩,

- Hopf (λ = iω, σ = 2iω): the first Lyapunov coefficient ``l1 = Re g / (2ω)`` (Kuznetsov,
  *Elements of Applied Bifurcation Theory*, eq. 3.21);
- Neimark–Sacker of the Euler map ``z ↦ z + εF(z)`` (μ = 1 + ελ = e^{iθ}, ``B_M = εB``,
  ``C_M = εC``, ``(I − M)⁻¹ = −(εJ)⁻¹``, σ = (e^{2iθ} − 1)/ε): ``d = ½ Re(e^{−iθ} ε g)``
  (Kuznetsov §4.7);
- fold (λ = 0, real q, ``⟨q, q⟩ = 1``, largest component of q positive): ``a = ½⟨p, B(q, q)⟩``.

Negative l1 / d: supercritical (a small stable cycle / invariant circle grows continuously);
positive: subcritical (the state jumps away, with hysteresis). ⟨q, q⟩ = 1/2 makes the coefficients
those of the planar normal form in w = x + iy: for ẇ = (μ + iω)w + c w|w|² embedded orthogonally,
l1 = Re c / ω and, for its Euler map, d = Re(e^{−iθ} ε c) (MatCont's ⟨q, q⟩ = 1 doubles both).
A coefficient within ``DEGENERATE_RTOL`` of its scale (the sum of the magnitudes of its terms) is
'degenerate', and so is l1 where the Hopf pair has merged into a real eigenvalue (ω = 0, a
Bogdanov–Takens point: l1 ∝ 1/ω is undefined, NaN); one whose eigenvectors or solves missed their
tolerance is 'unconverged'.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..field import Field
from ..linear import Linearization
from ..solvers import gmres
from ..spectral import eigs

DEGENERATE_RTOL = 1e-6
RESIDUAL_TOL = 1e-7  # eigenvector residuals and linear solves must reach this to be trusted
SOLVE_TOL = 1e-11


@dataclass
class NormalForm:
    """``coefficient`` (l1, d or a), its ``criticality`` (supercritical | subcritical | degenerate |
    unconverged; '' for a fold), the ``scale`` it is compared with, the worst relative
    ``residual`` of its eigenvectors and solves, the eigenvalue ``eig`` of J used, the
    Jacobian-vector ``matvecs`` spent and (folds) the ``left`` null vector p, ⟨p, q⟩ = 1."""

    coefficient: float
    criticality: str
    scale: float
    residual: float
    eig: complex
    matvecs: int
    left: torch.Tensor | None = None


class Derivatives:
    """J, Jᵀ, B and C of ``field`` at ``z`` (``knobs`` overriding the field's), on real or complex
    flat vectors."""

    def __init__(self, field: Field, z: torch.Tensor, knobs: dict | None = None):
        knobs = knobs or {}
        self.f = field.flat_force(**knobs)
        self.z = z.detach().reshape(-1)
        self.lin = Linearization(field, self.z, **knobs)
        self._J, self._JT = self.lin.J(), self.lin.JT()

    @property
    def matvecs(self) -> int:
        return self._J.count + self._JT.count

    @staticmethod
    def _split(op, v):
        return torch.complex(op(v.real), op(v.imag)) if v.is_complex() else op(v)

    def J(self, v):
        return self._split(self._J, v)

    def JT(self, v):
        return self._split(self._JT, v)

    def _b(self, u, v):
        inner = lambda y: torch.func.jvp(self.f, (y,), (u,))[1]  # noqa: E731
        return torch.func.jvp(inner, (self.z,), (v,))[1]

    def _c(self, u, v, w):
        def second(y):
            return torch.func.jvp(lambda x: torch.func.jvp(self.f, (x,), (u,))[1], (y,), (v,))[1]

        return torch.func.jvp(second, (self.z,), (w,))[1]

    def B(self, *args):
        return _multilinear(self._b, args)

    def C(self, *args):
        return _multilinear(self._c, args)


def _batched(form, columns: list[tuple]) -> list:
    """``form`` at each tuple of real vectors, in one vmapped call when the field allows it."""
    stacked = [torch.stack(arg, dim=1) for arg in zip(*columns)]
    try:
        out = torch.func.vmap(form, in_dims=1, out_dims=1)(*stacked)
        return [out[:, j] for j in range(out.shape[1])]
    except RuntimeError:
        return [form(*cols) for cols in columns]


def _multilinear(form, args):
    """A real symmetric multilinear ``form`` at complex arguments, by multilinearity: each argument
    is a tensor or ``(tensor, True)`` for its conjugate; real/imaginary parts are combined so that
    every distinct multiset of parts is evaluated once (``C(q, q, q̄)``: 4 real evaluations)."""
    parts = []
    for arg in args:
        v, conj = (arg[0], True) if isinstance(arg, tuple) else (arg, False)
        if v.is_complex():
            parts.append([((id(v), 0), v.real, 1.0), ((id(v), 1), v.imag, -1j if conj else 1j)])
        else:
            parts.append([((id(v), 0), v, 1.0)])
    terms: dict = {}
    for choice in itertools.product(*parts):
        key = tuple(sorted(c[0] for c in choice))
        coeff = math.prod(c[2] for c in choice)
        tensors = terms.get(key, (0.0, tuple(c[1] for c in choice)))[1]
        terms[key] = (terms.get(key, (0.0,))[0] + coeff, tensors)
    wanted = [(c, t) for c, t in terms.values() if c != 0]
    values = _batched(form, [t for _, t in wanted])
    return sum(c * val for (c, _), val in zip(wanted, values))


def _inner(p, q) -> complex:
    """⟨p, q⟩ = p̄ᵀ q."""
    return complex((p.conj() * q).sum())


def eigenpair(op, target: complex, k: int, v0=None) -> tuple[complex, torch.Tensor, float, int]:
    """(λ, x, residual, matvecs): the eigenpair of ``op`` nearest ``target`` (conjugates ranked alike)."""
    def key(lam):  # conjugates rank alike
        return -np.minimum(np.abs(lam - target), np.abs(lam - np.conj(target)))

    res = eigs(op, k=k, which=key, tol=1e-13, v0=v0, return_eigenvectors=True)
    i = int(np.argmin(np.abs(res.eigenvalues.numpy() - target)))
    return complex(res.eigenvalues[i]), res.eigenvectors[:, i], float(res.residuals[i]), res.matvecs


def _solve(apply, rhs, like) -> tuple[torch.Tensor, float]:
    sol = gmres(apply, rhs, tol=SOLVE_TOL, restart=min(60, like.numel()), maxiter=20 * like.numel() + 200)
    return sol.x, sol.residual_norm


def eigenvectors(d: Derivatives, target: complex, k: int = 4, v0=None):
    """Right q (J q = λ q) and left p (Jᵀ p = λ̄ p) eigenvectors for the eigenvalue nearest
    ``target``, normalised ``⟨p, q⟩ = 1``; with the eigenvalue, worst residual and matvecs."""
    n = d.z.numel()
    k = max(1, min(k, n - 2))
    lam, q, rq, mv = eigenpair(d._J, target, k, v0)
    lam_t, p, rp, mv2 = eigenpair(d._JT, complex(target).conjugate(), k, None)
    if abs(target.imag) == 0.0 or abs(lam.imag) <= 1e-12 * max(1.0, abs(lam)):
        q, p = q.real.to(d.z.dtype), p.real.to(d.z.dtype)
        q = q / torch.linalg.vector_norm(q)
        q = q * torch.sign(q[torch.argmax(q.abs())])
    else:
        q = q / (math.sqrt(2.0) * torch.linalg.vector_norm(q))  # ⟨q, q⟩ = 1/2
    s = _inner(p, q)
    p = p / (s.conjugate() if p.is_complex() else s.real)
    scale = max(1.0, abs(lam))
    return lam, q, p, max(rq, rp) / scale, mv + mv2


def _classify(coefficient: float, scale: float, residual: float) -> str:
    if not (math.isfinite(coefficient) and residual <= RESIDUAL_TOL):
        return "unconverged"
    if abs(coefficient) <= DEGENERATE_RTOL * scale:
        return "degenerate"
    return "supercritical" if coefficient < 0 else "subcritical"


def _cubic_terms(d: Derivatives, q, p, sigma: complex):
    """The three terms of g (see the module docstring) and the worst solve residual."""
    b11 = d.B(q, (q, True)).real
    h11, r1 = _solve(d.J, b11, b11)
    b20 = d.B(q, q)
    h20, r2 = _solve(lambda v: sigma * v - d.J(v), b20, b20)
    terms = (_inner(p, d.C(q, q, (q, True))), -2 * _inner(p, d.B(q, h11)), _inner(p, d.B((q, True), h20)))
    return terms, max(r1, r2)


def hopf_coefficient(field: Field, z: torch.Tensor, eig: complex, knobs: dict | None = None, v0=None) -> NormalForm:
    """First Lyapunov coefficient l1 at a Hopf point z (``eig`` ≈ iω, Im > 0); NaN and
    ``degenerate`` where the eigenvalue found is real (ω = 0 to round-off: a Bogdanov–Takens point)."""
    d = Derivatives(field, z, knobs)
    lam, q, p, res, mv = eigenvectors(d, complex(eig), v0=v0)
    if not q.is_complex():  # the pair has merged into a real eigenvalue (Bogdanov–Takens): l1 ∝ 1/ω is undefined
        return NormalForm(math.nan, "degenerate", math.nan, res, lam, mv + d.matvecs)
    omega = abs(lam.imag)
    terms, rs = _cubic_terms(d, q, p, 2j * omega)
    coef = sum(terms).real / (2 * omega)
    scale = sum(abs(t) for t in terms) / (2 * omega)
    res = max(res, rs)
    return NormalForm(coef, _classify(coef, scale, res), scale, res, lam, mv + d.matvecs)


def ns_coefficient(field: Field, z: torch.Tensor, mu: complex, eps: float, knobs: dict | None = None,
                   v0=None) -> NormalForm:
    """Cubic coefficient d of the Euler map's Neimark–Sacker point z (``mu`` ≈ e^{iθ}, Im > 0)."""
    d = Derivatives(field, z, knobs)
    lam, q, p, res, mv = eigenvectors(d, (complex(mu) - 1.0) / eps, v0=v0)
    mu_z = 1.0 + eps * lam
    rot = mu_z / abs(mu_z)  # e^{iθ}
    terms, rs = _cubic_terms(d, q, p, (rot * rot - 1.0) / eps)
    phase = eps * rot.conjugate() / 2
    coef = (phase * sum(terms)).real
    scale = abs(phase) * sum(abs(t) for t in terms)
    res = max(res, rs)
    return NormalForm(coef, _classify(coef, scale, res), scale, res, lam, mv + d.matvecs)


def fold_coefficient(field: Field, z: torch.Tensor, eig: float = 0.0, knobs: dict | None = None,
                     q=None, v0=None) -> NormalForm:
    """Quadratic coefficient a = ½⟨p, B(q, q)⟩ at a fold (J q = 0); ``q`` fixes the orientation
    (default: largest component positive), ``eig`` ≈ 0 is J's eigenvalue there."""
    d = Derivatives(field, z, knobs)
    lam, qq, p, res, mv = eigenvectors(d, complex(eig), v0=v0)
    if q is not None and float((qq * q).sum()) < 0:
        qq, p = -qq, -p
    coef = 0.5 * float((p * d.B(qq, qq)).sum())
    return NormalForm(coef, "", abs(coef), res, lam, mv + d.matvecs, p)


def annotate(special, field: Field, param: str, z: torch.Tensor, eps: float):
    """Set ``special.l1`` / ``special.criticality`` of a located special point at state z (the
    hook :mod:`.events` calls); returns the Jacobian-vector products spent."""
    knobs = {param: special.param}
    if special.kind == "hopf":
        nf = hopf_coefficient(field, z, special.eig, knobs)
    elif special.kind == "neimark_sacker":
        nf = ns_coefficient(field, z, special.eig, eps, knobs)
    elif special.kind == "fold":
        nf = fold_coefficient(field, z, 0.0, knobs)
    else:
        return 0
    special.l1, special.criticality = nf.coefficient, nf.criticality
    return nf.matvecs
