"""Q3 — limit cycle and Floquet multipliers. Where the fixed point is Euler-unstable, what does the
relaxation settle on: a limit cycle? Its period, amplitude, residual floor, Lyapunov exponent and
Floquet multipliers (one ≈ 1 for the phase, the rest inside the unit circle for a stable cycle).
→ reports/cycle.pdf"""
from recipe import REPORTS, late_checkpoint, report, spectrum_at_unstable_eps, stabilitylab

out, ckpt = REPORTS / "cycle", late_checkpoint()
eps, _ = spectrum_at_unstable_eps(ckpt, out)
stabilitylab("cycle", "--ckpt", ckpt, "--eps", eps, "--steps", 6000, "--out", out / "cycle.zarr")
report(out, "spectrum", "cycle")
