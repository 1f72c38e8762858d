"""Click options generated from a frozen Settings dataclass (the library's declaration of an
analysis' settings), and the Settings read back from a command's keyword arguments.

A field ``name: T = default`` with ``metadata={"help": ...}`` becomes ``--name`` (underscores as
dashes) of type T (``metadata["choices"]``: one of those), or ``--name/--no-name`` for a bool;
:func:`options_from` makes the options of some fields only (the rest keep the dataclass default). Validation stays in the dataclass: a bad
value raises its one-line error, which the CLI shows with the option's name.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing

import click


def _option(f: dataclasses.Field, hint) -> typing.Callable:
    flag = f.name.replace("_", "-")
    helptext = f.metadata.get("help", "")
    if hint is bool:
        return click.option(f"--{flag}/--no-{flag}", f.name, default=f.default, show_default=True, help=helptext)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1
    kind = args[0] if optional else hint
    if "choices" in f.metadata:
        kind = click.Choice(list(f.metadata["choices"]))
    return click.option(f"--{flag}", f.name, type=kind, default=f.default, show_default=f.default is not None,
                        help=helptext)


def settings_options(cls) -> typing.Callable:
    """A decorator adding one option per field of the dataclass ``cls``, in field order."""
    hints = typing.get_type_hints(cls)
    opts = [_option(f, hints[f.name]) for f in dataclasses.fields(cls)]
    return lambda fn: functools.reduce(lambda g, opt: opt(g), reversed(opts), fn)


def options_from(cls, names) -> typing.Callable:
    """A decorator adding the options of the fields ``names`` of ``cls`` (in that order), each with
    the dataclass' own default."""
    hints, by_name = typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}
    opts = [_option(by_name[name], hints[name]) for name in names]
    return lambda fn: functools.reduce(lambda g, opt: opt(g), reversed(opts), fn)


def settings_from(cls, opts: dict):
    """``cls`` built from (and its fields removed from) a command's keyword arguments ``opts``."""
    return cls(**{f.name: opts.pop(f.name) for f in dataclasses.fields(cls)})
