"""Analyses run at the checkpoint's own relaxation ε unless --eps overrides, and say which."""
import pytest
from click.testing import CliRunner

import stabilitylab as sl
from stabilitylab.cli import cli


def test_trained_checkpoint_records_its_training_eps():
    assert sl.load("s3200.pt").meta["eps"] == 0.25  # the shipped run trained at ε = 0.25
    assert "eps" not in sl.load("default.pt").meta  # an untrained block records none


@pytest.mark.parametrize("ckpt, extra, said", [
    ("s0000.pt", [], "ε = 0.25 (the checkpoint's training ε"),
    ("default.pt", [], "ε = 0.1 (default; the field records no ε"),
    ("s0000.pt", ["--eps", "0.05"], "ε = 0.05 (--eps)"),
])
def test_relax_says_which_eps_it_used(tmp_path, ckpt, extra, said):
    res = CliRunner().invoke(cli, ["relax", "--ckpt", ckpt, "--steps", "3", *extra, "--out", str(tmp_path / "r.zarr")])
    assert res.exit_code == 0, res.output
    assert said in res.output
    eps = float(said.split("= ")[1].split(" ")[0])
    assert float(sl.store.read(tmp_path / "r.zarr").attrs["eps"]) == eps


@pytest.mark.parametrize("bad", ["nan", "0", "-0.1", "inf"])
def test_bad_eps_is_one_line(tmp_path, bad):
    res = CliRunner().invoke(cli, ["relax", "--ckpt", "s0000.pt", "--steps", "3", "--eps", bad,
                                   "--out", str(tmp_path / "r.zarr")])
    assert res.exit_code == 2 and res.output.count("error:") == 1 and "--eps" in res.output
