"""A non-editable install works from any directory: the wheel carries the shipped checkpoints.

Builds a wheel from a copy of the source (offline: ``pip wheel --no-build-isolation`` with the
setuptools installed here), installs it into a fresh virtual environment that sees the *running* interpreter's torch, numpy, ...
(a ``.pth`` file naming its site directories; ``--system-site-packages`` would see the base
interpreter, which in a fresh venv has none of them), and from an empty directory runs
``stabilitylab spectrum --ckpt s3200.pt`` and ``sl.load("s3200.pt")`` (≈ 15 s on 2 busy cores).
"""
import os
import site
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd, cwd, env):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def _site_dirs():
    """The running interpreter's site directories (where its torch, numpy, ... are installed)."""
    dirs = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    return [d for d in dirs if Path(d).is_dir()]


def test_wheel_runs_shipped_checkpoint_from_empty_directory(tmp_path):
    src, wheels, env_dir, empty = (tmp_path / d for d in ("src", "wheels", "venv", "empty"))
    for folder in ("stabilitylab", "checkpoints"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STABILITYLAB_CHECKPOINT")}
    env["OMP_NUM_THREADS"] = "1"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", wheels, src], cwd=tmp_path, env=env)
    wheel, = wheels.glob("stabilitylab-*.whl")

    venv.create(env_dir, with_pip=False)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=tmp_path, env=env).strip()
    Path(purelib, "running-interpreter.pth").write_text("\n".join(_site_dirs()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel],
         cwd=tmp_path, env=env)

    where = _run([python, "-c", "import stabilitylab as sl; f = sl.load('s3200.pt'); "
                  "print(sl.__file__); print(f.meta['checkpoint'])"], cwd=empty, env=env).split()
    assert Path(where[0]).is_relative_to(env_dir), f"imported {where[0]}, not the installed wheel"
    assert Path(where[1]).is_relative_to(env_dir) and Path(where[1]).name == "s3200.pt"

    out = _run([bindir / "stabilitylab", "spectrum", "--ckpt", "s3200.pt", "--k", "2", "--eps", "0.25",
                "--no-diagnostics", "--out", "s.zarr"], cwd=empty, env=env)
    assert "verdict" in out.lower() and (empty / "s.zarr").is_dir()
