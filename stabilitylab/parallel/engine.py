"""Run a sweep: compute every pending point, serially in-process or on dask.distributed workers.

Each task runs :func:`run_point`: it calls ``compute(point)``, classifies the outcome, and writes
the point's own region of the sweep store (:mod:`~stabilitylab.parallel.sweepstore`); it returns
only a small :class:`PointSummary`, so the driver never holds the results. Outcomes:

- ``ok``: ``compute`` returned a Dataset (or a :class:`PointResult` with status ``ok``);
- ``not_converged``: a :class:`PointResult` said so, or a solver emitted a
  :class:`~stabilitylab.errors.ConvergenceWarning` (the data is kept, the warning is the reason);
- ``failed``: ``compute`` raised a :class:`~stabilitylab.errors.StabilityLabError` (bad input,
  NaN/Inf, ...); the region keeps its fill values, the message is the reason;
- ``error``: any other exception (a bug), or a worker that died running the point.

The serial path (``workers ≤ 1`` and no scheduler) and the distributed one run the same
:func:`run_point`.
"""
from __future__ import annotations

import logging
import os
import time
import traceback
import warnings
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import xarray as xr

from ..errors import ConvergenceWarning, StabilityLabError
from . import sweepstore
from .sweepstore import ERROR, FAILED, NOT_CONVERGED, OK


@dataclass
class PointResult:
    """What ``compute`` may return instead of a bare Dataset, to flag a non-converged point."""

    data: xr.Dataset
    status: str = OK
    reason: str = ""


@dataclass
class PointSummary:
    """The driver's view of one finished point."""

    index: int
    status: str
    reason: str
    seconds: float


@dataclass
class SweepReport:
    """``computed`` points this run (``already_done`` were found in the store), ``counts`` of every
    point's status in the store after the run, wall time of the run."""

    out: Path
    points: int
    computed: int
    already_done: int
    counts: Counter
    seconds: float
    failures: list = dc_field(default_factory=list)  # PointSummary of this run's non-ok points


def _where(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    return f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""


def _evaluate(compute: Callable, point: Mapping, out: Path) -> tuple[dict, str, str]:
    """(fitted arrays, status, reason) of one point; never raises an Exception."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            result = compute(point)
            if not isinstance(result, PointResult):
                result = PointResult(result)
            arrays = sweepstore.fit(out, result.data)
            status, reason = result.status, result.reason
        except StabilityLabError as exc:
            arrays, status, reason = sweepstore.fit(out, None), FAILED, str(exc)
        except Exception as exc:
            arrays, status, reason = sweepstore.fit(out, None), ERROR, f"{type(exc).__name__}: {exc}{_where(exc)}"
    unconverged = []
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            unconverged.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if unconverged and status == OK:
        status = NOT_CONVERGED
    if unconverged and status in (OK, NOT_CONVERGED):
        reason = "; ".join(filter(None, [reason, *unconverged]))
    return arrays, status, reason


@contextmanager
def _torch_threads(threads: int | None):
    """Run with ``threads`` torch intra-op threads (None: unchanged), restoring the count after."""
    if not threads:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_point(index: int, point: Mapping, compute: Callable, out: str, threads: int | None) -> PointSummary:
    """Compute point ``index`` and write its region of the store at ``out`` (the task body)."""
    t0 = time.perf_counter()
    with _torch_threads(threads):
        arrays, status, reason = _evaluate(compute, point, Path(out))
    sweepstore.write_point(Path(out), index, arrays, status, reason)
    return PointSummary(index, status, reason, time.perf_counter() - t0)


def _serial(todo, points, compute, out, threads) -> Iterator[PointSummary]:
    for i in todo:
        yield run_point(i, points[i], compute, str(out), threads)


@contextmanager
def dask_client(workers: int, scheduler: str | None):
    """A dask Client: on the scheduler at ``scheduler``, else on a fresh LocalCluster of
    ``workers`` single-threaded processes (random ports, quiet logs) whose scheduler
    hands each worker one task at a time (worker-saturation 1): a worker that dies takes down only
    the point it was running, not points queued behind it."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise StabilityLabError(f"cannot connect to the dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _distributed(todo, points, compute, out, threads, client) -> Iterator[PointSummary]:
    from distributed import as_completed

    futures = {client.submit(run_point, i, points[i], compute, str(out), threads, pure=False): i for i in todo}
    for fut in as_completed(futures):
        i = futures[fut]
        try:
            summary = fut.result()
        except Exception as exc:  # no result: its worker died (KilledWorker) or was lost
            done, status, reason = sweepstore.point_status(out, i)
            if not done:  # (a point written before its worker died stands: the store is the truth)
                status, reason = ERROR, f"worker lost running this point: {type(exc).__name__}: {exc}"
                sweepstore.write_point(out, i, sweepstore.fit(out, None), status, reason)
            summary = PointSummary(i, status, reason, float("nan"))
        fut.release()
        yield summary


def default_threads(workers: int, scheduler: str | None) -> int | None:
    """Torch threads per task: unchanged in-process; cores/workers on a LocalCluster; 1 on a remote
    cluster (its workers may run several tasks at once)."""
    if scheduler:
        return 1
    if workers <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // workers)


@contextmanager
def _progress(total: int, done: int, enabled: bool):
    """Yield ``advance(status)`` for each finished point; a rich bar with live status counts when
    ``enabled``, else a no-op."""
    if not enabled:
        yield lambda status: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    counts = Counter()
    cols = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn())
    with Progress(*cols, transient=True) as bar:
        task = bar.add_task("", total=total, completed=done)

        def advance(status):
            counts[status] += 1
            bar.update(task, advance=1, description=" ".join(f"{k}={v}" for k, v in sorted(counts.items())))

        yield advance


