"""The whole battery at once: ``stabilitylab report`` on the late checkpoint (spectrum, continuation
in α, attractor, ε-sweep, knockout, training drift, gradient fidelity), at the deployed ε = 0.1 or
past ε_crit when the checkpoint is stable there → reports/<checkpoint>-eps<ε>.pdf (the example report)."""
from pathlib import Path

from recipe import REPORTS, late_checkpoint, spectrum_at_unstable_eps, stabilitylab

ckpt = late_checkpoint()
eps, _ = spectrum_at_unstable_eps(ckpt, Path("runs/analyses-probe"))
stabilitylab("report", "--ckpt", ckpt, "--eps", eps, "--out", REPORTS / f"{Path(ckpt).stem}-eps{eps:g}.pdf")
