"""The ``stabilitylab`` command line: a click group whose commands live in ``stabilitylab.commands``.

Commands are discovered from the modules of that package and imported only when used, so
``stabilitylab --help`` stays fast. A :class:`~stabilitylab.errors.StabilityLabError` raised by any
command is printed as one line (``error: ...``) with exit status 2, without a traceback.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import shlex

import click

from . import __version__
from .errors import StabilityLabError
from . import commands as _commands

_SKIP = {"common", "settings"}  # shared plumbing, not commands


def user_message(exc: StabilityLabError) -> str:
    """A library error as the CLI says it: the argument it is about (``param``) named as its option,
    in place of the name the message starts with (``grad_clip`` → ``--grad-clip``), else at the end."""
    text, param = str(exc), getattr(exc, "param", None)
    if not param:
        return text
    flag = "--" + param.replace("_", "-")
    return flag + text[len(param):] if text.startswith(param) else f"{text} ({flag})"


class _Group(click.Group):
    def list_commands(self, ctx):
        names = [m.name for m in pkgutil.iter_modules(_commands.__path__) if m.name not in _SKIP]
        return sorted(n.replace("_", "-") for n in names)

    def get_command(self, ctx, name):
        if name.replace("-", "_") in _SKIP or name not in self.list_commands(ctx):
            return None
        mod = importlib.import_module(f"{_commands.__name__}.{name.replace('-', '_')}")
        return mod.command

    def parse_args(self, ctx, args):
        ctx.meta["command_line"] = shlex.join(["stabilitylab", *args])
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        from .invocation import COMMAND_LINE

        token = COMMAND_LINE.set(ctx.meta.get("command_line"))  # the provenance of every output
        try:
            return super().invoke(ctx)
        except StabilityLabError as exc:
            click.echo(f"error: {user_message(exc)}", err=True)
            ctx.exit(2)
        finally:
            COMMAND_LINE.reset(token)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="stabilitylab")
def cli():
    """Stability analysis of equilibrium (fixed-point) neural networks.

    A checkpoint (or any torch vector field, --field) defines F(z); relaxation iterates the Euler
    map z <- z + eps*F(z). The commands find fixed points, compute the leading spectrum of the
    Jacobian J and of the Euler map M = I + eps*J matrix-free, continue fixed points in a knob and
    locate bifurcations, detect limit cycles, sweep eps and knockouts, compare gradient
    estimators, train equilibrium transformers, and write everything to zarr with a figure.

    Residuals are always named: force residual ||F(z)||/max(||z||,1) (solver independent) and step
    residual ||eps*F(z)||/max(||z||,1) (depends on eps).
    """


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")  # the commands save figures to files, never windows
    cli(prog_name="stabilitylab")
