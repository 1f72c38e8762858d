"""Sweep points over checkpoints: where a point's field comes from and what is computed there.

A point is a mapping with at least ``checkpoint`` (a path) and ``batch_seed``;
:func:`checkpoint_coords` gives a checkpoint's coordinates (path, step, rule, sha256). A
:class:`CheckpointSource` turns a point into a Field (``checkpoint.load`` options and knob
overrides), and :class:`SpectrumPoint` is the per-point ``compute`` of a spectrum sweep
(``stabilitylab sweep spectrum``/``batches`` and the report's drift stage). Both are frozen,
picklable dataclasses, so dask workers receive them as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import xarray as xr

from .. import checkpoint
from ..errors import CheckpointError
from ..field import Field
from ..spectral.spectrum import spectrum
from .engine import PointResult
from .sweepstore import NOT_CONVERGED, template_like

#: per-point attributes of a spectrum Dataset kept as per-point variables of the sweep
POINT_ATTRS = ("verdict", "verdict_text", "leading_kind", "force_residual", "step_residual",
               "fixed_point_converged", "fixed_point_reason", "fixed_point_solver", "converged_J",
               "converged_M", "matvecs_J", "matvecs_M", "matvecs_nonnormality")


def checkpoint_coords(path: Path, config: str | None = None) -> dict:
    """A point's coordinates from the checkpoint file (an unreadable one fails in its task); the
    path is made absolute, so a rerun from another directory resumes the same sweep."""
    try:
        ck = checkpoint.read(path, config)
        return {"checkpoint": str(path.resolve()), "step": int(ck.step), "rule": str(ck.rule or ""),
                "checkpoint_sha256": ck.sha256}
    except CheckpointError:
        return {"checkpoint": str(path.resolve()), "step": -1, "rule": "", "checkpoint_sha256": ""}


@dataclass(frozen=True)
class CheckpointSource:
    """How a point's checkpoint becomes a Field: :func:`stabilitylab.checkpoint.load` on the point's
    batch seed with these options, then the knob overrides ``knobs`` ((name, value) pairs)."""

    config: str | None = None  # --config text
    batch_size: int = 1
    device: str = "cpu"
    dtype: str = "float64"
    knobs: tuple[tuple[str, float], ...] = ()
    data: str | None = None
    split: str = "val"

    def field(self, point: dict) -> Field:
        fld = checkpoint.load(point["checkpoint"], batch_seed=point["batch_seed"], batch_size=self.batch_size,
                              config=self.config, device=torch.device(self.device), dtype=getattr(torch, self.dtype),
                              data=self.data, split=self.split)
        if self.knobs:
            fld = fld.with_params(**dict(self.knobs))
        fld.check_finite(what="initial state")
        return fld


@dataclass(frozen=True)
class SpectrumPoint:
    """``compute(point)``: the spectrum of ``point['checkpoint']`` on batch ``point['batch_seed']``
    (:func:`~stabilitylab.spectral.spectrum.spectrum` with these settings), with the per-point
    attributes :data:`POINT_ATTRS` as scalar variables. A fixed point that was not reached makes
    the point ``not_converged`` (its spectrum is kept)."""

    eps: float
    k: int
    tol: float = 1e-8
    ncv: int | None = None
    diagnostics: bool | str = "fast"
    search: str = "shared"
    source: CheckpointSource = CheckpointSource()

    def __call__(self, point: dict) -> PointResult:
        return self.analyse(self.source.field(point))

    def analyse(self, fld: Field) -> PointResult:
        ds = spectrum(fld, k=self.k, eps=self.eps, tol=self.tol, ncv=self.ncv, diagnostics=self.diagnostics,
                      search=self.search)
        data = ds.drop_attrs().assign({a: ((), ds.attrs[a]) for a in POINT_ATTRS if a in ds.attrs})
        if ds.attrs.get("fixed_point_converged", 1):
            return PointResult(data)
        return PointResult(data, NOT_CONVERGED, f"fixed point not reached: {ds.attrs.get('fixed_point_reason')}")

    def template(self) -> xr.Dataset:
        """The per-point schema: this analysis on a small linear example field (so it follows
        whatever :func:`~stabilitylab.spectral.spectrum.spectrum` returns), ``mode`` of size k + 1
        (a complex pair is never split, so a search may return k + 1 values)."""
        from ..examples import linear

        sizes = {"mode": self.k + 1}
        if self.search == "blocks":  # per-sequence variables, one per sequence of the batch
            sizes["sequence"] = self.source.batch_size
        return template_like(self.analyse(linear(n=self.k + 6)).data, **sizes)
