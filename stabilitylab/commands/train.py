"""``stabilitylab train``: train the thick block by AsymEP and/or BPTT with a stability monitor."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from .common import console, fmt, table, user_errors


@click.command("train")
@click.option("--rule", type=click.Choice(["ep", "bptt", "both"]), default="both", show_default=True,
              help="ep: AsymEP (centred ±beta nudges); bptt: backprop through the T1-step unroll; "
                   "both: the two from the same initialisation on the same batch sequence.")
@click.option("--data", default=None, metavar="PATH.txt",
              help="Character corpus (any UTF-8 text file). Default: the built-in generated corpus "
                   "(order-2 Markov text with a known entropy floor).")
@click.option("--C", "C", default=32, show_default=True, help="Channels.")
@click.option("--H", "H", default=4, show_default=True, help="Attention heads (must divide C).")
@click.option("--T", "T", default=16, show_default=True, help="Context length.")
@click.option("--c", "c", default=0.25, show_default=True, help="Damping leak c (F gets -c*z).")
@click.option("--qknorm/--no-qknorm", default=True, show_default=True, help="RMS-normalise q and k per head.")
@click.option("--init-gain", default=0.5, show_default=True, help="Scale of the random block weights.")
@click.option("--eps", default=0.25, show_default=True, help="Euler step of every relaxation.")
@click.option("--T1", "T1", default=40, show_default=True, help="Free-phase (and BPTT unroll) Euler steps.")
@click.option("--T2", "T2", default=20, show_default=True, help="EP nudged-phase Euler steps.")
@click.option("--beta", default=0.02, show_default=True, help="EP nudge strength.")
@click.option("--lr", default=1.5e-3, show_default=True, help="AdamW peak learning rate.")
@click.option("--warmup", default=100, show_default=True, help="Linear warmup steps.")
@click.option("--decay", type=click.Choice(["cosine", "linear", "none"]), default="cosine", show_default=True,
              help="Decay after warmup, to --min-lr-ratio x lr at the last step.")
@click.option("--min-lr-ratio", default=0.1, show_default=True, help="Final learning rate / peak.")
@click.option("--steps", default=1000, show_default=True,
              help="Total updates. Rerunning with a larger value continues the run (the decay is re-planned).")
@click.option("--batch-size", default=8, show_default=True, help="Sequences per update.")
@click.option("--weight-decay", default=0.0, show_default=True, help="AdamW weight decay.")
@click.option("--grad-clip", default=1.0, show_default=True,
              help="Clip the total gradient to this global norm (0 = off). One huge EP gradient from an "
                   "unconverged free phase would otherwise freeze AdamW for thousands of steps.")
@click.option("--seed", default=0, show_default=True, help="Seeds the initialisation and the batch sequence.")
@click.option("--val-size", default=64, show_default=True, help="Validation sequences for val CE.")
@click.option("--monitor-every", default=100, show_default=True, help="Stability monitor every N updates.")
@click.option("--monitor-cos", is_flag=True, help="Also monitor cos(g_EP, g_BPTT) (one extra EP and BPTT "
                                                  "gradient per lane per record).")
@click.option("--snapshot-every", default=400, show_default=True, help="Snapshot s{step:04d}.pt every N updates.")
@click.option("--jacreg", default=0.0, show_default=True, metavar="W",
              help="Jacobian penalty weight: W * E||J_g v||^2/n (Hutchinson, one JVP probe), J_g the "
                   "Jacobian of attention + FFN at the free state. 0 = off.")
@click.option("--resreg", default=0.0, show_default=True, metavar="W",
              help="Residual penalty weight: W * ||F(z)||^2/||z||^2 at the T1 state. 0 = off.")
@click.option("--controller", is_flag=True,
              help="Scale the --jacreg/--resreg weights by a gain driven by the free-phase force "
                   "residual toward --res-target (stronger above it, weaker below).")
@click.option("--res-target", default=1e-3, show_default=True, help="Force-residual target of --controller.")
@click.option("--gate", default=None, type=float, metavar="TOL",
              help="Validity gate: skip the EP task update when the free-phase force residual "
                   "||F(z)||/||z|| after T1 steps exceeds TOL (stabilisers still apply). Off by default.")
@click.option("--threads", default=1, show_default=True,
              help="Torch CPU threads (small models run fastest on one).")
@click.option("--out", required=True, metavar="RUN_DIR",
              help="Run directory: state.pt (resume), monitor.zarr, monitor.png, snapshots.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def command(threads, out, quiet, **options):
    """Train the thick equilibrium block as a character language model, by AsymEP, BPTT or both.

    The block relaxes z <- z + eps*F(z) for T1 steps from the embedding; logits = z W_head. EP nudges
    the free state by +-beta*dL/dz for T2 steps with the AsymEP correction and contrasts the two;
    BPTT differentiates the unroll. Every --monitor-every updates each rule is measured on a fixed
    analysis batch: val CE, force residual ||F||/||z|| and step residual ||eps F||/||z|| at T1, the
    leading eigenvalue of J, max|mu| of M = I + eps*J, min eps_crit, numerical abscissa and
    antisymmetry ratio; RUN_DIR/monitor.zarr (dims rule x step) and RUN_DIR/monitor.png show them,
    with the stability boundary drawn. Snapshots s{step:04d}.pt load in every analysis
    (stabilitylab spectrum --ckpt RUN_DIR/s0400.pt).

    Rerunning the same command continues the run from RUN_DIR/state.pt (weights, optimiser, step,
    RNG). Ctrl-C (or SIGTERM) finishes the current update, saves everything and stops (exit status
    130, or 143 for SIGTERM). The defaults are the model and solver of the shipped checkpoints;
    checkpoints/README.md has their exact command.
    """
    from ..train import Run, TrainConfig

    import torch

    torch.set_num_threads(threads)
    options["grad_clip"] = options["grad_clip"] or None
    cfg = TrainConfig(**options)
    from .. import store

    with store.lock(Path(out)):
        run = Run.open(cfg, out)
        if run.resumed:
            console.print(f"resuming {out} at step {run.step}")
        if run.step >= cfg.steps:
            console.print(f"{out} is already at step {run.step} (--steps {cfg.steps}); nothing to do")
        run.train(progress=not quiet)
    _summary(run)
    if run.interrupted:
        click.echo(f"interrupted ({signal.Signals(run.interrupted).name}): the run is saved in {out} at step "
                   f"{run.step}; rerun the same command to continue it", err=True)
        sys.exit(128 + run.interrupted)


def _summary(run) -> None:
    rows = []
    for rule, hist in run.history.items():
        if not hist:
            continue
        first, last = hist[0], hist[-1]
        rows.append((rule, str(last["step"]), f"{fmt(first['val_ce'])} -> {fmt(last['val_ce'])}",
                     f"{fmt(first['leading_re_J'])} -> {fmt(last['leading_re_J'])}",
                     f"{fmt(first['max_abs_mu'], 4)} -> {fmt(last['max_abs_mu'], 4)}",
                     f"{fmt(first['force_residual'])} -> {fmt(last['force_residual'])}"))
    floor = run.corpus.entropy_floor
    title = (f"{run.out} (eps={run.cfg.eps:g}; unigram entropy {run.corpus.unigram_entropy():.3f}"
             + (f", entropy floor {floor:.3f}" if floor else "") + " nats/char)")
    table(title, ["rule", "step", "val CE", "lead Re λ", "max |μ|", "force residual @T1"], rows)
    console.print(f"monitor: {run.out / 'monitor.zarr'}  figure: {run.out / 'monitor.png'}")
