"""Lyapunov spectra against independent answers: Lorenz (literature + the divergence), Hénon ⊕ a
diagonal map (literature + ln|d|, the sum ln b + Σ ln|d| exactly), a linear Euler map
(ln|1 + ελ| from numpy's eigenvalues), Kaplan–Yorke by hand."""
import math

import numpy as np
import pytest
from click.testing import CliRunner

from stabilitylab.cli import cli
from stabilitylab.dynamics.lyapunov_spectrum import kaplan_yorke, lyapunov_spectrum, lyapunov_sweep
from stabilitylab.examples import linear
from stabilitylab.reference_fields import (HENON_LYAPUNOV, LORENZ_LYAPUNOV, henon_product,
                                           henon_product_exponents, lorenz)
from stabilitylab import store


def test_lorenz_rk4_flow_exponents():
    dt = 0.01
    ds = lyapunov_spectrum(lorenz(), method="rk4", dt=dt, steps=2000, burn=300, orbits=32, spread=1.0)
    lam = ds["lyapunov_per_time"].values
    assert abs(lam[0] - LORENZ_LYAPUNOV[0]) < 0.03 * LORENZ_LYAPUNOV[0]
    assert abs(lam[1]) < 0.03
    assert abs(lam[2] - LORENZ_LYAPUNOV[2]) < 0.01 * abs(LORENZ_LYAPUNOV[2])
    # the sum is the time average of div F = -(sigma + 1 + beta), up to RK4's O(dt^4) error of det
    assert abs(float(ds["lyapunov_sum"]) / dt + (10 + 1 + 8 / 3)) < 1e-3
    assert ds["lyapunov_per_time"].attrs["units"].startswith("per unit time")
    assert ds["convergence"].shape == (ds.sizes["step"], 3)
    dky, determined = kaplan_yorke(lam)
    assert determined and abs(float(ds["kaplan_yorke"]) - (2 + 0.9056 / 14.5723)) < 0.01


def test_henon_times_diagonal_map():
    d = (0.9, -0.5, 0.05)  # ln 0.05 well below the Hénon pair: the QR ordering separates them fast
    ds = lyapunov_spectrum(henon_product(d), eps=1.0, steps=1500, burn=100, orbits=32, spread=1e-2)
    lam, ref = ds["lyapunov"].values, henon_product_exponents(d)
    np.testing.assert_allclose(lam[[1, 2, 4]], np.log(np.abs(d)), atol=1e-9)
    assert abs(lam[0] - HENON_LYAPUNOV[0]) < 0.02 * HENON_LYAPUNOV[0]
    assert abs(lam[3] - HENON_LYAPUNOV[1]) < 0.01 * abs(HENON_LYAPUNOV[1])
    # |det DΦ| = b on the Hénon factor at every step: the sum is exact
    assert abs(float(ds["lyapunov_sum"]) - (math.log(0.3) + np.log(np.abs(d)).sum())) < 1e-10
    assert abs(lam - ref).max() < 0.01
    assert ds.attrs["verdict"].startswith("chaotic")


def test_linear_euler_map_exponents_are_log_multipliers():
    fld = linear(n=8, seed=3)
    eps = 0.3
    A = fld.force.A.numpy()
    ref = np.sort(np.log(np.abs(1 + eps * np.linalg.eigvals(A))))[::-1]
    ds = lyapunov_spectrum(fld, k=8, eps=eps, steps=400, burn=0, align=200)
    np.testing.assert_allclose(ds["lyapunov"].values, ref, atol=2e-3)
    np.testing.assert_allclose(ds["lyapunov_per_time"].values, ds["lyapunov"].values / eps)
    assert ds.attrs["verdict"].startswith("no positive exponent")
    assert float(ds["kaplan_yorke"]) == 0.0


def test_kaplan_yorke_by_hand():
    assert kaplan_yorke([0.5, -0.2, -1.0]) == pytest.approx((2 + 0.3 / 1.0, True))
    assert kaplan_yorke([0.5, -1.0]) == pytest.approx((1.5, True))
    assert kaplan_yorke([-0.1, -1.0]) == (0.0, True)
    assert kaplan_yorke([0.3, 0.1]) == (2.0, False)


def test_unconverged_is_said():
    ds = lyapunov_spectrum(henon_product(), eps=1.0, k=2, steps=40, burn=50, align=5)
    assert ds.attrs["converged"] == 0 and ds.attrs["verdict"].startswith("not converged")


def test_eps_sweep_stacks_on_eps():
    fld = linear(n=4, seed=1)
    ds = lyapunov_sweep(fld, [0.1, 0.5], k=2, steps=200, burn=0)
    lam = np.linalg.eigvals(fld.force.A.numpy())
    for e in (0.1, 0.5):
        ref = np.sort(np.log(np.abs(1 + e * lam)))[::-1][:2]
        np.testing.assert_allclose(ds["lyapunov"].sel(eps=e).values, ref, atol=5e-3)
    assert ds.sizes["eps"] == 2 and ds["verdict"].shape == (2,)


def test_cli_writes_store_and_figure(tmp_path):
    out = tmp_path / "ly.zarr"
    res = CliRunner().invoke(cli, ["lyapunov", "--field", "stabilitylab.reference_fields:henon_product",
                                    "--eps", "1", "--steps", "400", "--burn", "50", "--orbits", "8",
                                    "--out", str(out)])
    assert res.exit_code in (0, 3), res.output
    assert "Kaplan" in res.output and "per unit time" in res.output
    ds = store.read(out)
    assert ds.attrs["analysis"] == "lyapunov" and ds.sizes["mode"] == 4
    assert out.with_suffix(".png").exists()


@pytest.mark.slow
def test_lorenz_long_run_within_one_percent():
    ds = lyapunov_spectrum(lorenz(), method="rk4", dt=0.01, steps=20000, burn=500, orbits=16, spread=1.0)
    lam = ds["lyapunov_per_time"].values
    assert abs(lam[0] - LORENZ_LYAPUNOV[0]) < 0.01 * LORENZ_LYAPUNOV[0]
    assert abs(lam[2] - LORENZ_LYAPUNOV[2]) < 0.005 * abs(LORENZ_LYAPUNOV[2])
