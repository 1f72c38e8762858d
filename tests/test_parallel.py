"""Distributed sweeps: serial ≡ 2 workers, resume after a kill, per-point failures, host syncs."""
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import zarr
from click.testing import CliRunner

from stabilitylab import Field, checkpoint, store
from stabilitylab.cli import cli
from stabilitylab.parallel.points import SpectrumPoint
from stabilitylab.examples import linear
from stabilitylab.errors import NonFiniteError, StabilityLabError
from stabilitylab.model import BlockConfig, make_block
from stabilitylab.parallel import ERROR, FAILED, NOT_CONVERGED, OK, run_sweep, template_like
from stabilitylab.spectral.spectrum import spectrum

TESTS = Path(__file__).resolve().parent


# -- helpers importable by dask workers (they import this module by name) ------------------------


@dataclass(frozen=True)
class SlowPoint:
    """A cheap deterministic point (values from its ``x``), optionally slow, logging each compute."""

    delay: float = 0.0
    log: str = ""

    def __call__(self, point):
        time.sleep(self.delay)
        x = point["x"]
        n = 2 + x % 3  # a varying number of modes, padded in the store
        ds = xr.Dataset({"v": ("mode", np.sin(x + np.arange(n))), "w": ("mode", np.exp(1j * x * np.arange(n))),
                         "tag": ((), f"x={x}"), "count": ((), x * x)})
        if self.log:
            with open(self.log, "a") as fh:
                fh.write(f"{x}\n")
        return ds


SLOW_TEMPLATE = template_like(SlowPoint()({"x": 2}), mode=4)
POINTS = [{"x": i, "label": f"p{i:02d}"} for i in range(16)]


def _nan_below(z, r):
    """F(z) = −z, but NaN once ‖z‖ < r: relaxation from ‖z0‖ = 1 meets NaN part-way."""
    return -z + torch.where(z.norm() < r, math.nan, 0.0)


def failing_point(point):
    """Spectra of a decaying field; ``case`` injects each kind of per-point trouble."""
    case = point["case"]
    z0 = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64)
    if case == "nan_start":
        z0 = z0.clone()
        z0[3] = math.nan
    fld = Field(_nan_below, z0, {"r": 0.5 if case == "nan_mid" else 0.0})
    if case == "bug":
        raise ZeroDivisionError("a bug in the analysis")
    if case == "raises":
        raise NonFiniteError("weights went non-finite")
    if case == "eigs_maxiter":  # one Krylov cycle of a non-trivial spectrum cannot converge
        return spectrum(linear(n=12), k=3, eps=0.1, diagnostics=False, ncv=5, maxiter=1)
    return SpectrumPoint(eps=0.1, k=3, diagnostics=False).analyse(fld)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory):
    """16 tiny snapshots s0000.pt .. s1500.pt alternating rule ep/bptt, growing init gain."""
    root = tmp_path_factory.mktemp("traj")
    for i in range(16):
        cfg = BlockConfig(vocab=26, C=8, H=2, T=4, init_gain=1.0 + 0.1 * i)
        checkpoint.save(root / f"s{100 * i:04d}.pt", make_block(cfg, seed=i), step=100 * i,
                        rule="ep" if i % 2 else "bptt", data={"source": "generated:seed=0"})
    return root


def _sweep(runner, trajectory, out, *extra):
    args = ["sweep", "spectrum", "--ckpts", str(trajectory / "s*.pt"), "--k", "3", "--no-diagnostics",
            "--quiet", "--out", str(out), *extra]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res


def _science(ds):
    """A sweep dataset without the attributes that record when and how it was run."""
    return ds.drop_attrs()


# -- acceptance: serial == 2 workers -------------------------------------------------------------


