"""Cost per continuation point on a C=128 thick block: Newton iterations, matvecs, time.

    python benchmarks/bench_continuation.py [--C 128 --T 64 --H 4 --seed 0 --range 0.2:1.0]
                                            [--ds 0.05 --ds-max 0.2 --points 10 --k 6]
                                            [--method palc --search shared --threads 1]

Continues the fixed point of ``make_block(BlockConfig(vocab=32, C, H, T), seed)`` on a seeded
token batch in ``alpha`` (float64, ε = 0.1) and prints, per point, the Newton iterations and the
Jacobian-vector products of the corrector and tangent ("Newton matvecs"), of the J and M
eigensolves, and of locating crossings, with wall and CPU seconds (CPU time of this process, so
other load on a shared machine does not inflate it). For scale it also times one no-grad forward,
one ``torch.func.jvp`` and one product of a traced ``torch.func.linearize`` at the start state.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.linear import Linearization
from stabilitylab.model import BlockConfig, block_field, make_block


def cpu_time(fn, reps: int) -> float:
    fn()
    t = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t) / reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--C", type=int, default=128)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--H", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--range", default="0.2:1.0")
    ap.add_argument("--ds", type=float, default=0.05)
    ap.add_argument("--ds-max", type=float, default=0.2)
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--method", choices=["palc", "natural"], default="palc")
    ap.add_argument("--search", choices=["shared", "separate"], default="shared",
                    help="J's and M's modes from one Krylov space per point, or two searches")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = BlockConfig(vocab=32, C=args.C, H=args.H, T=args.T)
    idx = torch.randint(0, cfg.vocab, (1, cfg.T), generator=torch.Generator().manual_seed(args.seed))
    fld = block_field(make_block(cfg, args.seed), idx).to(dtype=torch.float64)
    lo, hi = (float(v) for v in args.range.split(":"))

    z, f = fld.z0.reshape(-1), fld.flat_force(alpha=lo)
    v = torch.randn_like(z)
    with torch.no_grad():
        fwd = cpu_time(lambda: f(z), 50)
    jvp = cpu_time(lambda: torch.func.jvp(f, (z,), (v,)), 20)
    t = time.process_time()
    lin_J = Linearization(fld, z, alpha=lo).J()
    trace = time.process_time() - t
    lin = cpu_time(lambda: lin_J(v), 20)

    problem = ContinuationProblem(fld, "alpha", 0.1)
    options = ContinuationOptions(lo, hi, ds=args.ds, ds_max=args.ds_max, k=args.k, method=args.method,
                                  max_points=args.points, search=args.search)
    t0, c0 = time.perf_counter(), time.process_time()
    branch = continuation(problem, options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    console = Console()
    console.print(f"thick block C={cfg.C} H={cfg.H} T={cfg.T} (state n={fld.n}), float64, "
                  f"{args.threads} thread(s), {args.method}, {args.search} search, alpha {lo:g}:{hi:g}, k={args.k}")
    console.print(f"CPU per forward {fwd * 1e3:.2f} ms, per jvp {jvp * 1e3:.2f} ms ({jvp / fwd:.1f}x), "
                  f"linearize trace {trace:.2f} s then {lin * 1e3:.2f} ms per product ({lin / fwd:.1f}x)")
    tab = Table(header_style="bold")
    for col in ("#", "alpha", "Newton its", "Newton matvecs", "eig matvecs", "event matvecs",
                "wall s", "CPU s", "unstable J/M"):
        tab.add_column(col, justify="right")
    for i, pt in enumerate(branch.points):
        tab.add_row(str(i), f"{pt.param:.4f}", str(pt.newton_iters), str(pt.newton_matvecs),
                    str(pt.eig_matvecs), str(pt.event_matvecs), f"{pt.seconds:.2f}",
                    f"{pt.cpu_seconds:.2f}", f"{pt.n_unstable_J}/{pt.n_unstable_M}")
    console.print(tab)
    steps = branch.points[1:]  # the start point pays for relaxation and first-call set-up
    med = lambda name: statistics.median(getattr(pt, name) for pt in steps)
    console.print(f"median per continuation step: {med('newton_iters'):g} Newton iterations, "
                  f"{med('newton_matvecs'):g} Newton matvecs, {med('eig_matvecs'):g} eigensolver matvecs, "
                  f"{med('seconds'):.2f} s wall, {med('cpu_seconds'):.2f} s CPU")
    console.print(f"whole run: {len(branch.points)} points, {wall:.1f} s wall, {cpu:.1f} s CPU; "
                  f"specials: {[(sp.kind, sp.operator, round(sp.param, 6)) for sp in branch.specials]}; "
                  f"stop: {branch.stop_reason}")


if __name__ == "__main__":
    main()
