"""The analysis registry: every dataset names its analysis, and the report dispatches on that name."""
import importlib

import numpy as np
import pytest
import xarray as xr

from stabilitylab import solvers
from stabilitylab.analyses import ANALYSES
from stabilitylab.dynamics import analyse_cycle, eps_sweep
from stabilitylab.examples import linear
from stabilitylab.report.kinds import EXTRA_SECTIONS, SECTIONS, kind_of
from stabilitylab.spectral.spectrum import spectrum


def test_registry_names_real_builders_and_sections():
    for a in ANALYSES.values():
        module, _, attr = a.builds.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        assert callable(obj), a.name
        assert a.section is None or a.section in SECTIONS + EXTRA_SECTIONS, a.name
    assert {a.section for a in ANALYSES.values()} - {None} == set(SECTIONS + EXTRA_SECTIONS)  # every page has one


@pytest.mark.parametrize("name, build", [
    ("spectrum", lambda f: spectrum(f, k=2, eps=0.1, diagnostics=False)),
    ("eps-sweep", lambda f: eps_sweep(f, [0.05, 0.1], steps=60, k=2, lyapunov=False)),
    ("cycle", lambda f: analyse_cycle(f, 0.1, 80, k=2, with_floquet=False, lyapunov=False)),
    ("relax", lambda f: solvers.relax_euler(f, eps=0.1, steps=20).to_dataset()),
])
def test_datasets_carry_their_analysis_and_the_report_reads_it(name, build):
    ds = build(linear(n=8))
    assert ds.attrs["analysis"] == name
    assert kind_of(ds) == ANALYSES[name].section


def test_old_stores_without_a_name_are_still_recognised():
    ds = spectrum(linear(n=8), k=2, eps=0.1, diagnostics=False)
    old = ds.drop_attrs()
    assert kind_of(old) == "spectrum"
    # a sweep store from before sweeps were named carries its points' analysis, "spectrum"
    sweep = xr.Dataset({"max_abs_mu": ("point", [0.9, 1.1]), "n_unstable_J": ("point", [0, 1])},
                       coords={"step": ("point", [0, 100]), "checkpoint": ("point", ["a.pt", "b.pt"])},
                       attrs={"analysis": "spectrum", "sweep_fingerprint": "x"})
    assert kind_of(sweep) == "drift"
    assert kind_of(sweep.assign_attrs(analysis="sweep-batches")) is None
    assert kind_of(xr.Dataset({"x": ("t", np.zeros(2))})) is None


def test_the_command_line_comes_from_the_cli_not_sys_argv(tmp_path):
    from click.testing import CliRunner

    from stabilitylab import store
    from stabilitylab.cli import cli

    assert spectrum(linear(n=8), k=2, eps=0.1, diagnostics=False).attrs["command"] == "python"
    out = tmp_path / "s.zarr"
    args = ["spectrum", "--field", "stabilitylab.examples:linear", "--k", "2", "--no-diagnostics", "--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert store.read(out).attrs["command"] == "stabilitylab " + " ".join(args)
