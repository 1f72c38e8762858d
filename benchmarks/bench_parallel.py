"""Wall time of a spectrum sweep, serial vs a LocalCluster of worker processes.

    python benchmarks/bench_parallel.py [--points 16] [--workers 2] [--ckpt default.pt] [--k 6]
                                        [--batch-size 1]

The sweep is ``stabilitylab sweep batches``: the spectrum (fixed point, Krylov–Schur searches of J
and M, non-normality diagnostics) of one checkpoint on ``--points`` analysis batches. It runs
(1) serially in this process with one torch thread per point, as each worker runs it; (2) serially
with torch's default thread count; (3) on ``--workers`` worker processes, cluster start-up and
shutdown included. Reports the wall times, serial/parallel ratios, whether (1) and (3) wrote
identical datasets, and the fixed cost of (3): starting the cluster and importing torch and
stabilitylab in every worker. Wall time is what a user waits for; on a shared machine other load
inflates it. ``--batch-size`` B analyses B sequences at once (state n = B·T·C): more work per point.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from stabilitylab import checkpoint, store
from stabilitylab.parallel.points import CheckpointSource, SpectrumPoint, checkpoint_coords
from stabilitylab.parallel import run_sweep
from stabilitylab.parallel.engine import dask_client


def sweep(points, compute, out, **kw) -> float:
    t0 = time.perf_counter()
    report = run_sweep(points, compute, out, compute.template(), settings={"bench": 1}, progress=False, **kw)
    assert report.computed == len(points), report
    return time.perf_counter() - t0


def startup(workers: int) -> float:
    """Seconds to start a LocalCluster as run_sweep does, import the sweep code in every worker, stop."""
    t0 = time.perf_counter()
    with dask_client(workers, None) as client:
        client.run(lambda: __import__("stabilitylab.parallel.points"))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ckpt", default="default.pt")
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=1)
    args = ap.parse_args()
    head = checkpoint_coords(checkpoint.resolve(args.ckpt))
    points = [{**head, "batch_seed": s} for s in range(args.points)]
    compute = SpectrumPoint(eps=0.1, k=args.k, source=CheckpointSource(batch_size=args.batch_size))
    default_threads = torch.get_num_threads()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_one = sweep(points, compute, tmp / "serial1.zarr", workers=0, threads=1)
        t_default = sweep(points, compute, tmp / "serial.zarr", workers=0)
        t_par = sweep(points, compute, tmp / "parallel.zarr", workers=args.workers)
        t_start = startup(args.workers)
        same = store.read(tmp / "serial1.zarr").drop_attrs().identical(store.read(tmp / "parallel.zarr").drop_attrs())
        statuses = dict(store.read(tmp / "parallel.zarr").status.to_series().value_counts())
    result = {"points": args.points, "workers": args.workers, "checkpoint": Path(head["checkpoint"]).name,
              "batch_size": args.batch_size, "cluster_startup_s": round(t_start, 2),
              "serial_1_thread_s": round(t_one, 2), f"serial_{default_threads}_threads_s": round(t_default, 2),
              "parallel_s": round(t_par, 2), "ratio_serial_1_thread/parallel": round(t_one / t_par, 2),
              f"ratio_serial_{default_threads}_threads/parallel": round(t_default / t_par, 2),
              "identical_datasets": bool(same), "statuses": {k: int(v) for k, v in statuses.items()},
              "cpus": os.cpu_count(),
              "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    print(f"{args.points} spectra of {result['checkpoint']} (one per analysis batch of {args.batch_size}):")
    print(f"  serial, 1 torch thread:            {t_one:7.1f} s")
    print(f"  serial, {default_threads} torch threads:           {t_default:7.1f} s")
    print(f"  {args.workers} workers (start-up included):    {t_par:7.1f} s, of which start-up ≈ {t_start:.1f} s")
    print(f"  serial/parallel: {t_one / t_par:.2f}x (1 thread), {t_default / t_par:.2f}x ({default_threads} threads); "
          f"datasets identical: {same}")
    print(f"  ({os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after: "
          "other processes share the cores)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
