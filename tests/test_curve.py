"""Two-knob curves of special points against curves derived in closed form.

Every field is a low-dimensional core embedded in R^n: z = Q (y_core, s) with Q random
orthogonal, ṡ = −rates·s + 0.3·y0² (the stable directions are slaved to the core quadratically,
so the centre manifold is curved while the core's bifurcation curves stay exact):

- Brusselator x' = a − (b+1)x + x²y, y' = bx − x²y: Hopf curve b = 1 + a² (ω = a); Euler-map
  Neimark–Sacker curve b = 1 + (1 − ε)a² (trace = −ε·det), also in (b, ε) at a = 1: b = 2 − ε;
- Stuart–Landau ẇ = (μ + iω)w − w|w|² at ε = 1: NS curve (1 + μ)² + ω² = 1, a circle on which
  θ = arg(1 + μ + iω) passes 1:4 at (−1, 1) (where ω turns) and 1:3 at (−3/2, √3/2);
- Bautin form ẇ = (μ + iω)w + ν w|w|² − w|w|⁴: Hopf curve μ = 0 with l1 = ν/ω, Bautin at ν = 0;
- Bogdanov–Takens form x' = y, y' = β1 + β2 x + x² − xy: Hopf curve β1 = 0, ω² = −β2, BT at 0;
- x' = μ + νx − x³: fold curve (μ, ν) = (−2x³, 3x²), i.e. 27μ² = 4ν³, with a cusp at (0, 0).
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.continuation import curve_figure
from stabilitylab.continuation.curve import CurveOptions, curve, stable_side
from stabilitylab.errors import StabilityLabError

from embedding import embedded

TOL = 1e-6


def brusselator(y, a, b):
    x, w = y[0:1], y[1:2]
    return torch.cat([a - (b + 1) * x + x * x * w, b * x - x * x * w])


def stuart_landau(y, mu, omega):
    x, w = y[0:1], y[1:2]
    r2 = x * x + w * w
    return torch.cat([mu * x - omega * w - r2 * x, omega * x + mu * w - r2 * w])


def bautin(y, mu, nu):
    x, w = y[0:1], y[1:2]
    r2 = x * x + w * w
    c = nu * r2 - r2 * r2
    return torch.cat([mu * x - w + c * x, x + mu * w + c * w])


def bogdanov_takens(y, b1, b2):
    x, w = y[0:1], y[1:2]
    return torch.cat([w, b1 + b2 * x + x * x - x * w])


def cusp(y, mu, nu):
    return mu + nu * y - y**3


def specials_of(field, param, lo, hi, eps=0.1, **kw):
    br = continuation(ContinuationProblem(field, param, eps), ContinuationOptions(lo, hi, **kw))
    return br.to_dataset()


def index(ds, kind):
    return [str(k) for k in ds["special_kind"].values].index(kind)


FAST = dict(ds=0.05, ds_max=0.3)


@pytest.fixture(scope="module")
def bruss():
    fld = embedded(brusselator, 2, 4, {"a": 1.0, "b": 1.5}, [1.0, 1.5])
    return fld, specials_of(fld, "b", 1.5, 2.2, ds=0.1, ds_max=0.2)


def test_brusselator_hopf_curve(bruss):
    fld, ds = bruss
    cv = curve(fld, ds, index(ds, "hopf"), "a", 0.7, 1.4, CurveOptions(0, 1, **FAST)).to_dataset()
    a, b = cv["a"].values, cv["b"].values
    # both directions, in order, each ending exactly on its end of the range
    assert a.min() == pytest.approx(0.7, abs=1e-9) and a.max() == pytest.approx(1.4, abs=1e-9) and np.all(np.diff(a) > 0)
    np.testing.assert_allclose(b, 1 + a**2, atol=TOL)
    np.testing.assert_allclose(cv["frequency"].values, a, atol=TOL)
    assert set(cv["criticality"].values) == {"supercritical"} and cv.sizes["special"] == 0
    assert cv.attrs["stop_forward"] == "reached the end of the range (a=1.4)"
    # stable for b < 1 + a²: the stable side is below in b, with no unstable mode; the start is (1, 2)
    assert (cv.attrs["stable_side"], cv.attrs["stable_side_unstable"]) == (-1, 0)
    assert a[cv.attrs["start_index"]] == pytest.approx(1.0) and b[cv.attrs["start_index"]] == pytest.approx(2.0)
    fig = curve_figure.figure(cv)
    ticked = [ln for ln in fig.axes[0].lines if ln.get_path_effects()]
    assert ticked and "ticks: stable side" in fig.axes[0].get_legend_handles_labels()[1]


def test_brusselator_neimark_sacker_curve(bruss):
    fld, ds = bruss
    cv = curve(fld, ds, index(ds, "neimark_sacker"), "a", 0.7, 1.4, CurveOptions(0, 1, **FAST)).to_dataset()
    a, b = cv["a"].values, cv["b"].values
    assert a.min() == pytest.approx(0.7, abs=1e-9) and a.max() == pytest.approx(1.4, abs=1e-9)
    np.testing.assert_allclose(b, 1 + 0.9 * a**2, atol=TOL)
    lam = (-0.1 * a**2 + 1j * np.sqrt(4 * a**2 - 0.01 * a**4)) / 2  # trace −εa², det a²
    np.testing.assert_allclose(cv["frequency"].values, np.angle(1 + 0.1 * lam), atol=TOL)


def test_neimark_sacker_curve_in_eps(bruss):
    fld, ds = bruss
    cv = curve(fld, ds, index(ds, "neimark_sacker"), "eps", 0.05, 0.2, CurveOptions(0, 1, **FAST)).to_dataset()
    eps, b = cv["eps"].values, cv["b"].values
    assert eps.min() == pytest.approx(0.05, abs=1e-9) and eps.max() == pytest.approx(0.2, abs=1e-9)
    np.testing.assert_allclose(b, 2 - eps, atol=TOL)


def test_ns_circle_with_strong_resonances():
    fld = embedded(stuart_landau, 2, 4, {"mu": -0.3, "omega": 0.5}, [0.0, 0.0])
    ds = specials_of(fld, "mu", -0.3, 0.1, eps=1.0, ds=0.1)
    cv = curve(fld, ds, index(ds, "neimark_sacker"), "omega", 0.3, 1.2, CurveOptions(0, 1, **FAST)).to_dataset()
    mu, om = cv["mu"].values, cv["omega"].values
    np.testing.assert_allclose((1 + mu) ** 2 + om**2, 1.0, atol=TOL)
    np.testing.assert_allclose(cv["frequency"].values, np.abs(np.arctan2(om, 1 + mu)), atol=TOL)
    assert mu.min() < -1.5  # past the turning point of omega
    found = {str(k): (float(cv["special_mu"][i]), float(cv["special_omega"][i]))
             for i, k in enumerate(cv["special_kind"].values)}
    # the map's cubic coefficient is d = Re(e^{−iθ}·ε·(−1)) = −cos θ = −(1 + μ): zero at 1:4 too
    np.testing.assert_allclose(cv["l1"].values, -(1 + mu), atol=TOL)
    assert set(found) == {"resonance_1:4", "resonance_1:3", "chenciner"}
    np.testing.assert_allclose(found["resonance_1:4"], (-1.0, 1.0), atol=TOL)
    np.testing.assert_allclose(found["chenciner"], (-1.0, 1.0), atol=TOL)
    np.testing.assert_allclose(found["resonance_1:3"], (-1.5, math.sqrt(3) / 2), atol=TOL)


def test_bautin_point_on_hopf_curve():
    fld = embedded(bautin, 2, 5, {"mu": -0.2, "nu": 0.4}, [0.0, 0.0])
    ds = specials_of(fld, "mu", -0.2, 0.1, ds=0.1)
    cv = curve(fld, ds, index(ds, "hopf"), "nu", -0.4, 0.6, CurveOptions(0, 1, **FAST)).to_dataset()
    nu = cv["nu"].values
    np.testing.assert_allclose(cv["mu"].values, 0.0, atol=TOL)
    np.testing.assert_allclose(cv["l1"].values, nu, atol=TOL)  # ω = 1, w = x + iy
    assert list(cv["special_kind"].values) == ["bautin"]
    assert abs(float(cv["special_nu"][0])) < TOL and abs(float(cv["special_l1"][0])) < TOL
    crit = cv["criticality"].values
    assert all(c == ("subcritical" if v > 0 else "supercritical") for c, v in zip(crit, nu) if abs(v) > 1e-3)


def test_hopf_curve_ends_at_bogdanov_takens():
    fld = embedded(bogdanov_takens, 2, 4, {"b1": -0.3, "b2": -1.0}, [-0.24, 0.0])
    ds = specials_of(fld, "b1", -0.3, 0.1, ds=0.05)
    cv = curve(fld, ds, index(ds, "hopf"), "b2", -1.5, 0.5, CurveOptions(0, 1, **FAST)).to_dataset()
    b2 = cv["b2"].values
    np.testing.assert_allclose(cv["b1"].values, 0.0, atol=TOL)
    np.testing.assert_allclose(cv["frequency"].values ** 2, -b2, atol=TOL)
    assert "Bogdanov-Takens" in cv.attrs["stop_forward"] and b2.min() == pytest.approx(-1.5, abs=1e-9)
    (i,) = [i for i, k in enumerate(cv["special_kind"].values) if k == "bogdanov_takens"]
    assert abs(float(cv["special_b1"][i])) < TOL and abs(float(cv["special_b2"][i])) < TOL


def test_hopf_coefficient_at_the_bogdanov_takens_point_is_undefined_not_an_error():
    """At β = 0 J's core block is the nilpotent [[0, 1], [0, 0]]: the Hopf pair has merged into the
    real double eigenvalue 0, so l1 (∝ 1/ω) is undefined. A Hopf curve's locator evaluates it
    there (a trial at ω ≈ 4e-9 once crashed the solve on a real eigenvector with a complex shift)."""
    from stabilitylab.continuation.criticality import hopf_coefficient

    fld = embedded(bogdanov_takens, 2, 4, {"b1": 0.0, "b2": 0.0}, [0.0, 0.0])
    nf = hopf_coefficient(fld, fld.z0, complex(0.0, 3.7e-9))
    assert math.isnan(nf.coefficient) and nf.criticality == "degenerate"
    assert abs(nf.eig) < 1e-7 and nf.eig.imag == 0


def test_fold_curve_through_cusp():
    x0 = -1 / math.sqrt(3)  # the lower fold at ν = 1: μ = 2/(3√3)
    fld = embedded(cusp, 1, 3, {"mu": 0.2, "nu": 1.0}, [x0 - 0.3])
    ds = specials_of(fld, "mu", 0.2, 0.5, ds=0.05)
    cv = curve(fld, ds, index(ds, "fold"), "nu", -0.5, 1.5, CurveOptions(0, 1, **FAST)).to_dataset()
    mu, nu = cv["mu"].values, cv["nu"].values
    np.testing.assert_allclose(27 * mu**2, 4 * nu**3, atol=TOL)
    assert nu.min() < 0.05 and mu.min() < -0.1 and mu.max() > 0.1  # through the cusp to the other fold
    assert list(cv["special_kind"].values) == ["cusp"]
    assert abs(float(cv["special_mu"][0])) < TOL and abs(float(cv["special_nu"][0])) < TOL


def test_bad_input(bruss):
    fld, ds = bruss
    with pytest.raises(StabilityLabError, match="not a special point"):
        curve(fld, ds, 5, "a", 0.5, 1.5)
    with pytest.raises(StabilityLabError, match="unknown knob"):
        curve(fld, ds, 0, "gamma", 0.5, 1.5)
    with pytest.raises(StabilityLabError, match="does not contain the start"):
        curve(fld, ds, 0, "a", 1.5, 2.5)
    with pytest.raises(StabilityLabError, match="must be positive"):
        curve(fld, ds, index(ds, "neimark_sacker"), "eps", 0.0, 0.2)
    with pytest.raises(StabilityLabError, match="eps moves only"):
        curve(fld, ds, index(ds, "hopf"), "eps", 0.05, 0.2)


SL = ["--field", "stabilitylab.examples:stuart_landau"]


@pytest.fixture(scope="module")
def sl_cont(tmp_path_factory):
    out = tmp_path_factory.mktemp("cv") / "cont.zarr"
    res = CliRunner().invoke(cli, ["continuation", *SL, "--set", "mu=-0.2", "--param", "mu", "--range",
                                   "-0.2:0.1", "--ds", "0.1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_cli_curve(sl_cont, tmp_path):
    """``curve`` follows special point #1 of the continuation (#0 is the Euler map's NS at
    μ ≈ −0.05, #1 the Hopf at μ = 0 with l1 = −1/ω) in ω and writes the dataset and figure."""
    out = tmp_path / "curve.zarr"
    res = CliRunner().invoke(cli, ["curve", "--from", str(sl_cont), "--point", "1", "--param2", "omega",
                                   "--range", "0.9:1.1", "--ds", "0.1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "hopf curve" in res.output and "stopped:" in res.output
    cv = store.read(out)
    assert cv.attrs["analysis"] == "curve" and set(cv.coords) >= {"mu", "omega", "point"}
    np.testing.assert_allclose(cv["mu"].values, 0.0, atol=TOL)
    np.testing.assert_allclose(cv["l1"].values, -1 / cv["omega"].values, rtol=1e-6)
    assert out.with_suffix(".png").exists()


@pytest.mark.parametrize("args, message", [
    (["--point", "9", "--param2", "omega", "--range", "0.5:1.5"], "not a special point"),
    (["--point", "0", "--param2", "gamma", "--range", "0.5:1.5"], "unknown knob"),
    (["--point", "0", "--param2", "omega", "--range", "1.5:2"], "does not contain the start"),
    (["--point", "0", "--param2", "omega", "--range", "2:1"], "runs downward"),
])
def test_cli_curve_bad_input(sl_cont, tmp_path, args, message):
    res = CliRunner().invoke(cli, ["curve", "--from", str(sl_cont), *args, "--out", str(tmp_path / "x.zarr")])
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1


def test_stable_side_and_tick_side():
    """The side of fewer unstable modes, from the branch points around the special point, and the
    tick angle pointing there: left of the travel direction (+90°) is above for rightward travel."""
    branch = xr.Dataset({"n_unstable_J": ("point", [2, 2, 0, 0]), "special_kind": ("special", ["hopf"]),
                         "special_point": ("special", [1])}, coords={"mu": ("point", [0.0, 0.1, 0.2, 0.3])},
                        attrs={"param": "mu"})
    assert stable_side(branch, 0) == (1, 0)
    assert stable_side(branch.assign(n_unstable_J=("point", [0, 0, 1, 1])), 0) == (-1, 0)
    assert stable_side(branch.assign(n_unstable_J=("point", [3, 3, 1, 1])), 0) == (1, 1)
    assert stable_side(branch.assign(n_unstable_J=("point", [1, 1, 1, 1])), 0) == (0, -1)
    x = np.array([0.0, 1.0, 2.0])
    assert curve_figure.tick_angle(x, x, 1, +1) == 90.0 and curve_figure.tick_angle(x[::-1], x[::-1], 1, +1) == -90.0
    assert curve_figure.tick_angle(x, -x, 1, -1) == -90.0 and curve_figure.tick_angle(x, x, 1, 0) is None


def _synthetic_curve(param2, x, y, crit, kind="hopf"):
    from stabilitylab.continuation.curve import Codim2Point, Curve, CurvePoint

    pts = [CurvePoint(yy, xx, 1.0, 1.0, -0.1, cc, 1.0, 1e-12, 1e-12, 2, 0.0) for xx, yy, cc in zip(x, y, crit)]
    sp = [Codim2Point("bautin", y[1], x[1], 1.0, 0.0, 1, 0.0)]
    return Curve(kind, "alpha", param2, pts, sp, ("a", "b"), {"checkpoint_sha256": "ab" * 32}).to_dataset()


def test_stability_map_dataset_and_page(tmp_path):
    """combine() joins curves of one first knob; the report recognises, draws and states it."""
    from stabilitylab.report import document, kinds
    from stabilitylab.report.stability_map import combine, sentence

    a = _synthetic_curve("c", [0.0, 0.5, 1.0], [-0.1, -0.2, -0.3], ["supercritical", "supercritical", "subcritical"])
    b = _synthetic_curve("eps", [0.05, 0.1], [-0.5, -0.4], ["", ""], kind="neimark_sacker")
    ds = combine([a, b], {"alpha": 1.0, "c": 0.25, "eps": 0.25}, "ckpt")
    store.write(ds, tmp_path / "map.zarr", "stability_map")
    back = store.read(tmp_path / "map.zarr")
    assert kinds.kind_of(back) == "stability_map"
    assert list(back["curve"].values) == [0, 0, 0, 1, 1] and list(back["special_p2"].values) == [0.5, 0.1]
    text = sentence(back)
    assert "alpha = -0.3 … -0.1 for c in [0, 1]" in text and "Neimark–Sacker" in text and "(alpha = 1)" in text
    pngs = document.build({"stability_map": back}, tmp_path / "r.pdf")
    assert [p.name for p in pngs] == ["report-summary.png", "report-stability_map.png"]
    with pytest.raises(StabilityLabError, match="one first knob"):
        combine([a, a.assign_attrs(param="c2")], {})
