"""Cost per cycle-branch point at n ≥ 10⁴, in forward-pass equivalents (wall time / one forward).

    python benchmarks/bench_cycles.py                  # both parts, defaults below
    python benchmarks/bench_cycles.py --part map --batch 20 --range 0.7:1.0:4
    python benchmarks/bench_cycles.py --part flow --n 10000 --points 4

1. ``map``: the attractor branch of the deployed Euler relaxation (``stabilitylab cycles``, the
   report's cycle-branch stage) of the shipped ``s3200.pt`` on a batch of ``--batch`` sequences
   (n = 512·B; B = 20: n = 10,240), swept forward then back over ``--range`` at its training ε. Per
   point: what it settled on, amplitude, seconds and forward-equivalents. Stable values stop at
   their certificate (Newton + spectrum), oscillating ones run ``--steps``.
2. ``flow``: periodic orbits of a Stuart–Landau oscillator in R^n (a Householder reflection mixes
   the plane into all n coordinates, the other n − 2 decay at rates 0.5…3) continued from
   μ = 0.02 by matrix-free shooting (JVP through RK4, Newton–Krylov, Floquet multipliers by
   Krylov–Schur). Per point: seconds, forward-equivalents, and the errors against the closed form
   (amplitude √μ, period 2π, radial multiplier exp(−2μT)).

One forward is timed in the same run (median of 20) on the same field, so the ratios hold on a
busy machine too; CPU seconds of this process are printed beside the wall time.
"""
from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import numpy as np
import torch

import stabilitylab as sl
from stabilitylab import Field
from stabilitylab.cycles.flow_branch import continue_cycles
from stabilitylab.cycles.map_branch import map_branch


class Clock:
    """Wall and CPU seconds between observer calls."""

    def __init__(self):
        self.wall, self.cpu, self.rows = time.perf_counter(), time.process_time(), []

    def lap(self, **row):
        w, c = time.perf_counter(), time.process_time()
        self.rows.append({**row, "wall": w - self.wall, "cpu": c - self.cpu})
        self.wall, self.cpu = w, c


def map_part(args) -> None:
    fld = sl.load("s3200.pt", batch_size=args.batch)
    eps = float(fld.meta["eps"])
    lo, hi, count = (float(v) for v in args.range.split(":"))
    values = np.linspace(lo, hi, int(count))
    fwd = fld.forward_seconds(reps=20)
    print(f"map branch: s3200.pt on B = {args.batch} sequences, n = {fld.n:,}, ε = {eps:g}, "
          f"one forward {fwd * 1e3:.1f} ms, {args.steps} steps per value")
    clock = Clock()
    ds = map_branch(fld, "alpha", values, eps, steps=args.steps, tail=args.tail,
                    observer=lambda pt: clock.lap(direction=pt.direction, alpha=pt.value, kind=pt.kind,
                                                  amplitude=pt.amplitude, settled=pt.settled))
    print(f"{'sweep':9s} {'alpha':>7s} {'settles on':12s} {'amplitude':>9s} {'wall s':>8s} {'cpu s':>8s} {'fwd-eq.':>8s}")
    for r in clock.rows:
        print(f"{r['direction']:9s} {r['alpha']:7.4f} {r['kind']:12s} {r['amplitude']:9.4f} {r['wall']:8.1f} "
              f"{r['cpu']:8.1f} {r['wall'] / fwd:8.0f}")
    total = sum(r["wall"] for r in clock.rows)
    print(f"total {total:.1f} s = {total / fwd:,.0f} fwd-eq. for {len(clock.rows)} points "
          f"({total / fwd / len(clock.rows):,.0f} per point); verdict: {ds.attrs['verdict']}")


def householder_stuart_landau(n: int, seed: int = 0) -> tuple[Field, torch.Tensor, torch.Tensor]:
    """ẇ = (μ + i)w − |w|²w on the plane H e0, H e1 of R^n, H = I − 2vvᵀ; the rest decays."""
    v = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    v = v / v.norm()
    rates = torch.linspace(0.5, 3.0, n - 2, dtype=torch.float64)
    reflect = lambda z: z - 2 * (v @ z) * v  # noqa: E731

    def force(z, mu):
        y = reflect(z)
        x, u, rest = y[0], y[1], y[2:]
        g = mu - (x * x + u * u)
        return reflect(torch.cat([torch.stack([g * x - u, x + g * u]), -rates * rest]))

    e0 = reflect(torch.eye(1, n, dtype=torch.float64)[0])
    return Field(force, 0.1 * e0, {"mu": 0.02}, name=f"stuart_landau_householder_n{n}"), e0, rates


def flow_part(args) -> None:
    fld, e0, rates = householder_stuart_landau(args.n)
    mu0 = 0.02
    fwd = fld.forward_seconds(reps=20)
    print(f"\nflow branch: Stuart–Landau in R^{args.n:,} (Householder-mixed), one forward {fwd * 1e6:.0f} µs, "
          f"{args.shooting_steps} RK4 steps per period")
    clock = Clock()
    br = continue_cycles(fld, "mu", math.sqrt(mu0) * e0, 2 * math.pi, mu0, 0.3, steps=args.shooting_steps,
                         ds=0.05, ds_max=0.1, max_points=args.points, k=4,
                         observer=lambda c: clock.lap(mu=c.p, period=c.period, amplitude=c.amplitude,
                                                      multipliers=np.sort(np.abs(c.multipliers))[::-1]))
    print(f"{'mu':>8s} {'|amp − √μ|/√μ':>14s} {'|T − 2π|/2π':>12s} {'radial μ err':>12s} {'wall s':>8s} "
          f"{'cpu s':>7s} {'fwd-eq.':>9s}")
    for r in clock.rows:
        T = 2 * math.pi
        radial = math.exp(-2 * r["mu"] * T)
        m = r["multipliers"]
        err_radial = float(np.min(np.abs(m[1:] - radial))) / radial if len(m) > 1 else math.nan
        print(f"{r['mu']:8.4f} {abs(r['amplitude'] - math.sqrt(r['mu'])) / math.sqrt(r['mu']):14.1e} "
              f"{abs(r['period'] - T) / T:12.1e} {err_radial:12.1e} {r['wall']:8.1f} {r['cpu']:7.1f} "
              f"{r['wall'] / fwd:9,.0f}")
    later = clock.rows[1:] or clock.rows
    per = statistics.mean(r["wall"] for r in later)
    print(f"per continued point (after the first): {per:.1f} s = {per / fwd:,.0f} fwd-eq.; stop: {br.reason or 'max points'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["map", "flow", "both"], default="both")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--range", default="0.7:1.0:4", help="LO:HI:N of the map branch in alpha")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--tail", type=int, default=500)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=4)
    ap.add_argument("--shooting-steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.part in ("map", "both"):
        map_part(args)
    if args.part in ("flow", "both"):
        flow_part(args)


if __name__ == "__main__":
    main()
