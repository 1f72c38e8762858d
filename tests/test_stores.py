"""Output stores are never clobbered and fail cleanly: the analysis guard, ``--overwrite``, the lock
against concurrent writers, read-only and full-disk targets, the ``complete`` flag, and stores that
``xarray.open_zarr(path)`` opens without a warning."""
from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FIELD = ["--field", "stabilitylab.examples:linear"]
RELAX = ["relax", *FIELD, "--steps", "50"]


def digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + f.read_bytes())
    return h.hexdigest()


def invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(res, *words):
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and res.output.strip().endswith(errors[0]), res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    for w in words:
        assert w in errors[0], errors[0]


def test_out_onto_another_analysis_is_refused_at_once_and_untouched(tmp_path):
    out = tmp_path / "cont.zarr"
    store.write(xr.Dataset({"r": ("point", np.arange(3.0))}), out, "continuation")
    before = digest(out)
    t0 = time.perf_counter()
    res = invoke(["spectrum", "--out", out])  # the default checkpoint: refused before it is loaded
    assert time.perf_counter() - t0 < 1.0
    one_line_error(res, "holds a continuation dataset", "--overwrite")
    assert digest(out) == before and not Path(str(out) + store.LOCK_SUFFIX).exists()


def test_same_analysis_other_settings_needs_overwrite_and_reruns_replace(tmp_path):
    out = tmp_path / "relax.zarr"
    assert invoke([*RELAX, "--out", out]).exit_code == 0
    assert invoke([*RELAX, "--out", out]).exit_code == 0  # the same settings: recomputed in place
    before = digest(out)
    one_line_error(invoke([*RELAX, "--eps", "0.05", "--out", out]), "other settings")
    assert digest(out) == before
    res = invoke([*RELAX, "--eps", "0.05", "--out", out, "--overwrite"])
    assert res.exit_code == 0, res.output
    ds = store.read(out)
    assert ds.attrs["analysis"] == "relax" and ds.attrs["complete"] == 1 and ds.attrs["schema_version"] == 1
    assert store.attr_json(ds, "settings")["eps"] == 0.05


SLOW_FIELD = """
import time
from stabilitylab import examples

def make():
    time.sleep(3)
    return examples.linear()
"""


def test_two_concurrent_writers_one_refused_the_other_completes(tmp_path):
    (tmp_path / "slowfield.py").write_text(textwrap.dedent(SLOW_FIELD))
    out = tmp_path / "relax.zarr"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    first = subprocess.Popen([sys.executable, "-m", "stabilitylab", "relax", "--field", "slowfield:make",
                              "--steps", "50", "--out", str(out)], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lock = Path(str(out) + store.LOCK_SUFFIX)
    deadline = time.time() + 60
    while not lock.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert lock.exists(), first.communicate()[0]
    one_line_error(invoke([*RELAX, "--out", out]), "being written by another run", f"pid {first.pid}")
    text, _ = first.communicate(timeout=120)
    assert first.returncode == 0, text
    assert store.read(out).attrs["field"] == "slowfield:make" and not lock.exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "relax.zarr"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    Path(str(out) + store.LOCK_SUFFIX).write_text(f"{dead.stdout.strip()} {os.uname().nodename}")
    assert invoke([*RELAX, "--out", out]).exit_code == 0


def test_read_only_target_is_one_line(tmp_path):
    if os.geteuid() == 0:  # root writes through file modes: use a file system that refuses it
        target = Path("/sys/stabilitylab-test/relax.zarr")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "relax.zarr"
    one_line_error(invoke([*RELAX, "--out", target]), "cannot write", str(target))


def test_full_disk_is_one_line_and_keeps_the_old_store(tmp_path, monkeypatch):
    out = tmp_path / "relax.zarr"
    assert invoke([*RELAX, "--out", out]).exit_code == 0
    before = digest(out)

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xr.Dataset, "to_zarr", full)
    one_line_error(invoke([*RELAX, "--out", out]), "no space left", str(out))
    assert digest(out) == before and not list(tmp_path.glob(".relax.zarr.*"))


def test_wrong_kind_of_out(tmp_path):
    one_line_error(invoke([*RELAX, "--out", tmp_path / "x.nc"]), ".zarr")
    (tmp_path / "file.zarr").write_text("not a store")
    one_line_error(invoke([*RELAX, "--out", tmp_path / "file.zarr"]), "not a zarr store")


def test_stores_open_with_plain_open_zarr_without_warnings(tmp_path):
    out = tmp_path / "relax.zarr"
    assert invoke([*RELAX, "--out", out]).exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xr.open_zarr(out) as ds:
            assert ds.attrs["analysis"] == "relax" and ds.attrs["complete"] == 1
            assert isinstance(ds.attrs["torch_threads"], int)


def test_an_incomplete_store_reads_with_a_warning(tmp_path):
    out = store.write(xr.Dataset({"r": ("point", [1.0])}), tmp_path / "x.zarr", "test", complete=False)
    with pytest.warns(store.IncompleteStoreWarning, match="incomplete"):
        store.read(out)
    assert store.read(out, partial=True).attrs["complete"] == 0
