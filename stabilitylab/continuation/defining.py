"""Defining systems of codimension-1 bifurcation curves in two knobs (standard extended systems).

The unknown is one flat vector ``Y = (z, v, [κ], p1, p2)`` (state, a real vector of the critical
eigenspace, the eigenvalue parameter κ for Hopf / Neimark–Sacker, the two knobs) and the system
``G(Y) = 0`` has one equation fewer than unknowns, so its zeros form a curve:

    F(z; p1, p2) = 0
    fold  (J v = 0):                     J v = 0                  ⟨ℓ1, v⟩ = 1
    flip  (M v = −v):                    M v + v = 0              ⟨ℓ1, v⟩ = 1
    hopf  (λ = ±iω, κ = ω²):             J²v + κ v = 0            ⟨ℓ1, v⟩ = 1, ⟨ℓ2, v⟩ = 0
    neimark_sacker (μ = e^{±iθ}, κ = cos θ): (M²v − 2κ M v + v)/ε² = 0  ⟨ℓ1, v⟩ = 1, ⟨ℓ2, v⟩ = 0

with ``M = I + εJ``; ε may itself be the second knob (``p2 = 'eps'``, map curves only). The real
formulations stay regular through the ends of a Hopf / NS curve: κ crosses 0 at a
Bogdanov–Takens point (beyond it the system describes a neutral saddle, λ = ±√−κ) and ±1 at the
1:1 / 1:2 resonances. ``ℓ1, ℓ2`` span (approximately) the critical eigenspace; :meth:`renormalise`
re-centres them on the current solution (which then still solves the new system exactly).
Products ``J v`` are forward-mode JVPs of F at z; Newton differentiates G by forward differences
(the knobs enter F as plain numbers), so the whole system is matrix-free.
"""
from __future__ import annotations

import math

import torch

from .. import events
from ..errors import StabilityLabError, did_you_mean
from ..field import Field

KINDS = events.names("fixed_point", curve=True)  # the kinds with a defining system below
COMPLEX = tuple(k for k in KINDS if events.get(k).pair)
MAP_KINDS = tuple(k for k in KINDS if events.get(k).operator == "M")


