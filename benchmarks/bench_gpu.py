"""The research-width benchmark for a GPU, in one command: B = 8 sequences, float32 then float64.

    python benchmarks/bench_gpu.py                          # CUDA: C=512, H=16, T=256, B=8 (n = 1,048,576)
    python benchmarks/bench_gpu.py --tiny --device cpu      # seconds: checks the script (the test suite runs it)
    bash benchmarks/gpu_session.sh                          # on a lent GPU machine: this, then the test suite

One random thick block (``bench_spectrum.field``: seed 0, c = 1) on B seeded token sequences. For
each dtype, each section prints seconds and forward-equivalents (seconds / one no-grad batched
forward, re-timed before the section):

1. ``products``: one ``torch.func.jvp``, one VJP and one product of our linearisation, per forward;
2. ``spectrum``: the whole ``spectrum()`` (fixed point, shared J + M + ε_crit search, ``fast``
   diagnostics) with its product counts, and its fixed point alone;
3. ``blocks``: at that fixed point, the block-diagonal search (B lockstep per-sequence searches,
   one batched product per round) against the unstructured search in the whole batch space;
4. ``continuation``: one pseudo-arclength point in α;
5. ``relax``: 200 Euler relaxation steps;

then host reads per operator product of each solver (B = 1, the first dtype): on a GPU each read
is a synchronisation, and a solver that reads per product stalls the device. Peak device memory
after each dtype. A device is lent for minutes: a section that would start after ``--budget``
seconds is skipped and named, so what ran is always printed.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from bench_blocks import compare
from bench_spectrum import (EPS, field, forward_seconds, machine_line, once, part_arpack, part_continuation,
                            part_relax, part_spectrum, peak_memory, warm_up)

from stabilitylab.linear import Linearization
from stabilitylab.parallel.hostreads import count_host_reads
from stabilitylab.solvers import find_fixed_point, gmres, relax_euler
from stabilitylab.spectral import eigs
from stabilitylab.spectral.nonnormal import nonnormality

SIZES = {"research": (512, 16, 256), "small": (128, 4, 64), "tiny": (32, 2, 16)}
SECTIONS = ("products", "spectrum", "blocks", "continuation", "relax")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        return (f"{p.name}, {p.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                f"torch {torch.__version__}")
    return machine_line(device)


def part_products(fld, z, fwd, device):
    """One JVP, one VJP and one product of our linearisation, in forwards (median of 5 each)."""
    f, lin = fld.flat_force(), Linearization(fld, z)
    v = torch.randn(fld.n, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device, z.dtype)
    x = z.reshape(-1)
    J = lin.J()

    def vjp():
        _, pull = torch.func.vjp(f, x)
        return pull(v)

    for name, fn in (("torch.func.jvp", lambda: torch.func.jvp(f, (x,), (v,))), ("VJP (torch.func.vjp)", vjp),
                     ("our J product", lambda: J.matvec(v))):
        times = [once(fn, device)[0] for _ in range(6)][1:]
        t = sorted(times)[len(times) // 2]
        print(f"  {name:22s} {t * 1e3:8.2f} ms = {t / fwd:5.2f} forwards")


def audit(C, H, T, dtype, device, k):
    """Host reads per product of relaxation, GMRES, Krylov–Schur and the non-normality probes (B = 1)."""
    fld = field(C, H, T, 1, dtype, device)
    t0 = time.perf_counter()
    fp = find_fixed_point(fld, eps=EPS, tol=max(1e-9, 10 * torch.finfo(dtype).eps))
    print(f"  fixed point: {fp.solver}, force residual {fp.final_force_residual:.1e} in "
          f"{time.perf_counter() - t0:.1f} s")
    lin = Linearization(fld, fp.z)
    b = torch.randn(fld.n, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device, dtype)
    cases = {
        "Euler relaxation, 50 steps": (lambda: relax_euler(fld, EPS, 50, fp.z), lambda r: r.nfev),
        "GMRES on J, 60 Arnoldi steps": (lambda: gmres(lin.J(), b, tol=1e-12, restart=30, maxiter=60),
                                         lambda r: r.matvecs),
        f"Krylov–Schur, {k} rightmost λ of J": (lambda: eigs(lin.J(), k=k, which="LR", tol=1e-6),
                                               lambda r: r.matvecs),
        "non-normality diagnostics": (lambda: nonnormality(lin, EPS), lambda r: r.matvecs),
    }
    print(f"  {'solver':38s} {'products':>9s} {'host reads':>11s} {'per product':>12s}")
    for name, (fn, products) in cases.items():
        with count_host_reads() as reads:
            res = fn()
        n, r = products(res), sum(reads.values())
        flag = "  <- per product" if r >= 0.5 * n else ""
        print(f"  {name:38s} {n:9d} {r:11d} {r / max(n, 1):12.2f}{flag}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="C=128, H=4, T=64")
    size.add_argument("--tiny", action="store_true", help="C=32, H=2, T=16: a check of the script, seconds on a CPU")
    ap.add_argument("--batch", type=int, default=8, help="sequences (default 8, the research batch)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--k", type=int, default=8, help="wanted eigenvalues (spectrum; 6 for the block comparison)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    ap.add_argument("--arpack", action="store_true", help="also scipy ARPACK on the same product (host round trips)")
    ap.add_argument("--budget", type=float, default=420.0,
                    help="seconds: sections that would start later are skipped (default 420)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here (run with --tiny --device cpu to check the script)")
    sections = [s for s in args.sections.split(",") if s]
    if set(sections) - set(SECTIONS):
        ap.error(f"--sections: unknown {sorted(set(sections) - set(SECTIONS))}; choose from {', '.join(SECTIONS)}")
    dtypes = [getattr(torch, d) for d in args.dtypes.split(",")]
    C, H, T = SIZES["tiny" if args.tiny else "small" if args.small else "research"]
    start, skipped = time.perf_counter(), []
    print(f"device: {describe(device)}")
    for dtype in dtypes:
        fld = field(C, H, T, args.batch, dtype, device)
        f, z = fld.flat_force(), fld.z0.reshape(-1)
        warm_up(f, z, device, seconds=1.0 if args.tiny else 5.0)
        print(f"\n== n = {fld.n:,} (C={C}, H={H}, T={T}, B={args.batch}), {dtype} ==")
        lin = None
        for name in sections + (["arpack"] if args.arpack else []):
            if time.perf_counter() - start > args.budget:
                skipped.append(f"{name} ({dtype})")
                continue
            print(f"-- {name}")
            fwd = forward_seconds(f, z, device)
            if name == "products":
                part_products(fld, z, fwd, device)
            elif name == "spectrum":
                _, lin = part_spectrum(fld, fwd, device, args.k)
            elif name == "blocks":
                zstar = lin.z if lin is not None else find_fixed_point(fld, eps=EPS).z
                compare(fld, zstar.reshape(fld.shape), min(args.k, 6), EPS, device)
            elif name == "continuation":
                part_continuation(fld, fwd, device, args.k)
            elif name == "relax":
                part_relax(fld, fwd, device, steps=200)
            elif name == "arpack":
                part_arpack(lin or Linearization(fld, find_fixed_point(fld, eps=EPS).z), fwd, device, args.k)
        print(f"peak memory after {dtype}: {peak_memory(device)}")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
    if time.perf_counter() - start <= args.budget:
        print("\n== host reads per operator product (B = 1) ==")
        audit(C, H, T, dtypes[0], device, args.k)
    else:
        skipped.append("host-read audit")
    print(f"\ntotal {time.perf_counter() - start:.0f} s" + (f"; skipped (budget {args.budget:.0f} s): "
                                                          f"{', '.join(skipped)}" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
