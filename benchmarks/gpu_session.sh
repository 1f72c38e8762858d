#!/usr/bin/env bash
# Everything a lent GPU machine is for, in one call (the device tool's `run`, repository root):
#     bash benchmarks/device_wheels.sh                                   # here, once
#     run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=480)
# 1. the GPU benchmark (benchmarks/bench_gpu.py: research width, B = 8, float32 then float64);
#    sections that would start after BENCH_BUDGET seconds are skipped and named (BENCH_ARGS: more
#    options, e.g. "--tiny --device cpu" to try this script on a CPU);
# 2. the default test suite in TEST_SECONDS more (pytest-xdist, which the image has, 16 workers).
# Logs: $OUT/device.txt, bench_gpu.txt, tests.txt (what comes back). The benchmark needs nothing
# beyond the image; the tests need the package and the wheels of .whl/ (installed into /tmp/site). About 7 minutes
# with the defaults, so a 15-minute lease leaves room to start the machine and rerun once.
set -u -o pipefail
OUT=${OUT:-gpu-out}
BENCH_BUDGET=${BENCH_BUDGET:-210}
TEST_SECONDS=${TEST_SECONDS:-150}
mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/device.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$OUT/device.txt"
timeout $((BENCH_BUDGET + 120)) python3 benchmarks/bench_gpu.py --budget "$BENCH_BUDGET" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench_gpu.txt"
# the tests need the package installed (setup.py maps checkpoints/ to stabilitylab.checkpoints) and the wheels
[ -n "$(ls .whl/*.whl 2>/dev/null)" ] || echo "no .whl/: the tests that need zarr or dask will fail (bash benchmarks/device_wheels.sh, carry .whl)" | tee "$OUT/tests.txt"
# into the interpreter's own site-packages, so the tests' subprocesses see them too; else beside it
if ! python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl >>"$OUT/tests.txt" 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    2>&1 | tail -3 | tee -a "$OUT/tests.txt"
  export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . 2>&1 | tail -3 | tee -a "$OUT/tests.txt"
# xdist workers see a narrow terminal: the summaries the tests read would wrap
COLUMNS=400 timeout "$TEST_SECONDS" python3 -m pytest -q -rfE -p no:cacheprovider -n 16 tests 2>&1 | tee -a "$OUT/tests.txt"
