"""The options of `continuation` and `curve` are generated from the option dataclasses: one default,
defined once, and `--help` shows it."""
from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from stabilitylab.cli import cli
from stabilitylab.commands import continuation as cont_cmd, curve as curve_cmd
from stabilitylab.continuation.options import ContinuationOptions, CurveOptions


@pytest.mark.parametrize("module, options", [(cont_cmd, ContinuationOptions), (curve_cmd, CurveOptions)])
def test_cli_defaults_are_the_dataclass_defaults(module, options):
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    params = {p.name: p for p in module.command.params}
    help_text = " ".join(CliRunner().invoke(cli, [module.command.name, "--help"], terminal_width=200).output.split())
    for name in module.CLI_OPTIONS:
        assert params[name].default == defaults[name], name
        flag = "--" + name.replace("_", "-")
        assert flag in help_text, flag
        if defaults[name] is not None:
            after = help_text[help_text.index(flag + " "):]
            shown = after[after.index("[default: ") + 10:].split("]")[0]
            assert shown == str(defaults[name]), (name, shown)


def test_choices_come_from_the_dataclass():
    params = {p.name: p for p in cont_cmd.command.params}
    assert list(params["method"].type.choices) == ["palc", "natural"]
    assert list(params["search"].type.choices) == ["shared", "separate"]
