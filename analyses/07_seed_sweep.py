"""Q5 across seeds — is the shipped run's EP-crosses/BPTT-stays outcome a one-seed accident?

Trains the shipped configuration (checkpoints' README: model, corpus, solver, optimiser) from
several seeds, EP and BPTT side by side (``--rule both``: same initialisation, same batches per
seed), and tabulates per seed and rule: the first monitor record past the Euler-map boundary
(max|μ| > 1 at the training ε, or Re λ > 0), the peak max|μ|, the best and final val CE.

    SEEDS=0,1,2 python analyses/07_seed_sweep.py       (≈ 12 CPU minutes per seed, one thread each)

Runs live in ``runs/seeds/seed<K>/`` and are resumable (rerun the recipe after an interruption);
the table is printed and written to ``reports/seeds.md``.
"""
import os
from pathlib import Path

import numpy as np

from recipe import REPORTS, ROOT, stabilitylab

from stabilitylab import store

#: the shipped run's options (checkpoints' README), without the snapshot/monitor cadence
SHIPPED = ("--rule", "both", "--init-gain", 0.5, "--c", 0.25, "--eps", 0.25, "--T1", 40, "--T2", 20,
           "--lr", 1.5e-3, "--decay", "none", "--steps", 3200)
SEEDS = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]


def first_crossing(steps, mu, re) -> str:
    past = (mu > 1) | (re > 0)
    return f"{int(steps[past.argmax()])}" if past.any() else "none"


def rows(seed: int, ds) -> list[str]:
    lead_re = ds["leading_re_J"] if "leading_re_J" in ds else ds["lead_re"]
    out = []
    for rule in ds.rule.values:
        mu, re = ds.max_abs_mu.sel(rule=rule).values, lead_re.sel(rule=rule).values
        ce = ds.val_ce.sel(rule=rule).values
        out.append(f"| {seed} | {rule} | {first_crossing(ds.step.values, mu, re)} | {np.nanmax(mu):.3f} | "
                   f"{np.nanmin(ce):.3f} | {ce[-1]:.3f} |")
    return out


table = ["| seed | rule | first record past the boundary | peak max\\|μ\\| | best val CE | final val CE |",
         "|---|---|---|---|---|---|"]
for seed in SEEDS:
    run = Path("runs/seeds") / f"seed{seed}"
    stabilitylab("train", *SHIPPED, "--seed", seed, "--monitor-every", 100, "--snapshot-every", 3200,
                 "--quiet", "--out", run)
    table += rows(seed, store.read(ROOT / run / "monitor.zarr"))
text = "\n".join(table)
print(text)
(ROOT / REPORTS).mkdir(exist_ok=True)
(ROOT / REPORTS / "seeds.md").write_text(
    "Seed sweep of the shipped configuration (`python analyses/07_seed_sweep.py`), monitor every "
    "100 updates, boundary = max|μ| > 1 at ε = 0.25 or Re λ > 0 on the analysis batch.\n\n" + text + "\n")