def test_two_workers_give_the_serial_dataset(trajectory, tmp_path):
    runner = CliRunner()
    _sweep(runner, trajectory, tmp_path / "serial.zarr", "--workers", "0", "--threads", "1")
    res = _sweep(runner, trajectory, tmp_path / "par.zarr", "--workers", "2")
    serial, par = store.read(tmp_path / "serial.zarr"), store.read(tmp_path / "par.zarr")
    xr.testing.assert_identical(_science(serial), _science(par))
    assert serial.sizes["point"] == 16 and list(serial.step.values) == [100 * i for i in range(16)]
    assert list(serial.rule.values[:2]) == ["bptt", "ep"] and set(serial.status.values) <= {OK, NOT_CONVERGED}
    assert serial.done.all() and serial.attrs["eps"] == 0.1
    assert "leading eigenvalue λ of J" in res.output and "max|μ|" in res.output
    assert (tmp_path / "par.png").exists()
    # each point is what `stabilitylab spectrum` says about that checkpoint
    one = tmp_path / "one.zarr"
    res = runner.invoke(cli, ["spectrum", "--ckpt", str(trajectory / "s0300.pt"), "--k", "3",
                              "--no-diagnostics", "--out", str(one)])
    single, point = store.read(one), serial.sel(point=3)
    assert res.exit_code == (0 if single.attrs["converged"] else 3), res.output  # 3: not converged
    m = single.sizes["mode"]
    np.testing.assert_allclose(point.eig_J.values[:m], single.eig_J.values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(point.eig_M.values[:m], single.eig_M.values, rtol=1e-9, atol=1e-12)
    assert str(point.verdict.values) == single.attrs["verdict"]


def test_rerun_resumes_and_guards_settings(trajectory, tmp_path):
    runner = CliRunner()
    out = tmp_path / "d.zarr"
    args = ["sweep", "batches", "--ckpt", str(trajectory / "s0100.pt"), "--seeds", "0:3", "--k", "2",
            "--no-diagnostics", "--workers", "0", "--quiet", "--out", str(out)]
    assert runner.invoke(cli, args).exit_code == 0
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "0 computed now, 3 already done" in again.output
    assert list(store.read(out).batch_seed.values) == [0, 1, 2]
    other = runner.invoke(cli, [*args, "--eps", "0.2"])
    assert other.exit_code == 2
    lines = other.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "eps 0.1 -> 0.2" in lines[0] and "--out" in lines[0]


def test_weights_load_in_their_saved_dtype_whatever_the_process_default(tmp_path):
    """Workers are fresh processes (default dtype float32) while the driver may not be: a float64
    checkpoint must load bit for bit in both, or serial and parallel sweeps differ."""
    before = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        path = checkpoint.save(tmp_path / "f64.pt", make_block(BlockConfig(vocab=26, C=8, H=2, T=4), seed=0))
        torch.set_default_dtype(torch.float32)
        block = checkpoint.read(path).block()
    finally:
        torch.set_default_dtype(before)
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert all(torch.equal(t, saved[k]) and t.dtype == torch.float64 for k, t in block.state_dict().items())


# -- resume after a kill -------------------------------------------------------------------------


def _reference(tmp_path):
    ref = tmp_path / "ref.zarr"
    run_sweep(POINTS, SlowPoint(), ref, SLOW_TEMPLATE, settings={"s": 1}, progress=False)
    return store.read(ref)


class Interrupt(KeyboardInterrupt):
    pass


@dataclass(frozen=True)
class InterruptAt(SlowPoint):
    at: int = 5

    def __call__(self, point):
        if point["x"] == self.at:
            raise Interrupt
        return super().__call__(point)


def test_injected_interrupt_then_resume_loses_and_repeats_nothing(tmp_path):
    out, log = tmp_path / "s.zarr", tmp_path / "log.txt"
    with pytest.raises(Interrupt):
        run_sweep(POINTS, InterruptAt(log=str(log)), out, SLOW_TEMPLATE, settings={"s": 1}, progress=False)
    assert list(zarr.open_group(out)["done"][:]) == [True] * 5 + [False] * 11
    report = run_sweep(POINTS, SlowPoint(log=str(log)), out, SLOW_TEMPLATE, settings={"s": 1}, progress=False)
    assert (report.already_done, report.computed, report.counts[OK]) == (5, 11, 16)
    assert sorted(int(x) for x in log.read_text().split()) == list(range(16))  # each point computed once
    xr.testing.assert_identical(_science(store.read(out)), _science(_reference(tmp_path)))


KILLED_RUN = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]  # the tests and the checkout under test, installed or not
from test_parallel import POINTS, SLOW_TEMPLATE, SlowPoint
from stabilitylab.parallel import run_sweep

