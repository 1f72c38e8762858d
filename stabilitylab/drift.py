"""A stability monitor for the user's own training loop: the drift monitor of ``stabilitylab train``.

``StabilityMonitor(out, eps=...)`` is called as ``monitor(step, field)`` every step (it measures
when ``step % every == 0``). ``field`` is a :class:`~stabilitylab.Field` (relaxed from its z0 as
the trainer does, :func:`~stabilitylab.train.monitor.field_state`), or a zero-argument callable
returning one or returning a pair ``(z_star, force)`` (the spectra are then taken at the given
z_star). Each record is one row on dim ``step`` appended to the zarr store ``out`` (reopening the
store continues it; :meth:`close` marks it complete). Names as in ``docs/GLOSSARY.md``.

Trend: a Theil–Sen line through the last ``window`` converged records of ``max_abs_mu − 1`` and
of ``leading_re_J`` gives ``crossing_step_M`` / ``crossing_step_J``, the step where each reaches 0
(NaN when not drifting toward it). A :class:`BoundaryWarning` is issued when a boundary is crossed
or predicted within ``horizon`` steps. A record whose fixed point (long-run force residual above
``tol``) or eigensolve did not converge is marked so and left out of the trend.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from scipy.stats import theilslopes

from . import store
from .errors import ConvergenceWarning, StabilityLabError
from .field import Field
from .solvers import RESIDUAL_KINDS
from .solvers.result import relative_norm
from .train.monitor import MODES, SPECTRAL, UNSETTLED, field_state, state_spectra

ANALYSIS = "drift-monitor"
SCALARS = ("force_residual", "step_residual", "force_residual_long", *SPECTRAL, "fixed_point_converged",
           "crossing_step_M", "crossing_step_J")


class BoundaryWarning(UserWarning):
    """The monitored operator crossed, or is predicted to cross, a stability boundary."""


class StabilityMonitor:
    """Record ρ(M), the leading Re λ, ε_crit and the residuals every ``every`` steps to ``out``."""

    def __init__(self, out: str | Path, eps: float, every: int = 1, horizon: float = 0.0, k: int = MODES,
                 T1: int = 40, window: int = 5, tol: float = UNSETTLED, overwrite: bool = False):
        self.out, self.eps, self.every, self.horizon = Path(out), float(eps), int(every), float(horizon)
        self.k, self.T1, self.window, self.tol = int(k), int(T1), int(window), float(tol)
        self.settings = {"eps": self.eps, "T1": self.T1, "k": self.k, "tol": self.tol}
        if store.check_target(self.out, ANALYSIS, self.settings, overwrite=overwrite) == "same":
            old = store.read(self.out, partial=True)
            self.attrs = dict(old.attrs)
            self.rows = [{v: float(old[v][i]) for v in SCALARS} | {"step": int(s)}
                         for i, s in enumerate(old.step.values)]
        else:
            store.remove(self.out)
            self.attrs, self.rows = None, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Mark the store complete (a later monitor on it continues it)."""
        if self.out.exists():
            store.mark(self.out, True)

    def dataset(self) -> xr.Dataset:
        """The records so far."""
        return store.read(self.out, partial=True)

    def __call__(self, step: int, field) -> dict | None:
        """Measure ``field`` at training ``step`` when due; return the record (None when not due,
        or when ``step`` is not after the last recorded one, as when a script resumes)."""
        if step % self.every or (self.rows and step <= self.rows[-1]["step"]):
            return None
        fld, rec = self._measure(field() if callable(field) and not isinstance(field, Field) else field)
        converged = rec["fixed_point_converged"] and rec["eig_converged"] == 1
        rec["step"] = int(step)
        trend = [r for r in self.rows if r["fixed_point_converged"] and r["eig_converged"] == 1]
        trend = (trend + [rec] if converged else trend)[-self.window:]
        rec["crossing_step_M"] = _crossing(trend, "max_abs_mu", 1.0)
        rec["crossing_step_J"] = _crossing(trend, "leading_re_J", 0.0)
        self._append(fld, rec)
        self.rows.append({k: rec[k] for k in (*SCALARS, "step")})
        self._warn(rec, converged)
        return rec

    def _measure(self, obj) -> tuple[Field, dict]:
        if isinstance(obj, Field):
            fld = obj.to(dtype=torch.float64)
            rec = field_state(fld, self.eps, self.T1, self.k)
            rec["fixed_point_converged"] = float(rec["force_residual_long"] <= self.tol)
            return fld, rec
        try:
            z, force = obj
        except (TypeError, ValueError):
            raise StabilityLabError("field must be a stabilitylab.Field or a callable returning a Field "
                                    "or a pair (z_star, force)", param="field") from None
        z = z.detach().to(torch.float64)
        fld = Field(force, z, name="user")
        with torch.no_grad():
            r = relative_norm(fld(z), z)
        rec = {"force_residual": r, "step_residual": self.eps * r, "force_residual_long": float("nan"),
               "fixed_point_converged": float(r <= self.tol), **state_spectra(fld, z, self.eps, self.k)}
        return fld, rec

    def _append(self, fld: Field, rec: dict) -> None:
        if self.attrs is None:
            self.attrs = store.provenance(fld, settings=self.settings, eps=self.eps, T1=self.T1,
                                          every=self.every, horizon=self.horizon, window=self.window,
                                          residual_kind=RESIDUAL_KINDS)
        eig = {}
        for name in ("eig_J", "eig_M"):
            vals = np.full(self.k, np.nan + 0j)
            got = np.asarray(rec[name], dtype=complex)[:self.k]
            vals[:got.size] = got
            eig[name] = (("step", "mode"), vals[None])
        ds = xr.Dataset({**{v: ("step", [float(rec[v])]) for v in SCALARS}, **eig},
                        coords={"step": [rec["step"]], "mode": np.arange(self.k)}, attrs=self.attrs)
        with store.lock(self.out):
            store.append(ds, self.out, "step", ANALYSIS)

    def _warn(self, rec: dict, converged: bool) -> None:
        step = rec["step"]
        if not converged:
            warnings.warn(f"step {step}: no converged fixed point or eigensolve (long-run force residual "
                          f"{rec['force_residual_long']:.1e}); the record is marked and left out of the trend",
                          ConvergenceWarning, stacklevel=3)
            return
        for what, var, bound, cross in (("max |mu| of M", "max_abs_mu", 1.0, "crossing_step_M"),
                                        ("leading Re lambda of J", "leading_re_J", 0.0, "crossing_step_J")):
            if rec[var] > bound:
                warnings.warn(f"step {step}: {what} = {rec[var]:.4g} is past the boundary {bound:g} "
                              f"(eps = {self.eps:g})", BoundaryWarning, stacklevel=3)
            elif rec[cross] - step <= self.horizon:
                warnings.warn(f"step {step}: {what} = {rec[var]:.4g} is predicted to reach {bound:g} at step "
                              f"{rec[cross]:.0f}, within the horizon of {self.horizon:g} steps",
                              BoundaryWarning, stacklevel=3)


def _crossing(rows: list, var: str, bound: float) -> float:
    """The step where the Theil–Sen line of ``var`` over ``rows`` reaches ``bound`` (rising; else NaN)."""
    if len(rows) < 3:
        return math.nan
    slope, intercept, *_ = theilslopes([r[var] - bound for r in rows], [r["step"] for r in rows])
    return -intercept / slope if slope > 0 else math.nan
