"""The ``stabilitylab`` command line: a click group whose commands live in ``stabilitylab.commands``.

Commands are discovered from the modules of that package and imported only when used, so
``stabilitylab --help`` stays fast. A :class:`~stabilitylab.errors.StabilityLabError` raised by any
command is printed as one line (``error: ...``) with exit status 2, without a traceback. Any other
exception is one line too, exit status 1: where it was raised in a user's own code (a ``--field``
module), "the field's code raised ...", else "unexpected ... (a bug)"; ``stabilitylab --debug
COMMAND`` shows the traceback instead.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import shlex
import traceback
from pathlib import Path

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


def _library_file(filename: str) -> bool:
    """A frame in stabilitylab itself, an installed package or the standard library."""
    path = Path(filename).resolve()
    roots = [Path(__file__).resolve().parent, Path(os.__file__).resolve().parent]
    return "site-packages" in path.parts or "dist-packages" in path.parts or any(
        root == path or root in path.parents for root in roots) or filename.startswith("<")


def crash_message(exc: Exception) -> str:
    """One line for an exception that is not a StabilityLabError (see the module docstring)."""
    frames = traceback.extract_tb(exc.__traceback__)
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0] if str(exc) else type(exc).__name__
    package = Path(__file__).resolve().parent
    ours = [i for i, f in enumerate(frames) if package in Path(f.filename).resolve().parents]
    called = frames[ours[0]:] if ours else frames  # the frames stabilitylab called (not its caller's)
    user = [f for f in called if not _library_file(f.filename)]
    if user:
        f = user[-1]
        return (f"the field's code raised {what} (at {Path(f.filename).name}:{f.lineno}, in {f.name}); "
                "fix the field, or rerun with stabilitylab --debug for the traceback")
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (f"unexpected {what}{where}: this is a bug in stabilitylab; rerun with stabilitylab --debug for "
            "the traceback and report it")


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
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"error: {crash_message(exc)}", err=True)
            ctx.exit(1)
        finally:
            COMMAND_LINE.reset(token)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="stabilitylab")
@click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected error (a crash in a field's "
              "code or in stabilitylab) instead of one line.")
@click.pass_context
def cli(ctx, debug):
    """Stability analysis of equilibrium (fixed-point) neural networks.

    A checkpoint (or any torch vector field, --field) defines F(z); relaxation iterates the Euler
    map z <- z + eps*F(z). The commands find fixed points, compute the leading spectrum of the
    Jacobian J and of the Euler map M = I + eps*J matrix-free, continue fixed points in a knob and
    locate bifurcations, detect limit cycles, sweep eps and knockouts, compare gradient
    estimators, train equilibrium transformers, and write everything to zarr with a figure.

    Residuals are always named: force residual ||F(z)||/max(||z||,1) (solver independent) and step
    residual ||eps*F(z)||/max(||z||,1) (depends on eps).
    """
    ctx.meta["debug"] = debug


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")  # the commands save figures to files, never windows
    cli(prog_name="stabilitylab")
