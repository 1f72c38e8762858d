"""Attractors against references computed here, independently of the package: closed forms (the
Euler map of a Hopf normal form, the logistic map's 2-cycle), brute-force numpy iteration of the
Euler map (van der Pol, logistic and Hénon cycles, Lorenz exponent).

The test fields avoid products of forward-mode dual tensors with Python scalars (≈1 ms each in the
installed torch, against ≈10 µs for dual × dual): constants enter through matmuls and addcmul.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import examples as ex
from stabilitylab.cli import cli
from stabilitylab.dynamics import detect, floquet
from stabilitylab.dynamics.attractor import _alternative
from stabilitylab.dynamics.period import measure_period
from stabilitylab.field import Field
from stabilitylab.report.text import nonnormality
from stabilitylab.spectral.euler import modulus_text, stability_verdict
from stabilitylab.spectral.spectrum import spectrum


def _hopf_force(z, *, a, omega):
    """r' = a r (1 − r²), θ' = ω in Cartesian coordinates."""
    L = torch.tensor([[a, omega], [-omega, a]], dtype=z.dtype)  # z @ L = (a x − ω y, ω x + a y)
    return torch.addcmul(z @ L, (z * z).sum(-1, keepdim=True), z, value=-a)


def _vdp_force(z, *, mu):
    """x' = y, y' = μ(1 − x²)y − x."""
    L = torch.tensor([[0.0, -1.0], [1.0, mu]], dtype=z.dtype)
    x, y = z[..., 0:1], z[..., 1:2]
    return z @ L + (x * x * y) @ torch.tensor([[0.0, -mu]], dtype=z.dtype)


def _lorenz_force(z, *, sigma, rho, beta):
    L = torch.tensor([[-sigma, rho, 0.0], [sigma, -1.0, 0.0], [0.0, 0.0, -beta]], dtype=z.dtype)
    x = z[..., 0:1]
    quad = torch.cat([x * z[..., 2:3], x * z[..., 1:2]], dim=-1)  # (xz, xy)
    return z @ L + quad @ torch.tensor([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0]], dtype=z.dtype)


def hopf_map_cycle(eps, a, omega):
    """The Euler map z ← z + εF(z) of :func:`_hopf_force` scales z by |g| and rotates it by arg g,
    g = 1 + εa(1 − r²) + iεω. Invariant circle: |g| = 1, i.e. 1 + εa(1 − ρ) = c = √(1 − ε²ω²);
    rotation θ = asin(εω) per step; radial multiplier per step 1 + ρ d|g|²/dρ = 1 − 2εaρc."""
    c = math.sqrt(1 - (eps * omega) ** 2)
    rho = 1 - (c - 1) / (eps * a)
    return math.sqrt(rho), 2 * math.pi / math.asin(eps * omega), 1 - 2 * eps * a * rho * c


def numpy_section_period(step, z, periods=12, burn=None):
    """Brute force: iterate the map ``step`` in numpy and time the upward crossings of x = 0 with
    y > 0 by linear interpolation; the period is (last − first crossing) / number of periods."""
    times, k = [], 0
    while len(times) <= periods:
        w = step(z)
        if z[0] < 0 <= w[0] and z[1] > 0 and (burn is None or k >= burn):
            times.append(k + z[0] / (z[0] - w[0]))
        z, k = w, k + 1
    return (times[-1] - times[0]) / periods, z


@pytest.mark.parametrize("eps", [0.01, pytest.param(0.001, marks=pytest.mark.slow)])  # 0.001: 23k steps, ~15 s
def test_hopf_map_cycle_period_and_floquet_multiplier(eps):
    a, omega = 0.25, 1.0
    radius, period, radial = hopf_map_cycle(eps, a, omega)
    fld = Field(_hopf_force, torch.tensor([radius, 0.0], dtype=torch.float64), {"a": a, "omega": omega})
    steps = int(3.6 * period)
    att = detect(fld, eps, steps=steps, tail=int(3.1 * period), lyapunov=eps > 0.005)
    row = att.rows[0]
    assert row.kind == "limit_cycle", row.reason
    if eps > 0.005:  # the phase direction: λ within its own finite-time bound, not called chaotic
        assert abs(row.lyapunov) < row.lyapunov_tol and row.lyapunov_per_time == pytest.approx(row.lyapunov / eps)
    assert abs(row.period - period) / period < 1e-5
    assert abs(row.period - period) < 5 * row.period_error + 1e-3  # the stated uncertainty is honest
    assert row.amplitude == pytest.approx(radius, rel=2e-3)  # RMS over 3.1 turns: centroid slightly off
    fl = floquet(fld, att.trajectory.z[0], eps, row.period, k=2)
    assert fl.steps == round(period) and fl.trivial_index >= 0
    assert abs(fl.nontrivial[0] - radial ** fl.steps) / radial ** fl.steps < 1e-3


@pytest.mark.parametrize("eps", [0.01, pytest.param(0.001, marks=pytest.mark.slow)])  # 0.001: 31k steps, ~25 s
def test_van_der_pol_relaxation_oscillator_period_matches_brute_force(eps):
    mu = 3.0  # a relaxation oscillator: slow drift, fast jumps (flow period ≈ 8.86)

    def step(z):
        x, y = z
        return np.array([x + eps * y, y + eps * (mu * (1 - x * x) * y - x)])

    ref, z_on = numpy_section_period(step, np.array([2.0, 0.0]), periods=6, burn=int(30 / eps))
    fld = Field(_vdp_force, torch.tensor(z_on, dtype=torch.float64), {"mu": mu})
    att = detect(fld, eps, steps=int(3.5 * ref), tail=int(3.1 * ref), lyapunov=False)
    row = att.rows[0]
    assert row.kind == "limit_cycle", row.reason
    assert abs(row.period - ref) / ref < 1e-5, (row.period, ref)


def test_logistic_period_doubling_cascade_against_closed_forms_and_brute_force():
    r2 = 1 + math.sqrt(6)  # the 2-cycle flips at r = 1 + √6 (its multiplier 4 + 2r − r² = −1)
    rs = [3.2, r2 - 0.01, r2 + 0.01, 3.5, 3.56]
    att = detect(ex.logistic(), 1.0, steps=2500, knob="r", values=rs, lyapunov=False)

    def brute(r):  # smallest p with x_{k+p} = x_k after a long burn-in
        x = 0.3
        for _ in range(200000):
            x = r * x * (1 - x)
        orbit = [x]
        for _ in range(16):
            orbit.append(r * orbit[-1] * (1 - orbit[-1]))
        return next(p for p in range(1, 17) if abs(orbit[p] - orbit[0]) < 1e-9)

    assert [brute(r) for r in rs] == [2, 2, 4, 4, 8]
    for r, row in zip(rs, att.rows):
        assert row.kind == "limit_cycle", (r, row.reason)
        assert row.period == pytest.approx(brute(r), abs=1e-6)
    fl = floquet(ex.logistic(r=3.2), att.trajectory.z[0], 1.0, 2.0, k=1)  # n = 1: one multiplier
    assert fl.multipliers[0].real == pytest.approx(4 + 2 * 3.2 - 3.2**2, rel=1e-9)
    assert fl.refinement == "newton" and fl.trivial_index == -1 and fl.stable


def test_period_estimate_resolves_sub_harmonics_and_long_periods():
    orbit = [0.3]
    for _ in range(3000):
        orbit.append(3.5 * orbit[-1] * (1 - orbit[-1]))
    p4 = measure_period(np.array(orbit[2000:]))
    assert p4.value == 4.0 and p4.coarse == pytest.approx(2.0, abs=0.01)  # the autocorrelation sees 2
    assert _alternative(np.array(orbit[2000:]), p4.coarse) == pytest.approx(4.0, abs=1e-6)  # the classifier's retry
    k = np.arange(40000)
    P = 6703.21
    x = np.stack([np.cos(2 * np.pi * k / P) ** 3, np.sin(2 * np.pi * k / P)], axis=1)
    got = measure_period(x)
    assert abs(got.value - P) / P < 1e-9 and got.uncertainty < 1e-6


@pytest.mark.slow
def test_lorenz_at_eps_0_001_is_chaotic_with_the_known_exponent_per_unit_time():
    # 240,000 steps: the exponent averages the second half, 120 time units (±2 % spread over
    # initial conditions by brute-force numpy runs of the same Euler map); ~1–3 min on 2 cores
    eps = 0.001
    fld = Field(_lorenz_force, torch.tensor([1.0, 1.0, 20.0], dtype=torch.float64),
                {"sigma": 10.0, "rho": 28.0, "beta": 8 / 3})
    row = detect(fld, eps, steps=240000, tail=20000).rows[0]
    assert row.kind == "chaotic", row.reason
    assert row.lyapunov_per_time == pytest.approx(0.9056, rel=0.03)
    assert row.lyapunov_per_time == pytest.approx(row.lyapunov / eps)


def test_verdict_text_never_contradicts_its_numbers():
    assert modulus_text(0.99999) == "1-1e-05" and modulus_text(1.00002) == "1+2e-05"
    assert modulus_text(0.9156) == "0.9156"
    _, text = stability_verdict(np.array([-1e-4 + 0.01j]), np.array([complex(0.99999, 0.001)]), 0.1)
    assert "max|μ|=1<1" not in text and "<1" in text


def test_spectrum_of_one_and_two_number_states_is_exact_and_dense():
    ds = spectrum(ex.logistic(r=3.0), k=6, eps=0.1)  # fixed point 2/3, J = 1 − r = −2
    assert ds.sizes["mode"] == 1 and complex(ds["eig_J"][0]) == pytest.approx(-2.0, abs=1e-7)
    assert float(ds["max_abs_mu"]) == pytest.approx(0.8, abs=1e-8)
    a, b = 1.4, 0.3
    ds = spectrum(ex.henon(a=a, b=b), k=6, eps=0.5)
    x = ex.henon_fixed_points(a, b)[0, 0]
    J = np.array([[-2 * a * x - 1, 1.0], [b, -1.0]])
    np.testing.assert_allclose(np.sort_complex(ds["eig_J"].values), np.sort_complex(np.linalg.eigvals(J)), atol=1e-7)
    text = nonnormality(ds)
    assert "inf" not in text and ("≤" in text or "no bound" in text)


def test_unstable_map_has_no_transient_growth_figure():
    ds = spectrum(ex.linear(A=np.array([[-1.0, 30.0], [0.0, -25.0]])), k=2, eps=0.1)  # μ = 1 − 2.5 = −1.5
    assert float(ds["max_abs_mu"]) > 1
    assert "grows without bound" in nonnormality(ds)


def _cli(args, tmp_path):
    res = CliRunner().invoke(cli, [*args, "--overwrite", "--out", str(tmp_path / "c.zarr")])
    assert res.exit_code == 0, res.output
    return res.output


def test_cycle_command_on_the_one_number_logistic_field(tmp_path):
    out = _cli(["cycle", "--field", "stabilitylab.examples:logistic", "--steps", "2000"], tmp_path)
    assert "fixed_point" in out and "-3+0i" in out and "0.7+0i" in out  # J = 1 − r, μ = 1 + 0.1 J
    out = _cli(["cycle", "--field", "stabilitylab.examples:logistic", "--eps", "1", "--set", "r=3.5",
                "--steps", "2000"], tmp_path)
    assert "limit_cycle" in out and "returns after 4 " in out and "4-step monodromy" in out
    assert "Warning" not in out and "legend" not in out


def test_cycle_command_on_the_two_number_henon_field(tmp_path):
    a, b = 1.0, 0.3
    x, y = 0.1, 0.1
    for _ in range(5000):  # brute force: the Hénon map at a = 1 settles on a 4-cycle
        x, y = 1 - a * x * x + y, b * x
    orbit = [(x, y)]
    for _ in range(4):
        x, y = 1 - a * x * x + y, b * x
        orbit.append((x, y))
    assert np.allclose(orbit[4], orbit[0], atol=1e-12) and not np.allclose(orbit[2], orbit[0], atol=1e-3)
    out = _cli(["cycle", "--field", "stabilitylab.examples:henon", "--eps", "1", "--set", f"a={a}",
                "--steps", "2000", "--no-spectrum"], tmp_path)
    assert "limit_cycle" in out and "4-step monodromy" in out
    from stabilitylab import store
    ds = store.read(tmp_path / "c.zarr")
    mu = ds["floquet_multiplier"].values
    assert len(mu) == 2 and np.prod(mu).real == pytest.approx(b**4, rel=1e-8)  # det of 4 Jacobians, (−b)^4
