"""Q4 (damping, step size) — the stability map. Where does the fixed point of the late snapshot lose
stability in two knobs at a time: the Hopf boundary in (c, α) — does more damping c buy stability? —
and the Euler map's Neimark–Sacker boundary in (ε, α) — at which step does relaxation fail for a
given attention scale? The trained checkpoint (α = 1, its c and training ε) is marked.
→ reports/stability_map.pdf

The α-continuation runs from α = 0.2 to 1.0 at the checkpoint's training ε (on s3200 stability is
lost at a Neimark–Sacker point of the Euler map); `stabilitylab curve` then continues that point in
the damping c and in the step ε.
The extended systems have 2n + 3 unknowns; GMRES needs a full Krylov space on them
(--gmres-restart 1100 for n = 512)."""
from pathlib import Path

import numpy as np
from recipe import REPORTS, ROOT, late_checkpoint, stabilitylab

from stabilitylab import checkpoint, load, store
from stabilitylab.report.stability_map import combine

out, ckpt = REPORTS / "stability_map", late_checkpoint()
C_RANGE, EPS_RANGE = "0.0:1.0", "0.05:0.5"
CURVE = ["--ds", 0.1, "--ds-max", 0.5, "--max-points", 8, "--gmres-restart", 1100, "--overwrite"]

stabilitylab("continuation", "--ckpt", ckpt, "--alpha", "0.2:1.0", "--ds-max", 0.1, "--overwrite",
             "--out", out / "continuation.zarr")
cont = store.read(ROOT / out / "continuation.zarr")
kinds, params = [str(k) for k in cont["special_kind"].values], cont["special_param"].values


def first(kind: str) -> int:
    """The special point of ``kind`` at the smallest α: where stability is lost."""
    found = [i for i, k in enumerate(kinds) if k == kind]
    return found[int(np.argmin(params[found]))]


point = first("neimark_sacker") if "neimark_sacker" in kinds else first("hopf")
stabilitylab("curve", "--from", out / "continuation.zarr", "--point", point, "--param2", "c",
             "--range", C_RANGE, *CURVE, "--out", out / "curve_c.zarr")
stabilitylab("curve", "--from", out / "continuation.zarr", "--point", point, "--param2", "eps",
             "--range", EPS_RANGE, *CURVE, "--out", out / "curve_eps.zarr")

ck = checkpoint.read(checkpoint.resolve(ckpt))
marker = {"alpha": 1.0, "c": load(checkpoint.resolve(ckpt)).params["c"],
          "eps": float((ck.provenance.get("train_config") or {}).get("eps", 0.1))}
label = f"{Path(ck.path).name}: α = 1, c = {marker['c']:g}, training ε = {marker['eps']:g}"
curves = [store.read(ROOT / out / name) for name in ("curve_c.zarr", "curve_eps.zarr")]
store.write(combine(curves, marker, label), ROOT / out / "stability_map.zarr", "stability_map")
stabilitylab("report", "--from", out / "stability_map.zarr", out / "continuation.zarr",
             "--out", out.with_suffix(".pdf"))
