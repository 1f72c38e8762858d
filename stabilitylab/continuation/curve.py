"""Two-knob continuation of a Hopf / Neimark–Sacker / fold / flip point, with codimension-2 points.

From a located special point of a continuation (knob p1), starting from the fixed point stored
with it, the curve ``G(Y) = 0`` of its defining system (:mod:`.defining`, ``Y = (z, v, [κ], p1,
p2)``) is followed on the continuation engine (:mod:`.engine`: pseudo-arclength predictor, step
control, event locator) in the weighted metric of :meth:`~.defining.DefiningSystem.weights`, in
both directions of p2 from the start, until p2 leaves [lo, hi] (the last step lands on the range
end). This module supplies the corrector (Newton–Krylov on ``[G; ⟨c, Y − Y_k⟩ − s] = 0``, GMRES on
forward differences of G: matrix-free), re-centres the eigen-normalisation on each new point, and
records the frequency (ω = √κ per unit time for Hopf, θ = arccos κ per Euler step for NS) and the
normal-form coefficient (:mod:`.criticality`: l1, d, or a fold's a). The codimension-2 points
located on the way are the events of :mod:`stabilitylab.events.curves` registered for the curve's
kind (Bogdanov–Takens, Bautin, cusp, Chenciner, 1:k resonances).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field as dc_field, fields, replace
from typing import Callable

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..solvers import find_fixed_point, gmres
from ..linear import Linearization
from .. import events
from ..events import curves as curve_events
from . import criticality as crit, engine
from .defining import DefiningSystem
from .options import CurveOptions
from .engine import Correction
from .predictor import Cursor, PseudoArclength, unit_p

MAX_LOCATE_ITERS = 30
FREQUENCY_UNITS = {"J": "rad per unit time (omega)", "M": "rad per Euler step (theta)"}
STALL = 0.5  # an inner solve that reduces the residual less than this has stalled
FD_TOL = 1e-4  # inner GMRES tolerance floor: forward differences of G are good to ~1e-8 (less at small ε)
STATE_RTOL = 1e-3  # the re-found fixed point must match the special point's ‖z‖ this well


@dataclass
class CurvePoint:
    """One point: the knobs, κ, ``frequency``, normal-form ``l1`` and ``criticality``, ‖z‖, the
    ``force_residual`` ‖F‖/max(‖z‖, 1) and ``eigen_residual`` of the defining system, Newton
    iterations and the signed ``arclength`` from the start."""

    p1: float
    p2: float
    kappa: float
    frequency: float
    l1: float
    criticality: str
    state_norm: float
    force_residual: float
    eigen_residual: float
    newton_iters: int
    arclength: float


@dataclass
class Codim2Point:
    """A located codimension-2 point: ``kind``, the knobs, frequency, l1 there, the curve point
    its step started from (``point``) and the test function's value at the step's end."""

    kind: str
    p1: float
    p2: float
    frequency: float
    l1: float
    point: int
    test: float


@dataclass
class Curve:
    """The result: points in order of p2's travel (backward part reversed, then forward)."""

    kind: str
    param: str
    param2: str
    points: list[CurvePoint] = dc_field(default_factory=list)
    specials: list[Codim2Point] = dc_field(default_factory=list)
    stop_reasons: tuple = ("", "")
    attrs: dict = dc_field(default_factory=dict)

    def to_dataset(self) -> xr.Dataset:
        """Dims ``point`` (coordinates named after both knobs) and ``special``."""
        p = self.points
        data = {f.name: ("point", np.array([getattr(pt, f.name) for pt in p]))
                for f in fields(CurvePoint) if f.name not in ("p1", "p2")}
        data["criticality"] = ("point", np.array([pt.criticality for pt in p], dtype=object))
        coords = {"point": np.arange(len(p)), self.param: ("point", np.array([pt.p1 for pt in p])),
                  self.param2: ("point", np.array([pt.p2 for pt in p]))}
        sp = self.specials
        data["special_kind"] = ("special", np.array([s.kind for s in sp], dtype=object))
        data[f"special_{self.param}"] = ("special", np.array([s.p1 for s in sp], dtype=float))
        data[f"special_{self.param2}"] = ("special", np.array([s.p2 for s in sp], dtype=float))
        for name in ("frequency", "l1", "point", "test"):
            data[f"special_{name}"] = ("special", np.array([getattr(s, name) for s in sp], dtype=float))
        coords["special"] = np.arange(len(sp))
        row = events.get(self.kind)
        unit = (FREQUENCY_UNITS[row.operator] if row.pair else "")
        attrs = {**self.attrs, "analysis": "curve", "schema_version": 1, "kind": self.kind,
                 "param": self.param, "param2": self.param2, "stop_backward": self.stop_reasons[0],
                 "stop_forward": self.stop_reasons[1],
                 "residual_kind": "force_residual = ||F(z)||/max(||z||, 1); eigen_residual = "
                                  "||eigen equations of the defining system||/(||v|| max(1, omega^2))"}
        out = xr.Dataset(data, coords=coords, attrs=attrs)
        if unit:
            out["frequency"].attrs["units"] = out["special_frequency"].attrs["units"] = unit
        return out