def run_sweep(points: Sequence[Mapping], compute: Callable, out: str | Path, template: xr.Dataset, *,
              coords: Mapping[str, Sequence] | None = None, settings: Mapping | None = None,
              attrs: Mapping | None = None, workers: int = 0, scheduler: str | None = None,
              threads: int | None = None, retry_failed: bool = False, progress: bool = True) -> SweepReport:
    """Compute ``compute(points[i])`` for every point into the zarr store ``out``; resumable.

    ``points``: JSON-able mappings, one per sweep point, passed to ``compute`` (which must be
    picklable by reference, e.g. a module-level function or a dataclass instance, for workers).
    ``compute(point)`` returns one point's Dataset (or a :class:`PointResult`) whose variables,
    dims and dtypes are those of ``template`` (a one-point Dataset; sizes are upper bounds, shorter
    results are padded with fill values; see :func:`~.sweepstore.template_like`). ``coords``:
    coordinates along ``point`` (default: every key of the points). ``settings``: what the result
    depends on; with the points and the schema it makes the fingerprint that a rerun must match.
    ``attrs``: dataset attributes (provenance).

    Rerunning with the same arguments computes only the points not yet done (all of them done:
    nothing to do); ``retry_failed`` also recomputes ``failed``/``error`` points. ``workers ≤ 1``
    and no ``scheduler``: serial, in-process; else a LocalCluster of ``workers`` processes, or the
    cluster at ``scheduler`` (whose workers must see ``out`` on a shared file system).
    ``threads``: torch threads per task (default :func:`default_threads`).
    """
    out = Path(out).resolve()
    if out.suffix != ".zarr":
        raise StabilityLabError(f"out must name a .zarr store, got {out}", param="out")
    if workers < 0:
        raise StabilityLabError(f"workers must be >= 0, got {workers}", param="workers")
    points = [dict(p) for p in points]
    if not points:
        raise StabilityLabError("the sweep has no points")
    coords = coords if coords is not None else {k: [p[k] for p in points] for k in points[0]}
    settings = dict(settings or {})
    fp = sweepstore.fingerprint(settings, points, template)
    if out.exists():
        sweepstore.check(out, fp, settings, template)
    else:
        sweepstore.create(out, template, coords, attrs or {}, settings, fp)
    todo = sweepstore.pending(out, retry_failed)
    threads = default_threads(workers, scheduler) if threads is None else threads
    t0, failures = time.perf_counter(), []
    if todo:
        with _progress(len(points), len(points) - len(todo), progress) as advance, \
                (dask_client(workers, scheduler) if scheduler or workers > 1 else nullcontext()) as client:
            run = (_distributed(todo, points, compute, out, threads, client) if client is not None
                   else _serial(todo, points, compute, out, threads))
            for summary in run:
                advance(summary.status)
                if summary.status != OK:
                    failures.append(summary)
    if not sweepstore.pending(out, retry_failed=False):
        sweepstore.mark_complete(out)
    return SweepReport(out, len(points), len(todo), len(points) - len(todo), sweepstore.statuses(out),
                       time.perf_counter() - t0, failures)

