"""The report's ε-sweep and knockout stages on a checkpoint, today's code path against the old one.

    python benchmarks/bench_report_stages.py --ckpt r512.pt [--stages eps_sweep,knockout] [--threads 2]
                                             [--baseline]

Runs each stage exactly as ``stabilitylab report`` plans it (its default :class:`Settings`; the
ε-sweep's grid from the spectrum stage, which runs first) and prints wall and CPU seconds, the
cost in forward-equivalents (seconds over one no-grad forward of the batch, timed here) and the
stage's verdict. ``--baseline`` also runs the old code path of each stage first, in the same
process: the ε-sweep with the exact forward-mode Lyapunov tangent (``tangent='dual'``; the default
is now the forward difference in float64); then it prints the ratios and whether the verdicts and
attractor kinds are the same.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from stabilitylab.checkpoint import load
from stabilitylab.dynamics import eps_sweep, knockout
from stabilitylab.report.battery import PLANS, Settings, sweep_grid


def forward_seconds(field, reps: int = 10) -> float:
    f = field.flat_force()
    z = field.z0.reshape(-1)
    with torch.no_grad():
        f(z)
        t = time.perf_counter()
        for _ in range(reps):
            f(z)
    return (time.perf_counter() - t) / reps


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    ds = fn()
    return ds, time.perf_counter() - w, time.process_time() - c


def stage_runs(field, s: Settings, spec, stage: str, baseline: bool):
    """``[(label, compute)]`` of one stage: the old code path first when ``baseline``."""
    if stage == "eps_sweep":
        grid = sweep_grid(spec, s.eps, s.sweep_points)
        run = lambda tangent: lambda: eps_sweep(field, grid, s.sweep_steps, k=s.k, tangent=tangent)  # noqa: E731
        return ([("dual tangent (before)", run("dual"))] if baseline else []) + [("now", run("auto"))]
    if stage == "knockout":
        target = "attn" if s.param == "alpha" else s.param
        now = lambda: knockout(field, target, s.knockout, s.eps, s.knockout_steps, k=s.knockout_k)  # noqa: E731
        return [("now", now)]
    raise SystemExit(f"unknown stage {stage!r} (eps_sweep, knockout)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--stages", default="eps_sweep,knockout")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    field = load(a.ckpt, dtype=torch.float64)
    s = Settings()
    fwd = forward_seconds(field)
    print(f"n = {field.n:,}, one forward {fwd * 1e3:.1f} ms, {a.threads} threads")
    spec, secs, _ = timed(PLANS["spectrum"](field, s, {}, False).compute)
    print(f"spectrum stage: {secs:.1f} s, max|mu| {float(spec['max_abs_mu']):.6g}, "
          f"eps_crit {float(spec['min_eps_crit']):.6g}")
    for stage in a.stages.split(","):
        results = []
        for label, compute in stage_runs(field, s, spec, stage, a.baseline):
            ds, wall, cpu = timed(compute)
            results.append((label, ds, wall))
            kinds = ", ".join(str(k) for k in ds["kind"].values)
            lam = np.asarray(ds["lyapunov"].values, dtype=float)
            print(f"{stage} [{label}]: {wall:.1f} s wall, {cpu:.1f} s CPU, {wall / fwd:,.0f} fwd-eq; kinds: {kinds}")
            print(f"  Lyapunov per step: {np.array2string(lam, precision=6)}")
            print(f"  verdict: {ds.attrs['verdict']}")
        if len(results) == 2:
            (_, old, t_old), (_, new, t_new) = results
            same = old.attrs["verdict"] == new.attrs["verdict"] and list(old["kind"].values) == list(new["kind"].values)
            print(f"{stage}: {t_old / t_new:.2f}x faster; verdict and kinds {'the same' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
