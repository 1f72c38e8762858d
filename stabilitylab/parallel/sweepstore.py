"""The sweep store: one zarr group holding every point of a sweep, written point by point.

Layout, for ``npoints`` points and a *template* (an xarray Dataset describing one point):

- every template variable becomes an array of shape ``(npoints, *template dims)`` on dims
  ``("point", ...)``, chunked one point per chunk, so each point's region is its own chunk files:
  concurrent writers never share a chunk, and zarr's local store writes each chunk atomically
  (temporary file + rename);
- ``status`` (str: ``""`` pending, ``ok``, ``not_converged``, ``failed``, ``error``), ``reason``
  (str) and ``done`` (bool) per point. A point is written data first, then status and reason,
  then ``done``: a region whose ``done`` is False is never read as valid, and a resumed sweep
  recomputes it;
- coordinates along ``point`` (checkpoint path, step, ...), attributes (provenance),
  ``sweep_settings`` (JSON) and ``sweep_fingerprint`` (sha256 of settings, points and schema),
  which guards resuming.

Unwritten regions read as the fill value: NaN (float, complex), −1 (int), False (bool), "" (str);
they are never written (zarr skips chunks equal to the fill value). The store is created in a
temporary directory and renamed into place: it exists whole or not at all; its ``complete`` flag
is set once every point is done. Metadata is consolidated (see :mod:`stabilitylab.store`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from ..errors import StabilityLabError
from ..store import SCHEMA_VERSION, jsonable, mark, quiet_zarr

PENDING, OK, NOT_CONVERGED, FAILED, ERROR = "", "ok", "not_converged", "failed", "error"
#: per-point bookkeeping arrays (reserved names)
RESERVED = ("status", "reason", "done")


def fill_value(dtype: np.dtype):
    """What an unwritten (or failed) region holds for ``dtype``."""
    kind = np.dtype(dtype).kind
    return {"f": np.nan, "c": complex(np.nan, np.nan), "i": -1, "u": 0, "b": False}.get(kind, "")


def _is_text(dtype) -> bool:
    return np.dtype(dtype).kind in "OUT"


def schema(template: xr.Dataset) -> dict:
    """``{name: (dims, dtype kind+size)}`` plus dimension sizes: what the fingerprint hashes."""
    return {"variables": {k: [list(v.dims), "str" if _is_text(v.dtype) else v.dtype.str]
                          for k, v in template.data_vars.items()},
            "sizes": dict(template.sizes)}


def fingerprint(settings: Mapping, points: Sequence[Mapping], template: xr.Dataset) -> str:
    """sha256 of the settings, the point specifications and the per-point schema."""
    blob = json.dumps({"settings": settings, "points": list(points), "schema": schema(template)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def template_like(example: xr.Dataset, **sizes: int) -> xr.Dataset:
    """A one-point template with ``example``'s variables and dtypes and the dimension ``sizes``
    given (others as in ``example``); values are fill values, index coordinates ``arange``."""
    dims = {**example.sizes, **sizes}
    data = {}
    for name, var in example.data_vars.items():
        dtype = object if _is_text(var.dtype) else var.dtype
        data[name] = (var.dims, np.full([dims[d] for d in var.dims], fill_value(dtype), dtype=dtype))
    coords = {d: np.arange(n) for d, n in dims.items() if d in example.coords}
    return xr.Dataset(data, coords=coords)


def create(out: Path, template: xr.Dataset, coords: Mapping[str, Sequence], attrs: Mapping,
           settings: Mapping, fingerprint_: str) -> None:
    """Create the store for ``len(next(iter(coords.values())))`` points (see module docstring)."""
    import dask.array as da

    if "point" in template.dims or set(RESERVED) & set(template.data_vars):
        raise ValueError(f"a sweep template must not use the dim 'point' or the names {RESERVED}")
    n = len(next(iter(coords.values())))
    data, encoding = {}, {}
    variables = {**{k: (v.dims, v.dtype, v.shape) for k, v in template.data_vars.items()},
                 "status": ((), np.dtype(object), ()), "reason": ((), np.dtype(object), ()),
                 "done": ((), np.dtype(bool), ())}
    for name, (dims, dtype, shape) in variables.items():
        full = (n, *shape)
        if _is_text(dtype):  # dask object arrays would be loaded to infer a type: numpy "" is tiny
            arr = np.full(full, "", dtype=object)
        else:  # lazy placeholders, never computed: only the metadata is written
            arr = da.full(full, fill_value(dtype), dtype=dtype, chunks=(1, *shape))
        data[name] = (("point", *dims), arr)
        encoding[name] = {"chunks": (1, *shape), "fill_value": fill_value(dtype)}
    point_coords = {"point": np.arange(n)}
    for key, values in coords.items():
        values = np.asarray(values)
        point_coords[key] = ("point", values.astype(object) if _is_text(values.dtype) else values)
    all_attrs = {**{k: jsonable(v) for k, v in attrs.items()}, "schema_version": SCHEMA_VERSION, "complete": 0,
                 "sweep_settings": json.dumps(settings, sort_keys=True, default=str),
                 "sweep_fingerprint": fingerprint_,
                 "sweep_schema": json.dumps(schema(template), sort_keys=True),
                 "sweep_variables": json.dumps(list(template.data_vars))}
    ds = xr.Dataset(data, coords={**point_coords, **template.coords}, attrs=all_attrs)
    tmp = out.with_name(f".{out.name}.creating-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with quiet_zarr():  # consolidated (all metadata is final here: points only write chunks)
        ds.to_zarr(tmp, mode="w-", compute=False, consolidated=True, encoding=encoding)
    os.replace(tmp, out)


def mark_complete(out: Path) -> None:
    """Set the store's ``complete`` flag: every point is done."""
    mark(out, True)


