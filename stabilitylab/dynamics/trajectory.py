r"""Long Euler relaxations of a batch of runs, recorded for attractor analysis.

Each row e iterates the Euler map Φ_e(z) = z + ε_e F_e(z) for ``steps`` steps and records per step
‖F(z_k)‖ and ‖z_k‖ (force residual r_F = ‖F‖/‖z‖, step residual ε r_F), and over the *tail* (the
last ``tail`` states) a few random projections ⟨r_j, z_k⟩ (for the period), the centroid
z̄ = mean z_k and the amplitude

    A = ( mean_k ‖z_k − z̄‖² )^{1/2}        (RMS distance to the centroid: the radius of a circle).

**Largest Lyapunov exponent** (per step of the map). A tangent vector is propagated with the
Jacobian of the map, v ← M(z_k) v = v + ε J(z_k) v (F(z_k) and J v together, :mod:`.tangent`:
``tangent='auto'`` is the forward difference of a neighbour state in float64, about 2 forwards a
step against 4.75 for exact forward mode, and exact forward mode otherwise), and renormalised
every step. It starts a quarter into the run (after the transient), aligns with the most expanding direction over the second quarter, and over the
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
from typing import Callable

import numpy as np
import torch

from ..errors import ConfigError
from ..solvers.relax import progress_bar
from .batch import BatchForce
from .tangent import tangent_product

LYAPUNOV_BATCHES = 16


@dataclass
class Trajectory:
    """Records of E relaxations (see module docstring); arrays are (E, ...) numpy, states torch."""

    eps: np.ndarray           # (E,)
    force_norm: np.ndarray    # (E, steps + 1) ‖F(z_k)‖
    state_norm: np.ndarray    # (E, steps + 1) ‖z_k‖
    projections: np.ndarray   # (E, tail, m) ⟨r_j, z_k⟩ over each row's last states (see _unroll)
    z: torch.Tensor           # (E, n) last good states
    centroid: torch.Tensor    # (E, n) tail mean
    amplitude: np.ndarray     # (E,) RMS distance to the centroid over the tail
    lyapunov: np.ndarray      # (E,) per-step largest Lyapunov exponent (NaN if not computed)
    lyapunov_error: np.ndarray  # (E,) its standard error from batch means (NaN if not computed)
    diverged_at: np.ndarray   # (E,) first bad step, −1 if none
    tail: int
    lyapunov_steps: int
    stopped_at: np.ndarray    # (E,) step a certified row stopped at, −1 if it ran to the end
    stopped_reason: list      # (E,) why it was certified ("" if it ran to the end)

    @property
    def steps(self) -> int:
        return self.force_norm.shape[1] - 1

    @property
    def final_force_norm(self) -> np.ndarray:
        """‖F‖ at each row's last recorded step (its stop, for a certified row), (E,)."""
        last = np.where(self.stopped_at >= 0, self.stopped_at, self.steps)
        return self.force_norm[np.arange(len(last)), last]

    @property
    def force_residual(self) -> np.ndarray:
        """‖F(z_k)‖/‖z_k‖, (E, steps + 1)."""
        return self.force_norm / (self.state_norm + 1e-30)

    @property
    def step_residual(self) -> np.ndarray:
        """‖ε F(z_k)‖/‖z_k‖, (E, steps + 1)."""
        return self.eps[:, None] * self.force_residual


def _unroll(ring: np.ndarray, ends: np.ndarray, last: int) -> np.ndarray:
    """(E, L, m) projections of each row's last L = min(tail, last + 1) states from the ring
    (tail, E, m) of :func:`relax_batch`, ending at the row's own last step ``ends[e]``; a row that
    stopped before L steps is NaN-padded at the front. For rows that ran to ``last`` these are the
    states ``last − L + 1 … last``."""
    tail, E, m = ring.shape
    L = min(tail, last + 1)
    out = np.full((E, L, m), np.nan)
    for e, end in enumerate(ends):
        got = min(L, end + 1)
        out[e, L - got:] = ring[np.arange(end - got + 1, end + 1) % tail, e]
    return out


Certify = Callable[[int, torch.Tensor, np.ndarray, np.ndarray, np.ndarray], list]


