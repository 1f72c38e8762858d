"""``stabilitylab init``: a seeded, randomly initialised checkpoint."""
from __future__ import annotations

import click

from .common import console, user_errors


@click.command("init")
@click.option("--vocab", default=None, type=int, help="Alphabet size (default: the corpus's).")
@click.option("--C", "C", default=32, show_default=True, help="Channels (state width per token).")
@click.option("--H", "H", default=4, show_default=True, help="Attention heads (must divide C).")
@click.option("--T", "T", default=16, show_default=True, help="Context length (tokens).")
@click.option("--c", "c", default=1.0, show_default=True, help="Damping leak c (F gets -c*z).")
@click.option("--qknorm/--no-qknorm", default=True, show_default=True, help="RMS-normalise q and k per head.")
@click.option("--mode", type=click.Choice(["thick", "conservative"]), default="thick", show_default=True,
              help="thick: non-conservative transformer block; conservative: force = -grad(energy).")
@click.option("--init-gain", default=1.0, show_default=True, help="Scale of the random block weights.")
@click.option("--data", default=None, metavar="PATH.txt",
              help="Corpus whose vocabulary the model uses (default: the generated offline corpus).")
@click.option("--seed", default=0, show_default=True, help="Initialisation seed.")
@click.option("--out", required=True, metavar="PATH.pt", help="Checkpoint file to write.")
@user_errors
def command(vocab, C, H, T, c, qknorm, mode, init_gain, data, seed, out):
    """Write a seeded random-initialised checkpoint (every analysis works on it)."""
    from ..checkpoint import save
    from ..data import corpus_from_spec
    from ..model import BlockConfig, make_block

    corpus = corpus_from_spec(data)
    cfg = BlockConfig(vocab=vocab or corpus.vocab_size, C=C, H=H, T=T, c=c, qknorm=qknorm,
                      mode=mode, init_gain=init_gain)
    block = make_block(cfg, seed)
    path = save(out, block, step=0, rule="init", data=corpus.describe(),
                provenance={"init_seed": seed})
    n = sum(p.numel() for p in block.parameters())
    console.print(f"wrote {path}: {mode} block C={C} H={H} T={T} vocab={cfg.vocab} c={c}, {n:,} parameters")
