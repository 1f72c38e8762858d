"""Shared by the recipes: run ``stabilitylab`` commands from the repository root (echoing each one),
and pick the shipped checkpoints — the late EP snapshot of the shipped training run when it is
there, else the shipped ``default.pt``. ``CKPT=path python analyses/0N_*.py`` overrides the choice.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from stabilitylab import checkpoint, store

ROOT = Path(__file__).resolve().parent.parent
REPORTS = Path("reports")
# the shipped models are tiny: one torch thread per process is fastest (and robust on a busy machine)
ENV = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def stabilitylab(*args) -> None:
    """Run one ``stabilitylab`` command in the repository root; stop the recipe if it fails."""
    args = [str(a) for a in args]
    print("$ stabilitylab " + " ".join(map(shlex.quote, args)), flush=True)
    subprocess.run([sys.executable, "-m", "stabilitylab", *args], cwd=ROOT, env=ENV, check=True)


def snapshots() -> list[checkpoint.Checkpoint]:
    """The trainer's snapshots shipped with the package (any layout), in step order."""
    found = []
    shipped = checkpoint.SHIPPED_DIR
    for path in sorted({*shipped.glob("*.pt"), *shipped.glob("*/*.pt")}):
        ck = checkpoint.read(path)
        if ck.provenance.get("train_config"):
            found.append(ck)
    return sorted(found, key=lambda ck: (ck.step, ck.rule or ""))


def late_checkpoint() -> str:
    """``$CKPT``, else the latest shipped EP snapshot (EP drifts toward the boundary), else default.pt;
    a shipped snapshot by its name (``--ckpt`` finds it), so no output records this machine's paths."""
    if os.environ.get("CKPT"):
        return os.environ["CKPT"]
    ep = [ck for ck in snapshots() if ck.rule == "ep"] or snapshots()
    return Path(ep[-1].path).name if ep else "default.pt"


def spectrum_at_unstable_eps(ckpt: str, folder: Path, eps: float | None = None) -> tuple[float, float]:
    """(ε, ε_crit): the spectrum at ``eps`` (default: the checkpoint's own training ε) into
    ``folder/spectrum.zarr``; when the fixed point is stable there, again at a step 30 % past its
    ε_crit, so that there is an instability to study."""
    out = folder / "spectrum.zarr"
    stabilitylab("spectrum", "--ckpt", ckpt, *(("--eps", eps) if eps is not None else ()), "--overwrite", "--out", out)
    ds = store.read(ROOT / out)
    eps = float(ds.attrs["eps"])
    crit = float(ds["min_eps_crit"])
    if ds.attrs["verdict"] == "stable" and crit > 0:
        eps = float(f"{1.3 * crit:.2g}")
        print(f"stable at ε = {ds.attrs['eps']:g} (ε_crit = {crit:.3g}): studying ε = {eps:g} instead", flush=True)
        stabilitylab("spectrum", "--ckpt", ckpt, "--eps", eps, "--overwrite", "--out", out)
    return eps, crit


def report(folder: Path, *names: str) -> None:
    """``stabilitylab report --from`` the datasets ``folder/<name>.zarr`` into ``folder.pdf``."""
    stabilitylab("report", "--from", *(folder / f"{n}.zarr" for n in names), "--out", folder.with_suffix(".pdf"))
