"""CLI: init / info / relax end to end, and one-line user errors."""
import pytest
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def ckpt(tmp_path, runner):
    path = tmp_path / "tiny.pt"
    res = runner.invoke(cli, ["init", "--C", "16", "--H", "2", "--T", "8", "--seed", "1", "--out", str(path)])
    assert res.exit_code == 0, res.output
    return path


def test_help_lists_commands(runner):
    res = runner.invoke(cli, ["--help"])
    assert res.exit_code == 0
    for name in ("init", "info", "relax"):
        assert name in res.output


def test_info(runner, ckpt):
    res = runner.invoke(cli, ["info", "--ckpt", str(ckpt)])
    assert res.exit_code == 0, res.output
    assert "parameters" in res.output and "thick" in res.output


@pytest.mark.parametrize("solver", ["euler", "anderson", "newton"])
def test_relax_residuals_decrease_and_dataset_reads_back(runner, ckpt, tmp_path, solver):
    out = tmp_path / f"r_{solver}.zarr"
    res = runner.invoke(cli, ["relax", "--ckpt", str(ckpt), "--solver", solver, "--steps", "300",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "force residual" in res.output and "step residual" in res.output
    ds = store.read(out)
    fr = ds["force_residual"].values
    assert fr[-1] < 1e-2 * fr[0]
    assert ds.attrs["checkpoint_sha256"] and "residual_kinds" in ds.attrs
    assert out.with_suffix(".png").exists()


def test_user_errors_are_one_line(runner, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage" * 100)
    for args in (["info", "--ckpt", str(bad)], ["relax", "--ckpt", str(bad)],
                 ["relax", "--eps", "-1"], ["info", "--ckpt", "nope.pt"],
                 ["relax", "--field", "no_such_module:make"], ["relax", "--set", "alpha"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, (args, res.output)
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, res.output)
