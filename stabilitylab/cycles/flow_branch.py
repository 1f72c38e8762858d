r"""Branches of periodic orbits of the flow in a knob p, by pseudo-arclength on single shooting.

Unknowns u = (x, T, p) (n + 2 numbers); equations (:mod:`.shooting`)

    Φ_T(x; p) − x = 0,     ⟨F(x_r), x − x_r⟩ = 0,     ⟨t, u − û⟩ = 0,

the last the arclength condition through the predictor û = u_prev + ds·t along the unit tangent t
(Euclidean in (x, T, p)). Each Newton step solves the bordered system by GMRES, products
``(v, τ, π) ↦ (Φ_x v + Φ_T τ + Φ_p π − v, ⟨F(x_r), v⟩, ⟨t, (v, τ, π)⟩)``: one JVP through the RK4
steps, and Φ_p by a central difference in p computed once per Newton step. The tangent solves the
same system with right-hand side (0, 0, 1).

Events along the branch (located on the arclength by the secant method on a test function that
changes sign, re-correcting at each trial step):

- ``fold_of_cycles`` (LPC): the p-component of the tangent changes sign — the branch turns;
- ``period_doubling``: a real Floquet multiplier crosses −1 (test: min over real multipliers of μ + 1);
- ``torus`` (Neimark–Sacker of cycles): a complex pair crosses the unit circle (test: its |μ| − 1).

Branch switching at a Hopf point (:func:`hopf_guess`): with J q = iω q, ⟨q, q⟩ = 1/2 and the first
Lyapunov coefficient l1 (the normalisation of :mod:`stabilitylab.continuation.criticality`, where
the planar normal form ẇ = (μ + iω)w + c w|w|² has l1 = Re c/ω), the cycle at p = p_H + Δp has
|w|² ≈ −μ/(l1 ω), μ = Re λ(p) ≈ (dRe λ/dp)·Δp; it lies on the side where μ·l1 < 0 (the unstable
side for a supercritical Hopf, l1 < 0; the stable side, unstable cycles, for a subcritical one).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field

import numpy as np
import torch
import xarray as xr

from ..continuation import engine
from ..continuation.engine import Correction
from ..continuation.predictor import Cursor, PseudoArclength, unit_p
from ..events import cycles as cycle_events
from ..field import Field
from ..linear import LinearOperator
from ..solvers import gmres
from ..store import provenance
from .shooting import PeriodicOrbit, floquet_multipliers, flow_derivative, flow_map, orbit_points


GROW = 1.3  # step growth after an accepted step


@dataclass
class CyclePoint:
    """A converged orbit on the branch with its Floquet multipliers."""

    p: float
    period: float
    amplitude: float
    x: torch.Tensor
    tangent: torch.Tensor
    multipliers: np.ndarray
    trivial: int
    closure: float

    @property
    def stable(self) -> bool:
        rest = np.delete(self.multipliers, self.trivial)
        return bool(np.all(np.abs(rest) < 1))

    def tests(self) -> dict:
        """The events' test functions (:mod:`stabilitylab.events.cycles`; sign changes mark them,
        NaN where undefined)."""
        rest = np.delete(self.multipliers, self.trivial)
        return {e.kind.name: e.test(float(self.tangent[-1]), rest) for e in cycle_events.EVENTS}


@dataclass
class Special:
    """A located event: ``precision`` is the locator's spread in p; ``defect`` the closure
    ‖Φ_T(x) − x‖/max(‖x‖, 1) of the located orbit under the RK4 map with twice the steps (the
    integrator's share of the error, which the locator's precision does not contain)."""

    kind: str
    p: float
    precision: float
    period: float
    amplitude: float
    point: int
    defect: float


@dataclass
class CycleBranch:
    points: list[CyclePoint] = dc_field(default_factory=list)
    specials: list[Special] = dc_field(default_factory=list)
    reason: str = ""


class CycleProblem:
    """Shooting residual and bordered products of periodic orbits of ``field`` in knob ``param``."""

    def __init__(self, field: Field, param: str, steps: int = 100, derivative: str = "jvp"):
        self.field, self.param, self.steps, self.derivative = field, param, steps, derivative

    def _phi(self, p: float):
        return flow_map(self.field, self.steps, **{self.param: p})

    def residual(self, u: torch.Tensor, ref: torch.Tensor, fref: torch.Tensor) -> torch.Tensor:
        n = u.numel() - 2
        x, p = u[:n], float(u[-1])
        with torch.no_grad():
            return torch.cat([self._phi(p)(u[:-1]) - x, (fref @ (x - ref)).reshape(1)])

    def operator(self, u: torch.Tensor, fref: torch.Tensor, border: torch.Tensor) -> LinearOperator:
        """(v, τ, π) ↦ (DG (v, τ, π), ⟨border, (v, τ, π)⟩)."""
        n, p = u.numel() - 2, float(u[-1])
        h = torch.finfo(u.dtype).eps ** (1 / 3) * max(1.0, abs(p))
        with torch.no_grad():
            dphi_dp = (self._phi(p + h)(u[:-1]) - self._phi(p - h)(u[:-1])) / (2 * h)
        phi, y = self._phi(p), u[:-1]

        def apply(w):
            d = flow_derivative(phi, y, w[:-1], self.derivative) + dphi_dp * w[-1]
            return torch.cat([d - w[:n], (fref @ w[:n]).reshape(1), (border @ w).reshape(1)])

        return LinearOperator(apply, u.numel(), u.dtype, u.device)

    def force(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return self.field.flat_force(**{self.param: p})(x)


def _solve(op, rhs, tol=1e-12, restart=80):
    sol = gmres(op, rhs, tol=tol, restart=restart, maxiter=20 * restart)
    return sol.x, sol.converged


class Shooting:
    """The cycle branch's corrector for the continuation engine (:class:`~stabilitylab.continuation.
    engine.Corrector`): Newton–Krylov on ``(G(u), ⟨c, u − u0⟩ − s) = 0`` in the Euclidean metric of
    (x, T, p); the residual is the closure ‖Φ_T(x) − x‖/max(‖x‖, 1)."""

    def __init__(self, problem: CycleProblem, tol: float = 1e-10, maxiter: int = 12):
        self.problem, self.tol, self.maxiter = problem, tol, maxiter

    @staticmethod
    def norm(v: torch.Tensor) -> float:
        return float(v.norm())

    def tangent(self, u: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The unit tangent at ``u`` with ⟨c, t⟩ > 0 (products not counted: 0)."""
        n = u.numel() - 2
        fref = self.problem.force(u[:n], float(u[-1])).detach()
        rhs = torch.zeros_like(u)
        rhs[-1] = 1.0
        t, _ = _solve(self.problem.operator(u, fref, c), rhs)
        t = t / t.norm()
        return (t if float(t @ c) >= 0 else -t), 0

    def correct(self, u0: torch.Tensor, c: torch.Tensor, s: float, guess: torch.Tensor) -> Correction:
        u = guess.clone()
        n = u.numel() - 2
        closure = math.inf
        for it in range(self.maxiter):
            ref = u[:n].clone()
            fref = self.problem.force(ref, float(u[-1])).detach()
            G = torch.cat([self.problem.residual(u, ref, fref), (c @ (u - u0) - s).reshape(1)])
            closure = float(G[:n].norm()) / max(float(u[:n].norm()), 1.0)
            if closure <= self.tol and abs(float(G[-1])) <= self.tol:
                return Correction(u, True, it, 0, closure)
            if not math.isfinite(closure):
                return Correction(u, False, it, 0, closure, "non-finite orbit")
            du, _ = _solve(self.problem.operator(u, fref, c), -G)
            u = u + du
        return Correction(u, False, self.maxiter, 0, closure,
                          f"Newton did not close the orbit (closure residual {closure:.1e})")


def _point(problem: CycleProblem, u: torch.Tensor, t: torch.Tensor, k: int) -> CyclePoint:
    n = u.numel() - 2
    p, T = float(u[-1]), float(u[n])
    orbit = PeriodicOrbit(u[:n].clone(), T, 0.0, True, "", 0, 0, problem.steps)
    knobs = {problem.param: p}
    pts = orbit_points(problem.field, orbit, **knobs)
    amp = float((pts - pts.mean(0)).norm(dim=1).max())
    m = floquet_multipliers(problem.field, orbit, k=k, derivative=problem.derivative, **knobs)
    G = problem.residual(u, u[:n], problem.force(u[:n], p))
    return CyclePoint(p, T, amp, u.clone(), t.clone(), m.values, m.trivial,
                      float(G[:n].norm()) / max(float(u[:n].norm()), 1.0))


@dataclass
class _Sample:
    """An orbit on a step: step parameter ``s``, unknowns ``x`` and the CyclePoint."""

    s: float
    x: torch.Tensor
    point: CyclePoint


def _locate(shooting: Shooting, k: int, cur, step, a: CyclePoint, b: CyclePoint, kind: str,
            tol: float = 1e-9, maxiter: int = 30):
    """The engine's Illinois locator for the sign change of ``kind``'s test on the step from ``a``
    to ``b``; (located point, spread in p over the final bracket's ends and the located point)."""
    def measure(s, corr, near):
        return _Sample(s, corr.x, _point(shooting.problem, corr.x, shooting.tangent(corr.x, cur.t)[0], k))

    br = engine.locate(_Sample(0.0, a.x, a), _Sample(step.s, b.x, b), lambda smp: smp.point.tests()[kind],
                       engine.on_step(shooting, a.x, step.c, measure), tol, maxiter)
    ps = [br.lo.point.p, br.hi.point.p, br.best.point.p]
    return br.best.point, max(ps) - min(ps)


def _defect(problem: CycleProblem, c: CyclePoint) -> float:
    """Closure of ``c``'s orbit under the flow map with twice the RK4 steps (see :class:`Special`)."""
    n = c.x.numel() - 2
    x = c.x[:n]
    with torch.no_grad():
        y = flow_map(problem.field, 2 * problem.steps, **{problem.param: c.p})(c.x[:-1])
    return float((y - x).norm()) / max(float(x.norm()), 1.0)


def continue_cycles(field: Field, param: str, x0: torch.Tensor, period: float, p0: float, p_end: float, *,
                    steps: int = 100, ds: float = 0.05, ds_min: float = 1e-6, ds_max: float = 0.2,
                    max_points: int = 60, k: int = 6, tol: float = 1e-10, derivative: str = "jvp",
                    observer=None) -> CycleBranch:
    """Continue the periodic orbit through ``(x0, period)`` at ``p0`` towards ``p_end``
    (pseudo-arclength; stops at the range ends, on leaving the range back through its start, at
    ``max_points``, or when the step falls below ``ds_min``), locating the events of :mod:`stabilitylab.events.cycles`; on the continuation engine)."""
    problem = CycleProblem(field, param, steps, derivative)
    shooting = Shooting(problem, tol)
    options = engine.StepOptions(ds=ds, ds_min=ds_min, ds_max=ds_max, grow=GROW, easy_iters=shooting.maxiter)
    dirn = math.copysign(1.0, p_end - p0)
    n = x0.numel()
    u = torch.cat([x0.reshape(-1), torch.tensor([period, p0], dtype=x0.dtype, device=x0.device)])
    corr = shooting.correct(u, unit_p(u, dirn), 0.0, u)
    branch = CycleBranch()
    if not corr.converged:
        branch.reason = f"the start is not near a periodic orbit (closure residual {corr.residual:.1e})"
        return branch
    u = corr.x
    t, _ = shooting.tangent(u, unit_p(u, dirn))
    branch.points.append(_point(problem, u, t, k))
    if observer:
        observer(branch.points[-1])
    cur, predictor = Cursor(u, t, ds), PseudoArclength()
    positive_period = lambda x: "" if float(x[n]) > 0 else "the period turned non-positive"  # noqa: E731
    while len(branch.points) < max_points:
        prev = branch.points[-1]
        step = engine.advance(shooting, lambda c, h: predictor.plan(c, h, p_end), cur, options, positive_period)
        if isinstance(step, engine.Failure):
            branch.reason = f"step below ds_min at {param} = {prev.p:.6g} ({step.reason})"
            break
        t, _ = shooting.tangent(step.x, cur.t)
        now = _point(problem, step.x, t, k)
        for event in cycle_events.EVENTS:
            kind = event.kind.name
            a, b = prev.tests()[kind], now.tests()[kind]
            if math.isfinite(a) and math.isfinite(b) and (a > 0) != (b > 0):
                at, width = _locate(shooting, k, cur, step, prev, now, kind)
                branch.specials.append(Special(kind, at.p, width, at.period, at.amplitude, len(branch.points),
                                               _defect(problem, at)))
        branch.points.append(now)
        if observer:
            observer(now)
        branch.reason = engine.range_exit(now.p, p0, p_end, param, ds_min)
        if branch.reason:
            break
        cur = Cursor(step.x, t, engine.next_ds(step, options))
    else:
        branch.reason = f"max_points ({max_points}) reached"
    return branch


def hopf_guess(field: Field, param: str, z_h: torch.Tensor, p_h: float, q: torch.Tensor, omega: float,
               l1: float, dre_dp: float, radius: float) -> tuple[torch.Tensor, float, float]:
    """(x0, T0, p0): the normal-form cycle of ``radius`` |w| near the Hopf point (module docstring);
    ``q``: complex eigenvector of iω (any scale: normalised here to ⟨q, q⟩ = 1/2)."""
    q = q.reshape(-1)
    q = q / torch.sqrt(2 * (q.conj() @ q).real)
    dp = -radius * radius * l1 * omega / dre_dp
    x0 = z_h.reshape(-1) + 2 * (radius * q).real
    return x0.to(z_h.dtype), 2 * math.pi / abs(omega), p_h + dp


def branch_dataset(field: Field, param: str, branch: CycleBranch, steps: int, **attrs) -> xr.Dataset:
    """The flow branch on dims ``point`` (coordinate ``param``), ``multiplier`` and ``special``."""
    pts, sp = branch.points, branch.specials
    k = max((len(p.multipliers) for p in pts), default=0)
    mult = np.full((len(pts), k), np.nan, dtype=np.complex128)
    for i, p in enumerate(pts):
        order = np.argsort(-np.abs(p.multipliers))
        mult[i, :len(order)] = p.multipliers[order]
    col = lambda rows, name: np.array([getattr(r, name) for r in rows], dtype=float)  # noqa: E731
    ds = xr.Dataset(
        {"period": ("point", col(pts, "period"), {"units": "time"}),
         "amplitude": ("point", col(pts, "amplitude"),
                       {"long_name": "max over the orbit of the distance to its mean", "units": "state norm"}),
         "stable": ("point", np.array([p.stable for p in pts], dtype=np.int8),
                    {"long_name": "1: every non-trivial Floquet multiplier inside the unit circle"}),
         "multipliers": (("point", "multiplier"), mult, {"long_name": "leading Floquet multipliers (|μ| descending)"}),
         "closure_residual": ("point", col(pts, "closure"), {"long_name": "||Φ_T(x) − x|| / max(||x||, 1)"}),
         "special_kind": ("special", np.array([s.kind for s in sp], dtype=object)),
         "special_param": ("special", col(sp, "p")),
         "special_precision": ("special", col(sp, "precision"),
                               {"long_name": "locator's spread in the knob over its final bracket"}),
         "special_defect": ("special", col(sp, "defect"),
                            {"long_name": "closure residual of the located orbit with twice the RK4 steps "
                                          "(the integrator's error)"}),
         "special_period": ("special", col(sp, "period"), {"units": "time"}),
         "special_amplitude": ("special", col(sp, "amplitude"), {"units": "state norm"}),
         "special_point": ("special", np.array([s.point for s in sp], dtype=np.int64))},
        coords={param: ("point", col(pts, "p")), "point": np.arange(len(pts)), "special": np.arange(len(sp))})
    ds.attrs = provenance(field, analysis="cycles", branch="flow", param=param, shooting_steps=steps,
                          stop_reason=branch.reason, verdict=flow_verdict(ds, param, branch.reason), **attrs)
    return ds


def flow_verdict(ds: xr.Dataset, param: str, reason: str) -> str:
    """One sentence: how many orbits over which knob interval, their stability, period and
    amplitude at the ends, the located events, and why the continuation stopped."""
    n = ds.sizes["point"]
    if n == 0:
        return f"no periodic orbit was continued ({reason})"
    p, T, a, st = ds[param].values, ds["period"].values, ds["amplitude"].values, ds["stable"].values == 1
    stability = "all stable" if st.all() else "all unstable" if not st.any() else f"{int(st.sum())} stable, {int((~st).sum())} unstable"
    text = (f"{n} periodic orbit(s) of the flow over {param} ∈ [{p.min():.5g}, {p.max():.5g}] ({stability}): "
            f"period {T[0]:.5g} → {T[-1]:.5g}, amplitude {a[0]:.4g} → {a[-1]:.4g}")
    for i in range(ds.sizes["special"]):
        s = ds.isel(special=i)
        text += f"; {s['special_kind'].values} at {param} = {float(s['special_param']):.6g}"
    return text + f"; stopped: {reason}"
