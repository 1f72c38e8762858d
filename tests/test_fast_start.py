"""`stabilitylab --help` and `COMMAND --help` must not import torch, xarray, matplotlib or dask."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "xarray", "matplotlib", "dask")
PROBE = """
import sys
from click.testing import CliRunner
from stabilitylab.cli import cli
res = CliRunner().invoke(cli, sys.argv[1:])
assert res.exit_code == 0, res.output
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["spectrum", "--help"], ["sweep", "spectrum", "--help"],
                                  ["report", "--help"], ["continuation", "--help"], ["gradcheck", "--help"]])
def test_help_imports_no_heavy_module(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{' '.join(args)} imported {out.stdout.strip()}"


def test_help_answers_quickly():
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stabilitylab", "--help"], cwd=ROOT, capture_output=True, check=True)
    # well under 1 s idle (~0.3 s); generous for a loaded shared machine, far below torch's ~2-4 s import
    assert time.perf_counter() - t < 5.0
