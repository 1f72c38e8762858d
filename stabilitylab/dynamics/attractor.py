r"""Attractor classifier: what a long Euler relaxation settles on.

From a batch of long runs (:mod:`.trajectory`) each row is classified, by the first rule that holds:

``diverged``
    the state or force stopped being finite, or ‖z‖ blew up.
``fixed_point``
    ‖F(z_T)‖ ≤ ``fp_tol``·max_k ‖z_k‖ (converged; ``fp_tol`` defaults to max(10⁻¹⁰, 10³·machine ε),
    above the round-off floor of the dtype). The absolute force norm is used because the relative
    force residual ‖F‖/‖z‖ does not vanish at a fixed point z* = 0.
``chaotic``
    the largest Lyapunov exponent λ (per step; λ/ε per unit of relaxation time) is positive beyond
    its own uncertainty: λ > λ_tol = max(3σ_λ, 10/N), σ_λ the batch-means standard error of the
    running estimate over the N averaged steps (:mod:`.trajectory`) and 10/N the finite-time bias
    of a non-chaotic orbit (ln‖v‖ stays bounded on a cycle, so its λ is O(1/N)). The threshold
    thus scales with the exponent's convergence, not with ε: a flow exponent of 0.9 per unit time
    is 9·10⁻⁴ per step at ε = 10⁻³ and is still seen.
``limit_cycle``
    the period P of the state is found (:mod:`.period`, Poincaré-section crossings to sub-step
    precision, with its standard error) and the state returns to itself after P steps within
    ``return_tol`` of its size (:mod:`.returnmap`). When it does not, the multiples m·P (m ≤ 8)
    and divisors P/d (d ≤ 4) the tail projections favour are tried, so a period-p orbit of a map
    seen as a sub-harmonic is still found. P need not be an integer: the Euler map of a flow near
    a Hopf cycle rotates by θ per step, so its attractor is an invariant circle with period 2π/θ
    steps — a limit cycle of the relaxation even when the rotation is irrational (λ ≈ 0).
    Integer-period orbits of the map (e.g. the 2-cycle born at a flip) are limit cycles too, with
    λ < 0.
``fixed_point``
    ‖F‖ is still decaying (slow convergence): the least-squares slope s of ln‖F(z_k)‖ over the
    second half of the run (N steps) gives a decay factor e^{−s·N} ≥ ``decay_tol``. A converging
    spiral fails the return check (it does not come back to itself), so it lands here, not among
    the cycles.
``quasi_periodic``
    otherwise: bounded with a residual floor, not chaotic, and no period (nor multiple or divisor
    of one) closes the orbit: a torus, or a cycle whose return fails.

The *residual floor* is the tail mean of the force residual ‖F‖/‖z‖, the *oscillation* its tail
max − min (the research table's ``res-floor`` and ``osc``); the *amplitude* is the RMS distance of
the tail states to their centroid (the radius of a circular cycle). A run stopped once its fixed
point was certified has no tail: its floor is the residual at the stop (an upper bound: the run
was contracting onto the certified fixed point) and its oscillation NaN — a tail mean there would
average the transient.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from .batch import batch_force
from .period import Period, measure_period, mismatch_period, return_mismatch
from .returnmap import return_errors
from .tangent import tangent_kind
from .trajectory import Certify, Trajectory, relax_batch

KINDS = ("fixed_point", "limit_cycle", "quasi_periodic", "chaotic", "diverged")
RESIDUAL_KIND = ("force_residual = ||F(z)||/||z||; step_residual = ||eps F(z)||/||z||; "
                 "residual_floor = tail mean of force_residual, oscillation = tail max - min "
                 "(a run stopped once certified: the residual at the stop, an upper bound; oscillation NaN)")


@dataclass
class Attractor:
    """One run's verdict and its evidence (period in steps, λ per step and per unit time λ/ε)."""

    kind: str
    reason: str
    period: float
    period_error: float
    period_coarse: float
    amplitude: float
    lyapunov: float
    lyapunov_error: float
    lyapunov_per_time: float
    lyapunov_tol: float
    residual_floor: float
    residual_min: float
    residual_max: float
    oscillation: float
    step_residual_floor: float
    return_error: float
    decay: float


