r"""Analytic vector fields with known bifurcations and known answers.

These fields are the independent ground truth for the spectral engine, continuation and dynamics
tests, and ready-made inputs for users (``--field stabilitylab.examples:stuart_landau``). Every
factory can be called with no arguments and returns a :class:`~stabilitylab.field.Field` whose
float knobs are in ``params``; ``meta`` holds a one-line ``description`` and the ``factory`` call.

=================  ============================  =============================================
factory            knobs                         known answers (helpers)
=================  ============================  =============================================
``linear``         ``p``                         spectrum eig(A) + p (:func:`linear_spectrum`)
``stuart_landau``  ``mu``, ``omega``, ``shear``  Hopf, Euler-map Neimark–Sacker, limit cycle
                                                 of the flow and invariant circle of the map
``brusselator``    ``a``, ``b``                  fixed point (a, b/a), Hopf b = 1 + a²,
                                                 Euler-map NS b = 1 + a² − ε a²
``fold``           ``p``                         S-shaped branch, folds at x = ±1, p = ∓2/3
``flip``           ``p``                         Euler-map flip at p = 2/ε (J stays stable)
``logistic``       ``r``                         ε = 1 map is the logistic map; Lyapunov ln 2
``henon``          ``a``, ``b``                  ε = 1 map is the Hénon map; Lyapunov 0.41922
``nonnormal``      ``coupling``                  eigenvalues all −1, abscissa −1 + c cos(π/(n+1))
``energy``         ``gain``                      F = −∇E, symmetric Jacobian
``brusselator_1d`` ``a``, ``b``                  reaction–diffusion on a 1-D grid (stiff, n =
                                                 2·cells): homogeneous state, spectrum per
                                                 cosine mode, Hopf b = 1 + a², NS as above
=================  ============================  =============================================

Conventions. The relaxation is the explicit Euler map ``z <- z + eps * F(z)``; its multipliers at
a fixed point are ``1 + eps * lambda``. Forces act on the last axis (states of shape ``(n,)`` or
batches ``(..., n)``), use only pure torch ops (``torch.func.jvp``/``vjp``/``vmap`` work, knobs may
be 0-d tensors), and keep their constant matrices in float64, cast per call to the dtype and
device of ``z``: a field works in float32 and float64. States ``z0`` are float64 by default
(``dtype=`` on every factory; ``Field.to(dtype=...)`` converts).

Fields that embed a low-dimensional normal form in ``R^n`` (``stuart_landau``, ``fold``, ``flip``)
write the state as ``z = Q y`` with a seeded random orthogonal ``Q`` (``mix=True``) so nothing is
axis-aligned; ``field.force.Q`` is that matrix and ``field.force.to_z(y)`` / ``to_y(z)`` convert.
The decay rates of the linear stable directions are ``field.force.rates`` (eigenvalues ``-rates``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from .field import Field

__all__ = [
    "EXAMPLES",
    "linear",
    "linear_spectrum",
    "stuart_landau",
    "stuart_landau_rates",
    "stuart_landau_hopf",
    "stuart_landau_ns_point",
    "stuart_landau_flow_cycle",
    "stuart_landau_map_cycle",
    "brusselator",
    "brusselator_fixed_point",
    "brusselator_spectrum",
    "brusselator_hopf",
    "brusselator_ns_point",
    "fold",
    "fold_points",
    "fold_equilibria",
    "flip",
    "flip_point",
    "flip_cycle",
    "logistic",
    "logistic_lyapunov",
    "henon",
    "henon_fixed_points",
    "henon_lyapunov",
    "nonnormal",
    "nonnormal_abscissa",
    "nonnormal_growth",
    "energy",
    "brusselator_1d",
    "brusselator_1d_spectrum",
]

HENON_LYAPUNOV_LITERATURE = 0.41922  # largest Lyapunov exponent of the Hénon map at a=1.4, b=0.3


# ------------------------------------------------------------------------------------------------
# shared machinery
# ------------------------------------------------------------------------------------------------
# _NOTE_0D: the forces slice coordinates with keep-dim slices (``y[..., 0:1]``), never ``y[..., 0]``.
# In torch 2.13, under ``torch.func.jvp`` a 0-d float32 tensor times a Python float gets a float64
# tangent (the scalar's "wrapped number" status is lost), which breaks float32 fields downstream.
class ExampleForce:
    """Base of the example forces: a picklable callable holding float64 constants.

    Constants named in ``_consts`` are stored as float64 CPU tensors (attributes of the same
    name) and cast to the dtype/device of ``z`` on each call (cached per dtype/device).
    """

    _consts: tuple[str, ...] = ()

    def __init__(self, **consts: Any):
        for k in self._consts:
            setattr(self, k, torch.as_tensor(np.asarray(consts[k], dtype=np.float64)).clone())
        self._cache: dict = {}

    def _c(self, z: torch.Tensor) -> dict:
        key = (z.dtype, z.device)
        hit = self._cache.get(key)
        if hit is None:
            hit = {k: getattr(self, k).to(dtype=z.dtype, device=z.device) for k in self._consts}
            self._cache[key] = hit
        return hit

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EmbeddedForce(ExampleForce):
    """A normal form in coordinates ``y`` embedded as ``z = Q y`` (``Q`` orthogonal)."""

    def to_z(self, y) -> torch.Tensor:
        """``z = Q y`` on the last axis (float64 unless ``y`` is a float tensor)."""
        y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float64))
        return y @ self._c(y)["Q"].T

    def to_y(self, z) -> torch.Tensor:
        """``y = Qᵀ z`` on the last axis."""
        z = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z, dtype=np.float64))
        return z @ self._c(z)["Q"]


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-random orthogonal n×n matrix (float64)."""
    g = torch.randn(n, n, generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    d = torch.sign(torch.diagonal(r))
    d = torch.where(d == 0, torch.ones_like(d), d)
    return q * d


def _spread(lo: float, hi: float, k: int) -> np.ndarray:
    """``k`` rates evenly spread over ``[lo, hi]`` (``[lo]`` for k = 1)."""
    return np.linspace(float(lo), float(hi), int(k)) if k > 0 else np.zeros(0)


def _call(name: str, **args: Any) -> str:
    inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"stabilitylab.examples:{name}({inner})"


def _meta(name: str, description: str, args: dict) -> dict:
    return {"description": description, "factory": _call(name, **args)}


def _check_dtype(dtype) -> torch.dtype:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype!r}")
    return dtype


def _sort_spectrum(lam) -> np.ndarray:
    """Complex eigenvalues sorted by descending real part, then descending imaginary part."""
    lam = np.asarray(lam, dtype=np.complex128).ravel()
    return lam[np.lexsort((-lam.imag, -lam.real))]


# ------------------------------------------------------------------------------------------------
# 1. linear
# ------------------------------------------------------------------------------------------------
class LinearForce(ExampleForce):
    r"""``F(z) = (A + p I) z``."""

    _consts = ("A",)

    def __call__(self, z, *, p):
        return z @ self._c(z)["A"].T + p * z


