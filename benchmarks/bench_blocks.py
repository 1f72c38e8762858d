"""Block-diagonal batches: B lockstep per-sequence searches vs one search in the whole batch space.

    python benchmarks/bench_blocks.py                      # C=128, H=4, T=64, B=8 (n = 65,536), float64
    python benchmarks/bench_blocks.py --C 512 --H 16 --T 256 --batch 8

At the batch's fixed point (found once), the same wanted sets (k rightmost λ of J, k largest |μ| of
M = I + εJ, the smallest ε_crit) by :func:`stabilitylab.spectral.spectrum.spectrum` (unstructured,
no diagnostics) and with ``search="blocks"`` (:func:`stabilitylab.spectral.blocks.block_search`: per
sequence, k each).
Prints products, seconds, forward-equivalents (seconds / one batched forward) and whether the batch's
leading λ and max|μ| agree.
"""
from __future__ import annotations

import argparse

import torch
from bench_spectrum import field, forward_seconds, once

from stabilitylab.solvers import find_fixed_point
from stabilitylab.spectral.spectrum import spectrum


def compare(fld, z, k: int, eps: float, device=torch.device("cpu")) -> dict:
    """Both searches at the fixed point ``z``, printed; ``{name: (seconds, products, fwd-eq., λ₀, max|μ|)}``
    (forward-equivalents against the mean of the batched forward timed before and after each)."""
    f, x = fld.flat_force(), z.reshape(-1)
    rows = {}
    for name, run in (("unstructured", lambda: spectrum(fld, k=k, eps=eps, z=z, diagnostics=False)),
                      ("block (lockstep)", lambda: spectrum(fld, k=k, eps=eps, z=z, diagnostics=False,
                                                            search="blocks"))):
        fwd0 = forward_seconds(f, x, device)
        sec, ds = once(run, device)
        fwd = (fwd0 + forward_seconds(f, x, device)) / 2
        prods = ds.attrs["matvecs_search"]
        rows[name] = (sec, prods, sec / fwd, complex(ds["eig_J"].values[0]), float(ds["max_abs_mu"]))
        print(f"  {name:18s} {sec:8.1f} s  {prods:5d} products  {sec / fwd:7.0f} forward-eq. "
              f"(forward {1e3 * fwd:.1f} ms)  leading λ {rows[name][3]:.8f}  max|μ| {rows[name][4]:.8f}  "
              f"{ds.attrs['verdict']}")
    (s0, p0, f0, l0, m0), (s1, p1, f1, l1, m1) = rows.values()
    print(f"  ratio unstructured/block: {s0 / s1:.2f}x seconds, {p0 / p1:.2f}x products; "
          f"|Δλ| {abs(l0 - l1):.1e}, |Δ max|μ|| {abs(m0 - m1):.1e}")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--C", type=int, default=128)
    ap.add_argument("--H", type=int, default=4)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    fld = field(a.C, a.H, a.T, a.batch, dtype, torch.device("cpu"))
    fp = find_fixed_point(fld, eps=a.eps, tol=max(1e-9, 10 * torch.finfo(dtype).eps))
    print(f"n = {fld.n:,} (B = {a.batch} x {fld.n // a.batch:,}), {a.dtype}, {a.threads} thread(s); "
          f"fixed point {fp.reason}")
    compare(fld, fp.z, a.k, a.eps)


if __name__ == "__main__":
    main()
