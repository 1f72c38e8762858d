"""xarray Datasets <-> zarr, with provenance attributes and resumable appends.

Conventions: complex eigenvalues are stored as complex128; strings as object dtype (zarr V3
``string``); nested attributes (configs, settings) as JSON strings so every attribute is a plain
JSON scalar; metadata is not consolidated (not part of the zarr V3 spec). :func:`read` returns
the Dataset exactly as written (strings come back as object arrays).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import StabilityLabError

PROVENANCE_KEYS = ("command", "created", "stabilitylab_version", "versions")
#: the command line that asked for the outputs being made: the CLI sets it around a command (the
#: library never reads ``sys.argv``); outside it, provenance says "python"
COMMAND_LINE: ContextVar[str | None] = ContextVar("stabilitylab_command_line", default=None)


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("stabilitylab", "torch", "numpy", "scipy", "xarray", "zarr"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def jsonable(value: Any):
    """Make ``value`` a JSON-safe attribute: scalars stay, containers become JSON strings."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf
    if isinstance(value, (int, float, str)):
        return value
    if value is None:
        return "none"
    return json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o), sort_keys=True)


def provenance(field=None, command: str | None = None, **settings) -> dict:
    """Attributes every output carries: command line, time, versions, the field's source and
    config, and the given settings (solver tolerances, ε, residual kind, ...)."""
    attrs = {
        "command": command if command is not None else (COMMAND_LINE.get() or "python"),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    if field is not None:
        meta = dict(field.meta)
        attrs["field_name"] = field.name
        attrs["state_size"] = field.n
        attrs["state_shape"] = list(field.shape)
        attrs["dtype"] = str(field.dtype).replace("torch.", "")
        attrs["field_params"] = dict(field.params)
        for key in ("checkpoint", "checkpoint_sha256", "config", "field", "step", "rule",
                    "batch_seed", "batch_corpus", "batch_idx", "source"):
            if key in meta:
                attrs[key] = meta[key]
    attrs.update(settings)
    return {k: jsonable(v) for k, v in attrs.items()}


def _encode(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: jsonable(v) for k, v in ds.attrs.items()}
    for name in list(ds.variables):
        var = ds[name]
        var.attrs = {k: jsonable(v) for k, v in var.attrs.items()}
        if var.dtype.kind == "U":
            ds[name] = var.astype(object)
    return ds


def _decode(ds: xr.Dataset) -> xr.Dataset:
    for name in list(ds.variables):
        if ds[name].dtype.kind == "T":  # numpy StringDType from zarr V3 strings
            ds[name] = ds[name].astype(object)
    return ds


def write(ds: xr.Dataset, path: str | Path, mode: str = "w") -> Path:
    """Write ``ds`` to a zarr store at ``path`` (replacing it when mode='w')."""
    path = Path(path)
    if path.suffix != ".zarr":
        raise StabilityLabError(f"out must name a .zarr store, got {path}", param="out")
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "w" and path.exists():
        shutil.rmtree(path)
    _encode(ds).to_zarr(path, mode=mode, consolidated=False)
    return path


def read(path: str | Path) -> xr.Dataset:
    """Read a store written by :func:`write` fully into memory."""
    path = Path(path)
    if not path.exists():
        raise StabilityLabError(f"dataset {path} not found")
    try:
        with xr.open_zarr(path, consolidated=False) as ds:
            return _decode(ds.load())
    except StabilityLabError:
        raise
    except Exception as exc:
        raise StabilityLabError(f"cannot read dataset {path}: {exc}") from None


def append(ds: xr.Dataset, path: str | Path, dim: str) -> Path:
    """Append ``ds`` along ``dim`` to the store at ``path`` (create it if absent).

    Used for resumable runs: each completed point is appended as soon as it is computed, so an
    interrupted run keeps everything finished so far.
    """
    path = Path(path)
    if not path.exists():
        return write(ds, path)
    _encode(ds).to_zarr(path, mode="a", append_dim=dim, consolidated=False)
    return path


def attr_json(ds: xr.Dataset, key: str, default=None):
    """Decode a JSON attribute written by :func:`provenance`."""
    val = ds.attrs.get(key, default)
    if isinstance(val, str):
        try:
            return json.loads(val)
        except json.JSONDecodeError:
            return val
    return val
