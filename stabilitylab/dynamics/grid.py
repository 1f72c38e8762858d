"""Value grids from the command line: ``start:stop:num`` (inclusive, linear or geometric) or ``a,b,c``."""
from __future__ import annotations

import numpy as np

from ..errors import StabilityLabError


def parse_grid(text: str, name: str, *, log: bool = False, positive: bool = False) -> np.ndarray:
    """Values of ``text``; ``log`` spaces a range geometrically, ``positive`` requires every value > 0."""
    text = str(text).strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num < 1:
                raise StabilityLabError(f"{name} {text}: the number of points must be >= 1, got {num}")
            if log and (start <= 0 or stop <= 0):
                raise StabilityLabError(f"{name} {text}: a --log range needs positive ends")
            values = (np.geomspace if log else np.linspace)(start, stop, num)
        else:
            values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise StabilityLabError(f"{name} {text!r}: use START:STOP:NUM (e.g. 0.003:0.2:12) or a list "
                                "a,b,c of numbers") from None
    if not values.size or not np.all(np.isfinite(values)):
        raise StabilityLabError(f"{name} {text!r}: no finite values")
    if positive and np.any(values <= 0):
        raise StabilityLabError(f"{name} {text!r}: every value must be > 0, got {values[values <= 0][0]:g}")
    return values
