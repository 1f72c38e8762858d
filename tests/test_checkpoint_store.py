"""Checkpoints (round trip, bad input) and the zarr store (round trip, append)."""
import numpy as np
import pytest
import torch
import xarray as xr

import stabilitylab
from stabilitylab import checkpoint, store
from stabilitylab.errors import CheckpointError, StabilityLabError
from stabilitylab.model import BlockConfig, make_block

CFG = BlockConfig(vocab=26, C=16, H=4, T=8)


@pytest.fixture
def ckpt(tmp_path):
    block = make_block(CFG, seed=7)
    return checkpoint.save(tmp_path / "a.pt", block, step=12, rule="ep", monitor={"re_lambda": -0.3}), block


def test_round_trip_bit_identical(ckpt, tmp_path):
    path, block = ckpt
    ck = checkpoint.read(path)
    assert ck.config == CFG and ck.step == 12 and ck.rule == "ep" and ck.monitor["re_lambda"] == -0.3
    for name, t in block.state_dict().items():
        assert torch.equal(ck.state_dict[name], t)
    again = checkpoint.save(tmp_path / "b.pt", ck.block(), step=ck.step)
    for name, t in checkpoint.read(again).state_dict.items():
        assert torch.equal(t, block.state_dict()[name])


def test_load_gives_deterministic_field(ckpt):
    path, _ = ckpt
    f1 = stabilitylab.load(path, batch_seed=3)
    f2 = stabilitylab.load(path, batch_seed=3)
    f3 = stabilitylab.load(path, batch_seed=4)
    assert f1.meta["batch_idx"] == f2.meta["batch_idx"] != f3.meta["batch_idx"]
    assert f1.meta["checkpoint_sha256"] == checkpoint.file_sha256(path)
    assert torch.equal(f1(f1.z0), f2(f2.z0)) and f1.dtype == torch.float64
    assert set(f1.params) >= {"alpha", "ffn_scale", "c", "head_0"}


def test_corrupt_and_truncated_files(tmp_path, ckpt):
    path, _ = ckpt
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"\x00not a checkpoint" * 50)
    for name in ("trunc.pt", "garbage.pt"):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            checkpoint.read(tmp_path / name)
    with pytest.raises(CheckpointError, match="not found"):
        checkpoint.read(tmp_path / "missing.pt")


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path, capsys):
    torch.save({"format": "stabilitylab.checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refuses to execute"):
        checkpoint.read(tmp_path / "evil.pt")
    assert "pwned" not in capsys.readouterr().out


def test_shape_mismatch_and_nan_weights(tmp_path):
    block = make_block(CFG, seed=1)
    payload = torch.load(checkpoint.save(tmp_path / "ok.pt", block), weights_only=True)
    payload["config"]["C"] = 32
    payload["config"]["H"] = 4
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.read(tmp_path / "mismatch.pt")
    with torch.no_grad():
        block.WO[0, 0] = float("nan")
    checkpoint.save(tmp_path / "nan.pt", block)
    with pytest.raises(CheckpointError, match="NaN"):
        checkpoint.read(tmp_path / "nan.pt")


def test_shipped_default_resolves():
    assert checkpoint.resolve(None).exists()
    with pytest.raises(CheckpointError, match="not found"):
        checkpoint.resolve("no-such-snapshot.pt")


def test_store_round_trip_and_append(tmp_path):
    ds = xr.Dataset(
        {"eig_J": ("mode", np.array([-0.1 + 2j, -0.1 - 2j])),
         "special_kind": ("special", np.array(["hopf", "fold"], dtype=object)),
         "force_residual": ("point", np.array([1e-9, 2e-9]))},
        coords={"alpha": ("point", [0.2, 0.3])},
        attrs=store.provenance(eps=0.1, residual_kind="force", config={"C": 16}),
    )
    out = store.write(ds, tmp_path / "x.zarr", "test")
    back = store.read(out)
    assert back.identical(store._encode(ds.assign_attrs(analysis="test", schema_version=1, complete=1)))
    assert back["eig_J"].dtype == np.complex128 and back["special_kind"].dtype == object
    assert store.attr_json(back, "config") == {"C": 16}
    pts = tmp_path / "pts.zarr"
    for i in range(3):
        store.append(xr.Dataset({"r": ("point", [float(i)])}, coords={"alpha": ("point", [i / 10])}), pts,
                     "point", "test")
    with pytest.warns(store.IncompleteStoreWarning, match="incomplete"):
        assert store.read(pts)["r"].values.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(StabilityLabError, match=".zarr"):
        store.write(ds, tmp_path / "x.nc", "test")
