"""The result of a continuation: branch points, located special points, and their Dataset.

Dataset layout (dims ``point``, ``mode``, ``special``):

- coordinates ``point`` (index along the branch), ``<knob>`` (the knob's value, on ``point``),
  ``mode`` (rank: rightmost first for J, largest modulus first for M), ``special``;
- per point: ``eig_J``, ``eig_M`` (complex128, the ``k`` leading; NaN where fewer exist),
  ``n_unstable_J`` (#Re λ > δ), ``n_unstable_M`` (#|μ| > 1 + δ), ``force_residual``
  (‖F(z)‖/max(‖z‖, 1)), ``newton_iters``, ``step_size`` (the step that reached the point; 0 at the
  start), ``arclength``, ``tangent_p`` (p-component of the unit direction; its sign changes at a
  fold), ``state_norm`` ‖z‖, ``state_rms`` ‖z‖/√n, the cost ``newton_matvecs`` (corrector and
  tangent), ``eig_matvecs``, ``event_matvecs`` (locating crossings after the point), the wall
  ``seconds`` and process ``cpu_seconds`` spent reaching the point, ``eig_converged`` (1 when
  both eigensolves converged: counts and events at a 0 point rest on unconverged numbers) and
  ``window_full`` (1 when the eigen-window hit ``max_window``: the unstable counts are lower bounds);
- per special point: ``special_kind`` (str: a fixed-point kind of :mod:`stabilitylab.events`),
  ``special_operator`` ('J' or 'M'), ``special_param``, ``special_eig`` (λ or μ, complex),
  ``special_frequency`` (Im λ, or arg μ per step), ``special_precision`` (uncertainty in p: bracket
  width or eigen-error over slope), ``special_point``, ``special_state_norm``,
  ``special_multiplicity`` (copies of the eigenvalue crossing together), ``special_l1`` (first
  Lyapunov coefficient at a Hopf, the Euler map's cubic coefficient d at a Neimark–Sacker point,
  the quadratic coefficient a at a fold; NaN otherwise) and ``special_criticality`` (str:
  supercritical, subcritical, degenerate, unconverged; '' where it does not apply), see
  :mod:`.criticality`; ``special_state`` (dims special × state: the fixed point z there, where
  ``curve --from`` starts);
- attributes: provenance, the problem and options, ``stop_reason``, ``reached_end`` (the branch
  reached the end of its range; the store's own ``complete`` flag says its writer finished).

A Branch also carries its restart state — the last point ``x = (z, p)``, the unit direction ``t``
there and the next step ``ds`` — so :func:`~.run.continuation` can extend it (``restart=``); the
zarr store holds everything else, and :mod:`.resume` keeps the restart state in a side file.
"""
from __future__ import annotations

import json

from dataclasses import dataclass, field as dc_field, fields

import numpy as np
import torch
import xarray as xr

from .events import SpecialPoint

RESIDUAL_KIND = "force_residual = ||F(z)||/max(||z||, 1) (relative, absolute near z = 0)"


@dataclass
class BranchPoint:
    """One point of the branch (see the module docstring for the fields)."""

    param: float
    eig_J: np.ndarray
    eig_M: np.ndarray
    n_unstable_J: int
    n_unstable_M: int
    force_residual: float
    newton_iters: int
    step_size: float
    arclength: float
    tangent_p: float
    state_norm: float
    state_rms: float
    newton_matvecs: int
    eig_matvecs: int
    event_matvecs: int
    seconds: float
    cpu_seconds: float
    eig_converged: int = 1
    window_full: int = 0


POINT_VARS = [f.name for f in fields(BranchPoint) if f.name not in ("param", "eig_J", "eig_M")]
SPECIAL_VARS = [f.name for f in fields(SpecialPoint) if f.name != "state"]  # state: its own 2-D variable
#: units of the stored quantities whose unit is not obvious
UNITS = {"eig_J": "per unit time (eigenvalues λ of J)",
         "eig_M": "per Euler step (multipliers μ = 1 + ελ of M, dimensionless)",
         "step_size": "arclength (||(dz, dp)||^2 = theta ||dz||^2/n + dp^2)", "arclength": "arclength (as step_size)",
         "seconds": "s (wall clock)", "cpu_seconds": "s (CPU)",
         "special_frequency": "rad per unit time where special_operator is J (Im λ); rad per Euler step where M (arg μ)",
         "special_eig": "per unit time (λ) where special_operator is J; per Euler step (μ) where M"}


def _units(ds: xr.Dataset) -> None:
    for name, unit in UNITS.items():
        if name in ds:
            ds[name].attrs["units"] = unit


def _padded(values: np.ndarray, k: int) -> np.ndarray:
    out = np.full(k, np.nan + 1j * np.nan, dtype=np.complex128)
    out[: min(k, len(values))] = values[:k]
    return out


