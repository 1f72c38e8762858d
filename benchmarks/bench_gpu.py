"""The spectrum benchmark on a GPU, and an audit of device→host round trips in the solvers.

    python benchmarks/bench_gpu.py --device cuda                   # C=512, H=16, T=256 (n = 131,072)
    python benchmarks/bench_gpu.py --device cuda --dtype float32
    python benchmarks/bench_gpu.py --small                         # CPU check: C=128, H=4, T=64

1. The spectrum benchmark of ``bench_spectrum.py`` on ``--device``: costs of one forward, one
   ``torch.func.jvp``, one VJP and one product of our linearisation relative to the forward; our
   Krylov–Schur vs scipy ARPACK (wrapping the same JVP, with host float64 conversion) for the 8
   rightmost eigenvalues of J and the 8 largest-|μ| of M = I + εJ to residual ≤ 1e-6.
2. Host reads per operator product (``stabilitylab.parallel.hostreads``) of each solver at the
   block's fixed point: on a GPU every read is a synchronisation. A matrix-free solver should make
   O(1) per restart cycle, not per product; "per product" in the last column flags a solver that
   round-trips to the host on every product (or step).
3. Peak device memory (CUDA).
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
from bench_spectrum import run as spectrum_benchmark

from stabilitylab.linear import Linearization
from stabilitylab.model import BlockConfig, block_field, make_block
from stabilitylab.parallel.hostreads import count_host_reads
from stabilitylab.solvers import find_fixed_point, gmres, relax_euler
from stabilitylab.spectral import eigs
from stabilitylab.spectral.nonnormal import nonnormality


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        return (f"{p.name}, {p.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                f"torch {torch.__version__}")
    return f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def audit(C, H, T, dtype, device, k, tol, eps):
    """Host reads per product of relaxation, GMRES, Krylov–Schur and the non-normality probes."""
    cfg = BlockConfig(vocab=65, C=C, H=H, T=T, c=1.0)
    block = make_block(cfg, seed=0).to(device=device, dtype=dtype).requires_grad_(False)
    fld = block_field(block, torch.randint(0, 65, (1, T), generator=torch.Generator().manual_seed(0)).to(device))
    t0 = time.perf_counter()
    fp = find_fixed_point(fld, eps=eps, tol=max(1e-9, 10 * torch.finfo(dtype).eps))
    print(f"fixed point: {fp.solver}, force residual {fp.final_force_residual:.1e} in "
          f"{time.perf_counter() - t0:.1f} s ({fp.reason})")
    lin = Linearization(fld, fp.z)
    b = torch.randn(fld.n, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device, dtype)
    cases = {
        "Euler relaxation, 50 steps": (lambda: relax_euler(fld, eps, 50, fp.z), lambda r: r.nfev),
        "GMRES on J, 60 Arnoldi steps": (lambda: gmres(lin.J(), b, tol=1e-12, restart=30, maxiter=60),
                                         lambda r: r.matvecs),
        f"Krylov–Schur, {k} rightmost λ of J": (lambda: eigs(lin.J(), k=k, which="LR", tol=tol),
                                               lambda r: r.matvecs),
        "non-normality diagnostics": (lambda: nonnormality(lin, eps), lambda r: r.matvecs),
    }
    print(f"{'solver':38s} {'products':>9s} {'host reads':>11s} {'per product':>12s}")
    for name, (fn, products) in cases.items():
        with count_host_reads() as reads:
            res = fn()
        n, r = products(res), sum(reads.values())
        flag = "  <- per product" if r >= 0.5 * n else ""
        print(f"{name:38s} {n:9d} {r:11d} {r / max(n, 1):12.2f}{flag}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="C=128, H=4, T=64 instead of C=512, H=16, T=256")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--no-arpack", action="store_true", help="Skip the (slow) ARPACK comparison.")
    args = ap.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here (run with --small on the CPU to check the script)")
    C, H, T = (128, 4, 64) if args.small else (512, 16, 256)
    print(f"device: {describe(device)}")
    print("\n== spectrum benchmark ==")
    spectrum_benchmark(C, H, T, dtype, device, args.k, args.tol, args.eps, not args.no_arpack)
    print("\n== host reads per operator product ==")
    audit(C, H, T, dtype, device, args.k, args.tol, args.eps)
    if device.type == "cuda":
        print(f"\npeak device memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
