"""Resumable runs: the restart state of a branch in a side file next to its zarr store while it
runs, inside the store once it is complete.

Points are appended to ``OUT.zarr`` as they are computed; after each one the side file
``OUT.zarr.resume.pt`` is replaced atomically (temp file + rename) by a ``torch.save`` of a plain
dict, read back with ``torch.load(weights_only=True)``::

    {"format": "stabilitylab.continuation.resume", "version": 1,
     "settings": {param, eps, method, theta, k, field_name, state_size, p_start, direction, sigma},
     "npoints": int,              # points of the store this state belongs to
     "x": tensor (n+1,),          # last branch point (z, p)
     "t": tensor (n+1,),          # unit direction of travel there (tangent or secant)
     "ds": float,                 # next step length
     "specials": [dict, ...],     # located special points (eig as [re, im])
     "stop_reason": str}

When the run ends, the complete dataset carries the restart state itself (``restart_x``,
``restart_t``, attributes ``restart_ds`` and ``restart_settings``) and the side file is removed, so
nothing is left beside a finished store, and a later run can still extend it.
:func:`open_branch` rebuilds the :class:`~.branch.Branch` from the store and the side file (or
from the store alone); store points past
``npoints`` (an interruption between the append and the side-file write) are dropped from the
store. A run may extend a branch whose settings match (``p_end`` and ``max_points`` may differ, so
a run stopped by ``max_points`` or a shorter range continues); other settings are refused.
:func:`plan` says, before any computation, what a run will do with a stored branch: resume it,
extend it to a farther ``p_end``, or refuse a nearer ``p_end`` that the branch already passed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from .. import store
from ..errors import StabilityLabError
from .branch import Branch
from .events import SpecialPoint
from .options import ContinuationOptions
from .problem import ContinuationProblem

FORMAT = "stabilitylab.continuation.resume"
VERSION = 1
SUFFIX = ".resume.pt"


def side_path(out: str | Path) -> Path:
    return Path(str(out) + SUFFIX)


def settings(problem: ContinuationProblem, options: ContinuationOptions) -> dict:
    """What must match for a branch to be extended by a run."""
    return {"param": problem.param, "eps": problem.eps, "method": options.method,
            "theta": options.theta, "k": options.k, "field_name": problem.field.name,
            "state_size": problem.n, "p_start": options.p_start, "direction": options.direction,
            "sigma": options.sigma}


def check(branch: Branch, expected: dict, where) -> None:
    diff = [f"{key} {branch.settings.get(key)!r} there vs {val!r} now"
            for key, val in expected.items() if branch.settings.get(key) != val]
    if diff:
        raise StabilityLabError(f"{where} holds a continuation with other settings ({'; '.join(diff)}); "
                                "use another --out, or --overwrite to replace it")


def save(out, branch: Branch) -> None:
    """Replace the side file of ``out`` with the restart state of ``branch``."""
    specials = [{**asdict(sp), "eig": [sp.eig.real, sp.eig.imag],
                 "state": None if sp.state is None else torch.as_tensor(sp.state)} for sp in branch.specials]
    payload = {"format": FORMAT, "version": VERSION, "settings": branch.settings,
               "npoints": len(branch.points), "x": branch.x.detach().cpu(), "t": branch.t.detach().cpu(),
               "ds": float(branch.ds), "specials": specials, "stop_reason": branch.stop_reason}
    path = side_path(out)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def remove_side(out) -> None:
    """Drop the side file of ``out`` (its state is now in the complete store)."""
    side_path(out).unlink(missing_ok=True)


def _from_store(out) -> dict | None:
    """The restart state kept in a complete store, in the side file's layout (specials: None, read
    with the store's points), or None when the store has none."""
    attrs = store.stored_attrs(out) or {}
    if "restart_settings" not in attrs:
        return None
    ds = store.read(out, partial=True)
    return {"settings": json.loads(attrs["restart_settings"]), "npoints": ds.sizes["point"],
            "x": torch.as_tensor(ds["restart_x"].values), "t": torch.as_tensor(ds["restart_t"].values),
            "ds": float(attrs["restart_ds"]), "specials": None, "stop_reason": str(attrs.get("stop_reason", ""))}


def _side(out) -> dict | None:
    """The restart state of ``out`` as a dict (side file, or the complete store's own), or None
    when ``out`` holds no branch."""
    path = side_path(out)
    if not Path(out).exists():
        return None
    if not path.exists():
        return _from_store(out)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise StabilityLabError(f"cannot read the resume file {path} ({type(exc).__name__}); "
                                "delete it and the store to start over") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise StabilityLabError(f"{path} is not a stabilitylab continuation resume file")
    return raw


def plan(out, options: ContinuationOptions) -> str:
    """One line on what a run with ``options`` does with the branch stored at ``out`` ('' when
    none is stored): resume it, or extend it to a changed ``p_end``; a changed ``p_end`` that the
    stored branch has already passed is refused (the store would not match its range)."""
    raw = _side(out)
    if raw is None:
        return ""
    try:
        stored_end = json.loads((store.stored_attrs(out) or {}).get("options", "{}")).get("p_end")
    except (TypeError, ValueError):
        stored_end = None
    param, last = raw["settings"]["param"], float(raw["x"][-1])
    here = f"{out} holds {raw['npoints']} points of {param} up to {last:.6g}"
    if stored_end is None or float(stored_end) == options.p_end:
        return f"resuming: {here}; continuing to {options.p_end:g}"
    if (last - options.p_end) * options.direction > options.ds_min:
        raise StabilityLabError(f"{here} (range end {float(stored_end):g}), past the requested end "
                                f"{options.p_end:g}; add --overwrite to recompute the shorter range, or use "
                                "another --out")
    return f"resuming: {here} (range end {float(stored_end):g}); extending it to {param}={options.p_end:g}"


def open_branch(out, like: torch.Tensor) -> Branch | None:
    """The branch stored at ``out`` with its restart state (tensors on ``like``'s device and
    dtype), or None when ``out`` or its side file is missing."""
    raw = _side(out)
    if raw is None:
        return None
    branch = Branch.from_dataset(store.read(out, partial=True))
    npoints = int(raw["npoints"])
    if len(branch.points) < npoints:
        raise StabilityLabError(f"{out} has {len(branch.points)} points but its resume file expects "
                                f"{npoints}; delete both to start over")
    if len(branch.points) > npoints:
        del branch.points[npoints:]
        store.write(branch.points_dataset(), out, "continuation", complete=False)
    if raw["specials"] is not None:  # else: as read from the store with its points
        branch.specials = [SpecialPoint(**{**sp, "eig": complex(*sp["eig"]),
                                           "state": None if sp.get("state") is None else sp["state"].numpy()})
                           for sp in raw["specials"]]
    branch.settings, branch.stop_reason = raw["settings"], str(raw["stop_reason"])
    branch.x, branch.t, branch.ds = raw["x"].to(like), raw["t"].to(like), float(raw["ds"])
    return branch
