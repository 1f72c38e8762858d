"""Q4 — ε-sweep and knockouts. Does the relaxation stop converging exactly where the spectrum
predicts (ε > ε_crit)? And does removing attention (α → 0) restore the fixed point at a step where
the full block cycles? → reports/sweep.pdf"""
from recipe import REPORTS, late_checkpoint, report, spectrum_at_unstable_eps, stabilitylab

out, ckpt = REPORTS / "sweep", late_checkpoint()
eps, crit = spectrum_at_unstable_eps(ckpt, out)
grid = f"{crit / 4:.3g}:{1.6 * max(crit, eps):.3g}:12"
stabilitylab("eps-sweep", "--ckpt", ckpt, "--eps", grid, "--log", "--out", out / "eps_sweep.zarr")
stabilitylab("knockout", "--ckpt", ckpt, "--target", "attn", "--alpha", "1,0.8,0.6,0.4,0.2,0", "--eps", eps,
             "--out", out / "knockout.zarr")
report(out, "spectrum", "eps_sweep", "knockout")
