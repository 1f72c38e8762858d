"""Q1 — Hopf diagnosis of a late checkpoint. Where are the leading eigenvalues of J and of the Euler
map M = I + εJ at the deployed ε = 0.1? Is the leading mode real or a complex pair? Is an
instability continuous-time (Re λ > 0) or only a discretisation one (Re λ < 0 but |1 + ελ| > 1),
and which ε_crit restores stability? → reports/hopf.pdf"""
from recipe import REPORTS, late_checkpoint, report, stabilitylab

out = REPORTS / "hopf"
stabilitylab("spectrum", "--ckpt", late_checkpoint(), "--eps", 0.1, "--k", 10, "--out", out / "spectrum.zarr")
report(out, "spectrum")
