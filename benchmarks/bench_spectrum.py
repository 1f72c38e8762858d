"""Spectrum benchmark (issue 3): our Krylov–Schur vs scipy ARPACK on the same matrix-free operator.

Operator: J (and M = I + εJ) of a random thick block, C=512, H=16, T=256, B=1 (n = 131,072) at its
input state. Wanted: the 8 rightmost eigenvalues of J and the 8 largest-|μ| of M to a relative
residual ‖Ax − λx‖/‖x‖ ≤ 1e-6·max(|λ|, ‖A‖ est.). Prints, from one run: the cost of one forward,
one ``torch.func.jvp``, one VJP and one product of our :class:`~stabilitylab.linear.Linearization`;
our time and matvecs vs ARPACK's (wrapping ``torch.func.jvp`` with float64 host conversion, as a
user would); and our total time over (matvecs × one product), the overhead of the eigensolver.

    python benchmarks/bench_spectrum.py            # the full size (minutes on 2 CPU cores)
    python benchmarks/bench_spectrum.py --small    # C=128, T=64 (n = 8,192)
    python benchmarks/bench_spectrum.py --device cuda
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import scipy.sparse.linalg as sla
import torch

from stabilitylab.linear import Linearization
from stabilitylab.model import BlockConfig, block_field, make_block
from stabilitylab.spectral import eigs


def timed(fn, repeat=5):
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeat


def explicit_residuals(op, lam, vecs):
    """max_i ‖A x_i − λ_i x_i‖/‖x_i‖ with complex x = a + ib applied as A a + i A b."""
    out = []
    for j, l in enumerate(lam):
        x = vecs[:, j]
        ax = op(x.real.contiguous()) + 1j * op(x.imag.contiguous())
        out.append(float(torch.linalg.vector_norm(ax - l * x) / torch.linalg.vector_norm(x)))
    return max(out)


def run(C, H, T, dtype, device, k, tol, eps, arpack):
    cfg = BlockConfig(vocab=65, C=C, H=H, T=T, c=1.0)
    block = make_block(cfg, seed=0).to(device=device, dtype=dtype).requires_grad_(False)
    idx = torch.randint(0, 65, (1, T), generator=torch.Generator().manual_seed(0)).to(device)
    fld = block_field(block, idx)
    z = fld.z0.reshape(-1)
    f = fld.flat_force()
    v = torch.randn_like(z)
    t_fwd = timed(lambda: f(z))
    t_jvp = timed(lambda: torch.func.jvp(f, (z,), (v,)), 3)
    lin = Linearization(fld, z, trace_after=0)
    t0 = time.perf_counter()
    lin.J()(v)
    t_trace = time.perf_counter() - t0
    t_prod = timed(lambda: lin.J()(v))
    t_vjp = timed(lambda: lin.JT()(v))
    lin_rr = Linearization(fld, z, trace_after=None)
    t_rr = timed(lambda: lin_rr.J()(v))
    n = z.numel()
    print(f"state n = {n:,} (C={C}, H={H}, T={T}), {dtype}, {device}")
    print(f"  forward {t_fwd * 1e3:.2f} ms | torch.func.jvp {t_jvp / t_fwd:.1f}x | VJP {t_vjp / t_fwd:.1f}x | "
          f"reverse-over-reverse J·v {t_rr / t_fwd:.1f}x | linearize replay {t_prod / t_fwd:.1f}x "
          f"(trace {t_trace:.2f} s)")
    rows = {}
    for name, op, which in (("J", lin.J(), "LR"), ("M", lin.M(eps), "LM")):
        t0 = time.perf_counter()
        res = eigs(op, k=k, which=which, tol=tol, return_eigenvectors=True, seed=0)
        t_ours = time.perf_counter() - t0
        resid = explicit_residuals(op, res.eigenvalues.to(device), res.eigenvectors)
        rows[name] = (t_ours, res.matvecs, resid, res.eigenvalues.numpy())
        print(f"  ours   {name} ({which}): {t_ours:7.2f} s, {res.matvecs:5d} matvecs, max residual {resid:.1e}, "
              f"overhead over matvecs×product {t_ours / (res.matvecs * t_prod):.2f}x")
    if not arpack:
        return
    for name, which in (("J", "LR"), ("M", "LM")):
        count = [0]

        def mv(x, name=name):
            count[0] += 1
            xt = torch.as_tensor(np.asarray(x).reshape(-1), dtype=dtype, device=device)
            y = torch.func.jvp(f, (z,), (xt,))[1]
            if name == "M":
                y = xt + eps * y
            return y.double().cpu().numpy()

        A = sla.LinearOperator((n, n), matvec=mv, dtype=np.float64)
        t0 = time.perf_counter()
        vals, vecs = sla.eigs(A, k=k, which=which, tol=tol, v0=np.ones(n) / np.sqrt(n))
        t_arp = time.perf_counter() - t0
        op = lin.J() if name == "J" else lin.M(eps)
        resid = explicit_residuals(op, torch.as_tensor(vals).to(device),
                                   torch.as_tensor(vecs).to(device=device, dtype=torch.complex128
                                                            if dtype == torch.float64 else torch.complex64))
        t_ours, mv_ours, _, lam = rows[name]
        key = (lambda x: x.real) if which == "LR" else np.abs
        agree = np.abs(np.sort(key(vals))[::-1] - np.sort(key(lam))[::-1][:k]).max()
        print(f"  ARPACK {name} ({which}): {t_arp:7.2f} s, {count[0]:5d} matvecs, max residual {resid:.1e} "
              f"-> ours is {t_arp / t_ours:.1f}x faster, {count[0] / mv_ours:.2f}x fewer matvecs "
              f"(leading values agree to {agree:.1e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="C=128, H=4, T=64 instead of C=512, H=16, T=256")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--no-arpack", action="store_true")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    C, H, T = (128, 4, 64) if args.small else (512, 16, 256)
    run(C, H, T, dtype, torch.device(args.device), args.k, args.tol, args.eps, not args.no_arpack)


if __name__ == "__main__":
    main()
