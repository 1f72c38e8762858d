r"""Long Euler relaxations of a batch of runs, recorded for attractor analysis.

Each row e iterates the Euler map Φ_e(z) = z + ε_e F_e(z) for ``steps`` steps and records per step
‖F(z_k)‖ and ‖z_k‖ (force residual r_F = ‖F‖/‖z‖, step residual ε r_F), and over the *tail* (the
last ``tail`` states) a few random projections ⟨r_j, z_k⟩ (for the period), the centroid
z̄ = mean z_k and the amplitude

    A = ( mean_k ‖z_k − z̄‖² )^{1/2}        (RMS distance to the centroid: the radius of a circle).

**Largest Lyapunov exponent** (per step of the map). A tangent vector is propagated with the
Jacobian of the map, v ← M(z_k) v = v + ε J(z_k) v (one forward-mode JVP gives F(z_k) and J v
together, :mod:`.tangent`), and renormalised every step. It starts a quarter into the run (after
the transient), aligns with the most expanding direction over the second quarter, and over the
second half

    λ = (1/N) Σ_k ln ‖M(z_k) v_k‖,      ‖v_k‖ = 1.

λ < 0 on a fixed point (ln ρ(M)) and on an integer-period orbit of the map, λ ≈ 0 (to O(1/N)) on
an invariant circle or torus (the phase direction neither grows nor shrinks), λ > 0 on a chaotic
attractor. Per unit of relaxation time the exponent is λ/ε. Its *convergence* is measured by batch
means: the N steps are cut into ``LYAPUNOV_BATCHES`` consecutive blocks, λ_b the mean over block b,
and the standard error is std_b(λ_b)/√B (the spread of the running estimate over the window).

A row *diverges* when its state or force stops being finite or ‖z‖ exceeds ``blowup`` times
max(1, ‖z_0‖); it is then frozen at its last good state and its records are NaN from there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from ..solvers.relax import progress_bar
from .batch import BatchForce
from .tangent import jvp

LYAPUNOV_BATCHES = 16


@dataclass
class Trajectory:
    """Records of E relaxations (see module docstring); arrays are (E, ...) numpy, states torch."""

    eps: np.ndarray           # (E,)
    force_norm: np.ndarray    # (E, steps + 1) ‖F(z_k)‖
    state_norm: np.ndarray    # (E, steps + 1) ‖z_k‖
    projections: np.ndarray   # (E, tail, m) ⟨r_j, z_k⟩ over the tail
    z: torch.Tensor           # (E, n) last good states
    centroid: torch.Tensor    # (E, n) tail mean
    amplitude: np.ndarray     # (E,) RMS distance to the centroid over the tail
    lyapunov: np.ndarray      # (E,) per-step largest Lyapunov exponent (NaN if not computed)
    lyapunov_error: np.ndarray  # (E,) its standard error from batch means (NaN if not computed)
    diverged_at: np.ndarray   # (E,) first bad step, −1 if none
    tail: int
    lyapunov_steps: int

    @property
    def steps(self) -> int:
        return self.force_norm.shape[1] - 1

    @property
    def force_residual(self) -> np.ndarray:
        """‖F(z_k)‖/‖z_k‖, (E, steps + 1)."""
        return self.force_norm / (self.state_norm + 1e-30)

    @property
    def step_residual(self) -> np.ndarray:
        """‖ε F(z_k)‖/‖z_k‖, (E, steps + 1)."""
        return self.eps[:, None] * self.force_residual


@torch.no_grad()  # forward-mode tangents are unaffected; no reverse graph is recorded
def relax_batch(force: BatchForce, x0: torch.Tensor, eps, steps: int, tail: int, *,
                lyapunov: bool = True, projections: int = 4, seed: int = 0, blowup: float = 1e8,
                progress: bool = False) -> Trajectory:
    """Run ``steps`` Euler steps of every row of ``x0`` (E, n) with steps ``eps`` (E,)."""
    if steps < 8:
        raise ConfigError(f"need at least 8 relaxation steps, got {steps}")
    if not 2 <= tail <= steps + 1:
        raise ConfigError(f"tail must be between 2 and steps + 1 = {steps + 1}, got {tail}")
    E, n = x0.shape
    dt, dev = x0.dtype, x0.device
    eps_np = np.broadcast_to(np.asarray(eps, dtype=np.float64), (E,)).copy()
    h = torch.as_tensor(eps_np, dtype=dt, device=dev)[:, None]
    gen = torch.Generator().manual_seed(int(seed))
    R = torch.randn(n, projections, generator=gen, dtype=torch.float64).to(dev, dt)
    R = R / R.norm(dim=0)
    V = torch.randn(E, n, generator=gen, dtype=torch.float64).to(dev, dt)
    V = V / V.norm(dim=1, keepdim=True)
    limit = blowup * max(1.0, float(x0.norm(dim=1).max()))
    fnorm = torch.full((steps + 1, E), math.nan, dtype=dt, device=dev)
    znorm = torch.full_like(fnorm, math.nan)
    proj = torch.zeros(tail, E, projections, dtype=dt, device=dev)
    alive = torch.ones(E, dtype=torch.bool, device=dev)
    died = torch.full((E,), -1, dtype=torch.long, device=dev)
    t0, a0, l0 = steps + 1 - tail, steps // 4, steps // 2
    B = min(LYAPUNOV_BATCHES, steps - l0)
    logsum = torch.zeros(E, B, dtype=dt, device=dev)
    counted = torch.zeros(E, B, dtype=dt, device=dev)
    X, good = x0.clone(), x0.clone()
    ref = s1 = s2 = None
    with progress_bar(steps, "relaxation", progress) as advance:
        for k in range(steps + 1):
            if lyapunov and a0 <= k < steps:
                F, JV = jvp(force, X, V)
            else:
                F = force(X)
            fn, zn = F.norm(dim=1), X.norm(dim=1)
            ok = torch.isfinite(fn) & torch.isfinite(zn) & (zn < limit)
            died = torch.where(alive & ~ok & (died < 0), k, died)
            alive = alive & ok
            good = torch.where(alive[:, None], X, good)
            fnorm[k] = torch.where(alive, fn, math.nan)
            znorm[k] = torch.where(alive, zn, math.nan)
            if k >= t0:
                proj[k - t0] = good @ R
                if ref is None:
                    ref, s1, s2 = good.clone(), torch.zeros_like(good), torch.zeros(E, dtype=dt, device=dev)
                d = good - ref
                s1, s2 = s1 + d, s2 + (d * d).sum(1)
            if k == steps:
                break
            if lyapunov and k >= a0:
                W = V + h * JV
                g = W.norm(dim=1)
                if k >= l0:
                    b = (k - l0) * B // (steps - l0)
                    logsum[:, b] += torch.where(alive, g.log(), 0.0)
                    counted[:, b] += alive.to(dt)
                V = W / g[:, None]
            X = torch.where(alive[:, None], X + h * F, good)
            advance()
    mean = s1 / tail
    amp = (s2 / tail - (mean * mean).sum(1)).clamp_min(0).sqrt()
    lyap, lyap_err = np.full(E, math.nan), np.full(E, math.nan)
    if lyapunov:
        sums, counts = logsum.cpu().numpy(), counted.cpu().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            lyap, means = sums.sum(1) / counts.sum(1), sums / counts  # NaN where no step counted
        lyap_err = np.array([np.std(m[np.isfinite(m)], ddof=1) / math.sqrt(np.isfinite(m).sum())
                             if np.isfinite(m).sum() > 1 else math.nan for m in means])
    return Trajectory(
        eps=eps_np, force_norm=fnorm.T.cpu().numpy(), state_norm=znorm.T.cpu().numpy(),
        projections=proj.permute(1, 0, 2).cpu().numpy(), z=good, centroid=ref + mean,
        amplitude=amp.cpu().numpy(), lyapunov=lyap, lyapunov_error=lyap_err, diverged_at=died.cpu().numpy(), tail=tail,
        lyapunov_steps=steps - l0)
