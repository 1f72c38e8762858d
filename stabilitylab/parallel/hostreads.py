"""Count device→host reads made while code runs: the audit behind "no host round trip per matvec".

Every ``.item()``, ``.tolist()``, ``.cpu()``, ``.numpy()``, ``float(t)``, ``int(t)``, ``bool(t)``
and ``np.asarray(t)`` of a torch tensor moves data to the host; on a GPU each one is a
synchronisation that stalls the device queue. A matrix-free solver should make O(1) of them per
restart cycle (the small projected matrix, a few norms), not O(1) per operator product. The count
works on any device (on the CPU it measures what *would* synchronise on a GPU).
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import torch

READS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__array__")


@contextmanager
def count_host_reads():
    """Yield a Counter of host reads by method name, filled while the block runs (not thread-safe:
    it patches ``torch.Tensor`` for the duration)."""
    counts = Counter()
    originals = {name: getattr(torch.Tensor, name) for name in READS}

    def counting(name, original):
        def method(self, *args, **kwargs):
            counts[name] += 1
            return original(self, *args, **kwargs)

        return method

    for name, original in originals.items():
        setattr(torch.Tensor, name, counting(name, original))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
