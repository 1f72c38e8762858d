"""``stabilitylab gradcheck`` end to end on tiny checkpoints written here."""
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import Field, store
from stabilitylab.checkpoint import save
from stabilitylab.cli import cli
from stabilitylab.commands.gradcheck import parse_values
from stabilitylab.errors import StabilityLabError
from stabilitylab.model import BlockConfig, make_block

FAST = ["--eps", "0.25", "--t1", "40", "--t2", "4:16:3", "--betas", "0.05", "--fp-steps", "400"]



def checkpoint(tmp_path, mode="thick", seed=1):
    cfg = BlockConfig(vocab=7, C=8, H=2, T=4, c=1.0, ffn_mult=2, mode=mode)
    return str(save(tmp_path / f"{mode}.pt", make_block(cfg, seed)))


def run(*args):
    return CliRunner().invoke(cli, ["gradcheck", *args])


def test_gradcheck_writes_tables_dataset_and_figure(tmp_path):
    out = tmp_path / "g.zarr"
    res = run("--ckpt", checkpoint(tmp_path), *FAST, "--asym", "0,0.5,1", "--out", str(out))
    assert res.exit_code == 0, res.output
    for title in ("convergence and cost", "cosine, all parameters", "norm ratio", "per parameter group",
                  "nudge length T2", "asymmetry sweep"):
        assert title in res.output
    assert out.with_suffix(".png").exists()
    ds = store.read(out)
    est = ["bptt", "implicit", "naive", "aep", "aep_track"]
    assert list(ds.estimator.values) == est and list(ds.estimator2.values) == est
    assert list(ds.group.values) == ["all", "Q", "K", "V", "O", "FFN", "LN", "embeddings", "head"]
    assert list(ds.t2.values) == [4, 8, 16] and list(ds.beta.values) == [0.02, 0.05]
    assert list(ds.asym.values) == [0, 0.5, 1]
    assert ds.cosine.dims == ("estimator", "estimator2", "group")
    assert ds.sweep_cosine.dims == ("variant", "t2", "beta", "group")
    assert ds.asym_cosine.dims == ("estimator", "asym", "group")
    cos = ds.cosine.sel(group="all")
    assert float(cos.sel(estimator="aep", estimator2="implicit")) > 0.999
    assert float(cos.sel(estimator="naive", estimator2="implicit")) < 0.99
    assert float(ds.asym_cosine.sel(estimator="naive", asym=0.0, group="all")) > 0.999
    assert float(ds.asym_antisymmetry.sel(asym=0.0)) < 1e-10 < float(ds.asym_antisymmetry.sel(asym=1.0))
    assert bool((ds.sweep_nudged_change.sel(t2=4) > ds.sweep_nudged_change.sel(t2=16)).all())
    assert ds.attrs["reference"] == "implicit" and ds.attrs["checkpoint_sha256"]
    assert "force residual" in ds.attrs["residual_kind"]


def test_conservative_checkpoint_skips_the_asymmetry_sweep(tmp_path):
    out = tmp_path / "c.zarr"
    ckpt = checkpoint(tmp_path, "conservative", 2)
    res = run("--ckpt", ckpt, *FAST, "--set", "alpha=0.9", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "asymmetry sweep skipped" in res.output
    ds = store.read(out)
    assert ds.sizes["asym"] == 0
    assert float(ds.cosine.sel(estimator="naive", estimator2="implicit", group="all")) > 0.999
    assert '"alpha": 0.9' in ds.attrs["field_params"]


def user_field():
    return Field(lambda z: -z, torch.zeros(3))


@pytest.mark.parametrize("args, message", [
    (["--field", "test_gradcheck_cli:user_field"], "needs a checkpoint"),
    (["--ckpt", "CKPT", "--t2", "5:x"], "cannot read"),
    (["--ckpt", "CKPT", "--asym", "0,2"], "--asym"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    args = [checkpoint(tmp_path) if a == "CKPT" else a for a in args]
    res = run(*args, "--out", str(tmp_path / "x.zarr"))
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_parse_values():
    assert parse_values("20:160", "geom", 4) == pytest.approx([20, 40, 80, 160])
    assert parse_values("0:1:3", "linear", 5) == [0, 0.5, 1]
    assert parse_values("0.1, 0.2", "geom", 3) == [0.1, 0.2]
    with pytest.raises(StabilityLabError):
        parse_values("0:5", "geom", 3)
