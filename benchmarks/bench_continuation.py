"""Cost per continuation point on a thick block: Newton iterations, matvecs, time.

    python benchmarks/bench_continuation.py [--C 128 --T 64 --H 4 --seed 0 --range 0.2:1.0]
                                            [--ds 0.05 --ds-max 0.2 --ds-far 0 --points 10 --k 6]
                                            [--method palc --search shared --threads 1]
                                            [--ckpt r512.pt --eps 0.1 --baseline]

Continues the fixed point of ``make_block(BlockConfig(vocab=32, C, H, T), seed)`` on a seeded
token batch (or of the checkpoint ``--ckpt`` on its default batch) in ``alpha`` (float64, ε =
``--eps``) and prints, per point, the Newton iterations and the
Jacobian-vector products of the corrector and tangent ("Newton matvecs"), of the J and M
eigensolves, and of locating crossings, with wall and CPU seconds (CPU time of this process, so
other load on a shared machine does not inflate it). For scale it also times one no-grad forward,
one ``torch.func.jvp`` and one product of a traced ``torch.func.linearize`` at the start state.
``--baseline`` first runs the same branch with ``ds_far = ds_max`` (the step control without the
predicted event distance: the code path before ``ds_far``) and prints both runs' totals and ratios.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from rich.console import Console
from rich.table import Table

from stabilitylab.checkpoint import load
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
    ap.add_argument("--ds-far", type=float, default=0.0, help="largest step far from events (0: 3 x ds-max)")
    ap.add_argument("--ckpt", default=None, help="a checkpoint instead of the random block")
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--baseline", action="store_true", help="also run with ds_far = ds_max and compare")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--method", choices=["palc", "natural"], default="palc")
    ap.add_argument("--search", choices=["shared", "separate"], default="shared",
                    help="J's and M's modes from one Krylov space per point, or two searches")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.ckpt:
        fld = load(args.ckpt, dtype=torch.float64)
        what = f"{args.ckpt} (state n={fld.n})"
    else:
        cfg = BlockConfig(vocab=32, C=args.C, H=args.H, T=args.T)
        idx = torch.randint(0, cfg.vocab, (1, cfg.T), generator=torch.Generator().manual_seed(args.seed))
        fld = block_field(make_block(cfg, args.seed), idx).to(dtype=torch.float64)
        what = f"thick block C={cfg.C} H={cfg.H} T={cfg.T} (state n={fld.n})"
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

    problem = ContinuationProblem(fld, "alpha", args.eps)
    options = ContinuationOptions(lo, hi, ds=args.ds, ds_max=args.ds_max, ds_far=args.ds_far, k=args.k,
                                  method=args.method, max_points=args.points, search=args.search)
    console = Console()
    runs = {}
    for name in (("baseline", "this") if args.baseline else ("this",)):
        opts = replace(options, ds_far=options.ds_max) if name == "baseline" else options
        t0, c0 = time.perf_counter(), time.process_time()
        branch = continuation(problem, opts)
        runs[name] = (branch, time.perf_counter() - t0, time.process_time() - c0, opts.ds_far)
    branch = runs["this"][0]

    console.print(f"{what}, float64, ε = {args.eps:g}, "
                  f"{args.threads} thread(s), {args.method}, {args.search} search, alpha {lo:g}:{hi:g}, k={args.k}, "
                  f"ds_max {options.ds_max:g}, ds_far {options.ds_far:g}")
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
    totals = {}
    for name, (br, w, c, far) in runs.items():
        products = sum(pt.newton_matvecs + pt.eig_matvecs + pt.event_matvecs for pt in br.points)
        totals[name] = (len(br.points), products, w)
        console.print(f"{name} (ds_far {far:g}): {len(br.points)} points, "
                      f"{products:,} products ({products / len(br.points):.0f} per point), {w:.1f} s wall "
                      f"({w / len(br.points):.1f} s per point), {c:.1f} s CPU; specials: "
                      f"{[(sp.kind, sp.operator, round(sp.param, 10)) for sp in br.specials]}; stop: {br.stop_reason}")
    if args.baseline:
        (n0, p0, w0), (n1, p1, w1) = totals["baseline"], totals["this"]
        console.print(f"ratio baseline/this: points {n0 / n1:.2f}x, products {p0 / p1:.2f}x, wall {w0 / w1:.2f}x")



if __name__ == "__main__":
    main()
