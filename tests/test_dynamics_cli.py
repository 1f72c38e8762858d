"""The cycle / eps-sweep / knockout commands end to end (CliRunner), and their one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def tiny(tmp_path, runner):
    path = tmp_path / "tiny.pt"
    res = runner.invoke(cli, ["init", "--C", "16", "--H", "2", "--T", "8", "--seed", "1", "--out", str(path)])
    assert res.exit_code == 0, res.output
    return path


def run(runner, args):
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res.output


def test_cycle_on_a_stuart_landau_field(runner, tmp_path):
    out = tmp_path / "cyc.zarr"
    text = run(runner, ["cycle", "--field", "stabilitylab.examples:stuart_landau", "--steps", "600",
                        "--k", "3", "--out", str(out)])
    assert "limit_cycle" in text and "Floquet multipliers" in text and "verdict:" in text
    ds = store.read(out)
    assert ds["kind"].item() == "limit_cycle" and ds["period"].item() == pytest.approx(62.727, rel=1e-3)
    assert bool(ds["cycle_stable"]) and ds["floquet_multiplier"].dims == ("mode",)
    assert ds["force_residual"].dims == ("step",) and ds.attrs["field"] == "stabilitylab.examples:stuart_landau"
    # the cycle surrounds the fixed point z* = 0, whose pair mu ± i·omega has crossed: |μ| > 1
    assert float(ds["max_abs_mu"]) > 1 and "continuous-unstable" in ds.attrs["verdict"]
    assert out.with_suffix(".png").exists()


def test_eps_sweep_and_knockout_agree_on_the_untrained_checkpoint(runner, tmp_path):
    # ε = 0.3 is past the checkpoint's Neimark–Sacker step (ε_crit ≈ 0.19): a cycle around a fixed
    # point with |μ| > 1; ε = 0.1 converges; knocking the attention out restores the fixed point.
    sweep = tmp_path / "eps.zarr"
    text = run(runner, ["eps-sweep", "--ckpt", "default.pt", "--eps", "0.1,0.3", "--steps", "600", "--no-lyapunov", "--k", "4",
                        "--out", str(sweep)])
    ds = store.read(sweep)
    assert list(ds["kind"].values) == ["fixed_point", "limit_cycle"] and 0.1 < float(ds["eps_crit"]) < 0.3
    assert ds["residual_floor"].values[0] < ds["residual_floor"].values[1]
    assert "consistent" in ds.attrs["verdict"] and "ε_crit" in text and sweep.with_suffix(".png").exists()
    ko = tmp_path / "ko.zarr"
    text = run(runner, ["knockout", "--ckpt", "default.pt", "--eps", "0.3", "--alpha", "1.0,0.0", "--steps", "600", "--no-lyapunov",
                        "--k", "2", "--out", str(ko)])
    ds = store.read(ko)
    assert ds["kind"].dims == ("alpha",) and list(ds["kind"].values) == ["limit_cycle", "fixed_point"]
    assert "res-floor" in text and "spectrum agrees" in ds.attrs["verdict"] and ko.with_suffix(".png").exists()


def test_cycle_knockout_of_one_head_and_eps_sweep_on_a_tiny_checkpoint(runner, tiny, tmp_path):
    cyc = tmp_path / "cyc.zarr"
    text = run(runner, ["cycle", "--ckpt", str(tiny), "--steps", "300", "--k", "2", "--out", str(cyc)])
    ds = store.read(cyc)
    assert ds["kind"].item() in ("fixed_point", "limit_cycle") and "verdict:" in text
    assert ds.attrs["checkpoint_sha256"] and cyc.with_suffix(".png").exists()
    ko = tmp_path / "head.zarr"
    run(runner, ["knockout", "--ckpt", str(tiny), "--target", "head:1", "--alpha", "1,0", "--steps", "200",
                 "--k", "2", "--no-lyapunov", "--out", str(ko)])
    ds = store.read(ko)
    assert ds["kind"].dims == ("head_1",) and ds["eig_M"].dims == ("head_1", "mode")
    sweep = tmp_path / "eps.zarr"
    run(runner, ["eps-sweep", "--ckpt", str(tiny), "--eps", "0.05:0.2:3", "--log", "--steps", "200",
                 "--k", "2", "--no-lyapunov", "--out", str(sweep)])
    ds = store.read(sweep)
    assert np.allclose(ds["eps"].values, [0.05, 0.1, 0.2]) and ds["force_residual"].dims == ("eps", "step")


@pytest.mark.parametrize("args,message", [
    (["eps-sweep", "--eps", "0.2:0.1"], "START:STOP:NUM"),
    (["eps-sweep", "--eps", "0:0.1:3"], "must be > 0"),
    (["eps-sweep", "--eps", "0.1:0.2:0"], "number of points"),
    (["cycle", "--eps", "-0.1"], "--eps must be > 0"),
    (["cycle", "--steps", "3"], "at least 8"),
    (["knockout", "--target", "bogus"], "no knob 'bogus'"),
    (["knockout", "--target", "head:x"], "head:INDEX"),
    (["knockout", "--alpha", "1,x"], "START:STOP:NUM"),
])
def test_bad_input_is_a_one_line_error(runner, tiny, args, message):
    res = runner.invoke(cli, [*args, "--ckpt", str(tiny)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.output
