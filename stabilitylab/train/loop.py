"""The training loop: lanes (one per rule) fed the same batch sequence, monitored, snapshotted,
resumable.

A :class:`Run` is bound to its directory. Opening it restores ``state.pt`` when present (the
configuration must match, except for how long to train and how often to monitor/snapshot), else
initialises every lane from the same seeded weights. Each update draws one batch from the seeded
batch RNG and gives it to every lane, so ``--rule both`` compares EP and BPTT on identical data.
Every ``monitor_every`` updates each lane is measured (:mod:`.monitor`) and the run state saved;
every ``snapshot_every`` updates (and at step 0 and the last step) each lane is saved as
``s{step:04d}.pt`` (in ``RUN_DIR/<rule>/`` when there are two lanes) and ``monitor.zarr`` and
``monitor.png`` are rewritten, as they are whenever :meth:`Run.train` returns. A first Ctrl-C
(or SIGTERM) finishes the current update, saves and stops (:attr:`Run.interrupted` says which
signal); a second Ctrl-C aborts.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import store
from ..checkpoint import save as save_checkpoint
from ..batches import analysis_batch
from ..data import Corpus, corpus_from_spec
from ..errors import StabilityLabError
from .config import TrainConfig
from .figure import write_figure
from .monitor import measure
from .record import record_row, renamed, to_dataset
from .schedule import lr_at
from .state import load_state, save_state
from .step import Lane, train_step

MONITOR_ZARR, MONITOR_PNG = "monitor.zarr", "monitor.png"
ANALYSIS = "train-monitor"  # the analysis attribute of monitor.zarr


@contextmanager
def interrupt_guard():
    """Yield a callable returning the signal number once SIGINT or SIGTERM arrived (0 before):
    the first one only sets the flag, a second SIGINT raises KeyboardInterrupt as usual (main
    thread only; elsewhere a no-op)."""
    flag = {"hit": 0}
    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {s: signal.getsignal(s) for s in signals}

        def handler(signum, frame):
            flag["hit"] = flag["hit"] or signum
            signal.signal(signal.SIGINT, signal.default_int_handler)

        for s in signals:
            signal.signal(s, handler)
    except ValueError:  # not the main thread
        previous = {}
    try:
        yield lambda: flag["hit"]
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass
class Run:
    """A training run bound to ``out`` (see the module docstring); build it with :meth:`open`."""

    cfg: TrainConfig
    out: Path
    corpus: Corpus
    lanes: dict
    step: int
    batch_rng: torch.Generator
    history: dict
    command: str
    resumed: bool = False
    interrupted: int = 0  # the signal that stopped the last :meth:`train` (0: it ran to the end)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def open(cls, cfg: TrainConfig, out: str | Path, command: str | None = None) -> "Run":
        """A fresh run in ``out``, or the saved one continued (its config must match ``cfg``)."""
        out = Path(out)
        corpus = corpus_from_spec(cfg.data)
        saved = load_state(out)
        if saved is not None:
            old = TrainConfig.from_dict(saved["config"])
            diff = old.mismatches(cfg)
            if diff:
                raise StabilityLabError(f"{out} holds a run with a different configuration ({'; '.join(diff)}); "
                                        "write to another run directory, or repeat the original configuration "
                                        "to continue it", param="out")
        lanes = {rule: Lane.fresh(rule, cfg, corpus.vocab_size) for rule in cfg.rules}
        batch_rng = torch.Generator().manual_seed(cfg.seed + 1)
        run = cls(cfg, out, corpus, lanes, 0, batch_rng, {r: [] for r in cfg.rules},
                  command or store.COMMAND_LINE.get() or "python")
        if saved is not None:
            run.step = saved["step"]
            run.batch_rng.set_state(saved["batch_rng"])
            for rule, lane in lanes.items():
                lane.load_state_dict(saved["lanes"][rule])
            run.history = {rule: [renamed(row) for row in rows] for rule, rows in saved["history"].items()}
            run.resumed = True
        return run

    # -- fixed evaluation data ---------------------------------------------------------------
    def _eval_data(self):
        cfg = self.cfg
        val = self.corpus.batch("val", cfg.val_size, cfg.T, torch.Generator().manual_seed(cfg.seed + 2))
        idx = analysis_batch(self.corpus.vocab_size, cfg.T, 1, 0, self.corpus)
        cos = (val[0][:cfg.batch_size], val[1][:cfg.batch_size]) if cfg.monitor_cos else None
        return val, idx, cos

    # -- outputs -----------------------------------------------------------------------------
    def snapshot_path(self, rule: str, step: int) -> Path:
        sub = self.out / rule if len(self.lanes) > 1 else self.out
        return sub / f"s{step:04d}.pt"

    def _provenance(self) -> dict:
        return {"command": self.command, "train_config": self.cfg.to_dict()}

    def _snapshot(self, rule: str) -> Path:
        latest = self.history[rule][-1] if self.history[rule] else {}
        monitor = {k: v for k, v in latest.items() if isinstance(v, (int, float))}
        if monitor:
            monitor["monitor_step"] = monitor.pop("step")
        return save_checkpoint(self.snapshot_path(rule, self.step), self.lanes[rule].block, step=self.step,
                               rule=rule, data=self.corpus.describe(), monitor=monitor,
                               provenance=self._provenance())

    def dataset(self):
        """The monitor history as an xarray Dataset (see :mod:`.record`)."""
        attrs = store.provenance(command=self.command, train_config=self.cfg.to_dict(),
                                 corpus=self.corpus.describe(), entropy_floor=self.corpus.entropy_floor,
                                 unigram_entropy=self.corpus.unigram_entropy(), eps=self.cfg.eps,
                                 T1=self.cfg.T1, analysis_batch="analysis_batch(seed=0, B=1), val split",
                                 dtype="float64")
        return to_dataset(self.history, attrs)

    def save(self) -> None:
        """Write the run state (atomically)."""
        save_state(self.out, self.cfg.to_dict(), self.step, self.batch_rng,
                   {r: lane.state_dict() for r, lane in self.lanes.items()}, self.history)

    def write_outputs(self) -> None:
        """Save the run state, and rewrite monitor.zarr and monitor.png in full."""
        self.save()
        if not any(self.history.values()):
            return
        ds = self.dataset()
        store.write(ds, self.out / MONITOR_ZARR, ANALYSIS)
        write_figure(self.out / MONITOR_PNG, ds, self.cfg.eps, entropy_floor=self.corpus.entropy_floor,
                     unigram=self.corpus.unigram_entropy(), title=self.command)

    # -- the loop ----------------------------------------------------------------------------
    def _monitor(self, eval_data) -> None:
        val, idx, cos = eval_data
        for rule, lane in self.lanes.items():
            c = lane.counters
            n = c["loss_n"] or float("nan")
            loop = {"train_ce": c["loss_sum"] / n, "grad_norm": c["grad_norm_sum"] / n,
                    "lr": lr_at(max(self.step - 1, 0), self.cfg.lr, self.cfg.warmup, self.cfg.steps,
                                self.cfg.decay, self.cfg.min_lr_ratio),
                    "gate_skips": c["gate_skips"], "nonfinite_skips": c["nonfinite_skips"],
                    "stabiliser_gain": lane.controller.gain}
            rec = measure(lane.block, self.cfg, idx, val, cos)
            self.history[rule].append(record_row(self.step, rec, loop))
            c.update(loss_sum=0.0, grad_norm_sum=0.0, loss_n=0)

    def train(self, progress: bool = True, max_updates: int | None = None) -> None:
        """Train to ``cfg.steps``, or for at most ``max_updates`` updates in this call."""
        cfg = self.cfg
        eval_data = self._eval_data()
        done = 0
        with interrupt_guard() as interrupted, _progress(progress, cfg.steps, self.step) as bar:
            if self.step == 0 and not any(self.history.values()):
                self._monitor(eval_data)
                for rule in self.lanes:
                    self._snapshot(rule)
                bar(self, None)
            while self.step < cfg.steps and not interrupted() and (max_updates is None or done < max_updates):
                x, y = self.corpus.batch("train", cfg.batch_size, cfg.T, self.batch_rng)
                lr = lr_at(self.step, cfg.lr, cfg.warmup, cfg.steps, cfg.decay, cfg.min_lr_ratio)
                outcomes = {rule: train_step(lane, x, y, cfg, lr) for rule, lane in self.lanes.items()}
                self.step += 1
                done += 1
                last = self.step == cfg.steps
                if self.step % cfg.monitor_every == 0 or last:
                    self._monitor(eval_data)
                if self.step % cfg.snapshot_every == 0 or last:
                    for rule in self.lanes:
                        self._snapshot(rule)
                    if not last:
                        self.write_outputs()
                elif self.step % cfg.monitor_every == 0:
                    self.save()
                bar(self, outcomes)
            self.write_outputs()
            self.interrupted = interrupted()


@contextmanager
def _progress(enabled: bool, total: int, start: int):
    """Yield ``update(run, outcomes)``: a rich progress bar with the latest CE, val CE and residual."""
    if not enabled:
        yield lambda run, outcomes: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}")) as bar:
        task = bar.add_task("", total=total, completed=start)

        def update(run: Run, outcomes):
            parts = []
            for rule in run.lanes:
                h = run.history[rule][-1] if run.history[rule] else None
                o = outcomes[rule] if outcomes else None
                txt = f"{rule}: "
                txt += f"CE {o.loss:.3f} r_F {o.force_residual:.1e}" if o else ""
                txt += f" | val {h['val_ce']:.3f} Reλ {h['leading_re_J']:+.2f} |μ| {h['max_abs_mu']:.3f}" if h else ""
                parts.append(txt)
            bar.update(task, completed=run.step, description="   ".join(parts))

        yield update
