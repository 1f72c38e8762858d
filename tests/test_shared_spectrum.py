"""One Krylov space for J, M = I + εJ and ε_crit (eigs_shared), and the fast diagnostics, against
separate searches and dense numpy references."""
import math

import numpy as np
import pytest
import torch

from stabilitylab import Field, examples
from stabilitylab.linear import LinearOperator, Linearization
from stabilitylab.spectral import eigs
from stabilitylab.spectral.krylov_schur import eigs_shared
from stabilitylab.spectral.nonnormal import nonnormality, transient_growth
from stabilitylab.spectral.spectrum import spectrum

F64 = torch.float64
EPS = 0.1


def operator(A: np.ndarray) -> LinearOperator:
    At = torch.from_numpy(np.ascontiguousarray(A))
    return LinearOperator(lambda v: At @ v, len(A), At.dtype, torch.device("cpu"), batched=lambda V: At @ V)


def triangular(n: int, seed: int, stiff: float | None = None, coupling: float = 0.3) -> np.ndarray:
    """Block upper-triangular, so its eigenvalues are those of the diagonal blocks (known exactly):
    complex pairs a ± ib and reals in the left half plane, optional stiff real mode, and a random
    strictly upper part (non-normal). Rows/columns permuted by a random orthogonal-free shuffle."""
    rng = np.random.default_rng(seed)
    A = np.triu(coupling * rng.standard_normal((n, n)) / np.sqrt(n), 1)
    i = 0
    while i < n - 1:
        a = -rng.uniform(0.05, 3.0)
        if rng.random() < 0.5:
            b = rng.uniform(0.1, 2.0)
            A[i : i + 2, i : i + 2] = [[a, b], [-b, a]]
            i += 2
        else:
            A[i, i] = a
            i += 1
    if i == n - 1:
        A[i, i] = -1.0
    if stiff is not None:
        A[n // 2, n // 2] = stiff
        if A[n // 2 + 1, n // 2] != 0 or (n // 2 > 0 and A[n // 2, n // 2 - 1] != 0):  # inside a 2×2 block
            A[n // 2 + 1, n // 2] = A[n // 2, n // 2 - 1] = 0.0
    P = rng.permutation(n)
    return A[np.ix_(P, P)]


def best(lam, key, k):
    lam = np.asarray(lam)
    return lam[np.argsort(-key(lam), kind="stable")][:k]


def assert_same(got, ref, tol=1e-8):
    for r in ref:
        assert np.min(np.abs(got - r)) <= tol * max(abs(r), 1.0), (r, got)


def mu_key(lam):
    return np.abs(1 + EPS * lam)


@pytest.mark.parametrize("seed,stiff", [(0, None), (1, -25.0), (2, -30.0)])
def test_shared_search_matches_separate_and_dense(seed, stiff):
    A = triangular(120, seed, stiff)
    lam = np.linalg.eigvals(A)
    res = eigs_shared(operator(A), {"J": ("LR", 6), "M": (mu_key, 6)}, tol=1e-12)
    rj = eigs(operator(A), k=6, which="LR", tol=1e-12)
    rm = eigs(operator(np.eye(len(A)) + EPS * A), k=6, which="LM", tol=1e-12)
    J, Mlam = res.results["J"].eigenvalues.numpy(), res.results["M"].eigenvalues.numpy()
    assert res.results["J"].converged and res.results["M"].converged
    assert_same(J, best(lam, np.real, 5))  # 5: the 6th may be half of a pair
    assert_same(1 + EPS * Mlam, best(1 + EPS * lam, np.abs, 5))
    assert_same(J, rj.eigenvalues.numpy()[:5])
    assert_same(1 + EPS * Mlam, rm.eigenvalues.numpy()[:5])
    if stiff is not None:  # a flip: only the M set holds it
        assert np.min(np.abs(Mlam - stiff)) < 1e-8 * abs(stiff) and np.min(np.abs(J - stiff)) > 1
    assert res.results["J"].residuals.max() < 1e-10


def hidden_stiff(stiff: float) -> Field:
    """Rightmost −0.05 (plus a bulk in [−3, −0.5]) and one stiff real mode, non-normal."""
    n = 40
    rng = np.random.default_rng(3)
    d = np.concatenate([[-0.05, stiff], -np.linspace(0.5, 3.0, n - 2)])
    S = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    A = torch.tensor(S @ np.diag(d) @ np.linalg.inv(S))
    return Field(lambda z: A @ z, torch.ones(n, dtype=F64), {})


@pytest.mark.parametrize("stiff,flip", [(-25.0, True), (-15.0, False)])
def test_min_eps_crit_over_all_modes_with_a_hidden_stiff_mode(stiff, flip):
    """−25: ελ = −2.5, a flip only M's largest-|μ| set sees; −15: |μ| = 0.5 is in neither the J nor
    the M set at ε = 0.1, yet it limits ε (ε_crit = 2/15 < 2/3 of the bulk) — the ε_crit set finds it."""
    fld = hidden_stiff(stiff)
    shared = spectrum(fld, k=3, eps=EPS, tol=1e-10, diagnostics="none")
    separate = spectrum(fld, k=3, eps=EPS, tol=1e-10, diagnostics="none", search="separate")
    for ds in (shared, separate):
        assert abs(ds.min_eps_crit.item() - 2 / abs(stiff)) < 1e-8
        assert ds.min_eps_crit.attrs["settled"] == 1
        assert ds.n_unstable_M.item() == int(flip)
        assert stiff not in np.round(ds["eig_J"].values.real, 6)
    np.testing.assert_allclose(shared["eig_J"].values[:3], separate["eig_J"].values[:3], atol=1e-8)
    np.testing.assert_allclose(np.abs(shared["eig_M"].values[:3]), np.abs(separate["eig_M"].values[:3]),
                               atol=1e-8)
    assert shared.attrs["matvecs_search"] < separate.attrs["matvecs_search"]


def banded(n: int, seed: int, stiff: float) -> tuple[LinearOperator, np.ndarray]:
    """A few thousand unknowns, matrix-free: block-diagonal spectrum (reals and 2×2 pairs a ± ib,
    left half plane, thinning towards the right edge; one stiff real mode) plus three random upper bands at offsets ≥ 2 (block upper
    triangular: non-normal, eigenvalues exactly those of the blocks). Returns (operator, eigenvalues)."""
    rng = np.random.default_rng(seed)
    d, up, lo, lam = np.zeros(n), np.zeros(n - 1), np.zeros(n - 1), []
    i = 0
    while i < n:
        a = -0.05 - 2.95 * rng.uniform() ** 0.25  # sparse near the right edge, as at a fixed point
        if i < n - 1 and rng.random() < 0.5:
            b = rng.uniform(0.1, 2.0)
            d[i : i + 2], up[i], lo[i] = a, b, -b
            lam += [complex(a, b), complex(a, -b)]
            i += 2
        else:
            d[i] = stiff if i == n // 2 else a
            lam.append(complex(d[i]))
            i += 1
    d, up, lo = (torch.from_numpy(x) for x in (d, up, lo))
    bands = [(s, torch.from_numpy(0.3 * rng.standard_normal(n - s))) for s in (2, 5, 17)]

    def apply(V):
        col = (lambda w: w) if V.dim() == 1 else (lambda w: w[:, None])
        W = col(d) * V
        W[:-1] += col(up) * V[1:]
        W[1:] += col(lo) * V[:-1]
        for s, w in bands:
            W[:-s] += col(w) * V[s:]
        return W

    return LinearOperator(apply, n, F64, torch.device("cpu"), batched=apply), np.array(lam)


def test_shared_search_costs_at_most_1_3_times_a_J_search():
    """Measured (loaded 2-core machine): n = 3000, k = 8, ε = 0.1, a stiff −25 mode: J-only 528
    products, shared J + M + ε_crit 423 (0.8×: the restart keeps more vectors)."""
    from stabilitylab.spectral.euler import eps_crit
    from stabilitylab.spectral.euler import crit_key

    op, lam = banded(3000, 4, -25.0)
    j = eigs(op, k=8, which="LR")
    op, _ = banded(3000, 4, -25.0)
    shared = eigs_shared(op, {"J": ("LR", 8), "M": (mu_key, 8), "eps_crit": (crit_key, 1)})
    assert all(r.converged for r in shared.results.values())
    assert shared.matvecs <= 1.3 * j.matvecs, (shared.matvecs, j.matvecs)
    assert_same(shared.results["J"].eigenvalues.numpy(), best(lam, np.real, 7))
    assert_same(1 + EPS * shared.results["M"].eigenvalues.numpy(), best(1 + EPS * lam, np.abs, 7))
    got = eps_crit(shared.results["eps_crit"].eigenvalues.numpy()).min()
    assert abs(got - eps_crit(lam).min()) < 1e-8 * eps_crit(lam).min()


# -- diagnostics ----------------------------------------------------------------------------------
def dense_growth(M: np.ndarray, steps: int) -> tuple[float, int]:
    P, norms = np.eye(len(M)), [1.0]
    for _ in range(steps):
        P = M @ P
        norms.append(np.linalg.norm(P, 2))
    return max(norms), int(np.argmax(norms))


def random_nonnormal_field(n=30, seed=5):
    A = triangular(n, seed, None, coupling=4.0)
    At = torch.tensor(A)
    return Field(lambda z: At @ z, torch.zeros(n, dtype=F64), {}), A


@pytest.mark.parametrize("case", ["jordan", "random"])
@pytest.mark.parametrize("mode", ["fast", "full"])
def test_diagnostics_against_dense(case, mode):
    if case == "jordan":
        fld, eps, steps = examples.nonnormal(n=16, coupling=10.0), 0.05, 60
        A = -np.eye(16) + 10.0 * np.eye(16, k=1)
    else:
        (fld, A), eps, steps = random_nonnormal_field(), 0.1, 80
    z = torch.zeros(len(A), dtype=F64)
    lin = Linearization(fld, z)
    space = eigs_shared(lin.J(), {"J": ("LR", 2)}, ncv=8, return_space=True).space if mode == "fast" else None
    nn = nonnormality(Linearization(fld, z), eps, mode=mode, space=space, growth_steps=steps)
    tol = 1e-3 if mode == "fast" else 1e-7
    S = (A + A.T) / 2
    omega = np.linalg.eigvalsh(S).max()
    assert omega - tol * np.abs(np.linalg.eigvalsh(S)).max() <= nn.numerical_abscissa <= omega + 1e-12
    g, k = dense_growth(np.eye(len(A)) + eps * A, steps)
    assert abs(nn.transient_growth / g - 1) < tol, (nn.transient_growth, g)
    assert nn.converged and nn.transient_growth_residual <= tol
    norm_A = np.linalg.norm((A - A.T) / 2, 2)
    if mode == "fast" and omega >= 0:  # no ρ bound to serve: fast skips ‖A‖ and says so
        assert math.isnan(nn.norm_A) and "‖A‖" in nn.skipped
    else:
        assert abs(nn.norm_A - norm_A) < tol * norm_A


def test_fast_norm_A_where_it_bounds_rho():
    """ω < 0: fast computes ‖A‖ (it bounds ρ(S⁻¹A) ≤ ‖A‖/|ω|), to 1e-3 of the dense value."""
    A = -2.0 * np.eye(12) + 0.5 * (np.eye(12, k=1) - np.eye(12, k=-1)) + 0.3 * np.eye(12, k=2)
    At = torch.tensor(A)
    fld = Field(lambda z: At @ z, torch.zeros(12, dtype=F64), {})
    nn = nonnormality(Linearization(fld, torch.zeros(12, dtype=F64)), 0.1, mode="fast")
    omega, norm_A = np.linalg.eigvalsh((A + A.T) / 2).max(), np.linalg.norm((A - A.T) / 2, 2)
    assert omega < 0 and nn.skipped == "" and abs(nn.norm_A / norm_A - 1) < 1e-3
    assert abs(nn.rho_bound - nn.norm_A / -nn.numerical_abscissa) < 1e-12


def test_budgeted_growth_is_a_lower_bound_that_says_so():
    """A peak far out (Jordan block, ‖Mᵏ‖ peaks at k = 59): 60 products cannot certify it; the
    answer is a norm actually reached (≤ the dense peak), not certified, within the budget."""
    A = -np.eye(16) + 10.0 * np.eye(16, k=1)
    fld = examples.nonnormal(n=16, coupling=10.0)
    lin = Linearization(fld, torch.zeros(16, dtype=F64))
    g, k = dense_growth(np.eye(16) + 0.05 * A, 100)
    M, MT = lin.M(0.05), lin.JT().shifted(0.05, 1.0)
    x = torch.zeros(16, dtype=F64)
    x[-1] = 1.0
    capped = transient_growth(M, MT, x[:, None], 100, 1e-3, budget=60)
    assert capped.value <= g * (1 + 1e-12) and not capped.certified and capped.products <= 60
    free = transient_growth(M, MT, x[:, None], 100, 1e-3)
    assert free.certified and abs(free.value / g - 1) < 1e-3 and free.step == k
    assert capped.value < free.value


def test_growth_not_computed_past_the_map_boundary():
    """max|μ| > 1: ‖Mᵏ‖ grows without bound; no products are spent on it, and the dataset says so."""
    ds = spectrum(examples.stuart_landau(mu=0.1), k=2, eps=0.1)
    assert float(ds.max_abs_mu) > 1 and math.isnan(float(ds.transient_growth))
    assert "grows without bound" in ds.attrs["nonnormality_skipped"]


def test_no_growth_when_the_map_contracts():
    A = -np.diag(np.linspace(0.5, 2.0, 20))
    At = torch.tensor(A)
    fld = Field(lambda z: At @ z, torch.zeros(20, dtype=F64), {})
    nn = nonnormality(Linearization(fld, torch.zeros(20, dtype=F64)), 0.1, mode="fast")
    assert nn.transient_growth == 1.0 and nn.transient_growth_step == 0


def test_antisymmetry_probes_agree_across_dtypes():
    """The random probes are drawn once in float64 whatever the dtype: float32 and float64 agree."""
    ratios = [nonnormality(Linearization(examples.nonnormal(n=16, coupling=3.0, dtype=dt),
                                         torch.zeros(16, dtype=dt)), 0.1).antisymmetry_ratio
              for dt in (torch.float64, torch.float32)]
    assert abs(ratios[0] - ratios[1]) < 1e-5 * ratios[0]
