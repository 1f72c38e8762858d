"""spectrum(): J and M spectra against dense numpy.linalg.eig; flips only the M search sees."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import Field, examples, store
from stabilitylab.cli import cli
from stabilitylab.model import BlockConfig, block_field, make_block
from stabilitylab.spectral.euler import CONTINUOUS_UNSTABLE, DISCRETISATION_ONLY, STABLE
from stabilitylab.spectral.spectrum import spectrum


def dense_leading(J, eps, k):
    lam = np.linalg.eigvals(J)
    mu = np.linalg.eigvals(np.eye(len(J)) + eps * J)
    return lam[np.argsort(-lam.real)][:k], mu[np.argsort(-np.abs(mu))][:k]


def assert_same_set(got, ref, rtol=1e-6):
    got = got[np.isfinite(got)]
    for r in ref:
        assert np.min(np.abs(got - r)) <= rtol * max(abs(r), 1.0), (r, got)


@pytest.mark.parametrize("mode", ["thick", "conservative"])
def test_block_spectrum_matches_dense(mode):
    cfg = BlockConfig(vocab=11, C=16, H=4, T=6, mode=mode)
    block = make_block(cfg, seed=2).double().requires_grad_(False)
    fld = block_field(block, torch.randint(0, 11, (1, 6), generator=torch.Generator().manual_seed(0)))
    ds = spectrum(fld, k=6, eps=0.1, tol=1e-10)
    from stabilitylab.solvers import find_fixed_point

    z = find_fixed_point(fld, eps=0.1, tol=1e-11).z.reshape(-1)
    J = torch.func.jacfwd(fld.flat_force())(z).numpy()
    lam, mu = dense_leading(J, 0.1, 4)
    assert_same_set(ds["eig_J"].values, lam)
    assert_same_set(ds["eig_M"].values, mu)
    assert ds.attrs["force_residual"] < 1e-8
    assert ds.attrs["search_start"] == "newton ritz vectors"  # started from Newton's last GMRES space
    omega = np.linalg.eigvalsh((J + J.T) / 2).max()
    assert abs(ds.numerical_abscissa.item() - omega) < 1e-3 * max(1, abs(omega))  # "fast": tol 1e-3
    if mode == "conservative":
        assert ds.antisymmetry_ratio.item() < 1e-10
        assert not ds["complex_J"].values.any()
    else:
        assert ds.antisymmetry_ratio.item() > 0.05


def stiff_linear(eps):
    """Rightmost eigenvalue a mild −0.05, plus a stiff −25 (ε·λ = −2.5 at ε=0.1: a flip of M)."""
    rng = np.random.default_rng(0)
    n = 30
    d = np.concatenate([[-0.05, -25.0], -np.linspace(0.5, 3.0, n - 2)])
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = torch.tensor(Q @ np.diag(d) @ Q.T)
    return Field(lambda z: A @ z, torch.ones(n, dtype=torch.float64), {}), A.numpy()


def test_flip_seen_only_by_the_M_search():
    fld, A = stiff_linear(0.1)
    ds = spectrum(fld, k=3, eps=0.1, tol=1e-10)
    assert -25.0 not in np.round(ds["eig_J"].values.real, 6)  # LR on J ranks the stiff mode last
    mu = ds["eig_M"].values
    assert abs(mu[0] - (1 - 2.5)) < 1e-8 and ds.n_unstable_M.item() == 1
    assert ds.attrs["verdict"] == DISCRETISATION_ONLY and "flip" in ds.attrs["verdict_text"]
    assert abs(ds.min_eps_crit.item() - 2 / 25) < 1e-8  # from λ = (μ−1)/ε of the M search


def test_verdicts_on_stuart_landau():
    below = spectrum(examples.stuart_landau(mu=-0.2), k=4, eps=0.1)
    above = spectrum(examples.stuart_landau(mu=0.1), k=4, eps=0.1)
    ns = examples.stuart_landau_ns_point(1.0, 0.1)["mu"]  # ≈ −0.05: map unstable, flow stable
    between = spectrum(examples.stuart_landau(mu=-0.03), k=4, eps=0.1)
    assert below.attrs["verdict"] == STABLE
    assert above.attrs["verdict"] == CONTINUOUS_UNSTABLE
    assert -0.03 > ns and between.attrs["verdict"] == DISCRETISATION_ONLY
    lam = above["eig_J"].values[:2]
    assert np.allclose(sorted(lam.imag), [-1.0, 1.0]) and np.allclose(lam.real, 0.1)


def test_nonnormal_transient_growth():
    fld = examples.nonnormal(n=16, coupling=10.0)
    ds = spectrum(fld, k=2, eps=0.05, growth_steps=60)
    exact = examples.nonnormal_abscissa(16, 10.0)
    assert abs(ds.numerical_abscissa.item() - exact) < 1e-6 * exact
    ref = examples.nonnormal_growth(16, 10.0, 0.05, 60)["max"]
    assert 1.0 < 10 * ds.transient_growth.item() and ds.transient_growth.item() <= ref * (1 + 1e-9)


def test_spectrum_cli(tmp_path):
    out = tmp_path / "s.zarr"
    res = CliRunner().invoke(cli, ["spectrum", "--field", "stabilitylab.examples:stuart_landau",
                                   "--k", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "verdict:" in res.output and "continuous-time instability" in res.output
    ds = store.read(out)
    assert ds["eig_J"].dtype == np.complex128 and out.with_suffix(".png").exists()
    every = CliRunner().invoke(cli, ["spectrum", "--field", "stabilitylab.examples:stuart_landau", "--k", "40",
                                     "--no-diagnostics", "--overwrite", "--out", str(out)])
    assert every.exit_code == 0, every.output  # a tiny state (n = 16): k is capped at n, all exact
    assert store.read(out).sizes["mode"] == 16


def test_spectrum_cli_per_sequence_of_a_batch(tmp_path):
    """--search blocks on a batch of the shipped checkpoint: the batch's leading modes, labelled by
    sequence, the same as one search in the whole batch space; per-sequence max|μ|, the batch's the
    worst of them."""
    common = ["spectrum", "--ckpt", "s3200.pt", "--batch-size", "3", "--k", "4", "--no-diagnostics"]
    res = CliRunner().invoke(cli, [*common, "--search", "blocks", "--out", str(tmp_path / "b.zarr")])
    assert res.exit_code == 0, res.output
    assert "per sequence" in res.output and "sequence" in res.output
    blocks = store.read(tmp_path / "b.zarr")
    whole = CliRunner().invoke(cli, [*common, "--out", str(tmp_path / "w.zarr")])
    assert whole.exit_code == 0, whole.output
    shared = store.read(tmp_path / "w.zarr")
    assert blocks.attrs["blocks"] == 3 and blocks.sizes["sequence"] == 3
    lead = lambda ds: np.sort_complex(ds["eig_J"].values[:2])  # noqa: E731 (the leading pair)
    np.testing.assert_allclose(lead(blocks), lead(shared), atol=1e-7)
    assert float(blocks["max_abs_mu"]) == pytest.approx(float(shared["max_abs_mu"]), abs=1e-8)
    worst = int(blocks.attrs["worst_sequence"])
    assert blocks["sequence_M"].values[0] == worst  # the largest |μ| is the worst sequence's
    assert float(blocks["max_abs_mu_seq"].max()) == pytest.approx(float(blocks["max_abs_mu"]), abs=1e-12)
    assert blocks.attrs["verdict"] == shared.attrs["verdict"]
