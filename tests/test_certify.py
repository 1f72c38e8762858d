"""Relaxations that stop once their fixed point is certified give today's verdicts and spectra."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stabilitylab import examples as ex
from stabilitylab.dynamics import analyse_cycle, detect, eps_sweep, knockout
from stabilitylab.dynamics.certify import SpectralCertificate, eigenvectors
from stabilitylab.dynamics.fixed_point import fixed_point_spectrum
from stabilitylab.model import BlockConfig, block_field, make_block

NEVER = 10**9  # check_every beyond the run: the relaxation runs its whole budget, as before certificates


def _block(C=16, T=8, seed=1):
    cfg = BlockConfig(vocab=26, C=C, H=2, T=T)
    return block_field(make_block(cfg, seed=seed).double(), torch.arange(T).reshape(1, T) % 26)


def _dense_J(fld, z):
    J = torch.func.jacfwd(fld.flat_force())(z.reshape(-1))
    return np.linalg.eigvals(J.detach().numpy())


def test_cycle_stops_at_the_certified_fixed_point_with_the_dense_spectrum():
    fld = _block()
    ds = analyse_cycle(fld, 0.1, 3000, k=4)
    assert str(ds["kind"].item()) == "fixed_point" and "certified" in str(ds["reason"].item())
    assert ds.sizes["step"] <= 201  # stopped within the first checks, not after 3000 steps
    full = detect(fld, 0.1, 3000, check_every=NEVER)
    assert full.rows[0].kind == "fixed_point" and full.trajectory.steps == 3000
    dense = _dense_J(fld, full.trajectory.z[0])
    lead = dense[np.argsort(-dense.real)][:ds.sizes["mode"]]  # k = 4 rounded up to keep a conjugate pair whole
    assert ds.sizes["mode"] in (4, 5)
    np.testing.assert_allclose(np.sort_complex(ds["eig_J"].values), np.sort_complex(lead), atol=1e-7)


def test_a_certified_run_reports_its_residual_at_the_stop_not_a_mean_over_its_transient():
    """A run stopped once certified has no tail: its floor is the residual at the stop (≤ the
    1e-3 handover), its oscillation undefined — the tail mean over the records it has would
    average the transient from the start state (0.07–0.11 with oscillation 1.3–1.5 on the
    knockout page of s3200, where the limit cycle's floor read 0.15)."""
    fld = _block()
    att = detect(fld, [0.1, 0.2], 2000, certify=SpectralCertificate(fld, [0.1, 0.2], k=4))
    tr = att.trajectory
    for e, row in enumerate(att.rows):
        stop = int(tr.stopped_at[e])
        assert row.kind == "fixed_point" and 0 <= stop < 2000
        assert row.residual_floor == tr.force_residual[e, stop] <= 1e-3
        assert row.residual_max == row.residual_floor and np.isnan(row.oscillation)
        assert row.residual_floor < 0.01 * tr.force_residual[e, :stop + 1].mean()  # what the tail mean gave


def test_certificate_refuses_an_unstable_fixed_point():
    # μ = 0.1 > 0: the origin is an unstable focus inside the cycle; Newton finds it, the spectrum refuses it
    fld = ex.stuart_landau(mu=0.1)
    cert = SpectralCertificate(fld, 0.1, k=2, handover=10.0)
    x = fld.z0.reshape(1, -1) * 1e-3
    assert cert(50, np.array([0]), x, np.array([1e-4]), np.array([1.0])) == [None]
    assert cert.searches == 1 and not cert.spectra
    assert cert(100, np.array([0]), x, np.array([1e-4]), np.array([1.0])) == [None] and cert.searches == 1  # waits


def test_eps_sweep_and_knockout_verdicts_match_the_full_budget_runs():
    fld = _block()
    grid = np.array([0.05, 0.1, 0.2, 0.4, 1.5, 3.0])
    ds = eps_sweep(fld, grid, steps=1500, k=4)
    full = detect(fld, grid, 1500, check_every=NEVER)
    assert list(ds["kind"].values) == [r.kind for r in full.rows]
    assert (ds["converged"].values == 1).sum() >= 3 and ds.sizes["step"] < 1501
    ko = knockout(fld, "attn", [0.0, 0.5, 1.0], eps=0.1, steps=1500, k=4)
    full = detect(fld, 0.1, 1500, knob="alpha", values=[0.0, 0.5, 1.0], check_every=NEVER)
    assert list(ko["kind"].values) == [r.kind for r in full.rows] == ["fixed_point"] * 3
    for e, a in enumerate([0.0, 0.5, 1.0]):
        dense = _dense_J(fld.with_params(alpha=a), full.trajectory.z[e])
        assert float(ko["leading_re_J"][e]) == pytest.approx(dense.real.max(), abs=1e-7)


def test_warm_started_search_finds_the_same_eigenvalues():
    fld = _block(C=32, T=16)
    near, _ = fixed_point_spectrum(fld.with_params(alpha=0.9), 0.1, 6, vectors=True)
    cold, _ = fixed_point_spectrum(fld, 0.1, 6)
    warm, _ = fixed_point_spectrum(fld, 0.1, 6, search_start=eigenvectors(near))
    np.testing.assert_allclose(warm["eig_J"].values, cold["eig_J"].values, atol=1e-7)
    np.testing.assert_allclose(warm["eig_M"].values, cold["eig_M"].values, atol=1e-7)


def test_block_search_of_a_batch_matches_dense_and_the_unstructured_search():
    from stabilitylab.solvers import find_fixed_point
    from stabilitylab.spectral.blocks import block_count
    from stabilitylab.spectral.spectrum import spectrum

    cfg = BlockConfig(vocab=26, C=16, H=2, T=8)
    idx = torch.randint(0, 26, (4, 8), generator=torch.Generator().manual_seed(0))
    fld = block_field(make_block(cfg, seed=1).double(), idx)
    assert block_count(fld) == 4
    z = find_fixed_point(fld, eps=0.1, tol=1e-11).z
    bs = spectrum(fld, k=4, eps=0.1, z=z, diagnostics=False, search="blocks")
    J = torch.func.jacfwd(fld.flat_force())(z.reshape(-1)).detach().numpy()
    nb = J.shape[0] // 4
    for lam, b in zip(bs["eig_J"].values, bs["sequence_J"].values):  # each mode belongs to its sequence's block
        block = J[b * nb:(b + 1) * nb, b * nb:(b + 1) * nb]
        assert np.abs(np.linalg.eigvals(block) - lam).min() < 1e-7
    dense = np.linalg.eigvals(J)
    lead = dense[np.argsort(-dense.real)][:4]

    def upper(v):  # the 4th may be one member of a pair: compare a + i|b| (LAPACK orders a pair either way)
        return np.sort_complex(v.real + 1j * np.abs(v.imag))

    np.testing.assert_allclose(upper(bs["eig_J"].values[:4]), upper(lead), atol=1e-7)
    whole = spectrum(fld, k=4, eps=0.1, z=z, diagnostics=False)
    np.testing.assert_allclose(upper(bs["eig_J"].values[:4]), upper(whole["eig_J"].values[:4]), atol=1e-7)
    assert float(bs["max_abs_mu"]) == pytest.approx(float(whole["max_abs_mu"]), abs=1e-8)
    assert bs.attrs["verdict"] == whole.attrs["verdict"] and bs.attrs["matvecs_search"] == max(json.loads(bs.attrs["matvecs_per_sequence"]))
    # per sequence: each one's own largest |mu| (dense, block by block); the batch's is the worst
    per_block = [np.abs(1 + 0.1 * np.linalg.eigvals(J[b * nb:(b + 1) * nb, b * nb:(b + 1) * nb])).max() for b in range(4)]
    np.testing.assert_allclose(bs["max_abs_mu_seq"].values, per_block, atol=1e-8)
    assert bs.attrs["worst_sequence"] == int(np.argmax(per_block))
    assert set(bs["sequence_M"].values[np.isfinite(bs["eig_M"].values)]) <= set(range(4))