if __name__ == "__main__":
    run_sweep(POINTS, SlowPoint(delay=0.5, log={log!r}), {out!r}, SLOW_TEMPLATE, settings={{"s": 1}},
              workers=2, progress=False)
"""


def test_sigkill_of_a_two_worker_sweep_then_resume(tmp_path):
    out, log, script = tmp_path / "k.zarr", tmp_path / "log.txt", tmp_path / "run.py"
    script.write_text(textwrap.dedent(KILLED_RUN.format(tests=str(TESTS), root=str(TESTS.parent), log=str(log), out=str(out))))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and zarr.open_group(out)["done"][:].sum() >= 4:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, its scheduler and both workers, mid-write
        proc.wait()
    done_before = zarr.open_group(out)["done"][:]
    assert 4 <= done_before.sum() < 16, "the sweep was not killed part-way"
    report = run_sweep(POINTS, SlowPoint(log=str(log)), out, SLOW_TEMPLATE, settings={"s": 1}, progress=False)
    assert report.already_done == done_before.sum() and report.computed == 16 - done_before.sum()
    counts = np.bincount([int(x) for x in log.read_text().split()], minlength=16)
    assert (counts[done_before] == 1).all()  # finished points were not recomputed
    assert (counts >= 1).all() and (counts <= 2).all()  # only the points in flight at the kill ran twice
    xr.testing.assert_identical(_science(store.read(out)), _science(_reference(tmp_path)))


# -- per-point failures --------------------------------------------------------------------------


def test_failures_are_recorded_per_point_and_the_sweep_continues(tmp_path):
    cases = ["ok", "nan_mid", "nan_start", "eigs_maxiter", "raises", "bug", "ok"]
    points = [{"case": c} for c in cases]
    template = template_like(failing_point({"case": "ok"}).data, mode=4)
    report = run_sweep(points, failing_point, tmp_path / "f.zarr", template, progress=False)
    ds = store.read(tmp_path / "f.zarr")
    status = dict(zip(range(len(cases)), ds.status.values))
    reason = dict(zip(range(len(cases)), ds.reason.values))
    assert status[0] == status[6] == OK and ds.done.all()
    assert status[1] == NOT_CONVERGED and "non-finite force at step" in reason[1]  # NaN part-way
    assert status[2] == FAILED and "not finite" in reason[2]
    assert status[3] == NOT_CONVERGED and "converged" in reason[3]  # eigensolver ConvergenceWarning
    assert status[4] == FAILED and reason[4] == "weights went non-finite"
    assert status[5] == ERROR and reason[5].startswith("ZeroDivisionError: a bug")
    assert np.isnan(ds.eig_J.sel(point=4).values.real).all()  # failed regions keep their fill
    np.testing.assert_allclose(ds.eig_J.sel(point=0).values[:3], [-1, -1, -1])
    assert report.counts == {OK: 2, NOT_CONVERGED: 2, FAILED: 2, ERROR: 1}
    assert [f.index for f in report.failures] == [1, 2, 3, 4, 5]
    # retry_failed recomputes failed and error points only
    again = run_sweep(points, failing_point, tmp_path / "f.zarr", template, retry_failed=True, progress=False)
    assert again.computed == 3


def crash_worker_at_3(point):
    if point["x"] == 3:
        os._exit(1)  # the worker process dies running this point
    return SlowPoint()(point)


def test_a_point_that_kills_its_worker_is_recorded(tmp_path):
    import dask
    import distributed  # noqa: F401  (loads its config first: the override below must not drop it)

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        report = run_sweep(POINTS[:6], crash_worker_at_3, tmp_path / "w.zarr", SLOW_TEMPLATE, workers=2,
                           progress=False)
    ds = store.read(tmp_path / "w.zarr")
    assert report.counts == {OK: 5, ERROR: 1}, [(f.index, f.reason[:70]) for f in report.failures]
    assert ds.status.values[3] == ERROR and "worker lost" in ds.reason.values[3]


def test_runs_on_an_existing_cluster_given_its_scheduler_address(tmp_path):
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster:
        report = run_sweep(POINTS[:4], SlowPoint(), tmp_path / "e.zarr", SLOW_TEMPLATE,
                           scheduler=cluster.scheduler_address, progress=False)
    assert report.counts == {OK: 4}
    xr.testing.assert_identical(_science(store.read(tmp_path / "e.zarr")),
                                _science(_reference(tmp_path).isel(point=slice(0, 4))))


def test_store_layout_is_one_chunk_per_point_with_fill_values(tmp_path):
    out = tmp_path / "l.zarr"
    run_sweep(POINTS[:3], SlowPoint(), out, SLOW_TEMPLATE, settings={"a": [1, 2]}, progress=False)
    g = zarr.open_group(out)
    assert g["v"].chunks == (1, 4) and g["done"].chunks == (1,)
    ds = store.read(out)
    assert np.isnan(ds.v.values[0, 2:]).all() and np.isnan(ds.w.values[0, 2:]).all()  # padded modes
    assert list(ds.label.values) == ["p00", "p01", "p02"] and json.loads(ds.attrs["sweep_settings"]) == {"a": [1, 2]}
    assert ds.attrs["complete"] == 1 and ds.attrs["schema_version"] == 1  # every point done
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.open_zarr(out).close()  # consolidated: plain open_zarr is quiet
    other = SLOW_TEMPLATE.assign(extra=((), np.nan))
    with pytest.raises(StabilityLabError, match="different per-point schema"):
        run_sweep(POINTS[:3], SlowPoint(), out, other, settings={"a": [1, 2]}, progress=False)
    store.write(ds.drop_attrs(), tmp_path / "plain.zarr", "test")
    with pytest.raises(StabilityLabError, match="not a sweep store"):
        run_sweep(POINTS[:3], SlowPoint(), tmp_path / "plain.zarr", SLOW_TEMPLATE, progress=False)


# -- devices: the spectral path keeps n-vectors on the device ------------------------------------


def test_krylov_schur_reads_the_host_per_cycle_not_per_matvec():
    """Arnoldi expansion stays on the device: host reads (.item/.cpu/float(...)) happen per restart
    cycle (the small projected matrix, a few norms), not per matrix-vector product."""
    from stabilitylab.linear import LinearOperator
    from stabilitylab.parallel.hostreads import count_host_reads
    from stabilitylab.spectral import eigs, eigsh

    n = 600
    g = torch.Generator().manual_seed(0)
    A = torch.randn(n, n, generator=g, dtype=torch.float64) / math.sqrt(n) - 0.5 * torch.eye(n, dtype=torch.float64)
    S = A + A.T
    op = LinearOperator(lambda v: A @ v, n, A.dtype, A.device, batched=lambda V: A @ V)
    sym = LinearOperator(lambda v: S @ v, n, S.dtype, S.device, batched=lambda V: S @ V)
    for solve in (lambda: eigs(op, k=6, which="LR", ncv=20, tol=1e-10),
                  lambda: eigsh(sym, k=2, which="LA", ncv=12, tol=1e-10)):
        with count_host_reads() as reads:
            res = solve()
        cycles = res.restarts + 1
        assert res.converged and res.matvecs > 4 * cycles
        assert sum(reads.values()) <= 4 * cycles + 8, (reads, cycles, res.matvecs)