class DefiningSystem:
    """``G(Y)`` of one kind for ``field`` in the knobs ``param`` and ``param2`` at Euler step ``eps``
    (ignored by J kinds; the varying p2 when ``param2 == 'eps'``)."""

    def __init__(self, field: Field, kind: str, param: str, param2: str, eps: float):
        if kind not in KINDS:
            raise StabilityLabError(f"a {kind} point cannot be continued in two knobs; "
                                    f"curve continues {', '.join(KINDS)} points")
        if param2 == param:
            raise StabilityLabError(f"param2 must differ from the continuation's knob {param}", param="param2")
        if param2 == "eps" and kind not in MAP_KINDS:
            raise StabilityLabError(f"eps moves only the Euler map's bifurcations (neimark_sacker, flip), "
                                    f"not a {kind} of F")
        if param2 != "eps" and param2 not in field.params:
            knobs = ", ".join(sorted(field.params)) or "none"
            raise StabilityLabError(f"unknown knob {param2!r} for the second parameter; this field's knobs are: {knobs}"
                                    + did_you_mean(param2, field.params)
                                    + (", and eps for map curves" if kind in MAP_KINDS else ""), param="param2")
        self.field, self.kind, self.param, self.param2, self.eps = field, kind, param, param2, float(eps)
        self.n = field.n
        self.nk = 1 if kind in COMPLEX else 0
        self.size = 2 * self.n + self.nk + 2
        self.ell = torch.zeros(self.n, 1 + self.nk, dtype=field.dtype, device=field.device)

    # -- layout ----------------------------------------------------------------------------------
    def parts(self, Y: torch.Tensor):
        """``(z, v, κ or None, p1, p2)``."""
        n = self.n
        kappa = float(Y[2 * n]) if self.nk else None
        return Y[:n], Y[n:2 * n], kappa, float(Y[-2]), float(Y[-1])

    def pack(self, z, v, kappa, p1, p2) -> torch.Tensor:
        tail = ([kappa] if self.nk else []) + [p1, p2]
        return torch.cat([z.reshape(-1), v.reshape(-1), z.new_tensor(tail)])

    def knobs(self, p1: float, p2: float) -> tuple[dict, float]:
        """The field's knob overrides and the Euler step at (p1, p2)."""
        if self.param2 == "eps":
            return {self.param: p1}, p2
        return {self.param: p1, self.param2: p2}, self.eps

    def weights(self) -> torch.Tensor:
        """Arclength weights: mean square on z (as in :mod:`.problem`), plain on v (a unit vector),
        κ and the knobs."""
        w = torch.ones(self.size, dtype=self.field.dtype, device=self.field.device)
        w[: self.n] = 1.0 / self.n
        return w

    # -- the system ------------------------------------------------------------------------------
    @torch.no_grad()
    def residual(self, Y: torch.Tensor) -> torch.Tensor:
        z, v, kappa, p1, p2 = self.parts(Y)
        knobs, eps = self.knobs(p1, p2)
        f_of = self.field.flat_force(**knobs)
        f, jv = torch.func.jvp(f_of, (z,), (v,))
        if self.kind == "fold":
            r = jv
        elif self.kind == "flip":
            r = eps * jv + 2 * v
        else:
            jjv = torch.func.jvp(f_of, (z,), (jv,))[1]
            if self.kind == "hopf":
                r = jjv + kappa * v
            else:  # (M² − 2κM + I)v/ε² with M = I + εJ (O(1) as ε → 0, like the Hopf equation)
                mv = v + eps * jv
                r = (mv + eps * (jv + eps * jjv) - 2 * kappa * mv + v) / eps**2
        return torch.cat([f, r, self.ell.T @ v - self.ell.new_tensor([1.0] + [0.0] * self.nk)])

    def error(self, Y: torch.Tensor, G: torch.Tensor | None = None) -> tuple[float, float]:
        """(force residual ‖F‖/max(‖z‖, 1), eigen residual ‖rest of G‖/(‖v‖·s)) at Y, where s =
        max(1, ω²) for Hopf / NS (the size of J²v there; ω² = κ, or 2(1 − κ)/ε² for the map)."""
        G = self.residual(Y) if G is None else G
        z, v, kappa, p1, p2 = self.parts(Y)
        scale = 1.0
        if self.kind == "hopf":
            scale = max(1.0, abs(kappa))
        elif self.kind == "neimark_sacker":
            scale = max(1.0, 2 * abs(1 - kappa) / self.knobs(p1, p2)[1] ** 2)
        force = float(torch.linalg.vector_norm(G[: self.n])) / max(float(torch.linalg.vector_norm(z)), 1.0)
        eig = float(torch.linalg.vector_norm(G[self.n:])) / (max(float(torch.linalg.vector_norm(v)), 1e-300) * scale)
        return force, eig

    def derivative(self, Y: torch.Tensor, G: torch.Tensor):
        """``δ ↦ G'(Y) δ`` by a forward difference from ``G = G(Y)``, step √ε_mach·max(1, ‖Y‖∞)/‖δ‖∞
        (≈1e-8 relative: Newton still converges to the exact G = 0, a little more slowly)."""
        h0 = torch.finfo(Y.dtype).eps ** 0.5 * max(1.0, float(Y.abs().max()))

        def apply(d):
            dn = float(d.abs().max())
            if dn == 0.0:
                return torch.zeros_like(G)
            h = h0 / dn
            return (self.residual(Y + h * d) - G) / h

        return apply

    # -- eigen-data ------------------------------------------------------------------------------
    def renormalise(self, Y: torch.Tensor) -> None:
        """ℓ1 = v/‖v‖² and (Hopf / NS) ℓ2 = the unit part of J v orthogonal to v: Y stays a solution."""
        z, v, _, p1, p2 = self.parts(Y)
        self.ell[:, 0] = v / float(v @ v)
        if self.nk:
            knobs, _ = self.knobs(p1, p2)
            with torch.no_grad():
                jv = torch.func.jvp(self.field.flat_force(**knobs), (z,), (v,))[1]
            w = jv - (jv @ v) / (v @ v) * v
            self.ell[:, 1] = w / torch.linalg.vector_norm(w)

    def start(self, z: torch.Tensor, q: torch.Tensor, eig_J: complex, p1: float, p2: float) -> torch.Tensor:
        """Y at a fixed point z with J's critical eigenvector q (eigenvalue ``eig_J``), the first
        guess Newton polishes; sets ℓ from q."""
        _, eps = self.knobs(p1, p2)
        if self.nk:
            u1 = q.real / torch.linalg.vector_norm(q.real)
            u2 = q.imag - (q.imag @ u1) * u1
            self.ell[:, 0], self.ell[:, 1] = u1, u2 / torch.linalg.vector_norm(u2)
            mu = 1 + eps * eig_J
            kappa = eig_J.imag ** 2 if self.kind == "hopf" else mu.real / abs(mu)
            return self.pack(z, u1, kappa, p1, p2)
        v = (q.real if q.is_complex() else q).to(z.dtype)
        v = v / torch.linalg.vector_norm(v)
        self.ell[:, 0] = v
        return self.pack(z, v, None, p1, p2)

    def frequency(self, kappa: float | None) -> float:
        """ω = √κ (Hopf, rad/time), θ = arccos κ (NS, rad/step); NaN outside the curve's range or
        for real kinds."""
        if kappa is None:
            return math.nan
        if self.kind == "hopf":
            return math.sqrt(kappa) if kappa > 0 else math.nan
        return math.acos(kappa) if -1 < kappa < 1 else math.nan

    def critical_eig(self, kappa: float | None, eps: float) -> complex:
        """J's critical eigenvalue λ (Im ≥ 0) on the curve."""
        if self.kind == "fold":
            return 0j
        if self.kind == "flip":
            return complex(-2.0 / eps)
        freq = self.frequency(kappa)
        if self.kind == "hopf":
            return complex(0.0, freq)
        return (complex(math.cos(freq), math.sin(freq)) - 1.0) / eps
