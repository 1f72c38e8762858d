"""The resumable run state: one file ``RUN_DIR/state.pt`` written atomically.

It holds everything the next update depends on — config, step, the batch RNG, and per lane the
weights, AdamW moments, Hutchinson RNG, controller and counters — plus the monitor history, so a
rerun of the same command continues bit for bit where the last one stopped. The file is a plain
dict of tensors, numbers, strings, lists and dicts, read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import StabilityLabError

FORMAT = "stabilitylab.trainstate"
VERSION = 1
FILENAME = "state.pt"


def save_state(run_dir: str | Path, config: dict, step: int, batch_rng: torch.Generator,
               lanes: dict, history: dict) -> Path:
    """Write the state (``lanes``: rule → :meth:`Lane.state_dict`) via a temp file and rename."""
    path = Path(run_dir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "config": config, "step": int(step),
               "batch_rng": batch_rng.get_state(), "lanes": lanes, "history": history}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_state(run_dir: str | Path) -> dict | None:
    """The saved state of ``run_dir``, or None when it has none yet."""
    path = Path(run_dir) / FILENAME
    if not path.exists():
        return None
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise StabilityLabError(f"cannot read the run state {path} ({type(exc).__name__}); "
                                "delete it to restart the run from scratch") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise StabilityLabError(f"{path} is not a stabilitylab training state (version {VERSION})")
    return raw
