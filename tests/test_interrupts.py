"""One interruption contract: SIGTERM (or SIGINT) ends a long command with the partial results
flushed, a line saying where they are and how to resume, and exit status 143 (130); rerunning
gives the dataset of an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.continuation.resume import side_path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["continuation", "--field", "stabilitylab.examples:stuart_landau", "--param", "mu", "--range", "-0.3:0.2",
        "--method", "natural", "--ds", "0.05", "--ds-max", "0.05", "--k", "2"]


def stored_points(out: Path) -> int:
    try:
        return int(torch.load(side_path(out), weights_only=True)["npoints"])
    except Exception:  # not written yet, or being replaced
        return 0


def test_sigterm_mid_continuation_then_rerun_gives_the_uninterrupted_dataset(tmp_path):
    whole = tmp_path / "whole.zarr"
    res = CliRunner().invoke(cli, [*ARGS, "--out", str(whole)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "cont.zarr"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STABILITYLAB_MAX_UNFLUSHED_SECONDS": "0"}  # write every point
    proc = subprocess.Popen([sys.executable, "-m", "stabilitylab", *ARGS, "--out", str(out)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while stored_points(out) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted (SIGTERM)" in err and str(out) in err and "rerun the same command to resume" in err
    assert "Traceback" not in err
    partial = store.read(out, partial=True)
    assert partial.attrs["complete"] == 0 and 3 <= partial.sizes["point"] < store.read(whole).sizes["point"]
    res = CliRunner().invoke(cli, [*ARGS, "--out", str(out)])
    assert res.exit_code == 0 and "resuming" in res.output, res.output
    a, b = store.read(out), store.read(whole)
    assert a.attrs["complete"] == 1 and a.sizes == b.sizes
    np.testing.assert_allclose(a["mu"].values, b["mu"].values, rtol=0, atol=1e-12)
    for var in ("n_unstable_J", "n_unstable_M", "special_kind", "special_operator"):
        np.testing.assert_array_equal(a[var].values, b[var].values)
    np.testing.assert_allclose(a["eig_J"].values, b["eig_J"].values, atol=1e-8)
    np.testing.assert_allclose(a["special_param"].values, b["special_param"].values, atol=1e-9)


def test_a_shorter_range_than_stored_is_refused_and_a_longer_one_extends(tmp_path):
    out = tmp_path / "cont.zarr"
    short = [*ARGS[:5], "--range", "-0.3:-0.25", *ARGS[7:]]
    assert CliRunner().invoke(cli, [*short, "--out", str(out)]).exit_code == 0
    longer = [*ARGS[:5], "--range", "-0.3:-0.2", *ARGS[7:]]
    res = CliRunner().invoke(cli, [*longer, "--out", str(out)])
    assert res.exit_code == 0 and "extending it to mu=-0.2" in res.output, res.output
    assert abs(float(store.read(out)["mu"].values[-1]) + 0.2) < 1e-12
    res = CliRunner().invoke(cli, [*short, "--out", str(out)])
    assert res.exit_code == 2 and "past the requested end -0.25" in res.output and "--overwrite" in res.output
    res = CliRunner().invoke(cli, [*short, "--out", str(out), "--overwrite"])
    assert res.exit_code == 0 and "resuming" not in res.output, res.output
    assert abs(float(store.read(out)["mu"].values[-1]) + 0.25) < 1e-12


def test_sigint_during_an_analysis_drops_it_says_so_and_exits_130(tmp_path, monkeypatch):
    from stabilitylab import solvers

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler raises here
        raise AssertionError("the signal was not trapped")

    monkeypatch.setattr(solvers, "relax_euler", interrupted)
    out = tmp_path / "relax.zarr"
    res = CliRunner().invoke(cli, ["relax", "--field", "stabilitylab.examples:linear", "--out", str(out)])
    assert res.exit_code == 130, res.output
    assert "interrupted (SIGINT)" in res.output and "nothing was written" in res.output
    assert not out.exists() and not Path(str(out) + store.LOCK_SUFFIX).exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_sigterm_during_training_saves_the_run_and_exits_143(tmp_path, monkeypatch):
    from stabilitylab.train import loop

    real = loop.train_step

    def step(lane, *args):
        if lane.rule == "bptt" and not hasattr(step, "sent"):
            step.sent = True
            os.kill(os.getpid(), signal.SIGTERM)
        return real(lane, *args)

    monkeypatch.setattr(loop, "train_step", step)
    run = tmp_path / "run"
    args = ["train", "--C", "8", "--H", "2", "--T", "4", "--steps", "50", "--monitor-every", "100",
            "--snapshot-every", "100", "--val-size", "4", "--batch-size", "2", "--quiet", "--out", str(run)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 143, res.output
    assert "interrupted (SIGTERM)" in res.output and "at step 1" in res.output
    assert (run / "state.pt").exists() and not Path(str(run) + store.LOCK_SUFFIX).exists()
