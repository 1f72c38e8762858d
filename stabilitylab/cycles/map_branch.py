r"""Attractor branches of the Euler map z ← z + εF(z; p): what the deployed relaxation settles on.

Past a Neimark–Sacker point the relaxation settles on an invariant circle (or a locked cycle, a
torus, chaos). The branch is followed through a grid of knob values: each value relaxes from the
previous value's final state (a warm start, kicked by a seeded relative :data:`KICK`: it stays
on the attractor it was on while that one exists), and is classified by :func:`stabilitylab.dynamics.detect`. The grid is swept *forward*
(from the stable side across the boundary) and *backward* from the forward sweep's last
attractor: where the two sweeps settle on different attractors the fixed point and the
oscillation coexist — the hysteresis loop of a subcritical (hard) loss of stability.

Per point, on ``tail`` further steps of the attractor:

- ``amplitude``  = RMS over the tail of ‖z_k − z*‖, the distance to the fixed point z*(p) (continued
  by Newton–Krylov, unstable or not; the centroid when none is found): the radius of a circle;
- ``rotation_number`` = 1/P, P the sub-step period (Poincaré-section crossings of the principal
  direction of 8 seeded random projections of z_k − z*, :func:`~stabilitylab.dynamics.period.measure_period`):
  turns per step, well defined on an invariant circle whose period is not an integer;
- ``period``, ``lyapunov`` (per step), ``residual_floor`` from the classifier;
- ``settled``: the amplitude no longer drifts over the tail (:func:`is_settled`; near a soft onset
  the approach is slow — critical slowing down — and the verdict names such points).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from ..dynamics import detect
from ..dynamics.certify import SpectralCertificate
from ..dynamics.period import measure_period
from ..field import Field
from ..solvers import find_fixed_point
from ..store import provenance

#: random projections the rotation plane is chosen in
PLANE_PROJECTIONS = 8
#: relative size of the seeded kick given to every warm start: a state left exactly on an unstable
#: fixed point would stay there, where the deployed relaxation (never exactly on it) leaves
KICK = 1e-6


@dataclass
class MapPoint:
    """One point of an attractor branch (see the module docstring)."""

    value: float
    direction: str
    kind: str
    amplitude: float
    rotation_number: float
    period: float
    lyapunov: float
    residual_floor: float
    fixed_point_residual: float
    settled: bool
    state: torch.Tensor


#: an attractor is *settled* when its squared amplitude drifts by less than this (relative) over the
#: tail, or by less than the scatter of its window means allows (:func:`is_settled`)
SETTLED_RTOL = 1e-4
SETTLED_WINDOWS = 8


@torch.no_grad()
def _on_attractor(field: Field, z: torch.Tensor, centre: torch.Tensor, eps: float, tail: int,
                  seed: int) -> tuple[float, float, bool]:
    """(RMS ‖z_k − centre‖, rotation number, settled) over ``tail`` further Euler steps from ``z``."""
    f = field.flat_force()
    gen = torch.Generator().manual_seed(seed)
    R = torch.randn(z.numel(), PLANE_PROJECTIONS, generator=gen, dtype=torch.float64).to(z.device, z.dtype)
    x, dist2, proj = z.reshape(-1).clone(), [], []
    c = centre.reshape(-1)
    for _ in range(tail):
        d = x - c
        dist2.append(float(d @ d))
        proj.append(d @ R)
        x = x + eps * f(x)
    P = torch.stack(proj).cpu().double().numpy()
    d2 = np.asarray(dist2)
    amplitude = math.sqrt(d2.mean())
    if amplitude == 0 or not np.isfinite(P).all():
        return amplitude, math.nan, False
    return amplitude, 1.0 / measure_period(P).value, is_settled(d2)


def is_settled(d2: np.ndarray) -> bool:
    """Whether the squared distances ``d2`` along the tail have stopped drifting: the linear trend
    of their means over :data:`SETTLED_WINDOWS` equal windows, accumulated over the tail, is within
    :data:`SETTLED_RTOL` of their mean or within 3 standard deviations of the windows' scatter about
    the trend (a non-circular orbit sampled over a non-integer number of turns per window scatters;
    an approach to the attractor drifts one way)."""
    w = len(d2) // SETTLED_WINDOWS
    if w < 2:
        return False
    means = d2[:w * SETTLED_WINDOWS].reshape(SETTLED_WINDOWS, w).mean(axis=1)
    x = np.arange(SETTLED_WINDOWS, dtype=float)
    slope, intercept = np.polyfit(x, means, 1)
    scatter = np.std(means - (slope * x + intercept), ddof=2)
    drift = abs(slope) * SETTLED_WINDOWS
    return bool(drift <= max(SETTLED_RTOL * means.mean(), 3 * scatter * math.sqrt(12 / SETTLED_WINDOWS)))


def sweep(field: Field, param: str, values, eps: float, *, steps: int = 2000, tail: int = 500,
          z0: torch.Tensor | None = None, z_star: torch.Tensor | None = None, direction: str = "forward",
          seed: int = 0, k: int = 4, observer=None) -> list[MapPoint]:
    """One warm-started pass over ``values`` (in the given order) from ``z0`` (default: the fixed
    point at the first value when Newton finds one from the field's start state, else that state);
    ``z_star``: a fixed point near the first value (found when None). A relaxation stops once its
    fixed point is certified (Newton, and ``k`` leading multipliers |μ| < 1 with margin:
    :class:`~stabilitylab.dynamics.certify.SpectralCertificate`, each search warm-started from the
    previous value's eigenvectors), so a stable value costs a few hundred steps, not ``steps``."""
    if z0 is None and z_star is None:
        fp = find_fixed_point(field.with_params(**{param: float(values[0])}), eps=eps)
        z0 = z_star = fp.z if fp.converged else None
    z = (field.z0 if z0 is None else z0).detach().clone()
    gen = torch.Generator().manual_seed(seed)
    points, vectors = [], None
    for v in values:
        fv = field.with_params(**{param: float(v)})
        kick = torch.randn(z.shape, generator=gen, dtype=torch.float64).to(z.device, z.dtype)
        z = z + KICK * max(float(z.norm()), 1.0) * kick / kick.norm()
        cert = SpectralCertificate(fv, eps, k=min(k, fv.n - 2))
        cert.last_vectors = vectors
        att = detect(fv, eps, steps, z0=z, tail=min(tail, steps // 2), seed=seed, certify=cert)
        vectors = cert.last_vectors
        row, z = att.rows[0], att.trajectory.z[0].reshape(field.shape)
        certified = 0 in cert.spectra
        if certified:
            z_star = torch.as_tensor(cert.spectra[0][0]["z_star"].values, dtype=field.dtype).to(z.device)
        fp = find_fixed_point(fv, eps=eps, z0=z if z_star is None else z_star, relax_steps=0 if z_star is not None else 300)
        if fp.converged:
            z_star, centre = fp.z, fp.z
        else:
            centre = att.trajectory.centroid[0].reshape(field.shape)
        if row.kind == "fixed_point":  # settled: at it, or contracting onto the fixed point Newton found
            at_it = float(att.trajectory.force_norm[0, -1]) <= 1e-8 * max(float(z.norm()), 1)
            amp, rot, settled = 0.0, math.nan, certified or at_it or (fp.converged and row.lyapunov < 0)
        else:
            amp, rot, settled = _on_attractor(fv, z, centre, eps, tail, seed)
        points.append(MapPoint(float(v), direction, row.kind, amp, rot, row.period, row.lyapunov,
                               row.residual_floor, fp.final_force_residual if fp.converged else math.nan,
                               settled, z))
        if observer is not None:
            observer(points[-1])
    return points


def hysteresis(points: list[MapPoint]) -> tuple[float, float]:
    """The knob interval where the forward and backward sweeps settle on different attractors
    (one on the fixed point, the other not): (lo, hi), NaN when they agree everywhere."""
    fwd = {p.value: p.kind == "fixed_point" for p in points if p.direction == "forward"}
    bwd = {p.value: p.kind == "fixed_point" for p in points if p.direction == "backward"}
    both = [v for v in fwd if v in bwd and fwd[v] != bwd[v]]
    return (min(both), max(both)) if both else (math.nan, math.nan)


def onset(points: list[MapPoint]) -> dict:
    """Where the forward sweep leaves the fixed point, and how: ``soft`` when the amplitude grows
    from zero (A² linear in the knob over the settled oscillations nearest the onset, of either
    sweep, extrapolating to 0 between the last fixed-point value and the first oscillating one)
    and there is no hysteresis, else ``hard``; with the fit A ≈ c·√|p − p0|."""
    fwd = [p for p in points if p.direction == "forward"]
    lost = next((i for i, p in enumerate(fwd) if p.kind != "fixed_point"), None)
    if lost is None or lost == 0:
        return {"lost_at": math.nan, "last_fixed": math.nan, "kind": "none", "p0": math.nan, "growth": math.nan}
    last, first = fwd[lost - 1].value, fwd[lost].value
    settled = {}
    for p in points:  # the settled oscillations of either sweep, one per value, nearest the onset first
        if p.kind != "fixed_point" and p.amplitude > 0 and p.settled:
            settled.setdefault(p.value, p)
    osc = sorted(settled.values(), key=lambda p: abs(p.value - first))[:3]
    p0 = growth = math.nan
    if len(osc) >= 2:
        a2 = np.array([p.amplitude ** 2 for p in osc])
        slope, intercept = np.polyfit([p.value for p in osc], a2, 1)
        if slope != 0:
            p0, growth = -intercept / slope, math.sqrt(abs(slope))
    lo, _ = hysteresis(points)
    if math.isfinite(lo):
        kind = "hard"
    elif not math.isfinite(p0):
        kind = "undetermined"  # too few settled oscillations to fit the growth
    else:
        step = abs(first - last)
        kind = "soft" if min(last, first) - 0.5 * step <= p0 <= max(last, first) + 0.5 * step else "hard"
    return {"lost_at": first, "last_fixed": last, "kind": kind, "p0": p0, "growth": growth}


def verdict(points: list[MapPoint], param: str) -> str:
    """One sentence on what the relaxation does along the branch."""
    o = onset(points)
    if o["kind"] == "none":
        kinds = sorted({p.kind for p in points if p.direction == "forward"})
        return f"no loss of the fixed point along the forward sweep (attractors: {', '.join(kinds)})"
    at = [p for p in points if p.value == o["lost_at"] and p.kind != "fixed_point"]  # forward first
    first = next((p for p in at if p.settled), at[0])  # a settled sweep's attractor describes it best
    text = (f"the fixed point is lost between {param} = {o['last_fixed']:.4g} and {o['lost_at']:.4g}: "
            f"the relaxation settles on a {first.kind.replace('_', ' ')}"
            + ("" if first.settled else " (not settled)"))
    if math.isfinite(first.rotation_number):
        text += f" (rotation number {first.rotation_number:.4g} per step, amplitude {first.amplitude:.3g})"
    lo, hi = hysteresis(points)
    if o["kind"] == "soft":
        sign = "−" if o["p0"] >= 0 else "+"
        text += (f"; soft (supercritical): the amplitude grows from zero as ≈ {o['growth']:.3g}·√|{param} {sign} "
                 f"{abs(o['p0']):.4g}|")
    elif math.isfinite(lo):
        text += (f"; hard (subcritical): it jumps to a finite amplitude, and sweeping back the oscillation "
                 f"persists where the fixed point is stable — hysteresis over {param} ∈ [{lo:.4g}, {hi:.4g}]")
    elif o["kind"] == "hard":
        text += "; hard: it appears at a finite amplitude (no hysteresis on this grid)"
    else:
        text += "; soft or hard undetermined: too few settled oscillations (raise --steps)"
    unsettled = sorted({p.value for p in points if not p.settled})
    if unsettled:
        text += (f"; not settled within the run at {param} = {', '.join(f'{v:.4g}' for v in unsettled)} "
                 "(amplitude still changing: raise --steps)")
    return text


def map_branch(field: Field, param: str, values, eps: float, *, steps: int = 2000, tail: int = 500,
               seed: int = 0, observer=None) -> xr.Dataset:
    """Forward sweep over ``values`` then backward from its last attractor, as a Dataset on dim
    ``point`` (coordinates ``param`` and ``direction``), with the onset and hysteresis in attrs."""
    values = [float(v) for v in values]
    fwd = sweep(field, param, values, eps, steps=steps, tail=tail, seed=seed, observer=observer)
    bwd = sweep(field, param, values[::-1], eps, steps=steps, tail=tail, z0=fwd[-1].state,
                direction="backward", seed=seed, observer=observer)
    points = fwd + bwd
    lo, hi = hysteresis(points)
    o = onset(points)
    col = lambda name: np.array([getattr(p, name) for p in points])  # noqa: E731
    ds = xr.Dataset(
        {"kind": ("point", col("kind").astype(object)),
         "amplitude": ("point", col("amplitude"), {"long_name": "RMS distance of the attractor to the fixed point",
                                                    "units": "state norm"}),
         "rotation_number": ("point", col("rotation_number"),
                             {"long_name": "1 / period of the attractor's principal projection (section crossings)",
                              "units": "turns per relaxation step"}),
         "period": ("point", col("period"), {"units": "relaxation steps"}),
         "lyapunov": ("point", col("lyapunov"), {"units": "per relaxation step"}),
         "residual_floor": ("point", col("residual_floor"), {"long_name": "tail mean of ||F||/||z|| (a run stopped once certified: the residual at the stop, an upper bound)"}),
         "fixed_point_residual": ("point", col("fixed_point_residual"),
                                  {"long_name": "force residual of the fixed point z* (NaN: none found)"}),
         "settled": ("point", col("settled").astype(np.int8),
                     {"long_name": f"1: no drift of the amplitude over the tail beyond {SETTLED_RTOL:g} or its scatter "
                                   "(0: still approaching)"}),
         "stable": ("point", np.ones(len(points), dtype=np.int8),
                    {"long_name": "1: an attractor of the relaxation (found by relaxing, hence stable)"})},
        coords={param: ("point", col("value")), "direction": ("point", col("direction").astype(object)),
                "point": np.arange(len(points))})
    ds.attrs = provenance(field, analysis="cycles", branch="map", param=param, eps=eps, steps=steps, tail=tail,
                          seed=seed, hysteresis_lo=lo, hysteresis_hi=hi, onset_kind=o["kind"],
                          onset_param=o["lost_at"], onset_p0=o["p0"], verdict=verdict(points, param))
    return ds
