"""The GPU benchmark is run only when a GPU is lent, for minutes: it must not rot in between."""
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu.py"
#: what the device machines' image lacks (its package list, /work/.library/device/KINDS.md) or
#: the benchmark must not need there
ABSENT = ("zarr", "dask", "distributed", "click", "rich", "matplotlib", "hypothesis")

RUN = f"""
import runpy, sys
for name in {ABSENT!r}:  # as if not installed: import raises ModuleNotFoundError, find_spec finds nothing
    sys.modules[name] = None
sys.path.insert(0, {str(BENCH.parent)!r})
sys.argv = ["bench_gpu.py", "--tiny", "--device", "cpu", "--batch", "2", "--dtypes", "float64"]
runpy.run_path({str(BENCH)!r}, run_name="__main__")
"""


def test_the_gpu_benchmark_runs_end_to_end_without_the_packages_a_device_lacks():
    out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for header in ("-- products", "-- spectrum", "-- blocks", "-- continuation", "-- relax",
                   "host reads per operator product", "total"):
        assert header in text, text
    assert "whole spectrum()" in text and "ratio unstructured/block" in text and "skipped" not in text
