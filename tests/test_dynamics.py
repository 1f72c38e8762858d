"""Dynamics beyond fixed points, checked against analytic answers (stabilitylab.examples).

Stuart–Landau past its Hopf point: the invariant circle of the Euler map (period, radius, Floquet
multipliers); below it: a fixed point; logistic (r=4) and Hénon maps at ε = 1: Lyapunov exponents;
a saturating flip: an integer-period (2-cycle) orbit of the map; a stiff linear field: the
ε-sweep's instability exactly at ε_crit.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stabilitylab import examples as ex
from stabilitylab.dynamics import detect, eps_sweep, floquet, knockout
from stabilitylab.dynamics.batch import batch_force
from stabilitylab.dynamics.grid import parse_grid
from stabilitylab.dynamics.period import estimate_period
from stabilitylab.errors import StabilityLabError
from stabilitylab.model import BlockConfig, block_field, make_block


@pytest.mark.parametrize("eps,shear", [(0.1, 0.0), (0.05, 0.5)])
def test_stuart_landau_cycle_period_amplitude_and_floquet(eps, shear):
    fld = ex.stuart_landau(shear=shear)
    exact = ex.stuart_landau_map_cycle(mu=0.1, shear=shear, eps=eps)
    att = detect(fld, eps, steps=1000, tail=500)
    row = att.rows[0]
    assert row.kind == "limit_cycle", row.reason
    assert row.period == pytest.approx(exact["period_steps"], rel=2e-2)
    assert row.amplitude == pytest.approx(exact["radius"], rel=2e-2)
    assert abs(row.lyapunov) < 1e-3  # the phase direction: λ ≈ 0 on an invariant circle
    fl = floquet(fld, att.trajectory.z[0], eps, row.period, k=4)
    P = fl.steps
    assert P == round(exact["period_steps"]) and fl.refinement == "tail"
    assert fl.trivial_index == 0 and fl.trivial_error < 1e-2
    expected = np.sort(np.abs(exact["multipliers"][1:] ** P))[::-1]  # radial, then the decaying coordinates
    assert np.abs(fl.nontrivial[:3] - expected[:3]).max() < 1e-2
    assert fl.stable and fl.converged


def test_below_the_hopf_point_is_a_fixed_point():
    att = detect(ex.stuart_landau(mu=-0.1), 0.1, steps=1000)
    assert att.rows[0].kind == "fixed_point", att.rows[0].reason
    assert att.rows[0].lyapunov == pytest.approx(math.log(abs(1 + 0.1 * (-0.1 + 1j))), abs=2e-3)


@pytest.mark.parametrize("factory,exact", [(ex.logistic, math.log(2.0)), (ex.henon, ex.henon_lyapunov())])
def test_chaotic_maps_have_the_known_lyapunov_exponent(factory, exact):
    row = detect(factory(), 1.0, steps=6000).rows[0]  # ε = 1: the Euler map is the logistic / Hénon map
    assert row.kind == "chaotic", row.reason
    assert row.lyapunov == pytest.approx(exact, abs=0.05)


def test_lyapunov_exponent_of_a_linear_field_is_log_spectral_radius():
    fld = ex.linear(n=6, seed=3)
    eps = 0.2
    rho = np.abs(1 + eps * ex.linear_spectrum(fld)).max()
    row = detect(fld, eps, steps=400).rows[0]
    assert row.kind == "fixed_point"
    assert row.lyapunov == pytest.approx(math.log(rho), abs=5e-3)


def test_flip_two_cycle_is_a_map_cycle_without_trivial_multiplier():
    p, eps = 22.0, 0.1
    exact = ex.flip_cycle(p, eps, saturating=True)
    fld = ex.flip(n=6, p=p, decay=(5.0, 6.0), saturating=True)
    att = detect(fld, eps, steps=400)
    row = att.rows[0]
    assert row.kind == "limit_cycle" and row.period == pytest.approx(2.0, abs=1e-6)
    assert row.amplitude == pytest.approx(exact["amplitude"], rel=1e-6)
    assert row.lyapunov < 0  # an integer-period orbit of the map has no neutral direction
    fl = floquet(fld, att.trajectory.z[0], eps, row.period, k=3)
    assert fl.refinement == "newton" and fl.closure < 1e-10 and fl.mismatch == 0.0
    assert fl.trivial_index == -1 and fl.stable
    assert fl.multipliers[0].real == pytest.approx(exact["multiplier"], abs=1e-8)


def test_stiff_linear_eps_sweep_finds_the_instability_at_the_analytic_eps_crit():
    A = np.diag([-1.0, -1.0, -50.0, -3.0, -2.0, -4.0])
    A[0, 1], A[1, 0] = 2.0, -2.0  # a complex pair −1 ± 2i (ε_crit 0.4); the stiff −50 flips at 0.04
    grid = np.linspace(0.005, 0.075, 8)
    ds = eps_sweep(ex.linear(A=A), grid, steps=1500)
    assert float(ds["eps_crit"]) == pytest.approx(2 / 50, rel=1e-9)
    kinds = ds["kind"].values
    assert all(k == "fixed_point" for k in kinds[grid < 0.04]) and all(k == "diverged" for k in kinds[grid > 0.04])
    assert np.all((ds["predicted_max_abs_mu"].values > 1) == (grid > 0.04))
    assert ds.attrs["eps_converged_max"] < 0.04 <= ds.attrs["eps_onset"] and "consistent" in ds.attrs["verdict"]
    assert ds["step_residual"].dims == ("eps", "step")


def test_knockout_restores_the_fixed_point_and_agrees_with_the_spectrum():
    # μ_NS = −0.050 at ε = 0.1: μ = −0.02 is Euler-unstable although J is stable (discretisation only)
    ds = knockout(ex.stuart_landau(), "mu", [0.1, -0.02, -0.1], eps=0.1, steps=600, k=2)
    assert list(ds["kind"].values) == ["limit_cycle", "limit_cycle", "fixed_point"]
    assert list(ds["max_abs_mu"].values > 1) == [True, True, False]
    assert list(ds["leading_re_J"].values > 0) == [True, False, False]
    assert "spectrum agrees" in ds.attrs["verdict"] and ds["eig_J"].dims == ("mu", "mode")


def test_batched_knob_force_matches_single_runs_with_and_without_vmap():
    cfg = BlockConfig(vocab=26, C=16, H=2, T=8)
    fld = block_field(make_block(cfg, seed=1), torch.arange(8).reshape(1, 8) % 26)
    x0 = fld.z0.reshape(1, -1).expand(3, -1).clone()
    x0 = x0 + 0.01 * torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=x0.dtype)
    for knob in ("alpha", "head_1"):  # alpha vmaps; a head gain goes through torch.tensor: loop fallback
        vals = [1.0, 0.5, 0.0]
        got = batch_force(fld, x0, knob, vals)(x0)
        for e, v in enumerate(vals):
            torch.testing.assert_close(got[e], fld.with_params(**{knob: v}).flat_force()(x0[e]))


def test_period_estimate_is_sub_step_and_rejects_noise():
    k = np.arange(600)
    theta = 2 * math.pi / 17.37
    x = np.stack([np.cos(theta * k), np.sin(theta * k) ** 3 + 0.3 * np.cos(2 * theta * k)], axis=1)
    assert estimate_period(x) == pytest.approx(17.37, abs=1e-3)
    assert estimate_period(np.tile([1.0, -1.0], 200)) == pytest.approx(2.0, abs=1e-9)
    assert math.isnan(estimate_period(np.random.default_rng(0).normal(size=600)))


def test_grid_parsing_and_errors():
    assert np.allclose(parse_grid("0.1:0.3:3", "--eps"), [0.1, 0.2, 0.3])
    assert np.allclose(parse_grid("0.01:1:3", "--eps", log=True), [0.01, 0.1, 1.0])
    assert np.allclose(parse_grid("1.0,0.7,0", "--alpha"), [1.0, 0.7, 0.0])
    for bad in ("0.1:0.2", "a,b", "0.1:0.2:0", ""):
        with pytest.raises(StabilityLabError):
            parse_grid(bad, "--eps")
    with pytest.raises(StabilityLabError, match="> 0"):
        parse_grid("0:0.1:3", "--eps", positive=True)
    with pytest.raises(StabilityLabError, match="no knob"):
        knockout(ex.stuart_landau(), "attn", [1.0], steps=50)
