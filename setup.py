"""Packaging beyond pyproject.toml: the top-level ``checkpoints/`` folder is installed as the package
``stabilitylab.checkpoints`` (its .pt snapshots, README and monitor store as package data), so a
source checkout and an installed wheel find the shipped checkpoints the same way."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["stabilitylab*"]) + ["stabilitylab.checkpoints"],
    package_dir={"stabilitylab.checkpoints": "checkpoints"},
    package_data={"stabilitylab.checkpoints": ["*.pt", "*.md", "*.png", "monitor.zarr/*", "monitor.zarr/**/*"]},
)
