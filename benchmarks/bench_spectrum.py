"""Research-width cost of the whole analysis, in forward-equivalents, and vs ARPACK on the same product.

A random thick block (``make_block(BlockConfig(vocab=65, C, H, T, c=1.0), seed=0)``) on a seeded
batch of B sequences. Every time is also given in *forward-equivalents* (wall time / one no-grad
forward of F at the same size, measured in the same run), the unit the acceptance criteria use.
Sections (``--parts``, comma-separated; all by default):

- ``spectrum``: the whole ``spectrum()`` with default settings (fixed point, shared J + M + ε_crit
  search, ``fast`` diagnostics), with the product counts, and the fixed point alone;
- ``search``: the search alone from a random start: shared vs a J-only search vs separate J and M;
- ``diagnostics``: the non-normality diagnostics alone, ``fast`` and ``full``;
- ``arpack``: the 8 rightmost λ of J to tol 1e-8, ours vs ``scipy.sparse.linalg.eigs`` wrapping
  **the same linearised product** (``Linearization.J()``, float64 host round trip), the explicit
  residuals of both;
- ``continuation``: one pseudo-arclength continuation point in α (the second point of a run);
- ``relax``: 1,000 Euler relaxation steps;

with the process's peak resident memory (CPU; ``torch.cuda.max_memory_allocated`` on CUDA) after
each. Long: minutes per section at C=512 on 2 CPU cores; run by hand, never in the test suite.

    python benchmarks/bench_spectrum.py                         # C=512 H=16 T=256 B=1 float64
    python benchmarks/bench_spectrum.py --batch 8 --dtype float32
    python benchmarks/bench_spectrum.py --medium                # C=256 H=8 T=128 (n = 32,768)
    python benchmarks/bench_spectrum.py --small                 # C=128 H=4 T=64 (n = 8,192)
    python benchmarks/bench_spectrum.py --device cuda
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import scipy.sparse.linalg as sla
import torch

from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.linear import Linearization
from stabilitylab.model import BlockConfig, block_field, make_block
from stabilitylab.solvers import find_fixed_point, relax_euler
from stabilitylab.spectral import eigs
from stabilitylab.spectral.krylov_schur import eigs_shared
from stabilitylab.spectral.nonnormal import nonnormality
from stabilitylab.spectral.euler import crit_key
from stabilitylab.spectral.spectrum import spectrum

EPS = 0.1


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def clock(fn, device, repeat=1):
    fn()
    sync(device)
    t = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    sync(device)
    return (time.perf_counter() - t) / repeat, out


def once(fn, device):
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t, out


def forward_seconds(f, z, device) -> float:
    """Median of 11 no-grad forwards, printed. Re-measured before every part: on the CPU VM one
    forward drifted 36–53 ms within minutes, and every ratio with it."""
    with torch.no_grad():
        t = float(np.median([clock(lambda: f(z), device)[0] for _ in range(11)]))
    print(f"  [one forward now: {t * 1e3:.1f} ms]")
    return t


def warm_up(f, z, device, seconds: float = 5.0) -> None:
    """Forwards for ``seconds`` first: a fresh process's forwards ran ~25% slower on the CPU VM
    (and a GPU's first calls pay for kernel selection)."""
    with torch.no_grad():
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            f(z)
        sync(device)


def machine_line(device) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, 1-min load {load:.1f}; device {device}")


def peak_memory(device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB (GPU)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (RSS)"


def explicit_residual(op, lam, vecs) -> float:
    """max_i ‖A x_i − λ_i x_i‖/‖x_i‖ (complex x = a + ib applied as A a + i A b)."""
    out = []
    for j, l in enumerate(lam):
        x = vecs[:, j]
        ax = op(x.real.contiguous()) + 1j * op(x.imag.contiguous())
        out.append(float(torch.linalg.vector_norm(ax - l * x) / torch.linalg.vector_norm(x)))
    return max(out)


def field(C, H, T, B, dtype, device):
    cfg = BlockConfig(vocab=65, C=C, H=H, T=T, c=1.0)
    block = make_block(cfg, seed=0).to(device=device, dtype=dtype).requires_grad_(False)
    idx = torch.randint(0, 65, (B, T), generator=torch.Generator().manual_seed(0)).to(device)
    return block_field(block, idx)


def part_spectrum(fld, fwd, device, k):
    """The whole spectrum() with default settings, and its fixed point alone; returns the dataset
    and a linearisation at the fixed point."""
    t_fp, fp = once(lambda: find_fixed_point(fld, eps=EPS, tol=max(1e-9, 10 * torch.finfo(fld.dtype).eps)), device)
    t_all, ds = once(lambda: spectrum(fld, k=k, eps=EPS), device)
    a = ds.attrs
    print(f"  whole spectrum(): {t_all:7.1f} s = {t_all / fwd:6.0f} forward-eq.  [verdict {a['verdict']}; "
          f"search {a['matvecs_search']} products, diagnostics {a.get('matvecs_nonnormality', 0)} products; "
          f"fixed point alone {t_fp:.1f} s = {t_fp / fwd:.0f} fwd-eq. ({fp.nfev} forwards, {fp.matvecs} "
          f"Newton products)]  peak {peak_memory(device)}")
    return ds, Linearization(fld, fp.z)


def part_search(lin, fwd, device, k):
    """The eigen-search alone (random start): shared vs J only vs separate J and M searches."""
    J = lin.J()
    rows = [("shared J+M+eps_crit", lambda: eigs_shared(J, {"J": ("LR", k), "M": (lambda l: np.abs(1 + EPS * l), k),
                                                           "eps_crit": (crit_key, 1)}).matvecs),
            ("J only (LR)", lambda: eigs(J, k=k, which="LR").matvecs),
            ("separate J + M", lambda: eigs(J, k=k, which="LR").matvecs + eigs(lin.M(EPS), k=k, which="LM").matvecs)]
    for name, fn in rows:
        t, mv = once(fn, device)
        print(f"  search {name:22s} {mv:5d} products {t:7.1f} s = {t / fwd:6.0f} fwd-eq. "
              f"({t / fwd / mv:.2f} fwd-eq. per product)")


def part_diagnostics(lin, fwd, device, k, max_abs_mu):
    """The non-normality diagnostics alone, fast and full, start vectors from a J search."""
    space = eigs_shared(lin.J(), {"J": ("LR", k)}, return_space=True).space
    for mode in ("fast", "full"):
        t, nn = once(lambda: nonnormality(Linearization(lin.field, lin.z), EPS, mode=mode, space=space,
                                          max_abs_mu=max_abs_mu), device)
        print(f"  diagnostics {mode}: {nn.matvecs:5d} products {t:7.1f} s = {t / fwd:6.0f} fwd-eq. "
              f"(omega {nn.numerical_abscissa:.6g}, growth {nn.transient_growth:.6g} at k = "
              f"{nn.transient_growth_step}, residual {nn.transient_growth_residual:.1e}, "
              f"converged {nn.converged}{'; skipped: ' + nn.skipped if nn.skipped else ''})")


def part_arpack(lin, fwd, device, k):
    J = lin.J()
    t_ours, res = once(lambda: eigs(J, k=k, which="LR", tol=1e-8, return_eigenvectors=True), device)
    r_ours = explicit_residual(J, res.eigenvalues.to(device), res.eigenvectors)
    count = [0]

    def mv(x):
        count[0] += 1
        return J(torch.as_tensor(np.asarray(x).reshape(-1), dtype=lin.z.dtype, device=device)).double().cpu().numpy()

    n = lin.n
    A = sla.LinearOperator((n, n), matvec=mv, dtype=np.float64)
    t_arp, (vals, vecs) = once(lambda: sla.eigs(A, k=k, which="LR", tol=1e-8, v0=np.ones(n) / np.sqrt(n)), device)
    cdt = torch.complex128 if lin.z.dtype == torch.float64 else torch.complex64
    r_arp = explicit_residual(J, torch.as_tensor(vals).to(device), torch.as_tensor(vecs).to(device=device, dtype=cdt))
    agree = np.abs(np.sort(vals.real)[::-1] - np.sort(res.eigenvalues.numpy().real)[::-1][:k]).max()
    print(f"  ours   J (LR, tol 1e-8): {t_ours:7.1f} s, {res.matvecs:5d} products, max residual {r_ours:.1e}")
    print(f"  ARPACK J (LR, tol 1e-8): {t_arp:7.1f} s, {count[0]:5d} products, max residual {r_arp:.1e} "
          f"-> ours {t_arp / t_ours:.2f}x faster (leading Re λ agree to {agree:.1e})  peak {peak_memory(device)}")


def part_continuation(fld, fwd, device, k):
    prob = ContinuationProblem(fld, "alpha", EPS)
    tol = 1e-9 if fld.dtype == torch.float64 else 2e-5  # the report's: float32 floors near 1e-7
    opts = ContinuationOptions(1.0, 0.9, ds=0.02, ds_max=0.02, max_points=2, k=k, tol=tol)
    t, br = once(lambda: continuation(prob, opts), device)
    pt = br.points[-1]
    print(f"  one continuation point: {pt.seconds:7.1f} s = {pt.seconds / fwd:6.0f} fwd-eq. (Newton {pt.newton_matvecs}, "
          f"eigen {pt.eig_matvecs}, events {pt.event_matvecs} products; first point + start {t - pt.seconds:.1f} s)  "
          f"peak {peak_memory(device)}")


def part_relax(fld, fwd, device, steps: int = 1000):
    t, _ = once(lambda: relax_euler(fld, EPS, steps, tol=None, record_every=100), device)
    print(f"  {steps:,} relaxation steps: {t:7.1f} s = {t / fwd:6.0f} fwd-eq. ({t / fwd / steps:.2f} per step)  "
          f"peak {peak_memory(device)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="C=128, H=4, T=64 instead of C=512, H=16, T=256")
    ap.add_argument("--medium", action="store_true", help="C=256, H=8, T=128 (n = 32,768)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--parts", default="spectrum,search,diagnostics,arpack,continuation,relax")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: ratios stable on a shared box)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    parts = args.parts.split(",")
    C, H, T = (128, 4, 64) if args.small else (256, 8, 128) if args.medium else (512, 16, 256)
    fld = field(C, H, T, args.batch, dtype, device)
    z = fld.z0.reshape(-1)
    f = fld.flat_force()
    warm_up(f, z, device)
    print(machine_line(device))
    print(f"state n = {z.numel():,} (C={C}, H={H}, T={T}, B={args.batch}), {dtype}")
    forward = lambda: forward_seconds(f, z, device)  # noqa: E731
    lin, max_abs_mu = None, None
    if "spectrum" in parts:
        ds, lin = part_spectrum(fld, forward(), device, args.k)
        max_abs_mu = float(ds.max_abs_mu)
    if lin is None and {"search", "diagnostics", "arpack"} & set(parts):
        lin = Linearization(fld, find_fixed_point(fld, eps=EPS).z)
    if "search" in parts:
        part_search(lin, forward(), device, args.k)
    if "diagnostics" in parts:
        part_diagnostics(lin, forward(), device, args.k, max_abs_mu)
    if "arpack" in parts:
        part_arpack(lin, forward(), device, args.k)
    if "continuation" in parts:
        part_continuation(fld, forward(), device, args.k)
    if "relax" in parts:
        part_relax(fld, forward(), device)
    forward()

if __name__ == "__main__":
    main()