def _default_linear_matrix(n: int, seed: int) -> np.ndarray:
    g = torch.randn(n, n, generator=_generator(seed), dtype=torch.float64).numpy() / math.sqrt(n)
    shift = np.linalg.eigvals(g).real.max() + 0.5
    return g - shift * np.eye(n)


def linear(A=None, n: int = 8, seed: int = 0, p: float = 0.0, dtype=torch.float64) -> Field:
    r"""Linear field ``F(z) = (A + p·I) z`` with knob ``p`` (a shift of the whole spectrum).

    The spectrum of ``J`` is ``eig(A) + p`` (:func:`linear_spectrum`); the only fixed point is 0.
    Default ``A`` (when ``A is None``): ``G/√n − s·I`` with ``G`` a seeded standard Gaussian n×n
    matrix and ``s`` chosen so that the rightmost eigenvalue of ``A`` has real part exactly
    ``−0.5`` — stable, non-symmetric, with complex pairs; ``J`` loses stability at ``p = 0.5``.
    A given ``A`` (numpy or torch, square) overrides ``n`` and ``seed``. ``field.force.A`` is A.
    """
    _check_dtype(dtype)
    if A is None:
        Am = _default_linear_matrix(int(n), seed)
        what = f"seeded random stable non-symmetric {n}x{n} A (seed {seed}), rightmost Re = -0.5"
        args = dict(n=int(n), seed=int(seed), p=float(p))
    else:
        Am = A.detach().cpu().numpy() if isinstance(A, torch.Tensor) else np.asarray(A)
        Am = np.asarray(Am, dtype=np.float64)
        if Am.ndim != 2 or Am.shape[0] != Am.shape[1]:
            raise ValueError(f"A must be a square matrix, got shape {Am.shape}")
        what = f"user-supplied {Am.shape[0]}x{Am.shape[0]} A"
        args = dict(A="<matrix>", p=float(p))
    m = Am.shape[0]
    z0 = torch.randn(m, generator=_generator(int(seed) + 1), dtype=torch.float64)
    z0 = z0 / z0.norm()
    return Field(
        LinearForce(A=Am), z0.to(dtype), {"p": p}, "linear",
        _meta("linear", f"F(z) = (A + p I) z, {what}", args),
    )


def linear_spectrum(A=None, p: float = 0.0) -> np.ndarray:
    """Eigenvalues of ``A + p·I`` (complex128, sorted by descending real part).

    ``A`` may be a matrix (numpy/torch), a Field made by :func:`linear` (its ``A``), or ``None``
    (the default ``A`` of ``linear()``).
    """
    if A is None:
        Am = _default_linear_matrix(8, 0)
    elif isinstance(A, Field):
        Am = A.force.A.numpy()
    elif isinstance(A, torch.Tensor):
        Am = A.detach().cpu().double().numpy()
    else:
        Am = np.asarray(A, dtype=np.float64)
    return _sort_spectrum(np.linalg.eigvals(Am) + float(p))


# ------------------------------------------------------------------------------------------------
# 2. Stuart–Landau (Hopf normal form)
# ------------------------------------------------------------------------------------------------
class StuartLandauForce(EmbeddedForce):
    r"""Hopf normal form on ``(y0, y1)``, linear decay ``-rates`` on ``y[2:]``, ``z = Q y``."""

    _consts = ("Q", "rates")

    def __call__(self, z, *, mu, omega, shear):
        c = self._c(z)
        y = z @ c["Q"]
        x, v, rest = y[..., 0:1], y[..., 1:2], y[..., 2:]  # keep-dim slices: see _NOTE_0D
        r2 = x * x + v * v
        fx = mu * x - omega * v - r2 * (x - shear * v)
        fv = omega * x + mu * v - r2 * (v + shear * x)
        fy = torch.cat([fx, fv, -c["rates"] * rest], dim=-1)
        return fy @ c["Q"].T


def stuart_landau_rates(n: int = 16, decay: Sequence[float] = (0.5, 3.0)) -> np.ndarray:
    """The decay rates of the ``n − 2`` stable coordinates: ``linspace(decay[0], decay[1], n−2)``."""
    return _spread(decay[0], decay[1], int(n) - 2)


def stuart_landau(
    n: int = 16,
    mu: float = 0.1,
    omega: float = 1.0,
    shear: float = 0.0,
    decay: Sequence[float] = (0.5, 3.0),
    mix: bool = True,
    seed: int = 0,
    dtype=torch.float64,
) -> Field:
    r"""Stuart–Landau oscillator (supercritical Hopf normal form) embedded in ``R^n``.

    With ``w = y0 + i·y1``:

    .. math::  \dot w = (\mu + i\omega)\,w - (1 + i\,s)\,|w|^2 w,\qquad
               \dot y_k = -\mathrm{rate}_k\, y_k\ (k \ge 2),\qquad z = Q y,

    ``s = shear``, rates = :func:`stuart_landau_rates` (``n−2`` values evenly over ``decay``), ``Q``
    a seeded random orthogonal matrix (identity if ``mix=False``). Knobs ``mu``, ``omega``,
    ``shear``. The fixed point is ``z = 0`` with eigenvalues ``mu ± i·omega`` and ``-rates``:
    Hopf at ``mu = 0`` (:func:`stuart_landau_hopf`); for ``mu > 0`` the flow has the limit cycle
    ``|w| = √mu`` (:func:`stuart_landau_flow_cycle`). The Euler map loses the fixed point earlier,
    at the Neimark–Sacker value ``mu_NS < 0`` (:func:`stuart_landau_ns_point`), and past it has an
    exactly invariant circle (:func:`stuart_landau_map_cycle`). The default (mu=0.1, eps≈0.1) is
    on the limit cycle. ``z0`` is a seeded random state of norm 0.3.
    """
    _check_dtype(dtype)
    n = int(n)
    if n < 2:
        raise ValueError(f"stuart_landau needs n >= 2, got {n}")
    gen = _generator(seed)
    Q = _orthogonal(n, gen) if mix else torch.eye(n, dtype=torch.float64)
    z0 = torch.randn(n, generator=gen, dtype=torch.float64)
    z0 = 0.3 * z0 / z0.norm()
    rates = stuart_landau_rates(n, decay)
    args = dict(n=n, mu=float(mu), omega=float(omega), shear=float(shear),
                decay=tuple(float(d) for d in decay), mix=bool(mix), seed=int(seed))
    desc = ("Stuart-Landau (Hopf normal form) w' = (mu + i omega) w - (1 + i shear)|w|^2 w on 2 of "
            f"{n} coordinates, the rest decaying at rates in [{decay[0]}, {decay[1]}]"
            + (", mixed by a random orthogonal Q" if mix else ""))
    return Field(
        StuartLandauForce(Q=Q.numpy(), rates=rates), z0.to(dtype),
        {"mu": mu, "omega": omega, "shear": shear}, "stuart_landau", _meta("stuart_landau", desc, args),
    )


def stuart_landau_hopf(omega: float = 1.0) -> dict:
    """The continuous-time Hopf point of :func:`stuart_landau`.

    Returns ``{"mu": 0.0, "eigenvalues": [iω, −iω], "omega": ω, "period": 2π/|ω|,
    "kind": "hopf", "criticality": "supercritical"}`` (first Lyapunov coefficient −1 < 0).
    """
    omega = float(omega)
    return {
        "mu": 0.0,
        "eigenvalues": np.array([1j * omega, -1j * omega]),
        "omega": omega,
        "period": 2 * math.pi / abs(omega) if omega != 0 else math.inf,
        "kind": "hopf",
        "criticality": "supercritical",
    }