@torch.no_grad()  # forward-mode tangents are unaffected; no reverse graph is recorded
def relax_batch(force: BatchForce, x0: torch.Tensor, eps, steps: int, tail: int, *,
                lyapunov: bool = True, projections: int = 4, seed: int = 0, blowup: float = 1e8,
                progress: bool = False, certify: Certify | None = None, check_every: int = 50,
                tangent: str = "auto") -> Trajectory:
    """Run ``steps`` Euler steps of every row of ``x0`` (E, n) with steps ``eps`` (E,); ``tangent``:
    the Lyapunov tangent's product (:data:`~.tangent.TANGENTS`, see the module docstring).

    ``certify(k, rows, X, fnorm, zmax)``, asked every ``check_every`` steps about the running rows
    (indices ``rows``, states ``X``, ‖F‖ now and max‖z‖ so far), returns per row the reason its
    fixed point is certified, or None: a certified row stops there (``stopped_at``, its records
    end), the others run on, and the run ends when none is left.
    """
    if steps < 8:
        raise ConfigError(f"need at least 8 relaxation steps, got {steps}")
    if not 2 <= tail <= steps + 1:
        raise ConfigError(f"tail must be between 2 and steps + 1 = {steps + 1}, got {tail}")
    E, n = x0.shape
    dt, dev = x0.dtype, x0.device
    product = tangent_product(tangent, dt)
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
    proj = torch.full((tail, E, projections), math.nan, dtype=dt, device=dev)
    alive = torch.ones(E, dtype=torch.bool, device=dev)
    died = torch.full((E,), -1, dtype=torch.long, device=dev)
    stopped_at, reasons = np.full(E, -1), [""] * E
    t0, a0, l0 = steps + 1 - tail, steps // 4, steps // 2
    B = min(LYAPUNOV_BATCHES, steps - l0)
    logsum = torch.zeros(E, B, dtype=dt, device=dev)
    counted = torch.zeros(E, B, dtype=dt, device=dev)
    X, good = x0.clone(), x0.clone()
    ref, s1, s2 = x0.clone(), torch.zeros_like(x0), torch.zeros(E, dtype=dt, device=dev)
    run = torch.arange(E, device=dev)  # the rows still relaxing
    whole = True  # run is every row: index nothing
    last = steps
    with progress_bar(steps, "relaxation", progress) as advance:
        for k in range(steps + 1):
            x, rows = (X, None) if whole else (X[run], run)
            if lyapunov and a0 <= k < steps:
                F, JV = product(lambda y: force(y, rows), x, V[run])
            else:
                F = force(x, rows)
            fn, zn = F.norm(dim=1), x.norm(dim=1)
            ok = alive[run] & torch.isfinite(fn) & torch.isfinite(zn) & (zn < limit)
            died[run] = torch.where(alive[run] & ~ok & (died[run] < 0), k, died[run])
            alive[run] = ok
            good[run] = torch.where(ok[:, None], x, good[run])
            fnorm[k, run] = torch.where(ok, fn, math.nan)
            znorm[k, run] = torch.where(ok, zn, math.nan)
            proj[k % tail, run] = good[run] @ R  # a ring: each row's last ``tail`` states
            if k >= t0:
                if k == t0:
                    ref[run] = good[run]
                d = good[run] - ref[run]
                s1[run], s2[run] = s1[run] + d, s2[run] + (d * d).sum(1)
            if k == steps:
                break
            if lyapunov and k >= a0:
                W = V[run] + h[run] * JV
                g = W.norm(dim=1)
                if k >= l0:
                    b = (k - l0) * B // (steps - l0)
                    logsum[run, b] += torch.where(ok, g.log(), 0.0)
                    counted[run, b] += ok.to(dt)
                V[run] = W / g[:, None]
            X[run] = torch.where(ok[:, None], x + h[run] * F, good[run])
            advance(note=f"{len(run)} of {E} runs relaxing")
            if certify is not None and k > 0 and k % check_every == 0:
                idx = run[alive[run]].cpu().numpy()
                zmax = np.nanmax(znorm[: k + 1, idx].cpu().numpy(), axis=0)
                said = certify(k, idx, good[idx], fnorm[k, idx].cpu().numpy(), zmax)
                for e, why in zip(idx, said):
                    if why is not None:
                        stopped_at[e], reasons[e] = k, why
                keep = alive & torch.as_tensor(stopped_at < 0, device=dev)
                if not bool(keep.all()):
                    run, whole = torch.nonzero(keep).flatten(), False
                if len(run) == 0:
                    last = k
                    break
    count = torch.as_tensor(np.clip(np.minimum(np.where(stopped_at < 0, steps, stopped_at), steps) - t0 + 1, 0, None),
                            dtype=dt, device=dev)
    mean = s1 / count.clamp_min(1)[:, None]
    amp = torch.where(count > 0, (s2 / count.clamp_min(1) - (mean * mean).sum(1)).clamp_min(0).sqrt(), math.nan)
    lyap, lyap_err = np.full(E, math.nan), np.full(E, math.nan)
    if lyapunov:
        sums, counts = logsum.cpu().numpy(), counted.cpu().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            lyap, means = sums.sum(1) / counts.sum(1), sums / counts  # NaN where no step counted
        lyap_err = np.array([np.std(m[np.isfinite(m)], ddof=1) / math.sqrt(np.isfinite(m).sum())
                             if np.isfinite(m).sum() > 1 else math.nan for m in means])
    return Trajectory(
        eps=eps_np, force_norm=fnorm[: last + 1].T.cpu().numpy(), state_norm=znorm[: last + 1].T.cpu().numpy(),
        projections=_unroll(proj.cpu().numpy(), np.where(stopped_at < 0, last, stopped_at), last), z=good,
        centroid=torch.where(count[:, None] > 0, ref + mean, good),
        amplitude=amp.cpu().numpy(), lyapunov=lyap, lyapunov_error=lyap_err, diverged_at=died.cpu().numpy(), tail=tail,
        lyapunov_steps=steps - l0, stopped_at=stopped_at, stopped_reason=reasons)
