"""One interruption contract for long runs: SIGINT and SIGTERM end a run the same way.

Inside :func:`trapped`, either signal raises :class:`Interrupted` (a ``BaseException``, like
``KeyboardInterrupt``) at the next Python instruction, so the unit of work in progress is dropped;
inside :func:`deferred` (a write that must not be cut in half: a point and its restart state) the
signal is held and raised when the block ends, so that unit is finished and flushed first. The
command layer then says where the partial results are and exits with 128 + the signal number
(130 for SIGINT, 143 for SIGTERM). Outside the main thread both are no-ops.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"depth": 0, "pending": None}


class Interrupted(BaseException):
    """A run stopped by SIGINT or SIGTERM (``signum``)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handler(signum, frame):
    if _state["depth"]:
        _state["pending"] = signum
    else:
        raise Interrupted(signum)


@contextmanager
def trapped():
    """Turn SIGINT and SIGTERM into :class:`Interrupted` for the duration of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def deferred():
    """Hold a trapped signal until the block has finished; then raise it."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        signum, _state["pending"] = _state["pending"], None
        if signum is not None and not _state["depth"]:
            raise Interrupted(signum)
        _state["pending"] = signum if _state["depth"] else None
