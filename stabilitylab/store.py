"""xarray Datasets <-> zarr, with provenance attributes, resumable appends and guarded targets.

Conventions: complex eigenvalues are stored as complex128; strings as object dtype (zarr V3
``string``); nested attributes (configs, settings) as JSON strings so every attribute is a plain
JSON scalar. Every store records ``analysis`` (what wrote it), ``schema_version`` and a
``complete`` flag (0 while a run appends, 1 written last, once the dataset is whole: a store cut
off by a crash or a full disk reads as incomplete and :func:`read` warns). Metadata is
consolidated (zarr V3 stores with the consolidated-metadata extension that zarr 3.1 and xarray
read by default), so ``xarray.open_zarr(path)`` opens every store without a warning; the
"not part of the V3 specification" notice zarr gives when writing it is silenced here, by
decision. :func:`read` returns the Dataset exactly as written (strings come back as objects).

Targets (:func:`check_target`, :func:`lock`): an existing store is replaced only by the same
analysis with the same settings, unless the caller allows overwriting; a lock file beside the
store (``PATH.zarr.lock``) refuses a second concurrent writer; filesystem errors are one line
naming the path (:class:`~stabilitylab.errors.StabilityLabError`).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import math
import os
import shutil
import socket
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import StabilityLabError
from .invocation import COMMAND_LINE

PROVENANCE_KEYS = ("command", "created", "stabilitylab_version", "versions")
SCHEMA_VERSION = 1
LOCK_SUFFIX = ".lock"


class IncompleteStoreWarning(UserWarning):
    """A store whose writer did not finish (interrupted, crashed, or still running)."""



def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("stabilitylab", "torch", "numpy", "scipy", "xarray", "zarr"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _threads() -> int:
    import torch

    return torch.get_num_threads()


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
        "torch_threads": _threads(),
    }
    if field is not None:
        meta = dict(field.meta)
        attrs["field_name"] = field.name
        attrs["state_size"] = field.n
        attrs["state_shape"] = list(field.shape)
        attrs["dtype"] = str(field.dtype).replace("torch.", "")
        attrs["field_params"] = dict(field.params)
        for key in ("checkpoint", "checkpoint_sha256", "config", "field", "step", "rule",
                    "batch_seed", "batch_corpus", "batch_idx", "source", "eps_source", "batch_source",
                    "batch_kind", "batch_split", "batch_sha256", "batch_offsets", "batch_size", "batch_T",
                    "batch_synthetic", "batch_data"):
            if key in meta:
                attrs[key] = meta[key]
    attrs.update(settings)
    return {k: jsonable(v) for k, v in attrs.items()}


#: long names of variables whose producers leave them out (every stored variable gets one)
LONG_NAMES = {
    "n_unstable_J": "number of eigenvalues of J with Re lambda > 0",
    "n_unstable_M": "number of eigenvalues of M = I + eps J with |mu| > 1",
    "max_abs_mu": "largest |mu| of M = I + eps J",
    "leading_re_J": "largest Re lambda of J",
    "complex_J": "eigenvalue of J is complex", "complex_M": "eigenvalue of M is complex",
    "antisymmetry_ratio": "mean ||A v||/||J v|| over random v, A = (J - J^T)/2",
    "numerical_abscissa": "omega(J) = largest eigenvalue of (J + J^T)/2",
    "transient_growth": "max over k of ||M^k v||/||v||",
}


def _encode(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: jsonable(v) for k, v in ds.attrs.items()}
    for name in list(ds.variables):
        var = ds[name]
        var.attrs = {k: jsonable(v) for k, v in var.attrs.items()}
        var.attrs.setdefault("long_name", LONG_NAMES.get(name, str(name).replace("_", " ")))
        if var.dtype.kind == "U":
            ds[name] = var.astype(object)
    return ds


def _decode(ds: xr.Dataset) -> xr.Dataset:
    for name in list(ds.variables):
        if ds[name].dtype.kind == "T":  # numpy StringDType from zarr V3 strings
            ds[name] = ds[name].astype(object)
    return ds


def _fs_error(path: Path, exc: OSError) -> StabilityLabError:
    why = {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
           errno.EACCES: "permission denied", errno.EDQUOT: "disk quota exceeded"}.get(exc.errno)
    return StabilityLabError(f"cannot write {path}: {why or exc.strerror or exc}")


@contextlib.contextmanager
def quiet_zarr():
    """Silence zarr's notice that consolidated metadata is not (yet) in the V3 spec (module doc)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


