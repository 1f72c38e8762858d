"""The embedded trainer: learning, bitwise resume, snapshots, monitor dataset, gate, stabilisers."""
from __future__ import annotations

import math
import os
import signal

import pytest
import torch
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.checkpoint import load, read
from stabilitylab.cli import cli
from stabilitylab.data import corpus_from_spec
from stabilitylab.errors import StabilityLabError
from stabilitylab.gradients import readout_loss
from stabilitylab.model import BlockConfig, block_field, make_block
from stabilitylab.solvers import relax_euler
from stabilitylab.train import Run, TrainConfig
from stabilitylab.train.loop import interrupt_guard
from stabilitylab.train.schedule import lr_at
from stabilitylab.train.stabilisers import Controller, jacobian_penalty, residual_penalty

TINY = dict(C=16, H=2, T=8, T1=20, T2=8, batch_size=8, val_size=16, lr=1e-2, warmup=0, seed=0)


@torch.no_grad()
def _ce(block, x, y, cfg):
    z = relax_euler(block_field(block, x), eps=cfg.eps, steps=cfg.T1).z
    return float(readout_loss(block, z, y))


def test_a_few_steps_of_each_rule_reduce_training_loss(tmp_path):
    cfg = TrainConfig(rule="both", steps=12, monitor_every=100, snapshot_every=100, **TINY)
    run = Run.open(cfg, tmp_path)
    x, y = run.corpus.batch("train", 32, cfg.T, torch.Generator().manual_seed(5))
    before = {rule: _ce(lane.block, x, y, cfg) for rule, lane in run.lanes.items()}
    assert before["ep"] == before["bptt"]  # same initialisation
    run.train(progress=False)
    for rule, lane in run.lanes.items():
        after = _ce(lane.block, x, y, cfg)
        assert after < before[rule] - 0.1, (rule, before[rule], after)


def test_resume_is_bitwise_identical(tmp_path):
    cfg = TrainConfig(rule="both", steps=4, monitor_every=4, snapshot_every=4, **TINY)
    Run.open(cfg, tmp_path / "straight").train(progress=False)
    first = Run.open(cfg, tmp_path / "resumed")
    first.train(progress=False, max_updates=3)  # stops between records, as Ctrl-C would
    assert first.step == 3
    second = Run.open(cfg, tmp_path / "resumed")
    assert second.resumed and second.step == 3
    second.train(progress=False)
    straight = Run.open(cfg, tmp_path / "straight")
    for rule in ("ep", "bptt"):
        a, b = straight.lanes[rule].block.state_dict(), second.lanes[rule].block.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
        oa = straight.lanes[rule].optimizer.state_dict()["state"]
        ob = second.lanes[rule].optimizer.state_dict()["state"]
        assert all(torch.equal(oa[i]["exp_avg_sq"], ob[i]["exp_avg_sq"]) for i in oa)
        ha, hb = straight.history[rule], second.history[rule]
        assert [r["step"] for r in ha] == [0, 4] == [r["step"] for r in hb]
        assert ha[1]["train_ce"] == hb[1]["train_ce"]  # the running mean survives the interruption
    assert torch.equal(straight.batch_rng.get_state(), second.batch_rng.get_state())


def test_resume_refuses_a_different_configuration(tmp_path):
    cfg = TrainConfig(rule="bptt", steps=1, monitor_every=1, snapshot_every=1, **TINY)
    Run.open(cfg, tmp_path).train(progress=False)
    with pytest.raises(StabilityLabError, match="different configuration"):
        Run.open(TrainConfig(**{**cfg.to_dict(), "lr": 5e-3}), tmp_path)
    longer = Run.open(TrainConfig(**{**cfg.to_dict(), "steps": 2}), tmp_path)  # extending is allowed
    assert longer.resumed and longer.step == 1


