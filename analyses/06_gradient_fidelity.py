"""Q6 — gradient-estimator fidelity. At the late checkpoint, how close are naive EP, AEP, tracking
AEP and BPTT to the exact implicit (transpose-adjoint) gradient, how does EP converge with the nudge
length T2, and how does each estimator degrade as the Jacobian becomes asymmetric? → reports/gradients.pdf"""
from recipe import REPORTS, late_checkpoint, report, stabilitylab

out = REPORTS / "gradients"
stabilitylab("gradcheck", "--ckpt", late_checkpoint(), "--t1", 150, "--t2", "20:160", "--asym", "0:1:5",
             "--out", out / "gradients.zarr")
report(out, "gradients")
