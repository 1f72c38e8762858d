r"""The k leading Lyapunov exponents of the relaxation map (or of a flow), by QR re-orthonormalisation.

Benettin / Shimada–Nagashima: with Φ one step of the map and ``Q_0`` (n×k) orthonormal, each step

    W = DΦ(z_t) Q_t          (k JVPs, batched over the columns with ``torch.func.vmap``)
    Q_{t+1} R_{t+1} = W      (thin QR, diag R > 0)
    λ_i ≈ (1/N) Σ_t ln R_{t, ii}          per step;  per unit time  λ_i / h.

The step Φ is the deployed Euler map ``z ← z + εF(z)`` (``method='euler'``, h = ε), or one classical
Runge–Kutta step of the flow ż = F(z) (``method='rk4'``, h = dt; its JVP is the exact derivative of
the RK4 step, so the exponents are those of the discretised flow, O(dt⁴) from the flow's).

Several ``orbits`` (seeded perturbations of the start) run side by side (``vmap`` over orbits when
the force allows it, else a loop); each is first relaxed ``burn`` steps, then its tangents aligned
``align`` steps, then counted ``steps`` steps. Uncertainty: the counted steps of every orbit are cut
into ``BLOCKS`` blocks; with λ_{e,b} the block means, the standard error is
std(λ_{e,b})/√(E·B) and ``uncertainty`` = 3 standard errors (the O(1/N) finite-time bias of the
alignment is not included). ``convergence`` is the running estimate per recorded step.

Kaplan–Yorke dimension: with j the largest index with Σ_{i≤j} λ_i ≥ 0,
D_KY = j + Σ_{i≤j} λ_i / |λ_{j+1}| (0 when λ_1 < 0); when all k partial sums are ≥ 0 the k exponents
computed do not determine it and only D_KY ≥ k is known.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..store import provenance

METHODS = ("euler", "rk4")
BLOCKS = 16
#: exponents count as converged when their uncertainty is ≤ max(tol, REL_TOL·|λ_i|)
REL_TOL = 0.05
SCHEMA = 1


def step_map(field: Field, method: str, h: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Φ on flat states: Euler ``z + hF(z)`` or one RK4 step of ż = F(z) with step h."""
    f = field.flat_force()
    if method == "euler":
        return lambda z: z + h * f(z)
    if method == "rk4":
        def rk4(z):
            k1 = f(z)
            k2 = f(z + 0.5 * h * k1)
            k3 = f(z + 0.5 * h * k2)
            k4 = f(z + h * k3)
            return z + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return rk4
    raise StabilityLabError(f"method={method!r}: choose {' or '.join(METHODS)}")


def _over_orbits(fn, *args: torch.Tensor) -> torch.Tensor:
    """``fn`` of every orbit (leading axis of ``args``): vmap when the force allows it, else a loop."""
    if args[0].shape[0] > 1:
        try:
            return torch.func.vmap(fn)(*args)
        except Exception:  # a force vmap cannot trace over orbits: one orbit at a time
            pass
    return torch.stack([fn(*row) for row in zip(*args)])


def _tangent_step(phi, Z: torch.Tensor, Q: torch.Tensor):
    """``(Φ(z_e), DΦ(z_e) Q_e)`` for every orbit e of ``Z`` (E, n), ``Q`` (E, n, k)."""
    cols = lambda z, q: torch.func.vmap(lambda v: torch.func.jvp(phi, (z,), (v,))[1], in_dims=1, out_dims=1)(q)  # noqa: E731
    return _over_orbits(phi, Z), _over_orbits(cols, Z, Q)


def kaplan_yorke(lam: Sequence[float]) -> tuple[float, bool]:
    """(D_KY, determined): see the module docstring; ``determined`` is False when every partial
    sum of the given exponents is ≥ 0 (then D_KY ≥ len(lam) is all that is known)."""
    lam = np.sort(np.asarray(lam, dtype=float))[::-1]
    sums = np.cumsum(lam)
    if lam.size == 0 or lam[0] < 0:
        return 0.0, True
    j = int(np.flatnonzero(sums >= 0)[-1]) + 1
    if j == lam.size:
        return float(j), False
    return j + sums[j - 1] / abs(lam[j]), True