def test_cli_run_writes_snapshots_and_monitor_dataset(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--rule", "both", "--C", "16", "--H", "2", "--T", "8", "--T1", "20", "--T2", "8",
            "--steps", "2", "--monitor-every", "2", "--snapshot-every", "2", "--val-size", "16",
            "--monitor-cos", "--out", str(out), "--quiet"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "val CE" in res.output and (out / "monitor.png").exists()
    for rule in ("ep", "bptt"):
        for step in (0, 2):
            path = out / rule / f"s{step:04d}.pt"
            ck = read(path)
            assert ck.step == step and ck.rule == rule and ck.data["source"].startswith("generated")
            assert ck.monitor["monitor_step"] == step and math.isfinite(ck.monitor["max_abs_mu"])
            assert ck.provenance["train_config"]["rule"] == "both"
        fld = load(out / rule / "s0002.pt")
        assert fld.meta["step"] == 2 and fld.shape == (1, 8, 16)
    ds = store.read(out / "monitor.zarr")
    assert dict(ds.sizes) == {"rule": 2, "step": 2, "mode": 6}
    assert list(ds.rule.values) == ["ep", "bptt"] and list(ds.step.values) == [0, 2]
    for var in ("val_ce", "train_ce", "force_residual", "step_residual", "leading_re_J", "leading_im_J",
                "max_abs_mu", "min_eps_crit", "numerical_abscissa", "antisymmetry_ratio", "cos_ep_bptt"):
        assert ds[var].dims == ("rule", "step"), var
    assert ds.eig_J.dtype.kind == "c" and ds.eig_M.dims == ("rule", "step", "mode")
    assert (ds.step_residual / ds.force_residual).values == pytest.approx(0.25)  # the default eps
    assert ds.max_abs_mu.values == pytest.approx(abs(ds.eig_M.values).max(-1))
    assert bool((abs(ds.cos_ep_bptt.sel(step=0)) <= 1).all())
    assert "command" in ds.attrs and "train_config" in ds.attrs
    # rerunning the same command continues (here: nothing left to do)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "already at step 2" in again.output


def test_gate_skips_the_ep_update_when_the_free_phase_is_unconverged(tmp_path):
    cfg = TrainConfig(rule="ep", steps=2, monitor_every=2, snapshot_every=2, gate=1e-12, **TINY)
    run = Run.open(cfg, tmp_path)
    w0 = {k: v.clone() for k, v in run.lanes["ep"].block.state_dict().items()}
    run.train(progress=False)
    lane = run.lanes["ep"]
    assert lane.counters["gate_skips"] == 2
    assert all(torch.equal(w0[k], v) for k, v in lane.block.state_dict().items())
    assert run.history["ep"][-1]["gate_skips"] == 2
    loose = Run.open(TrainConfig(**{**cfg.to_dict(), "gate": 10.0}), tmp_path / "loose")
    loose.train(progress=False)
    assert loose.lanes["ep"].counters["gate_skips"] == 0


def test_stabilisers_with_controller_still_update_when_gated(tmp_path):
    cfg = TrainConfig(rule="ep", steps=2, monitor_every=2, snapshot_every=2, gate=1e-12, jacreg=0.1,
                      resreg=0.1, controller=True, res_target=1e-9, **TINY)
    run = Run.open(cfg, tmp_path)
    w0 = run.lanes["ep"].block.WQ.detach().clone()
    run.train(progress=False)
    lane = run.lanes["ep"]
    assert lane.counters["gate_skips"] == 2 and not torch.equal(w0, lane.block.WQ)
    assert lane.controller.gain > 1.0  # residual far above target: the stabilisers strengthen


def test_jacobian_penalty_is_hutchinson_for_the_interaction_jacobian():
    corpus = corpus_from_spec(None)
    block = make_block(BlockConfig(vocab=corpus.vocab_size, C=8, H=2, T=4), 0).double()
    x = torch.randint(0, corpus.vocab_size, (1, 4), generator=torch.Generator().manual_seed(0))
    z = block.embed(x).detach() + 0.1
    x_in = block.embed(x).detach()
    J = torch.func.jacfwd(lambda v: block.force(v.reshape(z.shape), x_in).reshape(-1))(z.reshape(-1))
    Jg = J + (1 + block.config.c) * torch.eye(z.numel(), dtype=z.dtype)
    exact = float(Jg.detach().pow(2).sum()) / z.numel()
    est = jacobian_penalty(block, x, z, torch.Generator().manual_seed(1), probes=400).item()
    assert est == pytest.approx(exact, rel=0.1)
    with torch.no_grad():
        res = (block.force(z, block.embed(x)).pow(2).sum() / z.pow(2).sum()).item()
    assert residual_penalty(block, x, z).item() == pytest.approx(res)


def test_first_ctrl_c_only_asks_the_loop_to_stop():
    with interrupt_guard() as interrupted:
        assert not interrupted()
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupted()
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C aborts
            os.kill(os.getpid(), signal.SIGINT)


def test_controller_and_schedule():
    ctl = Controller(target=1e-3)
    assert ctl.update(1e-1) > 1.0
    low = Controller(target=1e-3)
    for _ in range(50):
        low.update(1e-6)
    assert low.gain == pytest.approx(0.1)
    assert lr_at(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_at(100, 1.0, 10, 100, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_at(55, 1.0, 10, 100, "linear", 0.0) == pytest.approx(0.5)
    with pytest.raises(StabilityLabError):
        TrainConfig(controller=True)
