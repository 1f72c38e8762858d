"""sl.StabilityMonitor: the trainer's monitor numbers in a user's loop, trend warnings, resume."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import stabilitylab as sl
from stabilitylab import store
from stabilitylab.batches import analysis_batch
from stabilitylab.model import block_field
from stabilitylab.train import Run, TrainConfig

TINY = dict(C=16, H=2, T=8, T1=20, T2=8, batch_size=8, val_size=16, lr=1e-2, warmup=0, seed=0)
SAME = ("force_residual", "step_residual", "force_residual_long", "leading_re_J", "leading_im_J", "max_abs_mu",
        "min_eps_crit", "numerical_abscissa", "antisymmetry_ratio", "eig_converged")


def test_monitor_in_a_training_loop_matches_the_trainers_monitor(tmp_path):
    cfg = TrainConfig(rule="bptt", steps=4, monitor_every=2, snapshot_every=100, **TINY)
    run = Run.open(cfg, tmp_path / "run")
    idx = analysis_batch(run.corpus.vocab_size, cfg.T, 1, 0, run.corpus)
    with sl.StabilityMonitor(tmp_path / "drift.zarr", eps=cfg.eps, every=2, T1=cfg.T1) as mon:
        for i in range(3):  # steps 0, 2, 4
            run.train(progress=False, max_updates=2 if i else 0)
            block = copy.deepcopy(run.lanes["bptt"].block).double()  # embedded in float64, as the trainer does
            mon(run.step, block_field(block, idx))
    ours, theirs = store.read(tmp_path / "drift.zarr"), run.dataset().sel(rule="bptt")
    assert list(ours.step.values) == list(theirs.step.values) == [0, 2, 4]
    for var in SAME:
        np.testing.assert_allclose(ours[var].values, theirs[var].values, rtol=1e-12, err_msg=var)  # measured: identical
    np.testing.assert_allclose(ours.eig_J.values, theirs.eig_J.values, rtol=1e-12)
    assert ours.attrs["analysis"] == "drift-monitor" and ours.attrs["complete"] == 1


def _drifting(step: int, a0=-0.5, rate=0.01, b=2.0):
    """J(s) = diag(a(s) ± ib as a 2×2 block, -1, ..., -2.5): a(s) = a0 + rate·s crosses 0 at s = -a0/rate."""
    a = a0 + rate * step
    J = torch.diag(torch.tensor([a, a, -1.0, -1.5, -2.0, -2.5], dtype=torch.float64))
    J[0, 1], J[1, 0] = -b, b
    return torch.zeros(6, dtype=torch.float64), lambda z: J @ z


def test_warning_predicts_the_known_crossing_and_resumes(tmp_path):
    # crossing of Re λ = 0 at s = 50; of |μ| = 1 at eps = 0.1 where (1 + eps a)² + (eps b)² = 1:
    # a = (-1 + sqrt(1 - 0.04)) / 0.1 = -0.2020..., i.e. s = 29.79...
    cross_M = ((-1 + np.sqrt(1 - (0.1 * 2.0) ** 2)) / 0.1 + 0.5) / 0.01
    out = tmp_path / "d.zarr"
    mon = sl.StabilityMonitor(out, eps=0.1, every=5, horizon=10, k=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s in range(0, 16):  # records at 0, 5, 10, 15: the M crossing is 15 steps ahead at 15
            mon(s, lambda: _drifting(s))
    mon.close()
    rec = store.read(out).isel(step=-1)
    assert float(rec.crossing_step_M) == pytest.approx(cross_M, abs=0.02)  # |μ| is slightly curved in s
    assert float(rec.crossing_step_J) == pytest.approx(50.0, rel=1e-6)
    resumed = sl.StabilityMonitor(out, eps=0.1, every=5, horizon=10, k=3)  # continues the store
    assert resumed(15, lambda: _drifting(15)) is None  # already recorded
    with pytest.warns(sl.BoundaryWarning, match="predicted to reach 1 at step 30"):
        resumed(20, lambda: _drifting(20))
    with pytest.warns(sl.BoundaryWarning, match="past the boundary"):
        resumed(35, lambda: _drifting(35))
    assert list(resumed.dataset().step.values) == [0, 5, 10, 15, 20, 35]


def test_an_unconverged_state_is_marked_and_left_out_of_the_trend(tmp_path):
    mon = sl.StabilityMonitor(tmp_path / "d.zarr", eps=0.1, k=3)
    z, force = _drifting(0)
    for s in range(3):
        mon(s, lambda: _drifting(s))
    with pytest.warns(sl.errors.ConvergenceWarning, match="left out of the trend"):
        rec = mon(3, (z + 1.0, force))  # F(z) ≠ 0 there: no fixed point
    assert rec["fixed_point_converged"] == 0
    assert rec["crossing_step_J"] == pytest.approx(50.0)  # the trend of the three converged records
    with pytest.raises(sl.StabilityLabError, match="pair"):
        mon(4, lambda: 42)
