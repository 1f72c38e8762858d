"""Time per training step and peak memory of the EP (AsymEP) and BPTT rules of the trainer.

    python benchmarks/bench_train.py [--steps 10 --threads 1]

For each configuration (the shipped checkpoints' one, and C=128, T=64) and each rule, a fresh
subprocess builds the block and its AdamW lane, takes two warm-up updates and then times
``--steps`` updates of :func:`stabilitylab.train.step.train_step` on seeded batches of the
generated corpus. It reports CPU seconds per step (this process only, so other load on a shared
machine does not inflate it), wall seconds per step, and peak memory: the process's peak resident
set (``getrusage`` ru_maxrss) and its growth during the updates over the resident set after setup
(model, optimiser, batches), which is what training itself holds at its peak (for BPTT, autograd's
graph through the T1-step unroll). The EP/BPTT ratio is taken on CPU time.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

#: (label, TrainConfig overrides); the first is the configuration of checkpoints/README.md
CONFIGS = (
    ("shipped C=32 T=16", dict(C=32, H=4, T=16, c=0.25, init_gain=0.5, eps=0.25, T1=40, T2=20, batch_size=8)),
    ("C=128 T=64", dict(C=128, H=4, T=64, c=1.0, eps=0.1, T1=60, T2=20, batch_size=8)),
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def one(rule: str, overrides: dict, steps: int, threads: int) -> dict:
    """Measure one rule in this process (called in a subprocess by :func:`main`)."""
    import torch

    from stabilitylab.data import corpus_from_spec
    from stabilitylab.train import TrainConfig
    from stabilitylab.train.step import Lane, train_step

    torch.set_num_threads(threads)
    cfg = TrainConfig(rule=rule, **overrides)
    corpus = corpus_from_spec(None)
    lane = Lane.fresh(rule, cfg, corpus.vocab_size)
    gen = torch.Generator().manual_seed(0)
    batches = [corpus.batch("train", cfg.batch_size, cfg.T, gen) for _ in range(steps + 2)]
    base = _rss_mb()
    for x, y in batches[:2]:
        train_step(lane, x, y, cfg, cfg.lr)
    cpu, wall = time.process_time(), time.perf_counter()
    for x, y in batches[2:]:
        train_step(lane, x, y, cfg, cfg.lr)
    cpu, wall = (time.process_time() - cpu) / steps, (time.perf_counter() - wall) / steps
    peak = _rss_mb()
    return {"cpu_s": cpu, "wall_s": wall, "peak_mb": peak, "growth_mb": peak - base}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        rule, overrides = json.loads(args.one)
        print(json.dumps(one(rule, overrides, args.steps, args.threads)))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training step cost ({args.steps} steps, {args.threads} thread(s))")
    for col in ("config", "rule", "CPU s/step", "wall s/step", "EP/BPTT (CPU)", "peak RSS MB", "RSS growth MB"):
        table.add_column(col, justify="right")
    for label, overrides in CONFIGS:
        res = {}
        for rule in ("ep", "bptt"):
            cmd = [sys.executable, __file__, "--steps", str(args.steps), "--threads", str(args.threads),
                   "--one", json.dumps([rule, overrides])]
            res[rule] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        ratio = res["ep"]["cpu_s"] / res["bptt"]["cpu_s"]
        for rule in ("ep", "bptt"):
            r = res[rule]
            table.add_row(label, rule, f"{r['cpu_s']:.3f}", f"{r['wall_s']:.3f}",
                          f"{ratio:.2f}" if rule == "ep" else "", f"{r['peak_mb']:.0f}", f"{r['growth_mb']:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