@dataclass
class Branch:
    """A continued branch of ``param``; ``k`` eigenvalues per operator stored per point.

    ``settings`` (knob, ε, method, start, ...) decide which runs may extend it; ``x``, ``t``,
    ``ds`` are the restart state (None before the first point)."""

    param: str
    k: int
    points: list[BranchPoint] = dc_field(default_factory=list)
    specials: list[SpecialPoint] = dc_field(default_factory=list)
    stop_reason: str = ""
    complete: bool = False
    attrs: dict = dc_field(default_factory=dict)
    settings: dict = dc_field(default_factory=dict)
    x: torch.Tensor | None = None
    t: torch.Tensor | None = None
    ds: float = 0.0

    @property
    def z(self) -> torch.Tensor | None:
        """The state at the last point (flat)."""
        return None if self.x is None else self.x[:-1]

    # -- arrays ------------------------------------------------------------------------------
    @property
    def params(self) -> np.ndarray:
        return np.array([pt.param for pt in self.points])

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(pt, name) for pt in self.points])

    # -- datasets ----------------------------------------------------------------------------
    def points_dataset(self, start: int = 0) -> xr.Dataset:
        """Points ``start:`` on dim ``point`` (what is appended to the store as the run goes)."""
        pts = self.points[start:]
        idx = np.arange(start, start + len(pts))
        data = {name: ("point", np.array([getattr(pt, name) for pt in pts])) for name in POINT_VARS}
        for op in ("J", "M"):
            eig = np.array([_padded(getattr(pt, f"eig_{op}"), self.k) for pt in pts]).reshape(len(pts), self.k)
            data[f"eig_{op}"] = (("point", "mode"), eig)
        ds = xr.Dataset(data, coords={"point": idx, self.param: ("point", np.array([pt.param for pt in pts])),
                                      "mode": np.arange(self.k)})
        ds["force_residual"].attrs["long_name"] = RESIDUAL_KIND
        _units(ds)
        return ds.assign_attrs(self._attrs())

    def to_dataset(self) -> xr.Dataset:
        """The whole branch: points and special points."""
        ds = self.points_dataset()
        specials = {name: np.array([getattr(sp, name) for sp in self.specials]) for name in SPECIAL_VARS}
        specials["kind"] = specials["kind"].astype(object)
        specials["operator"] = specials["operator"].astype(object)
        specials["criticality"] = specials["criticality"].astype(object)
        specials["eig"] = specials["eig"].astype(np.complex128)
        for name, arr in specials.items():
            ds[f"special_{name}"] = ("special", arr)
        if self.specials and all(sp.state is not None for sp in self.specials):
            ds["special_state"] = (("special", "state"), np.stack([sp.state for sp in self.specials]),
                                   {"long_name": "the fixed point z (flat) at the special point: where curve starts"})
        if self.x is not None:  # the restart state: a complete store extends without a side file
            ds["restart_x"] = ("unknown", self.x.detach().cpu().double().numpy(),
                               {"long_name": "last branch point (z, p), where an extending run restarts"})
            ds["restart_t"] = ("unknown", self.t.detach().cpu().double().numpy(),
                               {"long_name": "unit direction of travel at restart_x"})
            ds.attrs["restart_ds"] = float(self.ds)
            ds.attrs["restart_settings"] = json.dumps(self.settings)
        _units(ds)
        return ds.assign_coords(special=np.arange(len(self.specials)))

    def _attrs(self) -> dict:
        return {**self.attrs, "param": self.param, "stop_reason": self.stop_reason,
                "reached_end": int(self.complete), "residual_kind": RESIDUAL_KIND}

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> "Branch":
        """Rebuild the points, special points and attributes of a branch from :meth:`to_dataset`
        or the appended store (the restart state is not in the dataset: see :mod:`.resume`)."""
        param = str(ds.attrs["param"])
        k = ds.sizes["mode"]
        points = []
        for i in range(ds.sizes["point"]):
            row = {name: ds[name].values[i].item() for name in POINT_VARS if name in ds}
            eig = {op: ds[f"eig_{op}"].values[i] for op in ("J", "M")}
            points.append(BranchPoint(param=float(ds[param].values[i]),
                                      eig_J=eig["J"][np.isfinite(eig["J"])],
                                      eig_M=eig["M"][np.isfinite(eig["M"])], **row))
        specials = []
        if "special_kind" in ds:
            for i in range(ds.sizes["special"]):
                row = {name: ds[f"special_{name}"].values[i] for name in SPECIAL_VARS
                       if f"special_{name}" in ds}  # stores older than l1/criticality lack them
                state = ds["special_state"].values[i] if "special_state" in ds else None
                specials.append(SpecialPoint(**{key: v if isinstance(v, str) else v.item()
                                                for key, v in row.items()}, state=state))
        drop = ("param", "stop_reason", "reached_end", "complete", "analysis", "schema_version", "restart_ds",
                "restart_settings")
        attrs = {key: v for key, v in ds.attrs.items() if key not in drop}
        reached = ds.attrs.get("reached_end", ds.attrs.get("complete", 0))  # stores before schema 1
        return cls(param, k, points, specials, str(ds.attrs.get("stop_reason", "")), bool(reached), attrs)
