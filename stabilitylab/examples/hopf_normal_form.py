"""Example family: Stuart–Landau (Hopf normal form)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..field import Field
from ._base import EmbeddedForce, _generator, _orthogonal, _spread, _meta, _check_dtype


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
