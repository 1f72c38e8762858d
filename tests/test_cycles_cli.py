"""``stabilitylab cycles`` end to end on Stuart–Landau, against its closed forms.

Map branch: past μ_NS = (√(1 − ε²ω²) − 1)/ε the Euler map has the invariant circle of
:func:`stuart_landau_map_cycle` (radius, rotation θ/2π per step). Flow branch: from the Hopf point
μ = 0 of a continuation, the cycle |w| = √μ of period 2π/ω (shear 0).
"""
import math

import numpy as np
import pytest
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.examples import stuart_landau_map_cycle, stuart_landau_ns_point

SL = "stabilitylab.examples:stuart_landau"


def run(args, code=0):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == code, res.output
    return res.output


def test_map_branch_of_the_euler_relaxation(tmp_path):
    out = tmp_path / "c.zarr"
    # forward at mu = 0 the circle grows from a 1e-6 kick at rate ε(μ − μ_NS) = 0.005 per step and
    # has not settled in 2500 steps: the command says so and exits 3; the backward sweep has
    text = run(["cycles", "--field", SL, "--param", "mu", "--range", "-0.2:0.2:3", "--eps", "0.1",
                "--steps", "2500", "--tail", "500", "--out", str(out)], code=3)
    ds = store.read(out)
    assert ds.attrs["analysis"] == "cycles" and ds.attrs["branch"] == "map"
    assert (tmp_path / "c.png").exists() and "not settled within the run at mu = 0" in " ".join(text.split())
    mu_ns = stuart_landau_ns_point(eps=0.1)["mu"]
    assert list(ds["mu"].values) == [-0.2, 0.0, 0.2, 0.2, 0.0, -0.2]
    settled = ds["settled"].values.astype(bool)
    assert settled.sum() == 5 and not settled[1]
    for i in np.flatnonzero(settled):
        p = ds.isel(point=i)
        mu = float(p["mu"])
        if mu < mu_ns:
            assert str(p["kind"].values) == "fixed_point" and float(p["amplitude"]) == 0
            continue
        ref = stuart_landau_map_cycle(mu=mu, eps=0.1)
        assert str(p["kind"].values) != "fixed_point"
        assert float(p["amplitude"]) == pytest.approx(ref["radius"], rel=1e-6)
        assert float(p["rotation_number"]) == pytest.approx(ref["theta"] / (2 * math.pi), rel=1e-6)
    assert ds.attrs["onset_kind"] == "soft" and math.isnan(float(ds.attrs["hysteresis_lo"]))  # attrs keep NaN as "nan"
    # A² = μ − μ_NS exactly (shear 0): the fit through the settled circles extrapolates to μ_NS
    assert ds.attrs["onset_p0"] == pytest.approx(mu_ns, abs=1e-3)
    report(out, tmp_path, "settles on a limit cycle (rotation number 0.01594 per step, amplitude 0.224); soft")


def test_flow_branch_from_the_hopf_point_of_a_continuation(tmp_path):
    cont = tmp_path / "cont.zarr"
    run(["continuation", "--field", SL, "--param", "mu", "--range", "-0.2:0.2", "--k", "4", "--out", str(cont)])
    kinds = list(store.read(cont)["special_kind"].values)
    assert "hopf" in kinds
    out = tmp_path / "flow.zarr"
    text = run(["cycles", "--from", str(cont), "--point", str(kinds.index("hopf")), "--branch", "flow",
                "--derivative", "difference", "--shooting-steps", "60", "--max-points", "4", "--out", str(out)])
    ds = store.read(out)
    assert ds.attrs["branch"] == "flow" and ds.sizes["point"] >= 3, text
    mu = ds["mu"].values
    assert (mu > 0).all()  # supercritical: the cycles are on the unstable side of the fixed point
    # RK4 with 60 steps per period: phase error ~ (ωh)^4/120 per step, so 1e-4 relative is honest
    np.testing.assert_allclose(ds["amplitude"].values, np.sqrt(mu), rtol=1e-3)
    np.testing.assert_allclose(ds["period"].values, 2 * math.pi, rtol=1e-4)
    assert ds["stable"].values.all()
    assert (tmp_path / "flow.png").exists()
    report(out, tmp_path, f"{ds.sizes['point']} periodic orbit(s) of the flow")


def report(path, tmp_path, finding):
    """The store makes a report page whose finding is its verdict."""
    text = " ".join(run(["report", "--from", str(path), "--out", str(tmp_path / "r.pdf")]).split())
    assert "(2 pages)" in text and finding in text and (tmp_path / "r.pdf").stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["--point", "0"], "--point needs --from"),
    (["--param", "nope", "--range", "0:1"], "not a knob"),
    (["--param", "mu"], "give --range"),
    (["--param", "mu", "--range", "0:1:1"], "at least 2 values"),
    (["--param", "mu", "--range", "0:1", "--branch", "flow"], "--branch flow needs --from"),
])
def test_bad_input_is_one_line(args, message):
    res = CliRunner().invoke(cli, ["cycles", "--field", SL, *args])
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output