def _group(out: Path, mode: str = "r"):
    import zarr

    return zarr.open_group(out, mode=mode)


def check(out: Path, fingerprint_: str, settings: Mapping, template: xr.Dataset) -> None:
    """Raise a one-line error unless ``out`` is a sweep store of the same settings, points and
    per-point schema (saying which differ)."""
    try:
        attrs = dict(_group(out).attrs)
    except Exception:  # not a zarr group at all
        attrs = {}
    if "sweep_fingerprint" not in attrs:
        raise StabilityLabError(f"{out} exists and is not a sweep store; write the sweep elsewhere or delete it",
                                param="out")
    if attrs["sweep_fingerprint"] == fingerprint_:
        return
    old = json.loads(attrs.get("sweep_settings", "{}"))
    new = json.loads(json.dumps(settings, sort_keys=True, default=str))
    diff = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if diff:
        what = f"different settings ({', '.join(diff[:3])})"
    elif json.loads(attrs.get("sweep_schema", "{}")) != json.loads(json.dumps(schema(template), sort_keys=True)):
        what = "a different per-point schema (the analysis now returns other variables)"
    else:
        what = "different points"
    raise StabilityLabError(f"{out} holds a sweep with {what}; write to a new store (or delete {out}) "
                            "to start afresh, or repeat the original settings to resume it", param="out")


def pending(out: Path, retry_failed: bool = False) -> list[int]:
    """Indices of the points still to compute: not done (or, with ``retry_failed``, failed)."""
    g = _group(out)
    todo = ~g["done"][:]
    if retry_failed:
        todo |= np.isin(g["status"][:].astype(object), [FAILED, ERROR])
    return [int(i) for i in np.flatnonzero(todo)]


def point_status(out: Path, i: int) -> tuple[bool, str, str]:
    """(done, status, reason) of point ``i`` as stored."""
    g = _group(out)
    return bool(g["done"][i]), str(g["status"][i]), str(g["reason"][i])


def statuses(out: Path) -> Counter:
    """How many points have each status (``""`` = pending)."""
    return Counter(str(s) for s in _group(out)["status"][:])


def fit(out: Path, data: xr.Dataset | None) -> dict:
    """``data`` (one point) as arrays of the store's per-point shapes and dtypes, padded with fill
    values (a missing variable is all fill; ``data=None`` gives the all-fill region of a failed
    point). Raises ValueError when ``data`` does not fit: an unknown variable, other dims, a larger
    size."""
    g = _group(out)
    names = json.loads(g.attrs["sweep_variables"])
    if data is not None:
        extra = sorted(set(data.data_vars) - set(names))
        if extra:
            raise ValueError(f"the point result has variables {extra} that the sweep store lacks")
    arrays = {}
    for name in names:
        arr = g[name]
        dims, shape = tuple(arr.metadata.dimension_names[1:]), arr.shape[1:]
        dtype = object if _is_text(arr.dtype) else arr.dtype
        region = np.full(shape, fill_value(dtype), dtype=dtype)
        if data is not None and name in data:
            var = data[name]
            if tuple(var.dims) != dims:
                raise ValueError(f"variable {name} has dims {var.dims}, the sweep store expects {dims}")
            if any(s > t for s, t in zip(var.shape, shape)):
                raise ValueError(f"variable {name} has shape {var.shape}, larger than the store's {shape}")
            values = np.asarray(var.values)
            region[tuple(slice(0, s) for s in values.shape)] = values.astype(object) if dtype == object else values
        arrays[name] = region
    return arrays


def write_point(out: Path, i: int, arrays: dict, status: str, reason: str) -> None:
    """Write point ``i``: its data ``arrays`` (from :func:`fit`), then status and reason, then
    ``done`` (the commit flag)."""
    g = _group(out, "r+")
    for name, region in arrays.items():
        g[name][i] = region
    g["status"][i] = np.array(status, dtype=object)
    g["reason"][i] = np.array(reason, dtype=object)
    g["done"][i] = np.array(True)


def open_lazy(out: Path, variables: Sequence[str] | None = None) -> xr.Dataset:
    """The store as a lazily indexed Dataset (no dask), optionally only some variables."""
    ds = xr.open_zarr(out, consolidated=False, chunks=None)
    return ds if variables is None else ds[list(variables)]