# ------------------------------------------------------------------------------------------------
class _Tracer:
    """The curve's corrector for the engine (:class:`~.engine.Corrector`): Newton–Krylov on
    ``G = 0, ⟨c, Y − Y0⟩ = s`` in the weighted metric of the defining system."""

    def __init__(self, system: DefiningSystem, options: CurveOptions):
        self.sys, self.opts = system, options
        self.w = system.weights()
        self.stalled = ""  # set when an inner GMRES made no progress (Newton cannot either)

    def norm(self, v) -> float:
        return float(torch.sqrt((self.w * v * v).sum()))

    def _bordered(self, Y, G, c):
        dG, wc = self.sys.derivative(Y, G), self.w * c
        return lambda d: torch.cat([dG(d), (wc * d).sum().reshape(1)])

    def _gmres(self, A, rhs, tol):
        sol = gmres(A, rhs, tol=tol, restart=min(self.opts.gmres_restart, rhs.numel()),
                    maxiter=self.opts.gmres_maxiter)
        if not sol.residual_norm <= STALL:
            self.stalled = (f"GMRES on the extended system stalled (relative residual {sol.residual_norm:.2g} "
                            f"after {sol.iterations} iterations of GMRES({self.opts.gmres_restart})): this field "
                            "needs a larger gmres_restart or a preconditioner")
        return sol

    def correct(self, Y0, c, s, guess) -> Correction:
        """Newton on ``G = 0, ⟨c, Y − Y0⟩ = s`` from guess; the residual is the worse of the force
        and eigen residuals (:meth:`~.defining.DefiningSystem.error`)."""
        wc = self.w * c
        cc = float((wc * c).sum())

        def project(v):
            return v + ((s - float((wc * (v - Y0)).sum())) / cc) * c

        Y = project(guess)
        prev, err = math.inf, math.inf
        for it in range(self.opts.newton_maxiter + 1):
            G = self.sys.residual(Y)
            err = max(self.sys.error(Y, G))
            if not math.isfinite(err):
                return Correction(Y, False, it, 0, err, f"non-finite residual after {it} Newton steps")
            if err <= self.opts.tol:
                return Correction(Y, True, it, 0, err)
            if it == self.opts.newton_maxiter or (it > 2 and err > prev):
                break
            prev = err
            sol = self._gmres(self._bordered(Y, G, c), -torch.cat([G, G.new_zeros(1)]),
                              min(1e-3, max(err, FD_TOL)))
            if self.stalled:
                return Correction(Y, False, it, 0, err, self.stalled)
            Y = project(Y + sol.x)
        return Correction(Y, False, it, 0, err, f"Newton did not converge (residual {err:.1e})")

    def tangent(self, Y, c):
        """Unit tangent at Y with ⟨c, τ⟩ > 0 (and 0: products are not counted here)."""
        G = self.sys.residual(Y)
        rhs = torch.zeros_like(Y)
        rhs[-1] = 1.0
        tau = self._gmres(self._bordered(Y, G, c), rhs, FD_TOL).x
        return tau / self.norm(tau), 0


