"""Two-knob continuation of a Hopf / Neimark–Sacker / fold / flip point, with codimension-2 points.

From a located special point of a continuation (knob p1) the curve ``G(Y) = 0`` of its defining
system (:mod:`.defining`, ``Y = (z, v, [κ], p1, p2)``) is followed by pseudo-arclength
continuation in the weighted metric of :meth:`~.defining.DefiningSystem.weights`, in both
directions of p2 from the start, until p2 leaves [lo, hi]. Each step predicts along the unit
tangent (oriented along the previous step), corrects with Newton–Krylov on
``[G; ⟨t, Y − Y_k⟩ − ds] = 0`` (GMRES on forward differences of G: matrix-free), halves ds
on failure or a deviation above ``max_angle``, and re-centres the eigen-normalisation on the
new point. Along the curve it records the frequency (ω = √κ per unit time for Hopf, θ = arccos κ per Euler step for NS) and the normal-form
coefficient (:mod:`.criticality`: l1, d, or a fold's a), and locates, by the Illinois secant on
the step's arclength (re-corrected at each trial), the sign changes of the test functions

    hopf:  bogdanov_takens κ (ω → 0; the curve ends there), bautin l1
    neimark_sacker:  resonance_1:1 κ − 1, resonance_1:2 κ + 1 (the curve ends at both),
                     resonance_1:3 κ + ½, resonance_1:4 κ, chenciner d
    fold:  cusp a          flip: none
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field as dc_field, fields, replace
from typing import Callable

import numpy as np
import torch
import xarray as xr

from ..errors import ConfigError, StabilityLabError
from ..field import Field
from ..solvers import find_fixed_point, gmres
from ..linear import Linearization
from . import criticality as crit
from .defining import DefiningSystem

MAX_LOCATE_ITERS = 30
RESONANCES = {1: 1.0, 2: -1.0, 3: -0.5, 4: 0.0}  # cos(2π/k)
STALL = 0.5  # an inner solve that reduces the residual less than this has stalled
FD_TOL = 1e-4  # inner GMRES tolerance floor: forward differences of G are good to ~1e-8 (less at small ε)
STATE_RTOL = 1e-3  # the re-found fixed point must match the special point's ‖z‖ this well


@dataclass(frozen=True)
class CurveOptions:
    """Range ``[lo, hi]`` of p2; steps ``ds`` (first) within ``[ds_min, ds_max]`` in the arclength
    metric, grown ×``grow`` after at most ``easy_iters`` Newton steps, ``max_points`` per direction;
    Newton to ``tol`` (force and eigen residuals) in ``newton_maxiter`` steps, GMRES(``gmres_restart``)
    with ``gmres_maxiter`` steps per solve; codim-2 points located to ``locate_tol`` in arclength."""

    lo: float
    hi: float
    ds: float = 0.02
    ds_min: float = 1e-6
    ds_max: float = 0.1
    max_points: int = 200
    tol: float = 1e-9
    newton_maxiter: int = 12
    easy_iters: int = 3
    grow: float = 1.5
    max_angle: float = 30.0
    gmres_restart: int = 60
    gmres_maxiter: int = 600
    locate_tol: float = 1e-9

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ConfigError(f"the range of the second knob must be LO:HI with LO < HI, got {self.lo:g}:{self.hi:g}")
        if not 0 < self.ds_min <= self.ds <= self.ds_max:
            raise ConfigError(f"need 0 < ds_min <= ds <= ds_max, got {self.ds_min:g}, {self.ds:g}, {self.ds_max:g}")


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
        attrs = {**self.attrs, "analysis": "curve", "schema_version": 1, "kind": self.kind,
                 "param": self.param, "param2": self.param2, "stop_backward": self.stop_reasons[0],
                 "stop_forward": self.stop_reasons[1],
                 "residual_kind": "force_residual = ||F(z)||/max(||z||, 1); eigen_residual = "
                                  "||eigen equations of the defining system||/(||v|| max(1, omega^2))"}
        return xr.Dataset(data, coords=coords, attrs=attrs)


# ------------------------------------------------------------------------------------------------
class _Tracer:
    """PALC on G(Y) = 0 of one defining system (see the module docstring)."""

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

    def correct(self, Y0, c, s, guess):
        """Newton on ``G = 0, ⟨c, Y − Y0⟩ = s`` from guess: (Y, converged, iterations, G)."""
        wc = self.w * c
        cc = float((wc * c).sum())

        def project(v):
            return v + ((s - float((wc * (v - Y0)).sum())) / cc) * c

        Y = project(guess)
        prev = math.inf
        for it in range(self.opts.newton_maxiter + 1):
            G = self.sys.residual(Y)
            err = max(self.sys.error(Y, G))
            if not math.isfinite(err):
                return Y, False, it, G
            if err <= self.opts.tol:
                return Y, True, it, G
            if it == self.opts.newton_maxiter or (it > 2 and err > prev):
                break
            prev = err
            sol = self._gmres(self._bordered(Y, G, c), -torch.cat([G, G.new_zeros(1)]),
                              min(1e-3, max(err, FD_TOL)))
            if self.stalled:
                break
            Y = project(Y + sol.x)
        return Y, False, it, G

    def tangent(self, Y, c):
        """Unit tangent at Y with ⟨c, τ⟩ > 0."""
        G = self.sys.residual(Y)
        rhs = torch.zeros_like(Y)
        rhs[-1] = 1.0
        tau = self._gmres(self._bordered(Y, G, c), rhs, FD_TOL).x
        return tau / self.norm(tau)


def _unit_p2(Y, direction):
    e = torch.zeros_like(Y)
    e[-1] = direction
    return e


class _Run:
    """Both directions of one curve: points, test functions, codim-2 points."""

    def __init__(self, system: DefiningSystem, options: CurveOptions, observer=None):
        self.sys, self.opts, self.observer = system, options, observer
        self.tracer = _Tracer(system, options)

    # -- per point -----------------------------------------------------------------------------
    def describe(self, Y, iters: int, arclength: float, coefficient: bool = True) -> tuple[CurvePoint, dict]:
        """The CurvePoint at Y and its test functions (without the normal-form coefficient, which
        costs eigenvectors and solves, unless ``coefficient``)."""
        sys = self.sys
        z, v, kappa, p1, p2 = sys.parts(Y)
        knobs, eps = sys.knobs(p1, p2)
        fld = sys.field.with_params(**knobs)
        freq = sys.frequency(kappa)
        nf = None
        if not coefficient:
            pass
        elif sys.kind == "hopf" and math.isfinite(freq):
            nf = crit.hopf_coefficient(fld, z, complex(0.0, freq), v0=v)
        elif sys.kind == "neimark_sacker" and math.isfinite(freq):
            nf = crit.ns_coefficient(fld, z, complex(math.cos(freq), math.sin(freq)), eps, v0=v)
        elif sys.kind == "fold":
            nf = crit.fold_coefficient(fld, z, 0.0, q=v, v0=v)
        l1 = nf.coefficient if nf is not None else math.nan
        force, eig = sys.error(Y)
        point = CurvePoint(p1, p2, math.nan if kappa is None else kappa, freq, l1,
                           nf.criticality if nf is not None else "", float(torch.linalg.vector_norm(z)),
                           force, eig, iters, arclength)
        tests = {}
        if sys.kind == "hopf":
            tests = {"bogdanov_takens": kappa, "bautin": l1}
        elif sys.kind == "neimark_sacker":
            tests = {f"resonance_1:{k}": kappa - c for k, c in RESONANCES.items()}
            tests["chenciner"] = l1
        elif sys.kind == "fold":
            tests = {"cusp": l1}
        return point, tests

    def ends_here(self, point: CurvePoint) -> str:
        """Why the curve ends at ``point`` ('' if it does not)."""
        kappa = point.kappa
        if self.sys.param2 == "eps" and point.p2 <= 0:
            return "eps reached 0 (where the Euler map's bifurcation becomes the flow's)"
        if self.sys.kind == "hopf" and kappa <= 0:
            return "the Hopf curve ends at a Bogdanov-Takens point (omega -> 0)"
        if self.sys.kind == "neimark_sacker" and abs(kappa) >= 1:
            return f"the Neimark-Sacker curve ends at a 1:{1 if kappa >= 1 else 2} resonance"
        return ""

    # -- codim-2 location ------------------------------------------------------------------------
    def locate(self, name, Y0, c, s1, Y1, g0, g1):
        """Illinois secant on s ∈ (0, s1) for the sign change of test ``name``: (point, tests)."""
        lo, hi, glo, ghi, side = (0.0, Y0), (s1, Y1), g0, g1, 0
        best, needs_l1 = None, name in ("bautin", "chenciner", "cusp")
        for _ in range(MAX_LOCATE_ITERS):
            if abs(hi[0] - lo[0]) <= self.opts.locate_tol or glo == ghi:
                break
            s = hi[0] - ghi * (hi[0] - lo[0]) / (ghi - glo)
            if not min(lo[0], hi[0]) < s < max(lo[0], hi[0]):
                s = 0.5 * (lo[0] + hi[0])
            frac = (s - lo[0]) / (hi[0] - lo[0])
            Y, ok, it, _ = self.tracer.correct(Y0, c, s, lo[1] + frac * (hi[1] - lo[1]))
            if not ok:
                break
            best = (Y, it)
            g = self.describe(Y, it, 0.0, needs_l1)[1][name]
            if not math.isfinite(g) or g == 0.0:
                break
            if (g > 0) == (ghi > 0):
                hi, ghi = (s, Y), g
                glo = glo / 2 if side == 1 else glo
                side = 1
            else:
                lo, glo = (s, Y), g
                ghi = ghi / 2 if side == -1 else ghi
                side = -1
        if best is None:  # no trial solved: linear interpolation of the end points
            best = (Y0 + g0 / (g0 - g1) * (Y1 - Y0), 0)
        return self.describe(best[0], best[1], 0.0)

    # -- one direction ---------------------------------------------------------------------------
    def trace(self, Y0, tests0, direction: float):
        """Points and codim-2 points (``point`` counted from the start) toward ``direction``·p2."""
        opts, tr = self.opts, self.tracer
        Y, t = Y0, tr.tangent(Y0, _unit_p2(Y0, direction))
        ds, arc, tests = opts.ds, 0.0, tests0
        points, specials = [], []
        while True:
            if tr.stalled:
                return points, specials, tr.stalled
            if len(points) >= opts.max_points:
                return points, specials, f"max_points={opts.max_points} reached"
            while True:
                guess = Y + ds * t
                Y1, ok, iters, _ = tr.correct(Y, t, ds, guess)
                if ok:
                    turn = math.degrees(math.atan2(tr.norm(Y1 - guess), tr.norm(guess - Y)))
                    if turn <= opts.max_angle:
                        break
                ds /= 2
                if tr.stalled:
                    return points, specials, tr.stalled
                if ds < opts.ds_min:
                    return points, specials, (f"corrector failed after {self.sys.param2}={float(Y[-1]):.6g} "
                                              f"with ds < ds_min={opts.ds_min:g}")
            arc += ds
            point, tests1 = self.describe(Y1, iters, direction * arc)
            end = self.ends_here(point)
            if end.startswith("eps"):
                return points, specials, end
            for name, g1 in tests1.items():
                g0 = tests.get(name, math.nan)
                if math.isfinite(g0) and math.isfinite(g1) and (g0 > 0) != (g1 > 0):
                    at, _ = self.locate(name, Y, t, ds, Y1, g0, g1)
                    specials.append(Codim2Point(name, at.p1, at.p2, at.frequency, at.l1, len(points), g1))
            if end:
                return points, specials, end
            points.append(point)
            if self.observer is not None:
                self.observer(point)
            if not opts.lo <= point.p2 <= opts.hi:
                return points, specials, f"left the range at {self.sys.param2}={point.p2:.6g}"
            self.sys.renormalise(Y1)
            t = tr.tangent(Y1, Y1 - Y)  # oriented along the step just taken
            Y, tests = Y1, tests1
            ds = min(opts.ds_max, ds * (opts.grow if iters <= opts.easy_iters else 1.0))


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
            "state_norm": float(ds["special_state_norm"].values[index])}


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
    fp = find_fixed_point(at, eps=min(eps, 0.1), tol=1e-12 if field.dtype == torch.float64 else 1e-6)
    z = fp.z.reshape(-1)
    eig_J = sp["eig"] if sp["kind"] == "hopf" else (sp["eig"] - 1.0) / eps
    if sp["kind"] == "fold":
        eig_J = 0j
    lam, q, _, _ = crit.eigenpair(Linearization(at, z).J(), eig_J, min(4, field.n - 2))
    Y0 = system.start(z, q, lam, sp["param"], p2)
    run = _Run(system, options, observer)
    Y0, ok, iters, _ = run.tracer.correct(Y0, _unit_p2(Y0, 1.0), 0.0, Y0)
    if not ok:
        raise StabilityLabError(f"the {sp['kind']} point {point} could not be re-solved from the field "
                                f"(force and eigen residuals {run.sys.error(Y0)}); "
                                + (run.tracer.stalled or "is this the field the continuation ran on?"))
    znorm = float(torch.linalg.vector_norm(Y0[: field.n]))
    if abs(znorm - sp["state_norm"]) > STATE_RTOL * max(1.0, sp["state_norm"]):
        raise StabilityLabError(f"the fixed point re-found at {param}={float(Y0[-2]):.6g} has ||z||={znorm:.6g}, "
                                f"not the special point's {sp['state_norm']:.6g}: another branch "
                                "(start the field's z0 closer to it)")
    system.renormalise(Y0)
    start, tests0 = run.describe(Y0, iters, 0.0)
    ell0 = system.ell.clone()
    back, sp_back, why_back = run.trace(Y0, tests0, -1.0)
    system.ell.copy_(ell0)
    run.tracer.stalled = ""
    fwd, sp_fwd, why_fwd = run.trace(Y0, tests0, +1.0)
    nb = len(back)
    points = back[::-1] + [start] + fwd
    specials = [Codim2Point(**{**asdict(s), "point": nb - s.point}) for s in sp_back]
    specials += [Codim2Point(**{**asdict(s), "point": nb + s.point}) for s in sp_fwd]
    specials.sort(key=lambda s: s.point)
    attrs = store.provenance(field, command=command, eps=eps, lo=lo, hi=hi, start_point=point,
                             start_kind=sp["kind"], options=asdict(options))
    return Curve(sp["kind"], param, param2, points, specials, (why_back, why_fwd), attrs)
