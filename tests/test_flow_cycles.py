"""Periodic orbits of the flow by shooting, against closed forms derived here.

Planar fields ẇ = (a(ρ) + iω) w, ρ = |w|², on two coordinates of R^n mixed by an orthogonal Q, the
other n − 2 coordinates decaying at the rates r_i. A circle ρ* with a(ρ*) = 0 is a periodic orbit of
period exactly 2π/ω; its Floquet multipliers are 1 (phase), exp(2ρ* a'(ρ*) T) (radial: from
ρ̇ = 2ρ a(ρ)) and exp(−r_i T).

- Stuart–Landau, a = μ − ρ: ρ* = μ (supercritical Hopf at μ = 0);
- Bautin, a = μ + ρ − ρ²: ρ± = (1 ± √(1 + 4μ))/2, a subcritical Hopf at μ = 0 (l1 = 1/ω in the
  normalisation ⟨q, q⟩ = 1/2) whose small unstable circle turns at the fold of cycles μ = −1/4,
  ρ = 1/2, into the large stable one.
"""
import math

import numpy as np
import pytest
import torch

from stabilitylab import Field
from stabilitylab.cycles.flow_branch import branch_dataset, continue_cycles, hopf_guess
from stabilitylab.cycles.shooting import PeriodicOrbit, flow_derivative, flow_map, floquet_multipliers, shoot

OMEGA = 1.0


def planar_flow(a, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    rates = torch.linspace(0.5, 3.0, n - 2, dtype=torch.float64)

    def force(z, mu):
        y = Q.T @ z
        x, v, rest = y[0], y[1], y[2:]
        g = a(x * x + v * v, mu)
        return Q @ torch.cat([torch.stack([g * x - OMEGA * v, OMEGA * x + g * v]), -rates * rest])

    return Field(force, Q[:, 0] * 0.1, {"mu": 0.1}), Q, rates


def on_circle(Q, radius):
    return radius * Q[:, 0]


def test_stuart_landau_orbit_period_amplitude_and_multipliers_match_the_closed_form():
    mu = 0.1
    fld, Q, rates = planar_flow(lambda rho, mu: mu - rho, n=20)
    guess = on_circle(Q, 1.05 * math.sqrt(mu)) + 1e-3 * Q[:, 5]
    orbit = shoot(fld, guess, 2 * math.pi * 1.02, steps=100, tol=1e-11, derivative="difference", mu=mu)
    assert orbit.converged, orbit.reason
    T = 2 * math.pi / OMEGA
    assert orbit.period == pytest.approx(T, rel=1e-6)
    amp, centre = orbit.amplitude(fld, mu=mu)
    assert amp == pytest.approx(math.sqrt(mu), rel=1e-6) and float(centre.norm()) < 1e-6
    m = floquet_multipliers(fld, orbit, k=4, derivative="difference", mu=mu)
    expected = np.sort(np.r_[1.0, math.exp(-2 * mu * T), np.exp(-rates.numpy() * T)])[::-1][:4]
    np.testing.assert_allclose(np.sort(np.abs(m.values))[::-1], expected, rtol=1e-6, atol=1e-9)
    assert m.stable and abs(m.values[m.trivial] - 1) < 1e-6


def test_the_difference_derivative_agrees_with_the_jvp():
    fld, Q, _ = planar_flow(lambda rho, mu: mu - rho, n=6)
    phi = flow_map(fld, 30, mu=0.2)
    y = torch.cat([on_circle(Q, 0.4), torch.tensor([6.0], dtype=torch.float64)])
    v = torch.randn(7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact, diff = flow_derivative(phi, y, v, "jvp"), flow_derivative(phi, y, v, "difference")
    assert float((exact - diff).norm()) <= 1e-8 * float(exact.norm())


def test_bautin_branch_from_the_hopf_point_turns_at_the_fold_of_cycles():
    fld, Q, rates = planar_flow(lambda rho, mu: mu + rho - rho * rho, n=10)
    q = (Q[:, 0] - 1j * Q[:, 1]).to(torch.complex128)  # J q = iω q at the origin (any scale)
    x0, T0, p0 = hopf_guess(fld, "mu", torch.zeros(10, dtype=torch.float64), 0.0, q, OMEGA, l1=1.0 / OMEGA,
                            dre_dp=1.0, radius=0.3)
    assert p0 == pytest.approx(-0.09) and T0 == pytest.approx(2 * math.pi)
    br = continue_cycles(fld, "mu", x0, T0, p0, -0.4, steps=100, ds=0.06, ds_max=0.12, max_points=7, k=3,
                         derivative="difference")
    ds = branch_dataset(fld, "mu", br, 100)
    assert list(ds["special_kind"].values) == ["fold_of_cycles"]
    lpc = ds.isel(special=0)
    assert float(lpc["special_param"]) == pytest.approx(-0.25, rel=1e-6)
    assert float(lpc["special_amplitude"]) == pytest.approx(math.sqrt(0.5), rel=1e-6)
    assert float(lpc["special_period"]) == pytest.approx(2 * math.pi, rel=1e-6)
    assert float(lpc["special_precision"]) < 1e-6 and float(lpc["special_defect"]) < 1e-5
    stable, amp, mu = ds["stable"].values, ds["amplitude"].values, ds["mu"].values
    small = amp < math.sqrt(0.5)
    assert (stable[small] == 0).all() and (stable[~small] == 1).all() and (~small).any()
    for i in np.flatnonzero(~small):  # the large circle's radial multiplier, exp(2ρ a'(ρ) T); 100 RK4 steps
        rho = (1 + math.sqrt(1 + 4 * mu[i])) / 2  # of h = 0.063 leave ~2e-5 relative in it (measured 1.8e-5)
        radial = math.exp(2 * rho * (1 - 2 * rho) * 2 * math.pi)
        assert np.abs(np.abs(ds["multipliers"].values[i]) / radial - 1).min() < 1e-4
        assert amp[i] == pytest.approx(math.sqrt(rho), rel=3e-6)  # RK4 radius error, measured 1.0e-6