def stuart_landau_ns_point(omega: float = 1.0, eps: float = 0.1) -> dict:
    r"""The Neimark–Sacker point of the Euler map ``z <- z + εF(z)`` of :func:`stuart_landau`.

    The pair of map multipliers is ``1 + ε(μ ± iω)``; ``|1 + ε(μ + iω)| = 1`` gives

    .. math::  \mu_{NS} = \frac{\sqrt{1 - \varepsilon^2\omega^2} - 1}{\varepsilon} < 0,

    (requires ``ε|ω| < 1``; otherwise the map is unstable for every ``μ``). At that point the
    multipliers are ``e^{±iθ}`` with ``θ = arcsin(ε|ω|)``. Returns ``{"mu": μ_NS, "theta": θ,
    "multipliers": [e^{iθ}, e^{−iθ}] (signed by ω), "eigenvalues": μ_NS ± iω, "eps", "omega",
    "kind": "neimark-sacker"}``. This assumes the stable directions stay stable
    (``ε·max(rates) < 2``).
    """
    omega, eps = float(omega), float(eps)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if eps * abs(omega) >= 1:
        raise ValueError(f"eps*|omega| = {eps * abs(omega)} >= 1: the Euler map is unstable for every mu")
    root = math.sqrt(1.0 - (eps * omega) ** 2)
    mu = (root - 1.0) / eps
    theta = math.atan2(eps * omega, root)
    return {
        "mu": mu,
        "theta": theta,
        "multipliers": np.array([complex(root, eps * omega), complex(root, -eps * omega)]),
        "eigenvalues": np.array([complex(mu, omega), complex(mu, -omega)]),
        "eps": eps,
        "omega": omega,
        "kind": "neimark-sacker",
    }


def stuart_landau_flow_cycle(mu: float = 0.1, omega: float = 1.0, shear: float = 0.0,
                             stable_rates=None) -> dict:
    r"""The limit cycle of the *flow* of :func:`stuart_landau` (``μ > 0``).

    In polar form ``ṙ = μr − r³``, ``φ̇ = ω − s r²``: the cycle is ``r = √μ`` with angular
    frequency ``Ω = ω − s·μ`` and period ``T = 2π/|Ω|``. Floquet exponents: ``0`` (phase),
    ``−2μ`` (radial: ``d(μr − r³)/dr = μ − 3r² = −2μ``) and ``−rates`` (the decoupled linear
    directions; ``stable_rates=None`` means those of ``stuart_landau()``: :func:`stuart_landau_rates`).
    Returns ``{"radius", "omega", "period", "exponents", "multipliers"}``, multipliers
    ``= exp(exponents·T)``, exponents in the order [0, −2μ, −rates...].
    """
    mu, omega, shear = float(mu), float(omega), float(shear)
    if mu <= 0:
        raise ValueError(f"the flow has a limit cycle only for mu > 0, got mu={mu}")
    rates = stuart_landau_rates() if stable_rates is None else np.asarray(stable_rates, dtype=np.float64)
    freq = omega - shear * mu
    period = 2 * math.pi / abs(freq) if freq != 0 else math.inf
    exps = np.concatenate([[0.0, -2.0 * mu], -rates])
    return {
        "radius": math.sqrt(mu),
        "omega": freq,
        "period": period,
        "exponents": exps,
        "multipliers": np.exp(exps * period),
    }


def stuart_landau_map_cycle(mu: float = 0.1, omega: float = 1.0, shear: float = 0.0,
                            eps: float = 0.1, stable_rates=None) -> dict:
    r"""The invariant circle of the *Euler map* ``w <- w + εF(w)`` of :func:`stuart_landau`.

    The map acts on ``w = y0 + i·y1`` as ``w' = g(|w|²)·w`` with

    .. math::  g(\rho) = 1 + \varepsilon(\mu - \rho) + i\,\varepsilon(\omega - s\rho),

    so in polar form ``r' = r|g(r²)|``, ``φ' = φ + arg g(r²)``. A circle ``r = const`` is exactly
    invariant iff ``|g(ρ)|² = 1`` with ``ρ = r²``:

    .. math::  \varepsilon^2(1+s^2)\rho^2 - 2\varepsilon A\rho + C = 0,\quad
               a = 1 + \varepsilon\mu,\ A = a + \varepsilon s\omega,\ C = a^2 + \varepsilon^2\omega^2 - 1,

    and the circle born at the Neimark–Sacker point (``C = 0``) is the small root
    ``ρ = C / (ε (A + √(A² − (1+s²)C)))``; it exists for ``μ > μ_NS`` (``C > 0``). On it the map is a
    rigid rotation by ``θ = arg g(ρ)`` per step (period ``2π/|θ|`` steps, generally not an
    integer: the orbit is quasi-periodic on the circle). Per-step multipliers: ``1`` (phase),
    the radial one

    .. math::  R' = \frac{d\,r'}{dr}\Big|_{r^*} = 1 + \rho\,h'(\rho)
               = 1 - 2\varepsilon\rho\,[(1 + \varepsilon(\mu-\rho)) + \varepsilon s(\omega - s\rho)],

    (``h = |g|²``), and ``1 − ε·rate`` for the decoupled stable directions (``stable_rates=None``:
    those of ``stuart_landau()``). Returns ``{"radius", "rho", "theta", "period_steps",
    "radial_multiplier", "stable_multipliers", "multipliers" ([1, R', 1 − ε·rates...]),
    "lyapunov" (log|multipliers|), "stable" (all but the phase inside the unit circle),
    "mu_NS"}``. As ``ε → 0``: radius → √μ, θ/ε → ω − sμ, (R'−1)/ε → −2μ.
    """
    mu, omega, shear, eps = float(mu), float(omega), float(shear), float(eps)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    rates = stuart_landau_rates() if stable_rates is None else np.asarray(stable_rates, dtype=np.float64)
    a = 1.0 + eps * mu
    A = a + eps * shear * omega
    C = a * a + (eps * omega) ** 2 - 1.0
    disc = A * A - (1.0 + shear * shear) * C
    if C <= 0:
        raise ValueError(f"no invariant circle: mu={mu} is not past the Neimark-Sacker point (|1+eps(mu+i omega)| <= 1)")
    if disc < 0 or A + math.sqrt(disc) <= 0:
        raise ValueError(f"no invariant circle near the origin for mu={mu}, eps={eps}, shear={shear}")
    rho = C / (eps * (A + math.sqrt(disc)))
    re_g = 1.0 + eps * (mu - rho)
    im_g = eps * (omega - shear * rho)
    theta = math.atan2(im_g, re_g)
    radial = 1.0 - 2.0 * eps * rho * (re_g + eps * shear * (omega - shear * rho))
    stable = 1.0 - eps * rates
    mults = np.concatenate([[1.0, radial], stable])
    with np.errstate(divide="ignore"):
        lyap = np.log(np.abs(mults))
    try:
        mu_ns = stuart_landau_ns_point(omega, eps)["mu"]
    except ValueError:
        mu_ns = -math.inf
    return {
        "radius": math.sqrt(rho),
        "rho": rho,
        "theta": theta,
        "period_steps": 2 * math.pi / abs(theta) if theta != 0 else math.inf,
        "radial_multiplier": radial,
        "stable_multipliers": stable,
        "multipliers": mults,
        "lyapunov": lyap,
        "stable": bool(np.all(np.abs(mults[1:]) < 1.0)),
        "mu_NS": mu_ns,
    }


