"""One ε_crit everywhere: the ε-sweep, the training monitor and ``spectrum`` report the same refined
minimum over *all* modes, checked on a field whose critical mode is hidden from the leading-mode
searches.

The field: two linear blocks plus a small cubic, F(z) = A(z − c) − 0.1 (z − c)³, fixed point c,
J = A. Block 1 is a stiff complex pair λ = a ± ib (a = −3, b = 9): by hand
ε_crit = −2a/(a² + b²) = 6/90 = 1/15. Block 2 holds six slow real modes −0.10 … −0.15 (ε_crit
2/|λ| ≥ 13): they are the rightmost λ and, at ε ≤ 0.05, also the largest |μ| (|1 + ελ| > 0.99
against 0.96 for the stiff pair), so with k = 2 neither search at ε sees the stiff pair.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stabilitylab import Field
from stabilitylab.dynamics import default_grid, eps_sweep
from stabilitylab.linear import Linearization
from stabilitylab.spectral.spectrum import min_eps_crit, spectrum

A_STIFF, B_STIFF = -3.0, 9.0
EXACT = -2 * A_STIFF / (A_STIFF ** 2 + B_STIFF ** 2)  # 1/15


class HiddenStiff(torch.nn.Module):
    def __init__(self):
        super().__init__()
        A = np.zeros((8, 8))
        A[:2, :2] = [[A_STIFF, B_STIFF], [-B_STIFF, A_STIFF]]
        A[2:, 2:] = np.diag(-np.linspace(0.10, 0.15, 6))
        self.register_buffer("A", torch.tensor(A))
        self.register_buffer("c", torch.linspace(0.5, 1.2, 8, dtype=torch.float64))

    def forward(self, z):
        d = z - self.c
        return d @ self.A.T - 0.1 * d ** 3


def hidden_stiff() -> Field:
    f = HiddenStiff()
    return Field(f, f.c + 0.05, {}, "hidden-stiff")


def test_the_stiff_pair_is_hidden_from_both_searches_and_sets_eps_crit():
    fld = hidden_stiff()
    lam = np.linalg.eigvals(fld.force.A.numpy())
    crit = np.where(lam.real < 0, -2 * lam.real / np.abs(lam) ** 2, 0)
    assert crit.min() == pytest.approx(EXACT, rel=1e-12)  # the dense check of the hand value
    ds = spectrum(fld, k=2, eps=0.05, diagnostics=False)
    found = np.concatenate([ds["eig_J"].values, ds["lambda_of_M"].values])
    assert np.all(np.abs(found.imag) < 1e-8)  # neither search at ε returned the stiff pair
    assert np.nanmin(ds["eps_crit"].values) > 10  # per-mode values stay per mode
    assert float(ds["min_eps_crit"]) == pytest.approx(EXACT, rel=1e-8)
    assert ds["min_eps_crit"].attrs["settled"] == 1


def test_eps_sweep_predicts_the_spectrums_min_eps_crit():
    fld = hidden_stiff()
    ref = float(spectrum(fld, k=2, eps=0.05, diagnostics=False)["min_eps_crit"])
    ds = eps_sweep(fld, [0.02, 0.04, 0.05], steps=200, k=2, lyapunov=False)
    assert float(ds["eps_crit"]) == pytest.approx(ref, rel=1e-8)
    assert float(ds["eps_crit"]) == pytest.approx(EXACT, rel=1e-8)
    assert f"ε_crit = {EXACT:.6g}" in ds.attrs["verdict"]


def test_monitor_uses_the_same_refinement():
    fld = hidden_stiff()
    lin = Linearization(fld, fld.force.c)
    lam = np.linalg.eigvals(fld.force.A.numpy())
    slow = lam[np.argsort(-lam.real)][:2]
    mu = 1 + 0.05 * slow  # what the leading-mode searches at ε = 0.05 return
    assert min_eps_crit(lin, slow, mu, 0.05, k=2)[0] == pytest.approx(EXACT, rel=1e-8)
    assert min_eps_crit(lin, np.array([0.1 + 1j]), mu, 0.05, k=2) == (0.0, True)  # Re λ ≥ 0: no ε


def test_default_grid_straddles_eps_crit():
    grid = default_grid(EXACT, 0.1)
    assert grid[0] < EXACT < grid[-1] and len(grid) == 12
    assert default_grid(0.0, 0.1)[-1] == pytest.approx(0.2)
