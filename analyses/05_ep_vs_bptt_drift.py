"""Q5 — EP vs BPTT drift. From the same initialisation and batches, does EP training drift the
operator toward the stability boundary (max|μ| → 1, Re λ → 0) faster than BPTT? Uses the shipped
snapshots (a `sweep spectrum` over them) when there are any, else trains a short run of both rules.
→ reports/drift.pdf"""
import os
from pathlib import Path

from recipe import REPORTS, ROOT, report, snapshots, stabilitylab

from stabilitylab import store

out = REPORTS / "drift"
shipped = snapshots()
if len({ck.step for ck in shipped}) >= 2:
    paths = [os.path.relpath(ck.path, ROOT) for ck in shipped]
    stabilitylab("sweep", "spectrum", *paths, "--workers", 0, "--out", out / "drift.zarr")
    report(out, "drift")
else:  # no shipped trajectory: train one (≈10 min on 2 CPU cores)
    run = Path("runs/analyses-drift")
    stabilitylab("train", "--rule", "both", "--init-gain", 0.5, "--eps", 0.5, "--T1", 30, "--T2", 15,
                 "--steps", 800, "--monitor-every", 100, "--snapshot-every", 400, "--quiet", "--out", run)
    store.write(store.read(ROOT / run / "monitor.zarr"), ROOT / out / "drift.zarr", "train-monitor")
    report(out, "drift")