# ------------------------------------------------------------------------------------------------
# 3. Brusselator
# ------------------------------------------------------------------------------------------------
class BrusselatorForce(ExampleForce):
    r"""Brusselator on ``(z0, z1)``, linear decay ``-rates`` on ``z[2:]``."""

    _consts = ("rates",)

    def __call__(self, z, *, a, b):
        c = self._c(z)
        x, y, rest = z[..., 0:1], z[..., 1:2], z[..., 2:]
        x2y = x * x * y
        fx = a - (b + 1.0) * x + x2y
        fy = b * x - x2y
        return torch.cat([fx, fy, -c["rates"] * rest], dim=-1)


def _brusselator_rates(n_extra: int) -> np.ndarray:
    return _spread(0.5, 2.0, int(n_extra))


def brusselator(a: float = 1.0, b: float = 1.5, n_extra: int = 0, dtype=torch.float64) -> Field:
    r"""The Brusselator, with ``n_extra`` decaying extra coordinates.

    .. math::  \dot x = a - (b+1)x + x^2 y,\qquad \dot y = b x - x^2 y,\qquad
               \dot z_k = -\mathrm{rate}_k z_k\ (k \ge 2),

    rates ``linspace(0.5, 2.0, n_extra)``. Knobs ``a``, ``b``. Fixed point ``(a, b/a, 0…)`` with
    Jacobian ``[[b−1, a²], [−b, −a²]]`` (trace ``b − 1 − a²``, determinant ``a²``): Hopf at
    ``b = 1 + a²`` with ``λ = ±i·a`` (:func:`brusselator_hopf`), supercritical; the Euler map's
    NS point is ``b = 1 + a² − ε a²`` (:func:`brusselator_ns_point`). The default ``b = 1.5``
    is stable. ``z0`` is the fixed point of the given ``a, b`` offset by 0.1 in every coordinate.
    """
    _check_dtype(dtype)
    rates = _brusselator_rates(n_extra)
    z0 = torch.tensor(brusselator_fixed_point(a, b, n_extra), dtype=torch.float64) + 0.1
    desc = ("Brusselator x' = a - (b+1)x + x^2 y, y' = b x - x^2 y (Hopf at b = 1 + a^2)"
            + (f", plus {int(n_extra)} decaying coordinates" if n_extra else ""))
    return Field(
        BrusselatorForce(rates=rates), z0.to(dtype), {"a": a, "b": b}, "brusselator",
        _meta("brusselator", desc, dict(a=float(a), b=float(b), n_extra=int(n_extra))),
    )


def brusselator_fixed_point(a: float = 1.0, b: float = 1.5, n_extra: int = 0) -> np.ndarray:
    """The unique fixed point ``(a, b/a, 0, …)`` (float64 array of length ``2 + n_extra``)."""
    return np.concatenate([[float(a), float(b) / float(a)], np.zeros(int(n_extra))])


def brusselator_spectrum(a: float = 1.0, b: float = 1.5, n_extra: int = 0) -> np.ndarray:
    """Eigenvalues of J at the fixed point: roots of ``λ² − (b−1−a²)λ + a²`` and ``−rates``
    (complex128, sorted by descending real part)."""
    a, b = float(a), float(b)
    tr, det = b - 1.0 - a * a, a * a
    disc = complex(tr * tr / 4.0 - det)
    sq = disc ** 0.5
    lam = [tr / 2.0 + sq, tr / 2.0 - sq, *(-_brusselator_rates(n_extra))]
    return _sort_spectrum(lam)


def brusselator_hopf(a: float = 1.0) -> dict:
    """Hopf point: ``{"b": 1 + a², "omega": |a|, "eigenvalues": [i|a|, −i|a|],
    "fixed_point": (a, (1+a²)/a), "period": 2π/|a|, "kind": "hopf"}``."""
    a = float(a)
    bh = 1.0 + a * a
    return {
        "b": bh,
        "omega": abs(a),
        "eigenvalues": np.array([1j * abs(a), -1j * abs(a)]),
        "fixed_point": np.array([a, bh / a]),
        "period": 2 * math.pi / abs(a),
        "kind": "hopf",
    }


def brusselator_ns_point(a: float = 1.0, eps: float = 0.1) -> dict:
    r"""Neimark–Sacker point of the Euler map of :func:`brusselator`.

    For the pair ``λ`` with trace ``T`` and determinant ``D``: ``|1 + ελ|² = 1 + εT + ε²D``, so
    ``|1 + ελ| = 1`` iff ``T = −εD``, i.e. ``b_NS = 1 + a² − ε a²`` (a complex pair requires
    ``ε|a| < 2``). Returns ``{"b", "eigenvalues", "multipliers", "theta" (arg of the multiplier),
    "kind": "neimark-sacker"}``.
    """
    a, eps = float(a), float(eps)
    if eps <= 0 or eps * abs(a) >= 2:
        raise ValueError(f"need 0 < eps*|a| < 2 for a complex-pair Neimark-Sacker point, got eps={eps}, a={a}")
    b = 1.0 + a * a - eps * a * a
    lam = brusselator_spectrum(a, b)[:2]
    lam = lam[np.argsort(-lam.imag)]
    mult = 1.0 + eps * lam
    return {
        "b": b,
        "eigenvalues": lam,
        "multipliers": mult,
        "theta": float(np.angle(mult[0])),
        "kind": "neimark-sacker",
    }


# ------------------------------------------------------------------------------------------------
# 4. fold
# ------------------------------------------------------------------------------------------------
class FoldForce(EmbeddedForce):
    r"""``ẏ0 = p + y0 − y0³/3``, ``ẏk = −rate_k yk``, ``z = Q y``."""

    _consts = ("Q", "rates")

    def __call__(self, z, *, p):
        c = self._c(z)
        y = z @ c["Q"]
        x, rest = y[..., 0:1], y[..., 1:]
        fx = p + x - x * x * x / 3.0
        fy = torch.cat([fx, -c["rates"] * rest], dim=-1)
        return fy @ c["Q"].T


def fold_equilibria(p: float = -1.0) -> np.ndarray:
    """The real roots ``x`` of ``p + x − x³/3 = 0`` (sorted ascending; 1 or 3 of them, 2 at a fold).

    The fixed point of :func:`fold` is ``z = field.force.to_z([x, 0, …])`` and its ``y0``
    eigenvalue is ``1 − x²`` (stable outer branches ``|x| > 1``, unstable middle branch).
    """
    # x**3 - 3x - 3p = 0 in closed (trigonometric / hyperbolic) form: exact at the double roots
    p = float(p)
    if abs(p) <= 2.0 / 3.0:
        phi = math.acos(min(1.0, max(-1.0, 1.5 * p))) / 3.0
        xs = sorted(2.0 * math.cos(phi - 2.0 * math.pi * k / 3.0) for k in range(3))
        out = [xs[0]]
        for x in xs[1:]:
            if abs(x - out[-1]) > 1e-12:
                out.append(x)
        return np.array(out)
    return np.array([math.copysign(2.0 * math.cosh(math.acosh(1.5 * abs(p)) / 3.0), p)])


