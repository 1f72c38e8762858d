"""Cycle branches past the boundary, against closed forms derived here.

Map fields: w ↦ w + ε f(w) with f(w) = (μ + g(|w|²) + iω) w on two coordinates of R^n (the rest
decaying at known rates, mixed by an orthogonal Q). Since |w'|² = |w|² |1 + ε(μ + g(ρ) + iω)|², a circle
ρ = |w|² is exactly invariant iff (1 + ε(μ + g(ρ)))² + ε²ω² = 1, i.e. μ + g(ρ) = μ_NS with
μ_NS = (√(1 − ε²ω²) − 1)/ε, and it rotates by θ = arg(1 + ε(μ_NS + iω)) per step.

- Stuart–Landau, g(ρ) = −ρ: ρ = μ − μ_NS (supercritical, soft);
- Bautin, g(ρ) = ρ − ρ²: ρ± = (1 ± √(1 − 4(μ_NS − μ)))/2, born at μ = μ_NS − 1/4 (a fold of circles),
  the large one stable: the fixed point (stable for μ < μ_NS) and the large circle coexist on
  μ ∈ (μ_NS − 1/4, μ_NS) — hysteresis.
"""
import math

import numpy as np
import pytest
import torch

from stabilitylab import Field
from stabilitylab.cycles.map_branch import map_branch

EPS, OMEGA = 0.1, 1.0
MU_NS = (math.sqrt(1 - (EPS * OMEGA) ** 2) - 1) / EPS
THETA = math.atan2(EPS * OMEGA, 1 + EPS * MU_NS)


def planar_field(g, n=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    rates = torch.linspace(0.5, 3.0, n - 2, dtype=torch.float64)

    def force(z, mu):
        y = Q.T @ z
        x, v, rest = y[0], y[1], y[2:]
        rho = x * x + v * v
        a = mu + g(rho)
        fy = torch.cat([torch.stack([a * x - OMEGA * v, OMEGA * x + a * v]), -rates * rest])
        return Q @ fy

    z0 = Q @ torch.cat([torch.tensor([0.05, 0.0], dtype=torch.float64), 0.01 * torch.ones(n - 2, dtype=torch.float64)])
    return Field(force, z0, {"mu": -0.2}), Q


def test_euler_map_invariant_circle_matches_the_normal_form():
    fld, _ = planar_field(lambda rho: -rho)
    values = [MU_NS - 0.03, MU_NS + 0.03, MU_NS + 0.06]
    ds = map_branch(fld, "mu", values, EPS, steps=3000, tail=600)
    for i in range(ds.sizes["point"]):
        p = ds.isel(point=i)
        mu = float(p["mu"])
        if mu < MU_NS:
            assert str(p["kind"].values) == "fixed_point" and float(p["amplitude"]) == 0
            continue
        if not int(p["settled"]):  # growing out of the unstable fixed point is slow (rate ε(μ − μ_NS)):
            assert str(p["direction"].values) == "forward" and f"{mu:.4g}" in ds.attrs["verdict"]
            continue  # ... and the verdict names the point as not settled
        assert float(p["amplitude"]) == pytest.approx(math.sqrt(mu - MU_NS), rel=1e-6)
        assert float(p["rotation_number"]) == pytest.approx(THETA / (2 * math.pi), rel=1e-6)
    back_osc = (ds["direction"].values == "backward") & (ds["kind"].values != "fixed_point")
    assert back_osc.sum() == 2 and (ds["settled"].values[back_osc] == 1).all()
    assert ds.attrs["onset_kind"] == "soft" and math.isnan(float(ds.attrs["hysteresis_lo"]))
    assert ds.attrs["onset_p0"] == pytest.approx(MU_NS, abs=1e-6)
    assert "soft (supercritical)" in ds.attrs["verdict"]


def test_subcritical_circle_gives_the_hysteresis_loop_of_the_closed_form():
    fld, _ = planar_field(lambda rho: rho - rho * rho)
    lpc = MU_NS - 0.25
    values = [lpc - 0.03, lpc + 0.03, MU_NS - 0.1, MU_NS - 0.03, MU_NS + 0.1]
    ds = map_branch(fld, "mu", values, EPS, steps=2000, tail=400)
    fwd = ds.where(ds["direction"] == "forward", drop=True)
    bwd = ds.where(ds["direction"] == "backward", drop=True)
    assert list(fwd["kind"].values[:4]) == ["fixed_point"] * 4 and fwd["kind"].values[4] != "fixed_point"
    kinds_back = dict(zip(bwd["mu"].values, bwd["kind"].values))
    assert kinds_back[values[0]] == "fixed_point"
    for mu in values[1:]:  # the large circle persists back down to the fold of circles
        assert kinds_back[mu] != "fixed_point"
        rho = (1 + math.sqrt(1 - 4 * (MU_NS - mu))) / 2
        amp = float(bwd["amplitude"].values[list(bwd["mu"].values).index(mu)])
        assert amp == pytest.approx(math.sqrt(rho), rel=1e-6)
    assert ds.attrs["hysteresis_lo"] == pytest.approx(values[1]) and ds.attrs["hysteresis_hi"] == pytest.approx(values[3])
    assert ds.attrs["onset_kind"] == "hard" and "hysteresis over mu ∈" in ds.attrs["verdict"]


def test_settled_tells_a_drift_from_the_scatter_of_a_non_circular_orbit():
    from stabilitylab.cycles.map_branch import is_settled

    k = np.arange(600)
    orbit = 1 + 0.3 * np.cos(2 * np.pi * k / 12.718)  # d² along an ellipse sampled at a non-integer period
    assert is_settled(orbit)
    assert not is_settled(orbit * (1 - 0.5 * np.exp(-0.003 * k)))  # the slow approach near a soft onset
    assert not is_settled(np.exp(-0.003 * k))
    assert is_settled(np.ones(600))
