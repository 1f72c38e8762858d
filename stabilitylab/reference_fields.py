r"""Fields with independently known answers for Lyapunov spectra, all-fixed-point searches and
pseudospectra (issue 26); usable as ``--field stabilitylab.reference_fields:lorenz`` etc.

=======================  ===================================================================
factory                  known answers
=======================  ===================================================================
``lorenz``               flow exponents (0.9056, 0, −14.5723) at σ=10, ρ=28, β=8/3; their sum
                         is the constant divergence −(σ + 1 + β)
``henon_product``        ε = 1 Euler map = Hénon ⊕ diag(d): exponents {0.41922, −1.62319} ∪
                         {ln|d_i|}; the Hénon pair sums to ln b
``cubic``                roots y₁ ∈ {−1, 0, 1}, yᵢ = gᵢ y₁²/dᵢ (embedded by an orthogonal Q);
                         J's eigenvalues 1 − 3y₁² and −dᵢ
``hopfield``             F = −z + W tanh(βz), W = ξᵀξ/n with orthogonal ±1 memories ξ: roots
                         0 and ±a ξ^μ with a = tanh(βa); eigenvalues −1 + β sech²(βa) (×P), −1
``ghost``                y₁' = y₁² + c (c > 0, no root), yᵢ' = −dᵢ yᵢ: one slow point y = 0 with
                         q = c²/2 (the ghost of a saddle-node)
``convection_diffusion`` F = A z, A the centred 1-D convection–diffusion matrix (dense reference)
``jordan``               F = A z, A = diag(−1 − s·j/n) + c·(upper shift): strongly non-normal
=======================  ===================================================================
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.optimize
import torch

from .examples import linear
from .examples._base import ExampleForce, EmbeddedForce, _generator, _orthogonal
from .examples.henon_map import HenonForce
from .field import Field

#: Lorenz exponents at σ=10, ρ=28, β=8/3 (Sprott, "Chaos and Time-Series Analysis", 2003, table A.1)
LORENZ_LYAPUNOV = (0.9056, 0.0, -14.5723)
#: Hénon exponents at a=1.4, b=0.3 (Sprott 2003); λ₂ = ln 0.3 − λ₁
HENON_LYAPUNOV = (0.41922, math.log(0.3) - 0.41922)


class LorenzForce(ExampleForce):
    """``(σ(y − x), x(ρ − z) − y, xy − βz)``."""

    def __call__(self, u, *, sigma, rho, beta):
        x, y, z = u[..., 0:1], u[..., 1:2], u[..., 2:3]
        return torch.cat([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], dim=-1)


def lorenz(sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0, dtype=torch.float64) -> Field:
    """The Lorenz flow; ``z0`` = (1, 1, 20) is in the basin of the attractor."""
    return Field(LorenzForce(), torch.tensor([1.0, 1.0, 20.0], dtype=dtype),
                 {"sigma": sigma, "rho": rho, "beta": beta}, "lorenz",
                 {"description": "Lorenz flow (sigma (y-x), x (rho-z) - y, x y - beta z)"})


class HenonProductForce(ExampleForce):
    """Hénon on the first two coordinates, ``(d_i − 1) w_i`` on the rest."""

    _consts = ("d",)

    def __call__(self, z, *, a, b):
        return torch.cat([HenonForce()(z[..., :2], a=a, b=b), (self._c(z)["d"] - 1.0) * z[..., 2:]], dim=-1)


def henon_product(d=(0.9, -0.5, 0.2), a: float = 1.4, b: float = 0.3, dtype=torch.float64) -> Field:
    """A field whose ε = 1 Euler map is the product of the Hénon map and ``w ↦ diag(d) w``."""
    d = np.asarray(d, dtype=np.float64)
    z0 = torch.cat([torch.full((2,), 0.1, dtype=torch.float64), torch.ones(len(d), dtype=torch.float64)])
    return Field(HenonProductForce(d=d), z0.to(dtype), {"a": a, "b": b}, "henon_product",
                 {"description": f"Henon map x diag({', '.join(f'{x:g}' for x in d)}) at eps = 1"})


def henon_product_exponents(d=(0.9, -0.5, 0.2)) -> np.ndarray:
    """The exact per-step exponents of :func:`henon_product` (a=1.4, b=0.3), descending."""
    return np.sort(np.concatenate([HENON_LYAPUNOV, np.log(np.abs(d))]))[::-1]


class CubicForce(EmbeddedForce):
    """In ``y = Qᵀz``: ``y₁' = y₁ − y₁³``, ``yᵢ' = −dᵢ yᵢ + gᵢ y₁²`` (i ≥ 2)."""

    _consts = ("Q", "d", "g")

    def __call__(self, z, **_):
        c = self._c(z)
        y = z @ c["Q"]
        y1 = y[..., 0:1]
        return torch.cat([y1 - y1 ** 3, -c["d"] * y[..., 1:] + c["g"] * y1 * y1], dim=-1) @ c["Q"].T


def cubic(n: int = 12, seed: int = 0, dtype=torch.float64) -> Field:
    """Three roots embedded in ``R^n`` (see :func:`cubic_roots`), by a seeded orthogonal ``Q``."""
    gen = _generator(seed)
    d = np.linspace(0.5, 3.0, n - 1)
    g = torch.randn(n - 1, generator=gen, dtype=torch.float64).numpy()
    force = CubicForce(Q=_orthogonal(n, gen), d=d, g=g)
    return Field(force, torch.zeros(n, dtype=dtype), {}, "cubic",
                 {"description": f"y1 - y1^3 with {n - 1} slaved stable directions, embedded in R^{n}"})


def cubic_roots(field: Field) -> list[tuple[np.ndarray, np.ndarray]]:
    """(root z, eigenvalues of J there, descending real part) for y₁ = −1, 0, 1."""
    f = field.force
    Q, d, g = f.Q.numpy(), f.d.numpy(), f.g.numpy()
    out = []
    for y1 in (-1.0, 0.0, 1.0):
        y = np.concatenate([[y1], g * y1 ** 2 / d])
        out.append((Q @ y, np.sort(np.concatenate([[1 - 3 * y1 ** 2], -d]))[::-1].astype(complex)))
    return out


class HopfieldForce(ExampleForce):
    """``−z + W tanh(β z)``."""

    _consts = ("W",)

    def __call__(self, z, *, beta):
        return -z + torch.tanh(beta * z) @ self._c(z)["W"].T


def hopfield(n: int = 16, memories: int = 3, beta: float = 2.0, dtype=torch.float64) -> Field:
    """Continuous Hopfield network with ``memories`` orthogonal ±1 patterns (Hadamard rows 1..P)."""
    xi = scipy.linalg.hadamard(n)[1: memories + 1].astype(np.float64)
    z0 = torch.linspace(-0.1, 0.1, n, dtype=torch.float64)
    return Field(HopfieldForce(W=xi.T @ xi / n), z0.to(dtype), {"beta": beta}, "hopfield",
                 {"description": f"Hopfield -z + W tanh(beta z), {memories} orthogonal memories in R^{n}"})


def hopfield_memories(n: int = 16, memories: int = 3, beta: float = 2.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(root ±a ξ^μ, eigenvalues of J there) with a > 0 solving a = tanh(βa) (needs β > 1)."""
    a = scipy.optimize.brentq(lambda s: s - math.tanh(beta * s), 1e-6, 1.0)
    lead = -1 + beta / math.cosh(beta * a) ** 2
    eig = np.array([lead] * memories + [-1.0] * (n - memories), dtype=complex)
    xi = scipy.linalg.hadamard(n)[1: memories + 1].astype(np.float64)
    return [(s * a * x, eig) for x in xi for s in (1.0, -1.0)]


