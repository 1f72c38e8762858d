"""Anderson acceleration of the Euler map ``g(z) = z + εF(z)`` (type II, with damping β).

With fixed-point residuals f_k = g(z_k) − z_k = εF(z_k) and the last m differences
ΔZ = [z_{i+1} − z_i], ΔR = [f_{i+1} − f_i], solve the small regularised least-squares problem
γ = argmin ‖f_k − ΔR γ‖² + reg·max(diag ΔRᵀΔR)·‖γ‖² on the host and step

    z_{k+1} = z_k + β f_k − (ΔZ + β ΔR) γ.

Safeguards: *gating* — the Anderson candidate is accepted only if its force residual is at most
``gate`` × the current one (never if it is NaN), otherwise the plain Euler step z + εF(z) is taken;
*restarts* — when the force residual grows above ``restart_on`` × its best value since the last
restart, the history is cut to its newest pair (the one that saw the growth: dropping it too would
leave only plain Euler steps, which is what grows when ε is past ε_crit); when cond(ΔR) exceeds
``cond_max`` (the normal equations would have no digits left) the history is cleared.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
import torch

from ..errors import ConfigError
from ..field import Field
from .relax import initial_state, progress_bar
from .result import SolveResult, Trace, non_finite_reason, relative_norm


def _mixing(dR: torch.Tensor, f: torch.Tensor, reg: float, cond_max: float) -> np.ndarray | None:
    """γ minimising ‖f − dR γ‖ (Tikhonov ``reg``), or None if cond(dR) > cond_max."""
    G = (dR.mT @ dR).cpu().numpy().astype(np.float64)
    ev = np.linalg.eigvalsh(G)
    if ev[0] <= 0 or math.sqrt(ev[-1] / ev[0]) > cond_max:
        return None
    rhs = (dR.mT @ f).cpu().numpy().astype(np.float64)
    return np.linalg.solve(G + reg * G.diagonal().max() * np.eye(len(G)), rhs)


@torch.no_grad()
def anderson(
    field: Field,
    eps: float = 0.1,
    m: int = 5,
    beta: float = 1.0,
    steps: int = 1000,
    z0: torch.Tensor | None = None,
    tol: float | None = 1e-9,
    restart_on: float = 5.0,
    gate: float = 1.5,
    reg: float = 1e-10,
    cond_max: float | None = None,
    progress: bool = False,
) -> SolveResult:
    """Anderson(m)-accelerated Euler relaxation to force residual ≤ ``tol`` (see module docstring).

    ``cond_max`` defaults to 1/√(machine ε) of the field dtype. ``settings`` records the number of
    ``restarts`` and of ``rejected`` (gated) Anderson steps. Non-finite states stop the run and
    return the last finite one.
    """
    if m < 1 or beta <= 0 or gate < 1 or restart_on <= 1:
        raise ConfigError(f"need m ≥ 1, beta > 0, gate ≥ 1, restart_on > 1; got m={m}, "
                          f"beta={beta}, gate={gate}, restart_on={restart_on}")
    z = initial_state(field, z0)
    cond_max = torch.finfo(z.dtype).eps ** -0.5 if cond_max is None else cond_max
    x = z.reshape(-1)
    fx = field(z).reshape(-1)
    r = best = relative_norm(fx, x)
    nfev, restarts, rejected = 1, 0, 0
    dX, dR = deque(maxlen=m), deque(maxlen=m)
    trace, converged = Trace(), False
    reason = non_finite_reason(z, 0) if math.isnan(r) else None
    with progress_bar(steps, "Anderson", progress) as advance:
        for k in range(steps + 1 if reason is None else 0):
            trace.add(k, r, eps * r, eps)
            if tol is not None and r <= tol:
                converged, reason = True, f"force residual {r:.2e} ≤ tol {tol:.0e} after {k} steps"
                break
            if k == steps:
                break
            f = eps * fx
            x_new = None
            if dR:
                gamma = _mixing(torch.stack(list(dR), 1), f, reg, cond_max)
                if gamma is None:
                    dX.clear()
                    dR.clear()
                    restarts += 1
                else:
                    g = torch.as_tensor(gamma, dtype=x.dtype, device=x.device)
                    mix = torch.stack(list(dX), 1) + beta * torch.stack(list(dR), 1)
                    x_new = x + beta * f - mix @ g
                    fx_new = field(x_new.reshape(z.shape)).reshape(-1)
                    nfev += 1
                    r_new = relative_norm(fx_new, x_new)
                    if not r_new <= gate * r:  # gated (NaN included): fall back to Euler
                        x_new = None
                        rejected += 1
            if x_new is None:
                x_new = x + f
                fx_new = field(x_new.reshape(z.shape)).reshape(-1)
                nfev += 1
                r_new = relative_norm(fx_new, x_new)
            if math.isnan(r_new):
                reason = non_finite_reason(x_new, k + 1)
                break
            dX.append(x_new - x)
            dR.append(eps * fx_new - f)
            if r_new > restart_on * best:  # keep only the newest pair: it saw the growth
                for hist in (dX, dR):
                    newest = hist[-1]
                    hist.clear()
                    hist.append(newest)
                restarts += 1
                best = r_new
            best = min(best, r_new)
            x, fx, r = x_new, fx_new, r_new
            advance(r)
    if reason is None:
        reason = f"maxiter reached ({steps} steps), force residual {r:.2e}"
    settings = dict(eps=eps, m=m, beta=beta, steps=steps, tol=tol, restart_on=restart_on, gate=gate,
                    reg=reg, cond_max=cond_max, restarts=restarts, rejected=rejected)
    return SolveResult(x.reshape(z.shape), converged, reason, "anderson", settings,
                       iterations=max(len(trace.rows) - 1, 0), nfev=nfev, **trace.arrays())
