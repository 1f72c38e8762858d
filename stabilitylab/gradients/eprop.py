"""Equilibrium propagation with centred ±β nudges: naive EP and asymmetric EP (AEP).

From the free fixed point z*, two nudged Euler relaxations run in lockstep for T2 steps:

    z_± ← z_± + ε( F(z_±) ∓ β ℓ(z_±) + c_± ),     ℓ(z) = ∂L/∂z,

and the contrast ``a = (z₋ − z₊)/(2β)`` gives ``g = ∂/∂θ [⟨a, F(z*; θ)⟩ + L(z*; θ)]``.

- ``naive``: c = 0. Linearised, J δ_± = ±βℓ, so a → −J⁻¹ℓ: exact only when J = Jᵀ.
- ``aep``: c_± = −(J − Jᵀ)(z_± − z*) with J, Jᵀ at z* (unclipped). The nudged Jacobian becomes
  J − (J − Jᵀ) = Jᵀ, so a → −J⁻ᵀℓ = λ, the exact adjoint, up to O(β²).
- ``aep_track``: re-linearise every step at the midpoint m = (z₊ + z₋)/2 and correct only the
  differential mode d = (z₊ − z₋)/2: c_± = ∓(J_m − J_mᵀ) d. The common mode follows the free
  dynamics, the differential mode sees J_mᵀ at its current midpoint (a fresh linearisation, one
  J and one Jᵀ product per step).

Convergence diagnostics: ``nudged_change`` = ‖a_T − a_{T−K}‖/‖a_T‖ (K = ``window``; 1 when T ≤ K)
says whether the nudged phase has settled; ``adjoint_residual`` = ‖Jᵀa + ℓ‖/‖ℓ‖ at z* says how far
a is from the exact adjoint (it stays large for naive EP on a non-conservative field however long
the nudged phase runs).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..errors import ConfigError
from .objective import Cost, GradientResult, Objective
from ..linear import Linearization

VARIANTS = ("naive", "aep", "aep_track")


def _correction(obj: Objective, z_star: torch.Tensor, variant: str):
    """``(corr, per_step, setup)``: the map (z₊, z₋) ↦ (c₊, c₋) on flat vectors (None for naive),
    the cost of one nudged step (both states) and the one-off cost of setting it up."""
    if variant == "naive":
        return None, Cost(forwards=2), Cost()
    if variant == "aep":
        P = Linearization(obj.field, z_star)
        J, JT, zs = P.J(), P.JT(), z_star.reshape(-1)

        def corr(zp, zm):
            dp, dm = zp - zs, zm - zs
            return JT(dp) - J(dp), JT(dm) - J(dm)

        return corr, Cost(forwards=2, jvps=2, vjps=2), Cost(forwards=1, vjps=1)

    def corr_track(zp, zm):
        P = Linearization(obj.field, 0.5 * (zp + zm))
        d = 0.5 * (zp - zm)
        k = P.J()(d) - P.JT()(d)
        return -k, k

    return corr_track, Cost(forwards=3, jvps=1, vjps=2), Cost()


@torch.no_grad()
def _contrasts(obj: Objective, z_star: torch.Tensor, eps: float, beta: float, corr,
               record: set) -> dict:
    """Contrasts ``a_t`` (flat) after each t in ``record`` lockstep nudged steps."""
    f, shape = obj.field.flat_force(), obj.field.shape

    def ell(z):
        return obj.loss_grad(z.reshape(shape)).reshape(-1)

    zp = zm = z_star.reshape(-1)
    out = {0: torch.zeros_like(zp)} if 0 in record else {}
    for t in range(1, max(record) + 1):
        vp, vm = f(zp) - beta * ell(zp), f(zm) + beta * ell(zm)
        if corr is not None:
            cp, cm = corr(zp, zm)
            vp, vm = vp + cp, vm + cm
        zp, zm = zp + eps * vp, zm + eps * vm
        if t in record:
            out[t] = (zm - zp) / (2 * beta)
    return out


def ep_sweep(obj: Objective, eps: float = 0.1, T1: int = 150, T2s: Sequence[int] = (40,),
             beta: float = 0.02, variant: str = "aep", z_free: torch.Tensor | None = None,
             window: int = 10) -> dict:
    """EP gradients for every nudge length in ``T2s`` from one nudged run of max(T2s) steps:
    ``{T2: GradientResult}``, each result's cost counted as if it had run alone."""
    if variant not in VARIANTS:
        raise ConfigError(f"EP variant must be one of {VARIANTS}, got {variant!r}")
    if not beta > 0:
        raise ConfigError(f"the nudge strength beta must be > 0, got {beta}")
    T2s = sorted({int(t) for t in T2s})
    if not T2s or T2s[0] < 1 or window < 1:
        raise ConfigError(f"nudge lengths T2 and the window must be ≥ 1, got T2={T2s}, window={window}")
    free = Cost()
    z_star, free_diag = obj.free_phase(eps, T1, z_free, free)
    corr, per_step, setup = _correction(obj, z_star, variant)
    snaps = _contrasts(obj, z_star, eps, beta, corr, set(T2s) | {max(t - window, 0) for t in T2s})
    ell_star = obj.loss_grad(z_star).reshape(-1)
    JT = Linearization(obj.field, z_star).JT()  # diagnostics only, not counted
    out = {}
    for t in T2s:
        a, a_prev = snaps[t], snaps[max(t - window, 0)]
        cost = free + setup + per_step * t
        grads, loss = obj.param_grads(z_star, a, cost)
        an = float(a.norm())
        with torch.no_grad():
            adj = float((JT(a) + ell_star).norm() / ell_star.norm())
        diag = {**free_diag, "nudged_change": float((a - a_prev).norm()) / an if an > 0 else float("nan"),
                "adjoint_residual": adj, **cost.as_diagnostics()}
        out[t] = GradientResult(grads, loss, z_star, diag, variant)
    return out


def equilibrium_propagation(obj: Objective, eps: float = 0.1, T1: int = 150, T2: int = 40,
                            beta: float = 0.02, variant: str = "aep",
                            z_free: torch.Tensor | None = None, window: int = 10) -> GradientResult:
    """The EP gradient of ``variant`` (module docstring) with T2 nudged steps at strength ±β."""
    return ep_sweep(obj, eps, T1, (T2,), beta, variant, z_free, window)[int(T2)]