def fold(n: int = 8, p: float = -1.0, decay: Sequence[float] = (0.5, 2.0), mix: bool = True,
         seed: int = 0, dtype=torch.float64) -> Field:
    r"""An S-shaped equilibrium branch with two folds (turning points).

    .. math::  \dot y_0 = p + y_0 - y_0^3/3,\qquad \dot y_k = -\mathrm{rate}_k y_k\ (k\ge1),
               \qquad z = Q y,

    rates ``linspace(decay[0], decay[1], n−1)``, ``Q`` seeded random orthogonal (identity if
    ``mix=False``). Knob ``p``. Equilibria ``y = (x, 0, …)`` on the branch ``p = x³/3 − x``;
    the ``y0`` eigenvalue is ``1 − x²``. Folds (a real eigenvalue through 0, a map multiplier
    through +1) at ``x = 1, p = −2/3`` and ``x = −1, p = 2/3`` (:func:`fold_points`); bistable for
    ``|p| < 2/3``. Default ``p = −1``: one stable equilibrium, on the lower branch
    (``x ≈ −2.1038``); continuation in increasing ``p`` meets the fold at ``p = 2/3``, turns back
    along the unstable middle branch to the fold at ``p = −2/3``, and continues on the upper
    branch. ``z0`` is that lower-branch equilibrium (if it exists, else the upper one) offset by
    0.1 in every stable coordinate.
    """
    _check_dtype(dtype)
    n = int(n)
    if n < 1:
        raise ValueError(f"fold needs n >= 1, got {n}")
    gen = _generator(seed)
    Q = _orthogonal(n, gen) if mix else torch.eye(n, dtype=torch.float64)
    rates = _spread(decay[0], decay[1], n - 1)
    force = FoldForce(Q=Q.numpy(), rates=rates)
    x0 = fold_equilibria(p)[0]
    y0 = torch.full((n,), 0.1, dtype=torch.float64)
    y0[0] = float(x0)
    z0 = force.to_z(y0)
    desc = (f"fold: y0' = p + y0 - y0^3/3 (S-shaped branch, folds at p = -+2/3) on 1 of {n} "
            f"coordinates, the rest decaying at rates in [{decay[0]}, {decay[1]}]"
            + (", mixed by a random orthogonal Q" if mix else ""))
    args = dict(n=n, p=float(p), decay=tuple(float(d) for d in decay), mix=bool(mix), seed=int(seed))
    return Field(force, z0.to(dtype), {"p": p}, "fold", _meta("fold", desc, args))


def fold_points() -> dict:
    """The two folds of :func:`fold`.

    Returns ``{"folds": [{"x": 1.0, "p": −2/3, "eigenvalue": 0.0, "multiplier": 1.0},
    {"x": −1.0, "p": 2/3, ...}], "branch": "p = x**3/3 - x", "bistable": (−2/3, 2/3),
    "kind": "fold"}`` (``eigenvalue`` of J along ``y0``; ``multiplier`` of the Euler map, any ε).
    """
    return {
        "folds": [
            {"x": 1.0, "p": -2.0 / 3.0, "eigenvalue": 0.0, "multiplier": 1.0},
            {"x": -1.0, "p": 2.0 / 3.0, "eigenvalue": 0.0, "multiplier": 1.0},
        ],
        "branch": "p = x**3/3 - x",
        "bistable": (-2.0 / 3.0, 2.0 / 3.0),
        "kind": "fold",
    }


# ------------------------------------------------------------------------------------------------
# 5. flip (period doubling of the Euler map only)
# ------------------------------------------------------------------------------------------------
class FlipForce(EmbeddedForce):
    r"""``ẏ0 = −p y0 − y0³`` (or ``−p tanh y0``), ``ẏk = −rate_k yk``, ``z = Q y``."""

    _consts = ("Q", "rates")

    def __init__(self, saturating: bool = False, **consts):
        super().__init__(**consts)
        self.saturating = bool(saturating)

    def __call__(self, z, *, p):
        c = self._c(z)
        y = z @ c["Q"]
        x, rest = y[..., 0:1], y[..., 1:]
        fx = -p * torch.tanh(x) if self.saturating else -p * x - x * x * x
        fy = torch.cat([fx, -c["rates"] * rest], dim=-1)
        return fy @ c["Q"].T


def flip(n: int = 8, p: float = 1.0, decay: Sequence[float] = (0.1, 0.5), mix: bool = True,
         seed: int = 0, saturating: bool = False, dtype=torch.float64) -> Field:
    r"""A stiff real mode whose Euler map period-doubles while ``J`` stays stable.

    .. math::  \dot y_0 = -p\,y_0 - y_0^3 \quad(\texttt{saturating=True}:\ \dot y_0 = -p\tanh y_0),
               \qquad \dot y_k = -\mathrm{rate}_k y_k\ (k\ge1),\qquad z = Q y,

    rates ``linspace(decay[0], decay[1], n−1)`` (mildly stable), ``Q`` seeded random orthogonal.
    Knob ``p``. Fixed point 0 with eigenvalues ``−p`` and ``−rates``; ``J`` is symmetric and
    negative definite everywhere (``−p − 3y0²`` resp. ``−p·sech² y0``), so no eigenvalue of ``J``
    ever has ``Re λ > 0``. The Euler map multiplier ``1 − εp`` of the stiff mode crosses ``−1`` at
    ``p = 2/ε`` (:func:`flip_point`) — a flip that a rightmost-J search never sees.
    The cubic form (default) is a *subcritical* flip: the unstable 2-cycle
    ``±√((2 − εp)/ε)`` exists for ``p < 2/ε`` and shrinks onto 0; past the flip orbits escape.
    ``saturating=True`` gives a *supercritical* flip: a stable 2-cycle ``±x*``,
    ``tanh(x*)/x* = 2/(εp)``, is born for ``p > 2/ε`` (:func:`flip_cycle`).
    ``z0`` is 0.1 in every ``y`` coordinate.
    """
    _check_dtype(dtype)
    n = int(n)
    if n < 1:
        raise ValueError(f"flip needs n >= 1, got {n}")
    gen = _generator(seed)
    Q = _orthogonal(n, gen) if mix else torch.eye(n, dtype=torch.float64)
    rates = _spread(decay[0], decay[1], n - 1)
    force = FlipForce(saturating=saturating, Q=Q.numpy(), rates=rates)
    z0 = force.to_z(torch.full((n,), 0.1, dtype=torch.float64))
    form = "-p tanh(y0)" if saturating else "-p y0 - y0^3"
    desc = (f"flip: stiff mode y0' = {form} (Euler-map flip at p = 2/eps, J always stable) on 1 of "
            f"{n} coordinates, the rest decaying at rates in [{decay[0]}, {decay[1]}]"
            + (", mixed by a random orthogonal Q" if mix else ""))
    args = dict(n=n, p=float(p), decay=tuple(float(d) for d in decay), mix=bool(mix), seed=int(seed),
                saturating=bool(saturating))
    return Field(force, z0.to(dtype), {"p": p}, "flip", _meta("flip", desc, args))


