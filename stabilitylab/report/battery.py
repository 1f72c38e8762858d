"""The standard battery on one field: each analysis run through the Python function its command
calls, stored as ``FOLDER/<stage>.zarr``, and reused when the stored result was computed for the
same source (checkpoint sha256 or field, knobs, batch, precision) with the same settings.

Stages, in order: ``spectrum`` (J and M), ``continuation`` (in a knob, α by default), ``cycles``
(the attractor of the relaxation continued in that knob across the first loss of stability the
continuation found: amplitude, rotation number, soft or hard), ``cycle`` (attractor and Floquet),
``eps_sweep`` (a grid bracketing the spectrum's ε_crit), ``knockout``
(the same knob scaled down to 0), ``drift`` (the checkpoint's training run: its ``monitor.zarr``,
else a ``sweep spectrum`` over the run's snapshots) and ``gradients`` (``gradcheck``). A stage that
does not apply (a user field has no training run and no readout loss) or fails with a user error
is skipped, and its section is left out of the report.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import xarray as xr

from .. import checkpoint, store
from ..errors import StabilityLabError
from ..field import Field
from .kinds import SECTIONS

STAGES = SECTIONS  # one stage per report section, in page order
KEY_ATTR = "report_key"


@dataclass(frozen=True)
class Settings:
    """How much each stage computes (defaults: a few minutes on the shipped C=32, T=16 checkpoints).

    ``k`` leading eigenvalues wherever they are shown or followed (spectrum, continuation, cycle,
    ε-sweep, drift; the continuation's step control watches every mode of its window, so a
    smaller window would let a mode from below it cross unseen in a long step); ``knockout_k`` for
    the knockout's per-value spectra, whose table and verdict use the leading mode only: on a
    clustered spectrum each further eigenvalue costs many products."""

    eps: float = 0.1
    k: int = 6
    knockout_k: int = 2
    param: str = "alpha"
    span: tuple[float, float] = (0.2, 1.5)
    ds_max: float = 0.1
    max_points: int = 80
    cycles_points: int = 9
    cycles_steps: int = 2000
    cycles_tail: int = 500
    cycle_steps: int = 4000
    sweep_points: int = 8
    sweep_steps: int = 2000
    knockout: tuple[float, ...] = (1.0, 0.7, 0.4, 0.2, 0.0)
    knockout_steps: int = 2000
    grad_t1: int = 60
    grad_t2: tuple[int, ...] = (20, 40, 80)
    grad_betas: tuple[float, ...] = (0.02, 0.5)
    grad_asym: tuple[float, ...] = (0.0, 0.5, 1.0)
    grad_fp_steps: int = 2000

    def quick(self) -> "Settings":
        """The same analyses, a few seconds each on tiny models (tests, smoke runs)."""
        return replace(self, k=4, span=(0.5, 1.0), ds_max=0.25, max_points=6, cycles_points=3, cycles_steps=1500,
                       cycles_tail=300, cycle_steps=600, sweep_points=3,
                       sweep_steps=600, knockout=(1.0, 0.0), knockout_steps=600, grad_t1=20, grad_t2=(10,),
                       grad_betas=(0.02,), grad_asym=(1.0,), grad_fp_steps=300)


class Skip(Exception):
    """A stage that does not apply to this field; the message says why."""


@dataclass
class Plan:
    """What a stage would compute: its settings (part of the reuse key) and how."""

    settings: dict
    compute: Callable[[], xr.Dataset]


# -- plans -------------------------------------------------------------------------------------
def plan_spectrum(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..spectral.spectrum import spectrum

    return Plan({"eps": s.eps, "k": s.k}, lambda: spectrum(field, k=s.k, eps=s.eps))


def _knob(field: Field, s: Settings) -> str:
    if s.param not in field.params:
        raise Skip(f"the field has no knob {s.param!r} (its knobs: {', '.join(sorted(field.params)) or 'none'})")
    return s.param


def plan_continuation(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..continuation import ContinuationOptions, ContinuationProblem, continuation

    param = _knob(field, s)
    tol = 1e-9 if field.dtype == torch.float64 else 2e-5
    opts = ContinuationOptions(*s.span, ds=min(0.02, s.ds_max), ds_max=s.ds_max, k=s.k, max_points=s.max_points,
                               tol=tol)
    problem = ContinuationProblem(field, param, s.eps)
    return Plan({"param": param, "eps": s.eps, **opts.to_dict()},
                lambda: continuation(problem, opts, progress=progress).to_dataset())


def cycles_grid(continuation: xr.Dataset, points: int) -> tuple[str, float, list[float]]:
    """(kind, knob value, grid) of the first loss of stability along the continuation (its special
    point of a Hopf or Neimark–Sacker kind nearest the start): the grid runs from a tenth of the range
    before it to the end of the range asked for (where the branch may have stopped earlier), so the
    branch starts on the fixed point and follows the oscillation past the boundary."""
    from .. import events

    param = str(continuation.attrs["param"])
    p = continuation[param].values
    kinds = [str(k) for k in continuation["special_kind"].values]
    lost = [i for i, k in enumerate(kinds) if k in events.names("fixed_point", pair=True)]
    if not lost:
        raise Skip("the continuation finds no Hopf or Neimark–Sacker point: no oscillation to follow")
    i = min(lost, key=lambda j: abs(float(continuation["special_param"].values[j]) - p[0]))
    asked = store.attr_json(continuation, "options") or {}
    at, start, end = float(continuation["special_param"].values[i]), float(p[0]), float(asked.get("p_end", p[-1]))
    first = at - 0.1 * (end - start)
    first = max(first, start) if end > start else min(first, start)
    return kinds[i], at, [float(f"{v:.4g}") for v in np.linspace(first, end, points)]


def plan_cycles(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..cycles.map_branch import map_branch

    if "continuation" not in done:
        raise Skip("no continuation to start from")
    cont = done["continuation"]
    kind, at, grid = cycles_grid(cont, s.cycles_points)
    param, eps = str(cont.attrs["param"]), float(cont.attrs["eps"])

    def compute():
        shout = (lambda pt: print(f"  {pt.direction} {param} = {pt.value:.4g}: {pt.kind}", flush=True)) \
            if progress else None
        ds = map_branch(field, param, grid, eps, steps=s.cycles_steps, tail=s.cycles_tail, observer=shout)
        ds.attrs.update(start_kind=kind, start_param=at)
        return ds

    return Plan({"param": param, "values": grid, "eps": eps, "steps": s.cycles_steps, "tail": s.cycles_tail}, compute)


def plan_cycle(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..dynamics import analyse_cycle

    return Plan({"eps": s.eps, "steps": s.cycle_steps, "k": s.k},
                lambda: analyse_cycle(field, s.eps, s.cycle_steps, k=s.k, progress=progress))


def sweep_grid(spectrum: xr.Dataset | None, eps: float, points: int) -> list[float]:
    """Step sizes bracketing the spectrum's ε_crit (and the report's ε), geometric, 3 digits."""
    crit = float(spectrum["min_eps_crit"]) if spectrum is not None else 0.0
    lo, hi = (min(crit, eps) / 3, max(crit, eps) * 1.6) if crit > 0 else (eps / 10, 2 * eps)
    return sorted({float(f"{e:.3g}") for e in np.geomspace(lo, hi, points)} | {eps})


def plan_eps_sweep(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..dynamics import eps_sweep

    grid = sweep_grid(done.get("spectrum"), s.eps, s.sweep_points)
    return Plan({"eps": grid, "steps": s.sweep_steps, "k": s.k},
                lambda: eps_sweep(field, grid, s.sweep_steps, k=s.k, progress=progress))


def plan_knockout(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..dynamics import knockout

    param = _knob(field, s)
    target = "attn" if param == "alpha" else param
    return Plan({"target": target, "values": list(s.knockout), "eps": s.eps, "steps": s.knockout_steps, "k": s.knockout_k},
                lambda: knockout(field, target, s.knockout, s.eps, s.knockout_steps, k=s.knockout_k, progress=progress))


def _same_run(a: dict, b: dict, lanes: bool = False) -> bool:
    """Two trainer configs of one run (they may differ only in how long it trained); with ``lanes``,
    also two lanes of one comparison from the same start (EP vs BPTT: :data:`~..train.config.LANE`)."""
    from ..train.config import EXTENDABLE, LANE

    free = set(EXTENDABLE) | (set(LANE) if lanes else set())
    return isinstance(a, dict) and isinstance(b, dict) and \
        {k: v for k, v in a.items() if k not in free} == {k: v for k, v in b.items() if k not in free}


def _run_root(path: Path) -> Path:
    """The run directory of a snapshot (``RUN/s0400.pt`` or ``RUN/<rule>/s0400.pt``)."""
    return path.parent.parent if path.parent.name in ("ep", "bptt") else path.parent


def find_monitor(path: Path, config: dict) -> Path | None:
    """The ``monitor.zarr`` of the run that wrote the snapshot ``path`` (same trainer config)."""
    monitor = _run_root(path) / "monitor.zarr"
    if monitor.exists() and _same_run(store.attr_json(store.read(monitor), "train_config"), config):
        return monitor
    return None


def find_snapshots(path: Path, config: dict) -> list[dict]:
    """The snapshots of the run that wrote ``path`` and of its other lanes from the same start (EP and
    BPTT side by side), as sweep points (step, then rule order)."""
    root = _run_root(path)
    points = []
    for p in sorted({*root.glob("*.pt"), *root.glob("*/*.pt")}):
        try:
            ck = checkpoint.read(p)
        except StabilityLabError:
            continue
        if _same_run(ck.provenance.get("train_config"), config, lanes=True):
            points.append({"checkpoint": str(p), "step": ck.step, "rule": str(ck.rule or ""),
                           "checkpoint_sha256": ck.sha256, "batch_seed": 0})
    return sorted(points, key=lambda q: (q["step"], q["rule"]))


def _snapshot_sweep(points: list[dict], eps: float, k: int, dtype: str, progress: bool) -> xr.Dataset:
    """``sweep spectrum`` over ``points`` (serial, in-process), read back into memory."""
    from ..parallel import run_sweep
    from ..parallel.points import CheckpointSource, SpectrumPoint

    compute = SpectrumPoint(eps, k, source=CheckpointSource(dtype=dtype))
    settings = {"analysis": "spectrum", "eps": eps, "k": k, "dtype": dtype}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "drift.zarr"
        run_sweep(points, compute, out, compute.template(), settings=settings,
                  attrs={**store.provenance(None, **settings), "analysis": "sweep-spectrum"}, workers=0,
                  progress=progress)
        return store.read(out)


def plan_drift(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    if "checkpoint" not in field.meta:
        raise Skip("a user field has no training run")
    path = Path(field.meta["checkpoint"])
    config = checkpoint.read(path).provenance.get("train_config")
    if not config:
        raise Skip(f"{path.name} was not written by the trainer (no training run to follow)")
    monitor = find_monitor(path, config)
    if monitor is not None:
        ds = store.read(monitor)
        return Plan({"monitor": str(monitor.resolve()), "created": ds.attrs.get("created")}, lambda: ds)
    points = find_snapshots(path, config)
    if len({p["step"] for p in points}) < 2:
        raise Skip(f"no monitor.zarr and fewer than two snapshots of the run beside {path}")
    eps, dtype = float(config.get("eps", s.eps)), str(field.dtype).replace("torch.", "")
    return Plan({"snapshots": [p["checkpoint_sha256"] for p in points], "eps": eps, "k": s.k, "dtype": dtype},
                lambda: _snapshot_sweep(points, eps, s.k, dtype, progress))


def plan_gradients(field: Field, s: Settings, done: dict, progress: bool) -> Plan:
    from ..gradients.study import check_study, run_study
    try:
        check_study(field)
    except StabilityLabError as exc:
        raise Skip(str(exc)) from None
    opts = dict(eps=s.eps, T1=s.grad_t1, beta=s.grad_betas[0], t2s=list(s.grad_t2), betas=list(s.grad_betas),
                asyms=list(s.grad_asym), fp_steps=s.grad_fp_steps, fp_tol=1e-10)

    def compute():
        ds = run_study(field, **opts, progress=progress)
        ds.attrs = {**store.provenance(field), **ds.attrs}
        return ds

    return Plan(opts, compute)


PLANS = {"spectrum": plan_spectrum, "continuation": plan_continuation, "cycles": plan_cycles, "cycle": plan_cycle,
         "eps_sweep": plan_eps_sweep, "knockout": plan_knockout, "drift": plan_drift, "gradients": plan_gradients}
TITLES = {"spectrum": "spectrum of J and M", "continuation": "continuation",
          "cycles": "cycle branch past the boundary", "cycle": "attractor / cycle check",
          "eps_sweep": "ε-sweep", "knockout": "knockout", "drift": "training drift",
          "gradients": "gradient fidelity"}


# -- running -----------------------------------------------------------------------------------
def source_key(field: Field) -> dict:
    """What identifies the analysed operator: checkpoint hash (or field), knobs, batch, precision."""
    meta = field.meta
    return {"checkpoint_sha256": meta.get("checkpoint_sha256"), "field": meta.get("field", field.name),
            "params": dict(field.params), "batch_idx": meta.get("batch_idx"), "state_size": field.n,
            "dtype": str(field.dtype)}


def reuse_key(stage: str, field: Field, settings: dict) -> str:
    """The attribute a stored result must carry to be reused for ``stage`` with ``settings``."""
    return json.dumps({"stage": stage, "source": source_key(field), "settings": settings}, sort_keys=True,
                      default=str)


def _stored(path: Path, key: str) -> xr.Dataset | None:
    if not path.exists():
        return None
    try:
        ds = store.read(path)
    except StabilityLabError:
        return None
    return ds if ds.attrs.get(KEY_ATTR) == key else None


def run(field: Field, settings: Settings, folder: str | Path, *, skip=(), recompute: bool = False,
        progress: bool = False, log: Callable[[str], None] = print) -> dict[str, xr.Dataset]:
    """Run (or reuse) every stage not in ``skip``; ``{stage: dataset as stored}``, stage order. Each
    computed stage's log line states its cost in seconds and in forward passes of the field."""
    folder = Path(folder)
    unknown = set(skip) - set(STAGES)
    if unknown:
        raise StabilityLabError(f"unknown stage(s) {sorted(unknown)}; stages: {', '.join(STAGES)}")
    todo = [name for name in STAGES if name not in skip]
    done: dict[str, xr.Dataset] = {}
    forward = None  # seconds of one forward, timed once a stage is computed (not on a reused report)
    for i, name in enumerate(todo, start=1):
        head = f"[{i}/{len(todo)}] {TITLES[name]}"
        path = folder / f"{name}.zarr"
        try:
            plan = PLANS[name](field, settings, done, progress)
        except Skip as why:
            log(f"{head}: skipped ({why})")
            continue
        key = reuse_key(name, field, plan.settings)
        ds = None if recompute else _stored(path, key)
        if ds is not None:
            log(f"{head}: reused {path}")
        else:
            log(f"{head}: computing …")
            t0 = time.perf_counter()
            try:
                ds = plan.compute()
            except StabilityLabError as exc:
                log(f"{head}: failed ({exc}); the report leaves it out")
                continue
            ds.attrs.update({"report_stage": name, KEY_ATTR: key, "report_settings": json.dumps(asdict(settings))})
            store.write(ds, path, ds.attrs.get("analysis") or {"gradients": "gradcheck"}.get(name, name))
            ds = store.read(path)
            took = time.perf_counter() - t0
            forward = forward or field.forward_seconds()
            log(f"{head}: done in {took:.1f} s ≈ {took / forward:,.0f} forward passes → {path}")
        done[name] = ds
    return done