@dataclass
class _Sample:
    """A point of the curve on a step: its step parameter ``s``, ``x`` = Y, the CurvePoint and the
    values of the test functions."""

    s: float
    x: torch.Tensor
    point: CurvePoint
    tests: dict


class _Run:
    """Both directions of one curve on the engine: points, test functions, codim-2 points."""

    def __init__(self, system: DefiningSystem, options: CurveOptions, observer=None):
        self.sys, self.opts, self.observer = system, options, observer
        self.tracer = _Tracer(system, options)
        self.events = curve_events.on(system.kind)
        self.left = None  # fold curves: the unit left null vector at the last point (its orientation)

    # -- per point -----------------------------------------------------------------------------
    def describe(self, Y, iters: int, arclength: float, coefficient: bool = True):
        """(CurvePoint, test values, oriented left null vector or None) at Y; the normal-form
        coefficient (eigenvectors and solves) only if ``coefficient``."""
        sys = self.sys
        z, v, kappa, p1, p2 = sys.parts(Y)
        knobs, eps = sys.knobs(p1, p2)
        fld = sys.field.with_params(**knobs)
        freq = sys.frequency(kappa)
        nf, pairing, left = None, math.nan, None
        if not coefficient:
            pass
        elif sys.kind == "hopf" and math.isfinite(freq):
            nf = crit.hopf_coefficient(fld, z, complex(0.0, freq), v0=v)
        elif sys.kind == "neimark_sacker" and math.isfinite(freq):
            nf = crit.ns_coefficient(fld, z, complex(math.cos(freq), math.sin(freq)), eps, v0=v)
        elif sys.kind == "fold":
            nf = crit.fold_coefficient(fld, z, 0.0, q=v, v0=v)
            size = float(torch.linalg.vector_norm(nf.left))  # ⟨p, q⟩ = 1: the pairing of unit vectors is 1/|p|
            left = nf.left / size
            sign = -1.0 if self.left is not None and float(left @ self.left) < 0 else 1.0
            left, pairing = sign * left, sign / size
        l1 = nf.coefficient if nf is not None else math.nan
        force, eig = sys.error(Y)
        point = CurvePoint(p1, p2, math.nan if kappa is None else kappa, freq, l1,
                           nf.criticality if nf is not None else "", float(torch.linalg.vector_norm(z)),
                           force, eig, iters, arclength)
        measure = curve_events.Measure(kappa, l1, pairing)
        tests = {e.name: e.test(measure) for e in self.events if coefficient or not e.coefficient}
        return point, tests, left

    def ends_here(self, point: CurvePoint) -> str:
        """Why the curve ends at ``point`` ('' if it does not)."""
        if self.sys.param2 == "eps" and point.p2 <= 0:
            return "eps reached 0 (where the Euler map's bifurcation becomes the flow's)"
        measure = curve_events.Measure(None if math.isnan(point.kappa) else point.kappa, point.l1)
        return next((why for e in self.events if measure.kappa is not None and (why := e.ends(measure))), "")

    # -- codim-2 location ------------------------------------------------------------------------
    def locate(self, event, Y0, c, lo: _Sample, hi: _Sample) -> _Sample:
        """The engine's Illinois locator for the sign change of ``event``'s test on the step."""
        def measure(s, corr, near):
            point, tests, _ = self.describe(corr.x, corr.iterations, 0.0, event.coefficient)
            return _Sample(s, corr.x, point, tests)

        br = engine.locate(lo, hi, lambda smp: smp.tests[event.name], engine.on_step(self.tracer, Y0, c, measure),
                           self.opts.locate_tol, MAX_LOCATE_ITERS)
        point, tests, _ = self.describe(br.best.x, br.best.point.newton_iters if br.best.point else 0, 0.0)
        return _Sample(br.best.s, br.best.x, point, tests)

    # -- one direction ---------------------------------------------------------------------------
    def trace(self, Y0, tests0, direction: float):
        """Points and codim-2 points (``point`` counted from the start) toward ``direction``·p2."""
        opts, tr = self.opts, self.tracer
        start, end = (opts.lo, opts.hi) if direction > 0 else (opts.hi, opts.lo)
        t, _ = tr.tangent(Y0, unit_p(Y0, direction))
        cur, arc, tests = Cursor(Y0, t, opts.ds), 0.0, tests0
        points, specials = [], []
        predictor = PseudoArclength()
        while True:
            if tr.stalled:
                return points, specials, tr.stalled
            if len(points) >= opts.max_points:
                return points, specials, f"max_points={opts.max_points} reached"
            step = engine.advance(tr, lambda c, ds: predictor.plan(c, ds, end), cur, opts)
            if isinstance(step, engine.Failure):
                return points, specials, (tr.stalled or f"corrector failed after {self.sys.param2}="
                                          f"{float(cur.x[-1]):.6g} with ds < ds_min={opts.ds_min:g}: {step.reason}")
            arc += step.taken
            point, tests1, left = self.describe(step.x, step.iterations, direction * arc)
            why = self.ends_here(point)
            if why.startswith("eps"):
                return points, specials, why
            for event in self.events:
                g0, g1 = tests.get(event.name, math.nan), tests1.get(event.name, math.nan)
                if math.isfinite(g0) and math.isfinite(g1) and (g0 > 0) != (g1 > 0):
                    at = self.locate(event, cur.x, step.c, _Sample(0.0, cur.x, None, tests),
                                     _Sample(step.s, step.x, point, tests1))
                    specials.append(Codim2Point(event.name, at.point.p1, at.point.p2, at.point.frequency,
                                                at.point.l1, len(points), g1))
            if why:
                return points, specials, why
            points.append(point)
            if self.observer is not None:
                self.observer(point)
            why = engine.range_exit(point.p2, start, end, self.sys.param2, opts.ds_min)
            if why:
                return points, specials, why
            self.left = left
            self.sys.renormalise(step.x)
            t, _ = tr.tangent(step.x, step.x - cur.x)  # oriented along the step just taken
            cur, tests = Cursor(step.x, t, engine.next_ds(step, opts)), tests1


