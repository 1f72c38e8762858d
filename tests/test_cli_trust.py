"""Every analysis command takes --threads (default from the state size, recorded in the dataset);
--field finds a module in the working directory, as python -m does."""
from __future__ import annotations

import math
import sys

import pytest
import torch
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.commands.common import MULTITHREAD_STATE, default_threads

ANALYSES = [["spectrum"], ["continuation"], ["cycle"], ["eps-sweep"], ["knockout"], ["gradcheck"], ["relax"],
            ["report"], ["train"], ["sweep", "spectrum"], ["sweep", "batches"]]


@pytest.mark.parametrize("command", ANALYSES, ids=" ".join)
def test_every_analysis_command_accepts_threads(command):
    res = CliRunner().invoke(cli, [*command, "--help"])
    assert res.exit_code == 0 and "--threads" in res.output, res.output


def test_threads_default_from_state_size_and_recorded(tmp_path, monkeypatch):
    assert default_threads(512) == 1 and default_threads(MULTITHREAD_STATE) >= 1
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        out = tmp_path / "relax.zarr"
        args = ["relax", "--field", "stabilitylab.examples:linear", "--steps", "20", "--out", str(out)]
        assert CliRunner().invoke(cli, args).exit_code == 0
        assert store.read(out).attrs["torch_threads"] == 1  # an 8-number state: one thread
        assert CliRunner().invoke(cli, [*args, "--threads", "2"]).exit_code == 0
        assert store.read(out).attrs["torch_threads"] == 2
    finally:
        torch.set_num_threads(before)


MODULE = """
from stabilitylab import examples

def make():
    return examples.linear(n=6)
"""


def test_field_module_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "mylocalfield.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "mylocalfield", raising=False)
    res = CliRunner().invoke(cli, ["relax", "--field", "mylocalfield:make", "--steps", "20"])
    assert res.exit_code == 0, res.output
    assert store.read(tmp_path / "relax.zarr").attrs["state_size"] == 6
    res = CliRunner().invoke(cli, ["relax", "--field", "nosuchmodule:make", "--out", "r2.zarr"])
    assert res.exit_code == 2 and "searched the current directory" in res.output
    assert "current directory" in CliRunner().invoke(cli, ["relax", "--help"]).output


def test_tables_fit_80_columns_by_leaving_columns_out_never_cutting_numbers(monkeypatch):
    from rich.console import Console

    from stabilitylab.commands import common

    rec = Console(width=80, record=True, highlight=False)
    monkeypatch.setattr(common, "console", rec)
    cols = ["#", "alpha", "||z||", "r_F", "Newton", "leading λ(J)", "max|μ|", "J", "M", "event before next"]
    row = ["12", "0.2", "3.21", "1.2e-10", "3", "-0.23579+0.12345i", "0.99876", "stable", "UNSTABLE(2)",
           "neimark_sacker(M)"]
    common.table("branch", cols, [row], secondary=["||z||", "Newton", "r_F", "J"])
    text = rec.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    for cell in ("-0.23579+0.12345i", "0.99876", "neimark_sacker(M)", "UNSTABLE(2)"):
        assert cell in text
    assert "left out at this width: ||z||, r_F, Newton, J" in text
    assert common.fitting_columns(cols, [row], 200) == list(range(len(cols)))


def test_continuation_summary_at_80_columns_shows_criticality_and_one_closing_verdict(tmp_path, monkeypatch):
    """Stuart–Landau at ε = 0.1: the Euler map's NS at μ = −0.05013 (|1 + ε(μ + i)| = 1), then the
    flow's Hopf at μ = 0, both supercritical; the printed summary says so at 80 columns."""
    from rich.console import Console

    from stabilitylab.commands import common

    from stabilitylab.commands import continuation as command

    rec = Console(width=80, record=True, highlight=False)
    monkeypatch.setattr(common, "console", rec)
    monkeypatch.setattr(command, "console", rec)
    out = tmp_path / "c.zarr"
    res = CliRunner().invoke(cli, ["continuation", "--field", "stabilitylab.examples:stuart_landau", "--set",
                                   "mu=-0.2", "--param", "mu", "--range", "-0.2:0.2", "--eps", "0.1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = rec.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    specials = text[text.index("special points"):]
    rows = [ln for ln in specials.splitlines() if ln.startswith("│")]
    mu_ns = math.sqrt(1 - 0.1**2) / 0.1 - 1 / 0.1  # (1 + εμ)² + ε² = 1
    assert "neimark_sacker" in rows[0] and "supercritical" in rows[0] and f"{mu_ns:.6f}"[:8] in rows[0]
    assert "hopf" in rows[1] and "supercritical" in rows[1]
    # the Hopf is at μ = 0; printed at its located precision (a few ulps here, so the last printed
    # digit is round-off and differs between CPUs: 0 on one, -0.000000000000001 on another)
    assert abs(float(rows[1].strip("│").split("│")[2])) < 1e-12
    verdicts = [ln for ln in text.splitlines() if ln.startswith("verdict:")]
    assert len(verdicts) == 1
    flat = " ".join(text[text.index("verdict:"):].split())
    assert "Neimark–Sacker point where stability is lost" in flat and "supercritical" in flat
    ds = store.read(out)
    assert list(ds["special_criticality"].values) == ["supercritical", "supercritical"]
    assert ds["special_frequency"].attrs["units"].startswith("rad per unit time where special_operator is J")
