"""Share of wall time a continuation run spends writing its store, buffered vs per-point writes.

    python benchmarks/bench_continuation_io.py [--n 3 --ds 0.005 --threads 1]

Continues the Stuart–Landau example (``n`` unknowns, knob ``mu`` over [−0.3, 0.2], ε = 0.1) with
``--out`` twice: with the default buffered writer (:mod:`stabilitylab.continuation.writer`) and with
a flush after every point (the former behaviour). The time inside ``store.write``,
``store.append`` and the resume side file is measured by wrapping those functions; zarr and
xarray are imported (and one tiny store written) before timing, so the first run does not pay the
one-off import.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from stabilitylab import examples, store
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation, resume, writer


def timed_io():
    spent = [0.0]
    originals = {}
    for mod, name in ((store, "write"), (store, "append"), (resume, "save")):
        fn = getattr(mod, name)
        originals[(mod, name)] = fn

        def wrapped(*a, _fn=fn, **kw):
            t = time.perf_counter()
            try:
                return _fn(*a, **kw)
            finally:
                spent[0] += time.perf_counter() - t

        setattr(mod, name, wrapped)
    return spent, originals


def run(n: int, ds: float, per_point: bool) -> tuple[float, float, int]:
    fld = examples.stuart_landau(n=n, omega=1.0)
    problem = ContinuationProblem(fld, "mu", 0.1)
    opts = ContinuationOptions(-0.3, 0.2, ds=ds, ds_max=ds)
    saved = writer.MAX_UNFLUSHED_SECONDS
    writer.MAX_UNFLUSHED_SECONDS = 0.0 if per_point else saved
    spent, originals = timed_io()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            br = continuation(problem, opts, out=Path(tmp) / "c.zarr")
            wall = time.perf_counter() - t
    finally:
        writer.MAX_UNFLUSHED_SECONDS = saved
        for (mod, name), fn in originals.items():
            setattr(mod, name, fn)
    return wall, spent[0], len(br.points)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--ds", type=float, default=0.005)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run(args.n, 0.25, True)  # warm the zarr/xarray imports
    for label, per_point in (("buffered (default)", False), ("flush every point", True)):
        wall, io, pts = run(args.n, args.ds, per_point)
        print(f"{label:20s} points {pts:4d}  wall {wall:7.2f} s  I/O {io:6.2f} s  share {io / wall:6.1%}")


if __name__ == "__main__":
    main()