@torch.no_grad()
def lyapunov_spectrum(field: Field, k: int | None = None, eps: float = 0.1, *, method: str = "euler",
                      dt: float | None = None, steps: int = 4000, burn: int = 1000, align: int | None = None,
                      orbits: int = 1, z0: torch.Tensor | None = None, spread: float = 1e-3, seed: int = 0,
                      record: int | None = None, tol: float = 1e-3, blowup: float = 1e8) -> xr.Dataset:
    """The ``k`` (default min(n, 8)) leading Lyapunov exponents of Φ (module docstring).

    ``eps``: the Euler step (``method='euler'``); ``dt``: the RK4 step (``method='rk4'``, required).
    Starts: ``z0`` (default ``field.z0``) plus, per orbit, seeded noise of relative size ``spread``.
    ``record``: steps between entries of the convergence trace (default steps/100). An orbit whose
    state stops being finite or exceeds ``blowup``·max(1, ‖z0‖) stops the run (diverged, not
    converged). Data variables (dim ``mode``): ``lyapunov`` (per step), ``lyapunov_per_time``,
    ``uncertainty`` (per step); ``convergence`` (step × mode, per step); scalars ``lyapunov_sum``,
    ``kaplan_yorke``. Attributes: verdict, ``converged``, ``not_converged`` and the settings.
    """
    if method not in METHODS:
        raise StabilityLabError(f"method={method!r}: choose {' or '.join(METHODS)}")
    h = float(eps if method == "euler" else (dt if dt is not None else math.nan))
    if not (math.isfinite(h) and h > 0):
        raise StabilityLabError("the step must be > 0: eps for method='euler', dt for method='rk4'")
    n = field.n
    k = min(n, 8) if k is None else int(k)
    if not 1 <= k <= n:
        raise StabilityLabError(f"k={k} exponents: need 1 <= k <= n = {n}")
    align = max(steps // 10, 10) if align is None else int(align)
    if steps < 2 * BLOCKS or burn < 0 or align < 0 or orbits < 1:
        raise StabilityLabError(f"need steps >= {2 * BLOCKS}, burn >= 0, align >= 0, orbits >= 1")
    record = max(steps // 100, 1) if record is None else int(record)
    phi = step_map(field, method, h)
    gen = torch.Generator().manual_seed(int(seed))
    start = (field.z0 if z0 is None else z0).detach().reshape(-1).to(torch.float64)
    scale = spread * max(float(start.norm()), 1.0) / math.sqrt(n)
    noise = torch.randn(orbits, n, generator=gen, dtype=torch.float64) * scale
    Z = (start + noise).to(field.device, field.dtype)
    Q = torch.linalg.qr(torch.randn(orbits, n, k, generator=gen, dtype=torch.float64))[0].to(field.device, field.dtype)
    limit = blowup * max(1.0, float(start.norm()))
    logs = torch.zeros(orbits, BLOCKS, k, dtype=torch.float64)
    counts = torch.zeros(BLOCKS, dtype=torch.float64)
    trace_steps, trace = [], []
    diverged = None
    for t in range(burn + align + steps):
        if t < burn:
            Z = _over_orbits(phi, Z)
            W = None
        else:
            Z, W = _tangent_step(phi, Z, Q)
        znorm = Z.norm(dim=1)
        if not (bool(torch.isfinite(Z).all()) and float(znorm.max()) < limit):
            diverged = t
            break
        if W is None:
            continue
        Q, R = torch.linalg.qr(W)
        d = torch.diagonal(R, dim1=1, dim2=2)
        Q = Q * torch.sign(d)[:, None, :]
        c = t - burn - align
        if c >= 0:
            b = c * BLOCKS // steps
            logs[:, b] += d.abs().log().to("cpu", torch.float64)
            counts[b] += 1
            if (c + 1) % record == 0 or c + 1 == steps:
                trace_steps.append(c + 1)
                trace.append((logs.sum(dim=(0, 1)) / (orbits * counts.sum())).numpy())
    done = counts > 0
    if not bool(done.any()):
        raise StabilityLabError(f"the orbit diverged at step {diverged} (state not finite or beyond "
                                f"{blowup:g}·max(1, ||z0||)) before any step was counted")
    block_means = (logs[:, done] / counts[done][None, :, None]).reshape(-1, k).numpy()
    lam = block_means.mean(axis=0)
    stderr = block_means.std(axis=0, ddof=1) / math.sqrt(block_means.shape[0]) if block_means.shape[0] > 1 else np.full(k, np.nan)
    unc = 3 * stderr
    dky, determined = kaplan_yorke(lam)
    problems = []
    if diverged is not None:
        problems.append(f"the orbit diverged at step {diverged}")
    loose = np.flatnonzero(~(unc <= np.maximum(tol, REL_TOL * np.abs(lam))))
    if loose.size:
        problems.append(f"exponent(s) {', '.join(str(i + 1) for i in loose)} have uncertainty above "
                        f"max({tol:g}, {REL_TOL:g}|λ|) per step: run more steps or orbits")
    verdict = _verdict(lam[0], unc[0], h, problems)
    per_time = "per unit time (per step / h)"
    data = {
        "lyapunov": ("mode", lam, {"long_name": "Lyapunov exponents in QR order (descending once converged)", "units": "per step"}),
        "lyapunov_per_time": ("mode", lam / h, {"long_name": "Lyapunov exponents per unit time", "units": per_time}),
        "uncertainty": ("mode", unc, {"long_name": "3 standard errors of block means (finite-time bias not "
                                                   "included)", "units": "per step"}),
        "convergence": (("step", "mode"), np.array(trace).reshape(-1, k),
                        {"long_name": "running estimate of the exponents", "units": "per step"}),
        "lyapunov_sum": ((), float(lam.sum()), {"long_name": "sum of the k exponents", "units": "per step"}),
        "kaplan_yorke": ((), dky, {"long_name": "Kaplan-Yorke dimension", "determined": int(determined),
                                   "note": "" if determined else f"all {k} partial sums >= 0: D_KY >= {k}"}),
    }
    attrs = provenance(field, analysis="lyapunov", schema_version=SCHEMA, method=method, h=h,
                       eps=h if method == "euler" else None, dt=h if method == "rk4" else None, k=k,
                       steps=steps, burn=burn, align=align, orbits=orbits, spread=spread, seed=seed, tol=tol,
                       rel_tol=REL_TOL, blocks=BLOCKS, verdict=verdict, converged=int(not problems),
                       not_converged="; ".join(problems), units_note="exponents per step; per unit time = per step / h")
    attrs = {key: v for key, v in attrs.items() if v is not None}
    return xr.Dataset(data, coords={"mode": np.arange(k), "step": np.asarray(trace_steps, dtype=np.int64)}, attrs=attrs)


def _verdict(lam1: float, unc1: float, h: float, problems: list[str]) -> str:
    """One sentence from the leading exponent and its uncertainty."""
    lead = f"λ1 = {lam1:.4g} ± {unc1:.2g} per step ({lam1 / h:.4g} per unit time)"
    if lam1 - unc1 > 0:
        text = f"chaotic: {lead} > 0"
    elif lam1 + unc1 < 0:
        text = f"no positive exponent: {lead} < 0 (a fixed point or a periodic orbit of the map)"
    else:
        text = f"{lead} is 0 within its uncertainty (a cycle, invariant circle or torus, or too few steps)"
    return f"not converged: {'; '.join(problems)} ({text})" if problems else text


def lyapunov_sweep(field: Field, eps_values: Sequence[float], **kw) -> xr.Dataset:
    """:func:`lyapunov_spectrum` of the Euler map at each ε of ``eps_values``, stacked on dim ``eps``
    (the convergence trace of each run is kept; attributes are those of the first run, with the
    per-ε verdicts and convergence flags as variables)."""
    runs = [lyapunov_spectrum(field, eps=float(e), method="euler", **kw) for e in eps_values]
    ds = xr.concat([r.drop_attrs() for r in runs], dim="eps", data_vars="all", coords="minimal", join="outer")
    ds = ds.assign_coords(eps=np.asarray(eps_values, dtype=float))
    ds["verdict"] = ("eps", np.array([r.attrs["verdict"] for r in runs], dtype=object))
    ds["converged"] = ("eps", np.array([r.attrs["converged"] for r in runs]))
    attrs = {**runs[0].attrs, "converged": int(all(r.attrs["converged"] for r in runs)),
             "verdict": "; ".join(f"ε={float(e):g}: {r.attrs['verdict']}" for e, r in zip(eps_values, runs)),
             "not_converged": "; ".join(f"ε={float(e):g}: {r.attrs['not_converged']}"
                                        for e, r in zip(eps_values, runs) if r.attrs["not_converged"])}
    attrs.pop("eps", None)
    attrs.pop("h", None)
    return ds.assign_attrs(attrs)
