"""Buffered, still resumable, writes of a continuation run's points (I/O off the critical path).

Each zarr append costs about the same whatever it holds (the metadata of every variable is read
and rewritten), so on a small field writing after every point dominated the run (48 of 55 s). The
writer keeps the points since the last flush in memory (they are in the Branch anyway) and
*flushes* — one append of all of them, then the restart side file of :mod:`.resume` — when the
time since the last flush reaches ``(1 − s)/s`` times what the last flush cost (``s =
io_share``; before any flush a cost of ``FIRST_COST`` = 1 s is assumed, so the first flush comes
after 9 s of work), or ``max_unflushed`` seconds at most. At the end the complete dataset is
written once (:meth:`BufferedWriter.finish`). A run shorter than the first flush writes only that.

Crash safety: the store and the side file always describe the last *flushed* point, so a crash
loses the points computed since then — at most ``min(max_unflushed, 9 × the flush cost)``
seconds of work (≤ 60 s by default, ``$STABILITYLAB_MAX_UNFLUSHED_SECONDS`` to change; 9 s before the first flush, when nothing is stored yet and a
rerun starts over), plus the one point in progress — and rerunning the same command resumes from
the last flushed point.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from .. import store
from ..interrupts import deferred
from . import resume
from .branch import Branch

ANALYSIS = "continuation"  # the analysis attribute of its store
IO_SHARE = 0.1
MAX_UNFLUSHED_SECONDS = 60.0
#: environment variable overriding ``max_unflushed`` (0: write after every point, as a slow-but-safe mode)
FLUSH_ENV = "STABILITYLAB_MAX_UNFLUSHED_SECONDS"
FIRST_COST = 1.0


class BufferedWriter:
    """Flushes a branch's new points to ``out`` by the rule of the module docstring."""

    def __init__(self, out: Path, io_share: float | None = None, max_unflushed: float | None = None,
                 clock=time.perf_counter):
        self.out, self.clock = out, clock
        self.io_share = IO_SHARE if io_share is None else io_share
        if max_unflushed is None:
            max_unflushed = float(os.environ.get(FLUSH_ENV, MAX_UNFLUSHED_SECONDS))
        self.max_unflushed = max_unflushed
        self.flushed = 0  # points of the branch already in the store
        self.cost = 0.0  # seconds the last flush took
        self.last = clock()
        self.seconds = 0.0  # total seconds spent flushing

    def stored(self, npoints: int) -> None:
        """The store already holds the first ``npoints`` points (a resumed or rewritten branch)."""
        self.flushed, self.last = npoints, self.clock()

    def added(self, branch: Branch) -> None:
        """A point was appended to ``branch``: flush now if it is due."""
        waited = self.clock() - self.last
        cost = self.cost if self.flushed else FIRST_COST
        due = min(self.max_unflushed, cost * (1 - self.io_share) / self.io_share)
        if waited >= due:
            self.flush(branch)

    def flush(self, branch: Branch) -> None:
        """Append the unwritten points, then replace the side file (restart state of the last)."""
        if self.flushed >= len(branch.points):
            return
        t = self.clock()
        new = branch.points_dataset(self.flushed)
        with deferred():  # a signal waits until the points and their restart state are both stored
            if self.flushed == 0:
                store.write(new, self.out, ANALYSIS, complete=False)
            else:
                store.append(new, self.out, "point", ANALYSIS)
            resume.save(self.out, branch)
        self.flushed = len(branch.points)
        self.last = self.clock()
        self.cost = self.last - t
        self.seconds += self.cost

    def finish(self, branch: Branch) -> None:
        """Write the complete dataset (points, special points, stop reason and the restart state)
        once, then remove the side file (its state is in the store now)."""
        t = self.clock()
        with deferred():
            store.write(branch.to_dataset(), self.out, ANALYSIS)
            resume.remove_side(self.out)
        self.flushed = len(branch.points)
        self.seconds += self.clock() - t