class GhostForce(EmbeddedForce):
    """In ``y = Qᵀz``: ``y₁' = y₁² + c``, ``yᵢ' = −dᵢ yᵢ``."""

    _consts = ("Q", "d")

    def __call__(self, z, *, c):
        k = self._c(z)
        y = z @ k["Q"]
        return torch.cat([y[..., 0:1] ** 2 + c, -k["d"] * y[..., 1:]], dim=-1) @ k["Q"].T


def ghost(n: int = 10, c: float = 0.05, seed: int = 1, dtype=torch.float64) -> Field:
    """No fixed point; the slow point z = 0 with q = ½‖F‖² = c²/2 (embedded by an orthogonal Q)."""
    gen = _generator(seed)
    force = GhostForce(Q=_orthogonal(n, gen), d=np.linspace(0.5, 2.0, n - 1))
    return Field(force, torch.full((n,), 0.3, dtype=dtype), {"c": c}, "ghost",
                 {"description": f"saddle-node ghost y1^2 + c in R^{n}: a slow point, no root"})


def convection_diffusion_matrix(n: int = 200, peclet: float = 0.9, nu: float = 1.0) -> np.ndarray:
    """``ν u'' − c u'`` on (0, 1), Dirichlet, centred differences, h = 1/(n+1), cell Péclet
    ``c h/(2ν) = peclet``; eigenvalues ``−(2ν/h²)(1 − √(1 − P²) cos(jπh))`` for P < 1."""
    h = 1.0 / (n + 1)
    c = 2 * nu * peclet / h
    lower, upper = nu / h ** 2 + c / (2 * h), nu / h ** 2 - c / (2 * h)
    return np.diag(np.full(n, -2 * nu / h ** 2)) + np.diag(np.full(n - 1, lower), -1) + np.diag(np.full(n - 1, upper), 1)


def jordan_matrix(n: int = 100, coupling: float = 1.0, spread: float = 0.5) -> np.ndarray:
    """``diag(−1 − spread·j/n) + coupling·(upper shift)``: eigenvalues on [−1 − spread, −1]."""
    return np.diag(-1.0 - spread * np.arange(n) / n) + coupling * np.eye(n, k=1)


def convection_diffusion(n: int = 200, peclet: float = 0.9, dtype=torch.float64) -> Field:
    """``F = A z`` with :func:`convection_diffusion_matrix`."""
    return linear(convection_diffusion_matrix(n, peclet), dtype=dtype)


def jordan(n: int = 100, coupling: float = 1.0, spread: float = 0.5, dtype=torch.float64) -> Field:
    """``F = A z`` with :func:`jordan_matrix`."""
    return linear(jordan_matrix(n, coupling, spread), dtype=dtype)