def flip_point(eps: float = 0.1) -> dict:
    """The flip of the Euler map of :func:`flip` at step ``eps``.

    Returns ``{"p": 2/ε, "eigenvalue": −2/ε (of J, real), "multiplier": −1.0, "eps": ε,
    "kind": "flip"}``. Valid while the mild modes stay stable (``ε·max(rates) < 2``).
    """
    eps = float(eps)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    return {"p": 2.0 / eps, "eigenvalue": -2.0 / eps, "multiplier": -1.0, "eps": eps, "kind": "flip"}


def flip_cycle(p: float, eps: float = 0.1, saturating: bool = False) -> dict:
    r"""The period-2 orbit ``y0 = ±x*`` of the Euler map ``x ↦ x + εf(x)`` of the stiff mode.

    Cubic (``f = −px − x³``): ``x* = √((2 − εp)/ε)``, exists for ``p < 2/ε``; its two-step
    multiplier is ``f₂ = (1 − εp − 3εx*²)² = (2εp − 5)² > 1`` (unstable: subcritical flip).
    Saturating (``f = −p tanh x``): ``x*`` solves ``tanh(x*)/x* = 2/(εp)``, exists for
    ``p > 2/ε``; multiplier ``(1 − εp·sech²x*)² = (1 − 4x*/sinh(2x*))² < 1`` (stable).
    Returns ``{"amplitude": x*, "multiplier": two-step multiplier, "stable": bool}``.
    """
    p, eps = float(p), float(eps)
    ep = eps * p
    if not saturating:
        if ep >= 2:
            raise ValueError(f"the cubic flip field has a 2-cycle only for eps*p < 2, got {ep}")
        x = math.sqrt((2.0 - ep) / eps)
        m = (1.0 - ep - 3.0 * eps * x * x) ** 2
    else:
        if ep <= 2:
            raise ValueError(f"the saturating flip field has a 2-cycle only for eps*p > 2, got {ep}")
        from scipy.optimize import brentq

        target = 2.0 / ep
        hi = 1.0
        while math.tanh(hi) / hi > target:
            hi *= 2.0
        x = brentq(lambda t: math.tanh(t) - target * t, 1e-12, hi,
                   xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
        m = (1.0 - ep / math.cosh(x) ** 2) ** 2
    return {"amplitude": x, "multiplier": m, "stable": bool(m < 1.0)}


# ------------------------------------------------------------------------------------------------
# 6. logistic
# ------------------------------------------------------------------------------------------------
class LogisticForce(ExampleForce):
    """``F(x) = r x (1 − x) − x`` (elementwise)."""

    def __call__(self, z, *, r):
        return r * z * (1.0 - z) - z


def logistic(r: float = 4.0, x0: float = 0.3, dtype=torch.float64) -> Field:
    r"""1-D field ``F(x) = r x (1 − x) − x`` whose ε = 1 Euler map is the logistic map ``r x(1 − x)``.

    Knob ``r``. Fixed points ``0`` and ``1 − 1/r`` (J = ``r − 1`` resp. ``1 − r``). At ε = 1,
    ``r = 4`` the map is chaotic on [0, 1] with Lyapunov exponent exactly ``ln 2``
    (:func:`logistic_lyapunov`); at small ε the relaxation converges to ``1 − 1/r``. State shape (1,).
    """
    _check_dtype(dtype)
    return Field(
        LogisticForce(), torch.tensor([float(x0)], dtype=dtype), {"r": r}, "logistic",
        _meta("logistic", "logistic: F(x) = r x (1 - x) - x; the eps = 1 Euler map is the logistic map",
              dict(r=float(r), x0=float(x0))),
    )


def logistic_lyapunov(r: float = 4.0, steps: int = 20000, orbits: int = 64, burn: int = 1000,
                      seed: int = 0) -> float:
    """Lyapunov exponent of the logistic map ``x ↦ r x (1 − x)`` (the ε = 1 map of :func:`logistic`).

    Exactly ``ln 2`` at ``r = 4``; otherwise the float64 average of ``ln|r(1 − 2x)|`` over
    ``orbits × steps`` iterates after ``burn`` (``0 < r ≤ 4``; accuracy ~1e-3 for chaotic r,
    −inf-like large negative values at superstable parameters).
    """
    r = float(r)
    if r == 4.0:
        return math.log(2.0)
    if not 0.0 < r <= 4.0:
        raise ValueError(f"the logistic map stays in [0, 1] only for 0 < r <= 4, got {r}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.95, size=int(orbits))
    for _ in range(int(burn)):
        x = r * x * (1.0 - x)
    acc = np.zeros_like(x)
    for _ in range(int(steps)):
        acc += np.log(np.maximum(np.abs(r * (1.0 - 2.0 * x)), 1e-300))
        x = r * x * (1.0 - x)
    return float(acc.mean() / steps)


# ------------------------------------------------------------------------------------------------
# 7. Hénon
# ------------------------------------------------------------------------------------------------
class HenonForce(ExampleForce):
    """``F(x, y) = (1 − a x² + y − x, b x − y)``."""

    def __call__(self, z, *, a, b):
        x, y = z[..., 0:1], z[..., 1:2]
        return torch.cat([1.0 - a * x * x + y - x, b * x - y], dim=-1)


def henon(a: float = 1.4, b: float = 0.3, dtype=torch.float64) -> Field:
    r"""2-D field ``F(x, y) = (1 − a x² + y − x, b x − y)``: its ε = 1 Euler map is the Hénon map
    ``(x, y) ↦ (1 − a x² + y, b x)``.

    Knobs ``a``, ``b``. Fixed points (shared by F and the map): :func:`henon_fixed_points`.
    At the classical ``a = 1.4, b = 0.3`` the map is chaotic with largest Lyapunov exponent
    ≈ 0.41922 (:func:`henon_lyapunov`; the two exponents sum to ``ln b``). ``z0 = (0.1, 0.1)`` lies in
    the basin of the attractor.
    """
    _check_dtype(dtype)
    return Field(
        HenonForce(), torch.full((2,), 0.1, dtype=dtype), {"a": a, "b": b}, "henon",
        _meta("henon", "Henon: F(x, y) = (1 - a x^2 + y - x, b x - y); the eps = 1 Euler map is the Henon map",
              dict(a=float(a), b=float(b))),
    )


def henon_fixed_points(a: float = 1.4, b: float = 0.3) -> np.ndarray:
    """Fixed points ``(x, b x)`` with ``a x² + (1 − b) x − 1 = 0``; array of shape (k, 2), k ≤ 2."""
    a, b = float(a), float(b)
    if a == 0:
        xs = np.array([1.0 / (1.0 - b)]) if b != 1 else np.zeros(0)
    else:
        disc = (1.0 - b) ** 2 + 4.0 * a
        if disc < 0:
            return np.zeros((0, 2))
        xs = np.array([(-(1.0 - b) + s * math.sqrt(disc)) / (2.0 * a) for s in (1.0, -1.0)])
    return np.stack([xs, b * xs], axis=1)


def henon_lyapunov(a: float = 1.4, b: float = 0.3, steps: int = 20000, orbits: int = 32,
                   burn: int = 1000, seed: int = 0) -> float:
    """Largest Lyapunov exponent of the Hénon map (the ε = 1 map of :func:`henon`).

    The literature value 0.41922 at ``(1.4, 0.3)``; otherwise a float64 tangent-vector estimate
    over ``orbits × steps`` iterates (raises if orbits escape to infinity).
    """
    a, b = float(a), float(b)
    if (a, b) == (1.4, 0.3):
        return HENON_LYAPUNOV_LITERATURE
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.01, 0.01, int(orbits))
    y = rng.uniform(-0.01, 0.01, int(orbits))
    u, v = np.ones_like(x), np.zeros_like(x)
    acc = np.zeros_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(int(burn) + int(steps)):
            u, v = -2.0 * a * x * u + v, b * u
            x, y = 1.0 - a * x * x + y, b * x
            nrm = np.hypot(u, v)
            if k >= burn:
                acc += np.log(nrm)
            u, v = u / nrm, v / nrm
    if not np.all(np.isfinite(acc)):
        raise ValueError(f"Hénon orbits escape to infinity at a={a}, b={b}")
    return float(acc.mean() / steps)


# ------------------------------------------------------------------------------------------------
# 8. non-normal
# ------------------------------------------------------------------------------------------------
class NonnormalForce(ExampleForce):
    """``F(z) = −z + c·N z`` with ``(N z)_i = z_{i+1}`` (upper shift, ``(N z)_{n−1} = 0``)."""

    def __call__(self, z, *, coupling):
        shifted = torch.cat([z[..., 1:], torch.zeros_like(z[..., :1])], dim=-1)
        return -z + coupling * shifted


def nonnormal(n: int = 16, coupling: float = 10.0, dtype=torch.float64) -> Field:
    r"""A stable but strongly non-normal linear field ``F(z) = (−I + c·N) z``, ``N`` the upper shift.

    Knob ``coupling`` (``c``). ``J = −I + cN`` is one Jordan block: every eigenvalue is exactly
    ``−1`` (``(J + I)^n = 0``), yet the symmetric part ``−I + c(N + Nᵀ)/2`` has
    ``λ_max = −1 + c·cos(π/(n+1))`` (:func:`nonnormal_abscissa`), positive for ``c > 1/cos(π/(n+1))``:
    strong transient growth (:func:`nonnormal_growth`). Note: in floating point a dense eigensolver
    reports the eigenvalues on a circle of radius ≈ ``c·u^{1/n}`` about ``−1`` (``u`` the unit
    roundoff: ≈1 for the defaults in float64, ≈3.6 in float32) — the pseudospectrum, not a bug.
    ``z0`` is the last unit vector (the one ``N`` propagates upward).
    """
    _check_dtype(dtype)
    n = int(n)
    z0 = torch.zeros(n, dtype=dtype)
    z0[-1] = 1.0
    return Field(
        NonnormalForce(), z0, {"coupling": coupling}, "nonnormal",
        _meta("nonnormal", f"non-normal linear: F(z) = (-I + coupling N) z, N the {n}x{n} upper shift "
              "(all eigenvalues -1, positive numerical abscissa)", dict(n=n, coupling=float(coupling))),
    )


def nonnormal_abscissa(n: int = 16, coupling: float = 10.0) -> float:
    """Numerical abscissa ``λ_max((J + Jᵀ)/2) = −1 + c·cos(π/(n+1))`` of :func:`nonnormal`."""
    return -1.0 + float(coupling) * math.cos(math.pi / (int(n) + 1))


def nonnormal_growth(n: int = 16, coupling: float = 10.0, eps: float = 0.1, steps: int = 200) -> dict:
    """Transient growth of the Euler map ``M = I + εJ = (1 − ε)I + εcN`` of :func:`nonnormal`.

    Reference values from dense float64 products (tiny n only): ``{"norms": ‖M^k‖₂ for
    k = 0..steps, "max": max_k ‖M^k‖₂, "argmax": k, "spectral_radius": |1 − ε|}``.
    """
    n, c, eps = int(n), float(coupling), float(eps)
    M = (1.0 - eps) * np.eye(n) + eps * c * np.eye(n, k=1)
    P = np.eye(n)
    norms = [1.0]
    for _ in range(int(steps)):
        P = M @ P
        norms.append(float(np.linalg.norm(P, 2)))
    norms = np.array(norms)
    k = int(np.argmax(norms))
    return {"norms": norms, "max": float(norms[k]), "argmax": k, "spectral_radius": abs(1.0 - eps)}


# ------------------------------------------------------------------------------------------------
# 9. energy (conservative control)
# ------------------------------------------------------------------------------------------------
class EnergyForce(ExampleForce):
    r"""``F = −∇E``, ``E(z) = ½‖z‖² − g Σ log cosh((Sᵀz)_i) − bᵀz``."""

    _consts = ("S", "b")

    def __call__(self, z, *, gain):
        c = self._c(z)
        return -z + gain * (torch.tanh(z @ c["S"]) @ c["S"].T) + c["b"]

    def energy(self, z: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``E(z)`` (over the last axis), with a stable ``log cosh``."""
        c = self._c(z)
        u = z @ c["S"]
        logcosh = u.abs() + torch.nn.functional.softplus(-2.0 * u.abs()) - math.log(2.0)
        return 0.5 * (z * z).sum(-1) - gain * logcosh.sum(-1) - (c["b"] * z).sum(-1)


def energy(n: int = 16, seed: int = 0, gain: float = 1.0, dtype=torch.float64) -> Field:
    r"""A conservative (gradient) field, the symmetric control.

    .. math::  E(z) = \tfrac12\|z\|^2 - g\sum_i \log\cosh\big((S^\top z)_i\big) - b^\top z,\qquad
               F = -\nabla E = -z + g\,S\tanh(S^\top z) + b,

    ``J = −I + g·S diag(sech²(Sᵀz)) Sᵀ`` is symmetric everywhere (real spectrum; no Hopf).
    ``S`` is a seeded Gaussian n×n matrix scaled to ``‖S‖₂² = 0.8`` and ``b`` a seeded Gaussian
    vector ×0.1, so at the default ``gain = 1`` ``J ≼ −0.2·I``: one globally stable fixed
    point; instabilities (real eigenvalues through 0) need ``gain > 1.25``. Knob ``gain``.
    ``field.force.energy(z, gain)`` evaluates ``E``. ``z0`` is a seeded random state of norm 1.
    """
    _check_dtype(dtype)
    n = int(n)
    gen = _generator(seed)
    S = torch.randn(n, n, generator=gen, dtype=torch.float64)
    S = S * math.sqrt(0.8) / torch.linalg.matrix_norm(S, ord=2)
    b = 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    z0 = torch.randn(n, generator=gen, dtype=torch.float64)
    z0 = z0 / z0.norm()
    return Field(
        EnergyForce(S=S.numpy(), b=b.numpy()), z0.to(dtype), {"gain": gain}, "energy",
        _meta("energy", "conservative control: F = -grad E, E = |z|^2/2 - gain sum log cosh(S^T z) - b.z "
              "(symmetric Jacobian)", dict(n=n, seed=int(seed), gain=float(gain))),
    )


# ------------------------------------------------------------------------------------------------
# 10. 1-D reaction–diffusion Brusselator (a stiff PDE discretisation)
# ------------------------------------------------------------------------------------------------
def _neumann_wavenumbers(cells: int, length: float) -> np.ndarray:
    """−(eigenvalues) of the 3-point Laplacian with reflecting ends: κ_j = (4/h²) sin²(πj/(2N))."""
    h = length / cells
    return 4.0 / h**2 * np.sin(np.pi * np.arange(cells) / (2 * cells)) ** 2


class Brusselator1DForce(ExampleForce):
    r"""``u_t = a − (b+1)u + u²v + d_u u_xx``, ``v_t = bu − u²v + d_v v_xx`` on ``z = (u, v)``
    (last axis, ``2·cells``), reflecting (Neumann) ends; :meth:`precondition` is the field hook."""

    _consts = ()

    def __init__(self, cells: int, length: float, du: float, dv: float):
        super().__init__()
        self.cells, self.length, self.du, self.dv = int(cells), float(length), float(du), float(dv)
        self.kappa = _neumann_wavenumbers(self.cells, self.length)

    def _lap(self, w):
        h = self.length / self.cells
        padded = torch.cat([w[..., :1], w, w[..., -1:]], dim=-1)
        return (padded[..., :-2] - 2.0 * w + padded[..., 2:]) / (h * h)

    def __call__(self, z, *, a, b):
        u, v = z[..., : self.cells], z[..., self.cells :]
        u2v = u * u * v
        fu = a - (b + 1.0) * u + u2v + self.du * self._lap(u)
        fv = b * u - u2v + self.dv * self._lap(v)
        return torch.cat([fu, fv], dim=-1)

    def precondition(self, z, w, shift, *, a, b):
        r"""``(J̄ − shift·I)⁻¹ w`` with J̄ the Jacobian at the spatial mean of each sequence:
        diffusion plus the mean 2×2 reaction block, block-diagonal per cosine mode (DCT-II),
        so exact on homogeneous states and an approximation elsewhere."""
        import scipy.fft

        zz, ww = z.detach().cpu().double().numpy(), w.detach().cpu().double().numpy()
        N = self.cells
        u, v = zz[..., :N].mean(-1, keepdims=True), zz[..., N:].mean(-1, keepdims=True)
        k11, k12 = -(b + 1.0) + 2 * u * v - shift, u * u
        k21, k22 = b - 2 * u * v, -u * u - shift
        m11, m22 = k11 - self.du * self.kappa, k22 - self.dv * self.kappa
        det = m11 * m22 - k12 * k21
        det = np.where(det == 0.0, 1.0, det)
        wu = scipy.fft.dct(ww[..., :N], type=2, norm="ortho", axis=-1)
        wv = scipy.fft.dct(ww[..., N:], type=2, norm="ortho", axis=-1)
        xu, xv = (m22 * wu - k12 * wv) / det, (m11 * wv - k21 * wu) / det
        x = np.concatenate([scipy.fft.idct(xu, type=2, norm="ortho", axis=-1),
                            scipy.fft.idct(xv, type=2, norm="ortho", axis=-1)], axis=-1)
        return torch.as_tensor(x, dtype=w.dtype, device=w.device)


def brusselator_1d(cells: int = 500, a: float = 2.0, b: float = 4.5, du: float = 1e-3,
                   dv: float = 1e-3, length: float = 1.0, batch: int = 0, seed: int = 0,
                   dtype=torch.float64) -> Field:
    r"""The Brusselator as a reaction–diffusion system on ``cells`` grid cells of ``[0, length]``.

    .. math::  u_t = a - (b+1)u + u^2 v + d_u u_{xx},\qquad v_t = b u - u^2 v + d_v v_{xx},

    3-point Laplacian with reflecting (Neumann) ends; state ``(u, v)`` of ``2·cells`` numbers
    (``batch > 0``: ``batch`` identical copies, shape ``(batch, 2·cells)``, every eigenvalue
    ``batch``-fold). Homogeneous fixed point ``(a, b/a)``; on cosine mode j (wavenumber
    ``κ_j = (4/h²) sin²(πj/(2N))``) J is ``[[b−1−d_u κ, a²], [−b, −a²−d_v κ]]``
    (:func:`brusselator_1d_spectrum`). With ``d_u = d_v`` no Turing mode exists near the Hopf,
    so the first instability is mode 0's Hopf at ``b = 1 + a²`` (λ = ±ia), and the Euler map's
    first NS is ``b = 1 + a²(1 − ε)`` provided ``ε·d·κ_max < 2 − ε²a²`` (stiff: small ε).
    The field carries a ``precondition`` hook (exact at homogeneous states). ``z0``: the fixed
    point plus a seeded perturbation of size 0.01.
    """
    _check_dtype(dtype)
    cells = int(cells)
    force = Brusselator1DForce(cells, length, du, dv)
    gen = _generator(seed)
    shape = (batch, 2 * cells) if batch else (2 * cells,)
    base = torch.tensor(np.concatenate([np.full(cells, a), np.full(cells, b / a)]))
    noise = 0.01 * torch.randn(2 * cells, generator=gen, dtype=torch.float64)
    z0 = (base + noise).expand(shape).clone()
    args = dict(cells=cells, a=float(a), b=float(b), du=float(du), dv=float(dv),
                length=float(length), batch=int(batch), seed=int(seed))
    return Field(force, z0.to(dtype), {"a": a, "b": b}, "brusselator_1d",
                 _meta("brusselator_1d", f"1-D reaction-diffusion Brusselator on {cells} cells "
                       "(Neumann ends; Hopf at b = 1 + a^2)", args),
                 precondition=force.precondition)


def brusselator_1d_spectrum(cells: int = 500, a: float = 2.0, b: float = 4.5, du: float = 1e-3,
                            dv: float = 1e-3, length: float = 1.0) -> np.ndarray:
    """All ``2·cells`` eigenvalues of J at the homogeneous state, from the 2×2 block of each cosine
    mode (complex128, by descending real part)."""
    kappa = _neumann_wavenumbers(int(cells), float(length))
    tr = b - 1.0 - a * a - (du + dv) * kappa
    det = (b - 1.0 - du * kappa) * (-a * a - dv * kappa) + a * a * b
    sq = np.sqrt((tr * tr / 4.0 - det).astype(np.complex128))
    return _sort_spectrum(np.concatenate([tr / 2 + sq, tr / 2 - sq]))


#: every factory by name (each callable with no arguments)
EXAMPLES = {
    "linear": linear,
    "stuart_landau": stuart_landau,
    "brusselator": brusselator,
    "fold": fold,
    "flip": flip,
    "logistic": logistic,
    "henon": henon,
    "nonnormal": nonnormal,
    "energy": energy,
}