# ------------------------------------------------------------------------------------------------
def _special_point(ds: xr.Dataset, index: int) -> dict:
    n = ds.sizes.get("special", 0)
    kinds = [str(k) for k in ds["special_kind"].values] if n else []
    if not 0 <= index < n:
        listing = ", ".join(f"{i}: {k}" for i, k in enumerate(kinds)) or "none"
        raise StabilityLabError(f"point {index} is not a special point of the continuation "
                                f"(its special points are {listing})", param="point")
    return {"kind": kinds[index], "param": float(ds["special_param"].values[index]),
            "eig": complex(ds["special_eig"].values[index]),
            "state_norm": float(ds["special_state_norm"].values[index]),
            "state": ds["special_state"].values[index] if "special_state" in ds else None}


def stable_side(ds: xr.Dataset, index: int) -> tuple[int, int]:
    """(side, count): the direction in the continuation's knob (+1 up, −1 down, 0 unknown) from
    special point ``index`` towards fewer unstable modes of its operator (J or M), and how many
    unstable modes that side has (0: the stable side), from the branch points around it."""
    kind, at = str(ds["special_kind"].values[index]), int(ds["special_point"].values[index])
    counts = ds.get(f"n_unstable_{events.get(kind).operator}")
    if counts is None or not 0 <= at < ds.sizes["point"] - 1:
        return 0, -1
    param = ds[str(ds.attrs["param"])].values
    before, after = int(counts.values[at]), int(counts.values[at + 1])
    if before == after:
        return 0, -1
    up = float(np.sign(param[at + 1] - param[at]))
    return (int(-up), before) if before < after else (int(up), after)


