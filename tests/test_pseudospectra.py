"""Projected pseudospectra (Wright & Trefethen) against dense numpy/scipy references on small
matrices: containment (σ_min from the basis is never below the dense one), accuracy where the
basis captures the rightmost invariant subspace, and the accuracy check flagging where it does
not; distance to instability, Kreiss lower bounds against brute-force sup‖e^{tA}‖ and sup‖M^k‖."""
import numpy as np
import pytest
import scipy.linalg
import torch
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.examples import linear
from stabilitylab.reference_fields import convection_diffusion_matrix, jordan_matrix
from stabilitylab.spectral.pseudospectra import abscissa, distance_to_instability, pseudospectra


def dense_smin(A):
    """σ_min(zI − A) by a dense SVD per point (scalar in, scalar out; arrays elementwise)."""
    n = A.shape[0]

    def s(z):
        zz = np.atleast_1d(np.asarray(z, dtype=complex))
        out = np.array([scipy.linalg.svdvals(w * np.eye(n) - A)[-1] for w in zz.ravel()]).reshape(zz.shape)
        return out if np.ndim(z) else float(out[0])
    return s


def _run(A, **kw):
    n = A.shape[0]
    return pseudospectra(linear(A), z=torch.zeros(n, dtype=torch.float64), grid=15, **kw)


def _grid(ds):
    return ds["real"].values[None, :] + 1j * ds["imag"].values[:, None]


# cell Péclet 0.3 and 0.9 (ν = h², so the spectrum is O(1)); n = 80 with a basis of 60
CD = {p: convection_diffusion_matrix(80, p, nu=1 / 81 ** 2) for p in (0.3, 0.9)}


def _check_estimates_band_error(ds, s, D):
    """The doubled-basis drop along each level's band δ/10 ≤ s ≤ δ is within 2x of the true error there."""
    checked = 0
    for d, est in zip(ds["delta"].values, ds["projection_change"].values):
        band = (s >= 0.1 * d) & (s <= d) & (ds["real"].values >= ds["eig_J"].values.real.max())[None, :]
        if band.any():
            err = ((s - D) / D)[band].max()
            assert 0.5 * err <= est <= 2 * err + 1e-12, (d, est, err)
            checked += 1
    assert checked >= 2


def test_projection_contains_and_matches_dense_when_the_basis_suffices():
    A = CD[0.3]
    ds = _run(A, k=6, eps=0.1)
    s, D = ds["sigma_min"].values, dense_smin(A)(_grid(ds))
    assert (s >= D * (1 - 1e-10)).all()                        # projected Λ_δ ⊂ true Λ_δ
    inside = D <= ds["delta"].values.max()
    assert ((s - D) / D)[inside].max() < 1e-2                   # measured 5.2e-3
    _check_estimates_band_error(ds, s, D)
    for d in ds["delta"].values:                                # α_δ(projected) ≤ α_δ(dense), close
        a_dense = abscissa(dense_smin(A), d, ds["real"].values, ds["imag"].values, D)[0]
        a = float(ds["alpha"].sel(delta=d))
        assert a <= a_dense + 1e-9 and abs(a - a_dense) < 0.02 * max(abs(a_dense), 0.1)
    d_dense = distance_to_instability(dense_smin(A), 1.5 * ds.attrs["norm_estimate"], points=101)[0]
    dist = float(ds["distance_to_instability"])
    assert d_dense * (1 - 1e-9) <= dist <= 1.01 * d_dense


def test_strongly_nonnormal_case_is_contained_and_flagged():
    A = CD[0.9]
    ds = _run(A, k=6, eps=0.1)
    s, D = ds["sigma_min"].values, dense_smin(A)(_grid(ds))
    assert (s >= D * (1 - 1e-10)).all()
    inside = D <= ds["delta"].values.max()
    assert ((s - D) / D)[inside].max() > 1.0                   # deep inside a 60-vector basis misses much (4.0)
    _check_estimates_band_error(ds, s, D)                       # along the level curves 7%, estimated 6.6%
    assert "projection accuracy estimate" in ds.attrs["verdict"]


@pytest.mark.parametrize("coupling", [1.2, 1.5])
def test_jordan_block_kreiss_bounds_transient_growth(coupling):
    n, eps = 40, 0.3
    A = jordan_matrix(n, coupling)
    ds = _run(A, k=4, eps=eps, ncv=20)
    s, D = ds["sigma_min"].values, dense_smin(A)(_grid(ds))
    assert (s >= D * (1 - 1e-10)).all()
    sup_exp = max(np.linalg.norm(scipy.linalg.expm(t * A), 2) for t in np.linspace(0, 40, 400))
    M, P, sup_pow = np.eye(n) + eps * A, np.eye(n), 1.0
    for _ in range(400):
        P = P @ M
        sup_pow = max(sup_pow, np.linalg.norm(P, 2))
    kJ, kM = float(ds["kreiss_J"]), float(ds["kreiss_M"])
    assert 1.0 < kJ <= sup_exp and 1.0 < kM <= sup_pow       # 1.18 ≤ 1.95, 64.4 ≤ 458 (measured)
    # a distance to instability is an upper bound: σ_min(iωI − A) at the reported ω is below it
    assert dense_smin(A)(1j * ds["distance_to_instability"].attrs["omega"]) <= float(ds["distance_to_instability"]) * (1 + 1e-9)


def test_cli_contour_figure_and_store(tmp_path):
    out = tmp_path / "ps.zarr"
    res = CliRunner().invoke(cli, ["pseudospectra", "--field", "stabilitylab.reference_fields:jordan",
                                   "--k", "4", "--grid", "15", "--out", str(out)])
    assert res.exit_code in (0, 3), res.output
    assert "distance to instability" in res.output and "Kreiss" in res.output
    ds = store.read(out)
    assert ds.attrs["analysis"] == "pseudospectra" and ds["sigma_min"].shape == (15, 15)
    assert out.with_suffix(".png").exists()


@pytest.mark.slow
def test_convection_diffusion_n400_containment():
    A = convection_diffusion_matrix(400, 0.9, nu=1 / 401 ** 2)
    ds = _run(A, k=6, eps=0.1, ncv=80)
    s, D = ds["sigma_min"].values, dense_smin(A)(_grid(ds))
    assert (s >= D * (1 - 1e-10)).all()
