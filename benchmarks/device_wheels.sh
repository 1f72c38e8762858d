#!/usr/bin/env bash
# Download, here, the wheels the device machines' image lacks (zarr and dask with their own needs,
# pypdf; see /work/.library/device/KINDS.md for what it has) into .whl/ (git-ignored), for
# benchmarks/gpu_session.sh to install there: Python 3.12, manylinux x86_64, no dependencies
# (every other need is on the image). About 13 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  zarr==3.1.6 numcodecs==0.16.6 donfig google-crc32c dask==2026.11.0 distributed==2026.11.0 \
  partd locket tblib zict tornado pypdf
ls .whl