def curve(field: Field, continuation: xr.Dataset, point: int, param2: str, lo: float, hi: float,
          options: CurveOptions | None = None, observer: Callable | None = None,
          command: str | None = None) -> Curve:
    """Continue special point ``point`` of the ``continuation`` dataset (of ``field``) in its knob
    and ``param2`` over ``param2 ∈ [lo, hi]`` (both directions from the start); see the module
    docstring. ``param2 = 'eps'`` moves the Euler step of a map curve. ``observer(CurvePoint)`` is
    called at every accepted point."""
    from .. import store

    options = CurveOptions(lo, hi) if options is None else replace(options, lo=lo, hi=hi)
    sp = _special_point(continuation, point)
    param, eps = str(continuation.attrs["param"]), float(continuation.attrs["eps"])
    recorded = continuation.attrs.get("field_params", "{}")
    recorded = json.loads(recorded) if isinstance(recorded, str) else dict(recorded)
    field = field.with_params(**{k: v for k, v in recorded.items() if k in field.params})
    system = DefiningSystem(field, sp["kind"], param, param2, eps)
    p2 = eps if param2 == "eps" else float(field.params[param2])
    if param2 == "eps" and lo <= 0:
        raise StabilityLabError(f"the range of eps must be positive, got {lo:g}:{hi:g}")
    if not lo <= p2 <= hi:
        raise StabilityLabError(f"the range {lo:g}:{hi:g} of {param2} does not contain the start "
                                f"{param2}={p2:g}")
    knobs, _ = system.knobs(sp["param"], p2)
    at = field.with_params(**knobs)
    if sp["state"] is not None:  # the stored branch point (on whichever branch the continuation followed)
        if sp["state"].size != field.n:
            raise StabilityLabError(f"the continuation's special point {point} has a state of {sp['state'].size} "
                                    f"numbers, this field {field.n}: is this the field the continuation ran on?")
        z = torch.as_tensor(sp["state"], dtype=field.dtype, device=field.device).reshape(-1)
    else:  # a store older than special_state: re-find the fixed point from the field's start
        fp = find_fixed_point(at, eps=min(eps, 0.1), tol=1e-12 if field.dtype == torch.float64 else 1e-6)
        z = fp.z.reshape(-1)
    eig_J = sp["eig"] if sp["kind"] == "hopf" else (sp["eig"] - 1.0) / eps
    if sp["kind"] == "fold":
        eig_J = 0j
    lam, q, _, _ = crit.eigenpair(Linearization(at, z).J(), eig_J, min(4, field.n - 2))
    Y0 = system.start(z, q, lam, sp["param"], p2)
    run = _Run(system, options, observer)
    corr = run.tracer.correct(Y0, unit_p(Y0, 1.0), 0.0, Y0)
    Y0, iters = corr.x, corr.iterations
    if not corr.converged:
        raise StabilityLabError(f"the {sp['kind']} point {point} could not be re-solved from the field "
                                f"(force and eigen residuals {run.sys.error(Y0)}); "
                                + (run.tracer.stalled or "is this the field the continuation ran on?"))
    znorm = float(torch.linalg.vector_norm(Y0[: field.n]))
    if abs(znorm - sp["state_norm"]) > STATE_RTOL * max(1.0, sp["state_norm"]):
        raise StabilityLabError(f"the fixed point re-found at {param}={float(Y0[-2]):.6g} has ||z||={znorm:.6g}, "
                                f"not the special point's {sp['state_norm']:.6g}: another branch "
                                "(start the field's z0 closer to it)")
    system.renormalise(Y0)
    start, tests0, left0 = run.describe(Y0, iters, 0.0)
    ell0 = system.ell.clone()
    run.left = left0
    back, sp_back, why_back = run.trace(Y0, tests0, -1.0)
    system.ell.copy_(ell0)
    run.tracer.stalled, run.left = "", left0
    fwd, sp_fwd, why_fwd = run.trace(Y0, tests0, +1.0)
    nb = len(back)
    points = back[::-1] + [start] + fwd
    specials = [Codim2Point(**{**asdict(s), "point": nb - s.point}) for s in sp_back]
    specials += [Codim2Point(**{**asdict(s), "point": nb + s.point}) for s in sp_fwd]
    specials.sort(key=lambda s: s.point)
    side, unstable = stable_side(continuation, point)
    attrs = store.provenance(field, command=command, eps=eps, lo=lo, hi=hi, start_point=point,
                             start_kind=sp["kind"], options=asdict(options), start_index=nb,
                             stable_side=side, stable_side_unstable=unstable)
    return Curve(sp["kind"], param, param2, points, specials, (why_back, why_fwd), attrs)
