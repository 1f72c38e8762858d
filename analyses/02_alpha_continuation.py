"""Q2 — α-continuation. Scaling the attention output (W_O ← α W_O) from 0.2 to 1.5, where along the
fixed-point branch is stability lost, and how (Hopf / Neimark–Sacker, fold, flip)? Run at the
deployed ε = 0.1, or past ε_crit when the checkpoint is stable there. → reports/alpha.pdf"""
from recipe import REPORTS, late_checkpoint, report, spectrum_at_unstable_eps, stabilitylab

out, ckpt = REPORTS / "alpha", late_checkpoint()
eps, _ = spectrum_at_unstable_eps(ckpt, out)
stabilitylab("continuation", "--ckpt", ckpt, "--alpha", "0.2:1.5", "--eps", eps, "--ds-max", 0.05,
             "--out", out / "continuation.zarr")
report(out, "spectrum", "continuation")
