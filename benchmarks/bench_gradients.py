"""Cost of one gradient per estimator, in forward-pass equivalents, on a C=128 thick block.

    python benchmarks/bench_gradients.py [--C 128 --T 64 --H 4 --B 1 --dtype float32 --reps 3]
                                         [--threads 1]

Times are CPU time of this process (``time.process_time``) with ``--threads`` torch threads, so
other load on a shared machine does not inflate them. One forward = one no-grad evaluation of F(z)
(median over many). Each estimator is timed (median of ``--reps``) twice: in full (free phase of T1 Euler steps included) and given the free state (what a
trainer that shares z* across estimators pays). "nominal" is the estimator's own count
(``diagnostics['cost']``: forward 1, JVP/VJP/backward step 2). Settings are the API defaults:
ε=0.1, T1=150, T2=40, β=0.02.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from stabilitylab.gradients import bptt_gradient, ep_gradient, implicit_gradient
from stabilitylab.model import BlockConfig, make_block

EPS, T1, T2, BETA = 0.1, 150, 40, 0.02


def median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--C", type=int, default=128)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--H", type=int, default=4)
    ap.add_argument("--B", type=int, default=1)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    cfg = BlockConfig(vocab=65, C=args.C, H=args.H, T=args.T, c=1.0)
    block = make_block(cfg, 0).to(dtype)
    g = torch.Generator().manual_seed(0)
    idx, tgt = (torch.randint(0, cfg.vocab, (args.B, cfg.T), generator=g) for _ in range(2))

    with torch.no_grad():
        x_in = block.embed(idx)
        for _ in range(20):
            block.force(x_in, x_in)
        fwd = median_time(lambda: block.force(x_in, x_in), 200)
    z_free = implicit_gradient(block, idx, tgt, eps=EPS, T1=T1, tol=1e-6).z_free

    runs = {
        "bptt": lambda z: bptt_gradient(block, idx, tgt, eps=EPS, T1=T1),
        "implicit": lambda z: implicit_gradient(block, idx, tgt, eps=EPS, T1=T1, tol=1e-6, z_free=z),
        **{v: (lambda z, v=v: ep_gradient(block, idx, tgt, eps=EPS, T1=T1, T2=T2, beta=BETA, variant=v,
                                          z_free=z)) for v in ("naive", "aep", "aep_track")},
    }
    table = Table(title=f"one gradient, C={cfg.C} T={cfg.T} H={cfg.H} B={args.B} {args.dtype}, "
                        f"{torch.get_num_threads()} threads; forward = {fwd * 1e3:.3f} ms "
                        f"(ε={EPS}, T1={T1}, T2={T2}, β={BETA}; implicit: GMRES tol 1e-6)",
                  title_justify="left")
    cols = ("estimator", "full: ms", "full: fwd-eq", "given z*: ms", "given z*: fwd-eq", "nominal (given z*)")
    for col in cols:
        table.add_column(col, justify="right")
    for name, fn in runs.items():
        fn(None)  # warm-up
        full = median_time(lambda: fn(None), args.reps)
        shared = full if name == "bptt" else median_time(lambda: fn(z_free), args.reps)
        nominal = fn(z_free).diagnostics["cost"]
        table.add_row(name, f"{full * 1e3:.0f}", f"{full / fwd:.0f}", f"{shared * 1e3:.0f}",
                      f"{shared / fwd:.0f}", f"{nominal:.0f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
