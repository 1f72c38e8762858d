"""A saved state (``--state PATH``) z to start a fixed-point search from.

Accepted: a dataset written by ``stabilitylab relax`` (its ``state`` variable), a ``.npy`` array,
or a ``.pt`` file holding a tensor (loaded with ``weights_only=True``). The state must have the
field's number of entries; it is reshaped to the field's shape, dtype and device.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import store
from .errors import StabilityLabError
from .field import Field


def load_state(path, field: Field) -> torch.Tensor:
    """The state stored at ``path`` as a tensor of the field's shape (a one-line error otherwise)."""
    path = Path(path)
    if not path.exists():
        raise StabilityLabError(f"state {path}: no such file or directory", param="state")
    try:
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif path.suffix == ".pt":
            arr = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(arr, torch.Tensor):
                raise StabilityLabError(f"state {path} holds a {type(arr).__name__}, not a tensor", param="state")
            arr = arr.detach().double().numpy()
        else:
            ds = store.read(path)
            if "state" not in ds:
                raise StabilityLabError(f"state {path}: the dataset has no 'state' variable "
                                        "(write one with stabilitylab relax)")
            arr = ds["state"].values
    except StabilityLabError:
        raise
    except Exception as exc:  # unreadable file: the user's input
        raise StabilityLabError(f"state {path}: cannot read it ({type(exc).__name__}: {exc})", param="state") from None
    arr = np.asarray(arr)
    if arr.size != field.n:
        raise StabilityLabError(f"state {path} has {arr.size} numbers; this field's state has {field.n}", param="state")
    if not np.isfinite(arr).all():
        raise StabilityLabError(f"state {path} contains NaN or Inf", param="state")
    return torch.as_tensor(arr.astype(np.float64)).reshape(field.shape).to(field.device, field.dtype)
