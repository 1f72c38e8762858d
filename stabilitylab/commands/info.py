"""``stabilitylab info``: what a checkpoint holds."""
from __future__ import annotations

import click

from .common import fmt, table, user_errors


@click.command("info")
@click.option("--ckpt", default=None, metavar="PATH", help="Checkpoint (default: the project's default).")
@click.option("--config", "config_text", default=None, metavar="K=V,...",
              help="Config of a research-format file (an 'allp' list without config), every key "
                   "stated: see `stabilitylab spectrum --help`.")
@user_errors
def command(ckpt, config_text):
    """Print a checkpoint's config, parameter count, state size and provenance."""
    from ..checkpoint import read

    ck = read(ckpt, config_text)
    cfg = ck.config
    nparam = sum(t.numel() for t in ck.state_dict.values())
    rows = [(k, str(v)) for k, v in cfg.to_dict().items()]
    rows += [("parameters", f"{nparam:,}"), ("state size (B=1)", f"{cfg.T * cfg.C:,} = T*C"),
             ("step", str(ck.step)), ("rule", str(ck.rule)), ("sha256", ck.sha256[:16] + "…")]
    if ck.data:
        rows.append(("corpus", str(ck.data.get("source"))))
    for k, v in (ck.monitor or {}).items():
        rows.append((f"monitor.{k}", fmt(v)))
    table(f"checkpoint {ck.path}", ["field", "value"], rows)