@dataclass
class Criteria:
    """Thresholds of the classifier (see module docstring)."""

    fp_tol: float | None = None
    decay_tol: float = 2.0
    lyap_tol: float | None = None   # per step; None: max(3σ_λ, 10/N) (module docstring)
    return_tol: float = 0.05
    min_corr: float = 0.5


def _classify(tr: Trajectory, e: int, per: Period, ret: float, crit: Criteria) -> Attractor:
    eps, lam, lam_err = float(tr.eps[e]), float(tr.lyapunov[e]), float(tr.lyapunov_error[e])
    lam_tol = crit.lyap_tol if crit.lyap_tol is not None else max(3 * np.nan_to_num(lam_err), 10.0 / tr.lyapunov_steps)
    period = per.value
    end = tr.stopped_at[e] if tr.stopped_at[e] >= 0 else tr.steps  # a certified row's records end early
    res = tr.force_residual[e, : end + 1][-tr.tail:]
    fnorm = tr.force_norm[e, : end + 1][-tr.tail:]
    stats = dict(period_error=per.uncertainty, period_coarse=per.coarse, amplitude=float(tr.amplitude[e]),
                 lyapunov=lam, lyapunov_error=lam_err, lyapunov_per_time=lam / eps, lyapunov_tol=lam_tol,
                 residual_floor=float(np.mean(res)), residual_min=float(np.min(res)),
                 residual_max=float(np.max(res)), oscillation=float(np.ptp(res)),
                 step_residual_floor=eps * float(np.mean(res)), return_error=ret, decay=math.nan)
    if tr.diverged_at[e] >= 0:
        return Attractor("diverged", f"state or force blew up at step {tr.diverged_at[e]}", math.nan, **stats)
    if tr.stopped_at[e] >= 0:  # no tail was run: the floor is the residual at the stop, an upper bound
        last = float(res[-1])
        stats.update(return_error=math.nan, period_error=math.nan, residual_floor=last, residual_min=last,
                     residual_max=last, oscillation=math.nan, step_residual_floor=eps * last)
        return Attractor("fixed_point", tr.stopped_reason[e], math.nan, **stats)
    half = tr.force_norm[e, tr.steps // 2:]
    slope = np.polyfit(np.arange(len(half)), np.log(np.maximum(half, 1e-300)), 1)[0]
    stats["decay"] = decay = float(np.exp(-slope * (len(half) - 1)))
    scale = max(float(np.max(tr.state_norm[e])), 1e-300)
    if fnorm[-1] <= crit.fp_tol * scale:
        stats.update(return_error=math.nan, period_error=math.nan)
        return Attractor("fixed_point", f"||F|| = {fnorm[-1]:.1e} <= {crit.fp_tol:g} x max||z||", math.nan, **stats)
    if lam > lam_tol:
        return Attractor("chaotic", f"Lyapunov exponent {lam:.4g} ± {lam_err:.1g} per step = {lam / eps:.4g} per "
                         f"unit time, > {lam_tol:.1e} per step", period, **stats)
    if ret <= crit.return_tol:
        err = f" ± {per.uncertainty:.1g}" if math.isfinite(per.uncertainty) else ""
        return Attractor("limit_cycle", f"returns after {period:.8g}{err} steps (return error {ret:.1e})",
                         period, **stats)
    if decay >= crit.decay_tol:
        stats.update(return_error=math.nan, period_error=math.nan)
        return Attractor("fixed_point", f"||F|| still decaying ({decay:.3g}x over the second half)", math.nan, **stats)
    if per.crossings < 3:
        why = (f"undetermined: the {tr.tail}-step tail crosses its mean only {per.crossings} times, too few to tell "
               f"a cycle of period > {tr.tail // 2} steps from a torus (relax longer: --steps/--tail)")
    elif not math.isfinite(period):
        why = "no period found"
    else:
        why = f"return error {ret:.2g} after {period:.4g} steps (nor after its multiples or divisors)"
    return Attractor("quasi_periodic", f"bounded residual floor, {why}", period, **stats)


def residual_certificate(fp_tol: float, then: Certify | None = None) -> Certify:
    """The ``fixed_point`` rule as a stopping test (‖F‖ ≤ ``fp_tol``·max‖z‖ so far), consulting
    ``then`` for the rows it does not settle."""
    def certify(k, rows, X, fnorm, zmax):
        said = [f"||F|| = {f:.1e} <= {fp_tol:g} x max||z|| (step {k})"
                if f <= fp_tol * max(m, 1e-300) else None for f, m in zip(fnorm, zmax)]
        rest = [i for i, why in enumerate(said) if why is None]
        if then is not None and rest:
            for i, why in zip(rest, then(k, rows[rest], X[rest], fnorm[rest], zmax[rest])):
                said[i] = why
        return said
    return certify


def _alternative(x: np.ndarray, period: float) -> float:
    """The multiple m·P (m ≤ 8) or divisor P/d (d ≤ 4) of ``period`` whose refined value best closes the
    tail projections ``x``: the smallest one with a mismatch within 2x of the best. NaN if none fits."""
    longest = (len(x) - 3) / 2
    cands = sorted({period / d for d in (4, 3, 2) if period / d >= 1.5} |
                   {m * period for m in range(2, 9) if m * period <= longest})
    if not cands:
        return math.nan
    refined = [mismatch_period(x, c) for c in cands]
    errs = np.array([return_mismatch(x, p) for p in refined])
    return refined[int(np.flatnonzero(errs <= 2 * errs.min() + 1e-300)[0])]


@dataclass
class Attractors:
    """Attractors of E runs with their trajectory records and the settings used."""

    rows: list[Attractor]
    trajectory: Trajectory
    settings: dict

    def to_dataset(self, dim: str, coord: Sequence[float]) -> xr.Dataset:
        """Per-run scalars on ``dim``; residual traces on (``dim``, ``step``); tail projections on
        (``dim``, ``tail_step``, ``projection``)."""
        tr = self.trajectory
        cols = {k: [asdict(a)[k] for a in self.rows] for k in asdict(self.rows[0])}
        data = {k: (dim, np.asarray(v, dtype=object if k in ("kind", "reason") else np.float64))
                for k, v in cols.items()}
        data["force_residual"] = ((dim, "step"), tr.force_residual, {"long_name": "||F(z)||/||z||"})
        data["step_residual"] = ((dim, "step"), tr.step_residual, {"long_name": "||eps F(z)||/||z||"})
        data["tail_projection"] = ((dim, "tail_step", "projection"), tr.projections,
                                   {"long_name": "<r_j, z_k> for random unit r_j over the tail"})
        if dim != "eps":
            data["eps"] = (dim, tr.eps)
        ds = xr.Dataset(data, coords={dim: np.asarray(coord, dtype=np.float64), "step": np.arange(tr.steps + 1),
                                      "tail_step": np.arange(tr.steps + 1 - tr.projections.shape[1], tr.steps + 1)})
        for name in ("period", "period_error", "period_coarse"):
            ds[name].attrs["units"] = "relaxation steps"
        for name in ("lyapunov", "lyapunov_error", "lyapunov_tol"):
            ds[name].attrs["units"] = "per relaxation step"
        ds["lyapunov_per_time"].attrs["units"] = "per unit of relaxation time (lyapunov / eps)"
        ds["period_error"].attrs["long_name"] = "standard error of the period (Poincare-section fit)"
        ds["period_coarse"].attrs["long_name"] = "autocorrelation estimate of the period (cross-check)"
        ds.attrs.update(self.settings, residual_kind=RESIDUAL_KIND)
        return ds


def detect(field: Field, eps=0.1, steps: int = 6000, *, tail: int | None = None, knob: str | None = None,
           values: Sequence[float] | None = None, z0: torch.Tensor | None = None, lyapunov: bool = True,
           projections: int = 4, seed: int = 0, criteria: Criteria | None = None, blowup: float = 1e8,
           progress: bool = False, certify: Certify | None = None, check_every: int = 50,
           tangent: str = "auto") -> Attractors:
    """Relax ``field`` for ``steps`` Euler steps per run and classify each run's attractor.

    Runs are the entries of ``eps`` (a float or a sequence) and/or, with ``knob``, of ``values``
    (the knob's value per run; a scalar ``eps`` is then shared); all run at once
    (:mod:`.batch`). ``tail`` (default ``steps // 4``) is the window the floor, oscillation,
    amplitude and period are taken from; the Lyapunov exponent averages the second half (its
    tangent product: ``tangent``, :func:`~.trajectory.relax_batch`).

    A run stops as soon as its fixed point is certified (checked every ``check_every`` steps, see
    :func:`~.trajectory.relax_batch`): by the ``fixed_point`` rule itself (‖F‖ ≤ ``fp_tol``·max‖z‖),
    or by ``certify`` (e.g. :class:`~.certify.SpectralCertificate`: Newton converged and every
    |μ| < 1 with margin), so the budget of steps goes only to the runs still undecided.
    """
    eps_arr = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    bad = eps_arr[~(eps_arr > 0) | ~np.isfinite(eps_arr)]
    if bad.size:
        raise StabilityLabError(f"eps must be finite and > 0, got {bad[0]:g}")
    if (knob is None) != (values is None):
        raise StabilityLabError("give a knob and its values together")
    E = len(values) if knob is not None else len(eps_arr)
    if E == 0:
        raise StabilityLabError("no runs: give at least one eps (and knob) value")
    if knob is not None and len(eps_arr) not in (1, E):
        raise StabilityLabError(f"{len(eps_arr)} eps values for {E} knob values")
    eps_arr = np.broadcast_to(eps_arr, (E,)).copy()
    crit = criteria or Criteria()
    if crit.fp_tol is None:
        crit = replace(crit, fp_tol=max(1e-10, 1e3 * torch.finfo(field.dtype).eps))
    tail = max(2, steps // 4) if tail is None else int(tail)
    start = (field.z0 if z0 is None else z0).detach().reshape(1, -1).to(field.dtype)
    x0 = start.expand(E, -1).clone()
    force = batch_force(field, x0, knob, values)
    settled = residual_certificate(crit.fp_tol, certify)
    tr = relax_batch(force, x0, eps_arr, steps, tail, lyapunov=lyapunov, projections=projections,
                     seed=seed, blowup=blowup, progress=progress, certify=settled, check_every=check_every,
                     tangent=tangent)
    nan = Period(math.nan, math.nan, math.nan, "none")
    pers = [measure_period(tr.projections[e], crit.min_corr) if tr.diverged_at[e] < 0 and tr.stopped_at[e] < 0
            else nan for e in range(E)]
    rets = return_errors(force, tr.z, eps_arr, [p.value for p in pers])
    retry = [e for e in range(E) if math.isfinite(pers[e].value) and not rets[e] <= crit.return_tol]
    if retry:
        alt = [_alternative(tr.projections[e], pers[e].value) if e in retry else math.nan for e in range(E)]
        alt_rets = return_errors(force, tr.z, eps_arr, alt)
        for e in retry:
            if alt_rets[e] <= crit.return_tol:
                pers[e] = replace(pers[e], value=alt[e], uncertainty=math.nan, method="mismatch")
                rets[e] = alt_rets[e]
    rows = [_classify(tr, e, pers[e], float(rets[e]), crit) for e in range(E)]
    settings = dict(steps=steps, tail=tail, lyapunov_steps=tr.lyapunov_steps, projections=projections,
                    lyapunov_tangent=tangent_kind(tangent, field.dtype) if lyapunov else "none", seed=seed,
                    blowup=blowup, **{k: ("auto" if v is None else v) for k, v in asdict(crit).items()})
    return Attractors(rows, tr, settings)