def mark(path: Path, complete: bool) -> None:
    """Set the ``complete`` flag of the store at ``path`` (and re-consolidate its metadata)."""
    import zarr

    with quiet_zarr():
        zarr.open_group(path, mode="r+").attrs["complete"] = int(complete)
        zarr.consolidate_metadata(path)


def write(ds: xr.Dataset, path: str | Path, analysis: str, *, complete: bool = True) -> Path:
    """Write ``ds`` to a new zarr store at ``path`` (replacing one there), recording ``analysis``
    and :data:`SCHEMA_VERSION`; ``complete`` is set last (False: a run will :func:`append` more).
    The store is built beside ``path`` and renamed into place, so a failed write (full disk)
    leaves what was there."""
    path = Path(path)
    if path.suffix != ".zarr":
        raise StabilityLabError(f"out must name a .zarr store, got {path}", param="out")
    ds = ds.assign_attrs(analysis=analysis, schema_version=SCHEMA_VERSION, complete=0)
    tmp, old = (path.with_name(f".{path.name}.{what}-{os.getpid()}") for what in ("writing", "replaced"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (tmp, old):
            shutil.rmtree(stale, ignore_errors=True)
        with quiet_zarr():
            _encode(ds).to_zarr(tmp, mode="w", consolidated=True)
        if complete:
            mark(tmp, True)
        if path.exists():  # swap in the new store, then drop the old: a crash leaves one of them
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fs_error(path, exc) from None
    return path


def append(ds: xr.Dataset, path: str | Path, dim: str, analysis: str) -> Path:
    """Append ``ds`` along ``dim`` to the store at ``path`` (create it if absent), leaving it
    incomplete (a final :func:`write` of the whole dataset completes it).

    Used for resumable runs: each completed point is appended as soon as it is computed, so an
    interrupted run keeps everything finished so far.
    """
    path = Path(path)
    if not path.exists():
        return write(ds, path, analysis, complete=False)
    ds = ds.assign_attrs(analysis=analysis, schema_version=SCHEMA_VERSION, complete=0)
    try:
        with quiet_zarr():
            _encode(ds).to_zarr(path, mode="a", append_dim=dim, consolidated=True)
    except OSError as exc:
        raise _fs_error(path, exc) from None
    return path


def _consolidated(path: Path) -> bool:
    try:
        meta = json.loads((path / "zarr.json").read_text())
        return bool(meta.get("consolidated_metadata"))
    except (OSError, ValueError):
        return (path / ".zmetadata").exists()


def read(path: str | Path, partial: bool = False) -> xr.Dataset:
    """Read a store written by :func:`write` fully into memory; warn
    (:class:`IncompleteStoreWarning`) when it is incomplete, unless ``partial`` (a resuming run)."""
    path = Path(path)
    if not path.exists():
        raise StabilityLabError(f"dataset {path} not found")
    try:
        with xr.open_zarr(path, consolidated=_consolidated(path)) as ds:
            ds = _decode(ds.load())
    except StabilityLabError:
        raise
    except Exception as exc:
        raise StabilityLabError(f"cannot read dataset {path}: {exc}") from None
    if not partial and ds.attrs.get("complete", 1) != 1:
        warnings.warn(f"{path} is incomplete: its writer was interrupted or is still running "
                      "(rerun the command that wrote it to finish it)", IncompleteStoreWarning, stacklevel=2)
    return ds


# -- targets -------------------------------------------------------------------------------------
def stored_attrs(path: str | Path) -> dict | None:
    """The root attributes of the zarr store at ``path``; None when ``path`` is no zarr store."""
    path = Path(path)
    for meta in ("zarr.json", ".zattrs"):
        try:
            raw = json.loads((path / meta).read_text())
        except (OSError, ValueError):
            continue
        return raw.get("attributes", {}) if meta == "zarr.json" else raw
    return None


def _writable(path: Path) -> None:
    """Create ``path``'s parent folders and check that the store can be created or replaced."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fs_error(path, exc) from None
    if path.exists() and not path.is_dir():
        raise StabilityLabError(f"{path} exists and is not a zarr store; choose another --out")
    if not os.access(path if path.exists() else path.parent, os.W_OK | os.X_OK):
        raise _fs_error(path, OSError(errno.EACCES, "permission denied"))


def check_target(path: str | Path, analysis: str, settings: dict | None = None, *,
                 overwrite: bool = False) -> str:
    """Validate an output store before any computation; return ``'new'`` (nothing there),
    ``'same'`` (the same analysis with the same settings: it will be replaced, or resumed) or
    ``'overwrite'`` (something else, replaced because ``overwrite``). Refuses, with one line, a
    name without ``.zarr``, an unwritable place, and a store of another analysis or other
    ``settings`` (compared with its ``settings`` attribute) unless ``overwrite``."""
    path = Path(path)
    if path.suffix != ".zarr":
        raise StabilityLabError(f"--out must name a .zarr store, got {path}")
    _writable(path)
    if not path.exists():
        return "new"
    attrs = stored_attrs(path)
    if attrs is None:
        what = "a folder that is not a zarr store"
    elif attrs.get("analysis") != analysis:
        what = f"a {attrs.get('analysis') or 'dataset of unknown analysis'} dataset"
    elif settings is not None and attrs.get("settings") != jsonable(settings):
        what = f"a {analysis} dataset computed with other settings"
    else:
        return "same"
    if overwrite:
        return "overwrite"
    raise StabilityLabError(f"{path} holds {what}; refusing to replace it with this {analysis} run "
                            "(choose another --out, or add --overwrite)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def lock(path: str | Path):
    """Hold ``PATH.lock`` (beside the store) while writing ``path``: a second writer is refused
    with one line. A lock left by a dead process on this host is taken over."""
    path = Path(path)
    lockfile = Path(str(path) + LOCK_SUFFIX)
    me = f"{os.getpid()} {socket.gethostname()}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fs_error(path, exc) from None
    for _ in range(2):
        try:
            fd = os.open(lockfile, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid, host = lockfile.read_text().split()
            except (OSError, ValueError):
                pid, host = "0", socket.gethostname()
            if host == socket.gethostname() and not _alive(int(pid)):
                lockfile.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise StabilityLabError(f"{path} is being written by another run (pid {pid} on {host}); "
                                    f"wait for it, or delete {lockfile} if that run is gone") from None
        except OSError as exc:
            raise _fs_error(path, exc) from None
    else:
        raise StabilityLabError(f"cannot take the lock {lockfile}")
    try:
        os.write(fd, me.encode())
        os.close(fd)
        yield lockfile
    finally:
        lockfile.unlink(missing_ok=True)


def remove(path: str | Path) -> None:
    """Delete the store at ``path`` and its side files (``PATH.*`` except the lock)."""
    path = Path(path)
    try:
        if path.is_dir():
            shutil.rmtree(path)
        for side in path.parent.glob(path.name + ".*"):
            if side.name != path.name + LOCK_SUFFIX and side.is_file():
                side.unlink()
    except OSError as exc:
        raise _fs_error(path, exc) from None


def attr_json(ds: xr.Dataset, key: str, default=None):
    """Decode a JSON attribute written by :func:`provenance`."""
    val = ds.attrs.get(key, default)
    if isinstance(val, str):
        try:
            return json.loads(val)
        except json.JSONDecodeError:
            return val
    return val
