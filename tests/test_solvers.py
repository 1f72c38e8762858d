"""Fixed-point solvers on small analytic float64 fields with known fixed points."""
import math
import warnings

import numpy as np
import pytest
import torch
import xarray as xr

from stabilitylab import Field
from stabilitylab.errors import ConfigError, FieldError
from stabilitylab.solvers import (
    anderson,
    find_fixed_point,
    gmres,
    newton_krylov,
    relax_adaptive,
    relax_euler,
)

DT = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _with_spectrum(lams, seed):
    """A non-normal real matrix V diag(λ) V⁻¹ with the given real eigenvalues."""
    n = len(lams)
    V = torch.eye(n, dtype=DT) + 0.3 * torch.randn(n, n, generator=_gen(seed), dtype=DT) / n**0.5
    return V @ torch.diag(torch.tensor(lams, dtype=DT)) @ torch.linalg.inv(V)


def _zstar(n, seed):
    return 2.0 + torch.randn(n, generator=_gen(seed), dtype=DT)


def cubic_field(n=8):
    """F(z) = A(z − z*) − (z − z*)³, A stable and non-normal: z* is a stable fixed point."""
    A = _with_spectrum(np.linspace(-2.0, -0.5, n), seed=1)
    zs = _zstar(n, 2)
    return Field(lambda z: A @ (z - zs) - (z - zs) ** 3, zs + 0.5, name="cubic"), zs


def slow_linear_field(n=16):
    """F(z) = A(z − z*), eigenvalues in [−1, −0.1]: Euler with ε = 0.1 contracts by 0.99/step."""
    A = _with_spectrum(np.linspace(-1.0, -0.1, n), seed=3)
    zs = _zstar(n, 4)
    return Field(lambda z: A @ (z - zs), zs + 1.0, name="slow"), zs


def unstable_field(n=8):
    """F(z) = B(z − z*) + 0.1 tanh(z − z*)², B with eigenvalue +0.5: z* repels relaxation."""
    B = _with_spectrum([0.5] + list(np.linspace(-2.0, -0.5, n - 1)), seed=5)
    zs = _zstar(n, 6)
    z0 = zs + 0.05 * torch.randn(n, generator=_gen(7), dtype=DT)
    return Field(lambda z: B @ (z - zs) + 0.1 * torch.tanh(z - zs) ** 2, z0, name="unstable"), zs


def stiff_field(n=6):
    """F(z) = D(z − z*) + 0.1 tanh(z − z*), J(z*) eigenvalues −29.9, −0.9, …: ε_crit ≈ 0.0669."""
    D = torch.diag(torch.tensor([-30.0] + [-1.0] * (n - 1), dtype=DT))
    D[1:, 0] = 0.5  # couple the stiff mode into the slow ones (still lower triangular)
    zs = _zstar(n, 8)
    return Field(lambda z: D @ (z - zs) + 0.1 * torch.tanh(z - zs), zs + 0.3, name="stiff"), zs


def thick_field(T=8, C=8, alpha=1.0, seed=9):
    """Transformer-like F(z) = −z + x + α tanh(z W) W₂ on z ∈ R^{T×C} (n = 64), W, W₂ non-symmetric."""
    g = _gen(seed)
    W = 1.5 * torch.randn(C, C, generator=g, dtype=DT) / C**0.5
    W2 = torch.randn(C, C, generator=g, dtype=DT) / C**0.5
    x = torch.randn(T, C, generator=g, dtype=DT)
    return Field(lambda z, alpha: -z + x + alpha * torch.tanh(z @ W) @ W2, x.clone(),
                 {"alpha": alpha}, name="thick")


def nan_field(n=4):
    """F(z) = c (no fixed point) while ‖z‖ ≤ 100, NaN beyond: Euler drifts out at step 164."""
    c = torch.full((n,), 3.0, dtype=DT)
    return Field(lambda z: c + 0.0 * torch.sqrt(100.0 - z.norm()), torch.ones(n, dtype=DT),
                 name="nan")


def _quadratic_tail(r, bound=1e3, floor=1e-13):
    """True if r_{k+1} ≤ bound·r_k² on every Newton step that starts below 1e-2 (at least two)."""
    pairs = [(a, b) for a, b in zip(r[:-1], r[1:]) if a < 1e-2 and b > floor]
    return len(pairs) >= 2 and all(b <= bound * a * a for a, b in pairs)


# -- GMRES ------------------------------------------------------------------------------------
@pytest.mark.parametrize("restart", [8, 60])
def test_gmres_matches_dense_solve(restart):
    n = 60
    A = 2.0 * torch.eye(n, dtype=DT) + torch.randn(n, n, generator=_gen(10), dtype=DT) / n**0.5
    b = torch.randn(n, generator=_gen(11), dtype=DT)
    x_ref = np.linalg.solve(A.numpy(), b.numpy())
    res = gmres(lambda v: A @ v, b, tol=1e-13, restart=restart)
    assert res.converged and res.residual_norm <= 1e-13
    assert np.linalg.norm(res.x.numpy() - x_ref) <= 1e-10 * np.linalg.norm(x_ref)
    assert res.matvecs >= res.iterations > 0
    # a right preconditioner changes the iteration, not the answer; a warm start is honoured
    d = torch.diag(A)
    pre = gmres(A, b, x0=torch.as_tensor(x_ref) + 1e-3, tol=1e-13, restart=restart,
                M=lambda v: v / d)
    assert np.linalg.norm(pre.x.numpy() - x_ref) <= 1e-10 * np.linalg.norm(x_ref)


def test_gmres_reports_non_convergence_and_zero_rhs():
    n = 40
    A = torch.eye(n, dtype=DT) + torch.randn(n, n, generator=_gen(12), dtype=DT) / n**0.5
    b = torch.randn(n, generator=_gen(13), dtype=DT)
    res = gmres(A, b, tol=1e-12, restart=5, maxiter=5)
    true = float(torch.linalg.vector_norm(b - A @ res.x) / torch.linalg.vector_norm(b))
    assert not res.converged and res.iterations == 5
    assert res.residual_norm == pytest.approx(true, rel=1e-8) and res.residual_norm > 1e-12
    zero = gmres(A, torch.zeros(n, dtype=DT))
    assert zero.converged and zero.iterations == 0 and not zero.x.any()



def _similar(block: np.ndarray, rest, seed):
    """A real V diag(block, rest) V⁻¹ and V (the columns of V span each block's invariant subspace)."""
    D = np.zeros((len(block) + len(rest),) * 2)
    D[: len(block), : len(block)] = block
    D[len(block):, len(block):] = np.diag(rest)
    n = len(D)
    V = np.eye(n) + 0.3 * np.random.default_rng(seed).standard_normal((n, n)) / n**0.5
    return torch.as_tensor(V @ D @ np.linalg.inv(V)), V


@pytest.mark.parametrize("pair", [False, True])
def test_gmres_returns_the_rightmost_ritz_vectors_of_its_space(pair):
    """Solved to 1e-13 in at most n = 12 steps, the Arnoldi space is (nearly) all of R^12: the Ritz
    vectors are the eigenvectors (here the rightmost: a real −0.1, or the pair −0.1 ± 0.7i, against −1 … −3)."""
    block = np.array([[-0.1, 0.7], [-0.7, -0.1]]) if pair else np.array([[-0.1]])
    A, V = _similar(block, np.linspace(-1.0, -3.0, 12 - len(block)), seed=3)
    b = torch.randn(12, generator=_gen(4), dtype=DT)
    res = gmres(A, b, tol=1e-13, restart=12, ritz=len(block))
    assert res.converged and res.rightmost is not None and res.iterations <= 12
    basis = np.linalg.qr(V[:, : len(block)])[0]  # the rightmost invariant subspace
    got = res.rightmost.numpy()
    assert np.linalg.norm(got - basis @ (basis.T @ got)) <= 1e-8 * np.linalg.norm(got)
    # not asked for, or with a preconditioner (the space would be one of A M): none
    assert gmres(A, b, tol=1e-13, restart=12).rightmost is None
    assert gmres(A, b, tol=1e-13, restart=12, ritz=2, M=lambda v: 0.5 * v).rightmost is None

# -- Euler relaxation -------------------------------------------------------------------------
def test_euler_converges_and_residual_kinds_are_consistent():
    fld, zs = cubic_field()
    res = relax_euler(fld, eps=0.1, steps=3000, tol=1e-10)
    assert res.converged and "≤ tol" in res.reason
    assert torch.allclose(res.z, zs, atol=1e-9)
    assert res.iterations == res.step[-1] < 3000 and res.nfev == res.iterations + 1
    np.testing.assert_allclose(res.step_residual, 0.1 * res.force_residual, rtol=1e-15)
    assert np.all(res.eps == 0.1) and res.matvecs == 0 and res.linear_iterations.size == 0
    # the last trace entry describes the returned state
    force, step = fld.residuals(res.z, 0.1)
    assert res.final_force_residual == pytest.approx(force, rel=1e-12)
    assert res.final_step_residual == pytest.approx(step, rel=1e-12)


def test_euler_without_tol_runs_all_steps_and_records_every():
    fld, _ = cubic_field()
    res = relax_euler(fld, eps=0.1, steps=100, record_every=7)
    assert not res.converged and "no tol" in res.reason
    assert list(res.step) == list(range(0, 100, 7)) + [100]
    assert res.iterations == 100 and res.nfev == 101


# -- adaptive ε -------------------------------------------------------------------------------
def test_adaptive_eps_converges_where_fixed_eps_diverges():
    fld, zs = stiff_field()
    fixed = relax_euler(fld, eps=0.1, steps=300, tol=1e-8)
    # |1 + ελ| = 1.99: the stiff mode flips and grows; the relative residual saturates at |λ|
    assert not fixed.converged and fixed.final_force_residual > 10 * fixed.force_residual[0]
    assert float((fixed.z - zs).norm()) > 1e50
    res = relax_adaptive(fld, eps=0.1, eps_min=1e-3, steps=3000, tol=1e-8)
    assert res.converged, res.reason
    assert torch.allclose(res.z, zs, atol=1e-7)
    eps_crit = 2 / 29.9
    assert res.eps.min() < eps_crit < res.eps.max() == 0.1
    assert np.all((res.eps >= 1e-3) & (res.eps <= 0.1))
    np.testing.assert_allclose(res.step_residual, res.eps * res.force_residual, rtol=1e-15)
    assert not res.settings["floor_hit"] and res.settings["floor_step"] == -1
    # the controller shrinks ε exactly on the steps where the force residual rose
    rose = res.force_residual[1:] > res.force_residual[:-1]
    np.testing.assert_allclose(res.eps[1:][rose], np.maximum(1e-3, 0.7 * res.eps[:-1][rose]))


def test_adaptive_eps_reports_its_floor():
    fld, _ = stiff_field()
    res = relax_adaptive(fld, eps=0.1, eps_min=0.08, steps=3000, tol=1e-8, patience=30)
    assert not res.converged
    assert "hit the floor eps_min=0.08" in res.reason and "overshoot persists" in res.reason
    assert res.settings["floor_hit"] and 0 <= res.settings["floor_step"] < res.iterations < 100
    assert res.eps[-1] == 0.08 and res.settings["floor_hits"] >= 30
    assert f"at step {res.settings['floor_step']}" in res.reason


# -- Anderson ---------------------------------------------------------------------------------
def test_anderson_beats_euler_on_a_slowly_contracting_field():
    fld, zs = slow_linear_field()
    euler = relax_euler(fld, eps=0.1, steps=5000, tol=1e-9)
    acc = anderson(fld, eps=0.1, m=5, steps=5000, tol=1e-9)
    assert euler.converged and acc.converged, (euler.reason, acc.reason)
    assert acc.iterations * 10 < euler.iterations
    assert torch.allclose(acc.z, zs, atol=1e-7)
    assert acc.final_force_residual == pytest.approx(fld.residuals(acc.z, 0.1)[0], rel=1e-12)
    np.testing.assert_allclose(acc.step_residual, 0.1 * acc.force_residual, rtol=1e-15)


def test_anderson_safeguards_fire_and_it_still_converges():
    # ε = 0.5 on the stiff field: the Euler map multiplies the stiff mode by −14 per step, so every
    # plain step makes the residual jump; restarts must keep the newest pair or AA never recovers
    fld, zs = stiff_field()
    res = anderson(fld, eps=0.5, m=5, steps=300, tol=1e-9)
    assert res.converged and res.settings["restarts"] >= 1, (res.reason, res.settings)
    assert torch.allclose(res.z, zs, atol=1e-8)
    # on the cubic field some Anderson candidates overshoot and are gated back to Euler steps
    fld, zs = cubic_field()
    res = anderson(fld, eps=0.1, m=5, beta=0.8, steps=300, tol=1e-9)
    assert res.converged and res.settings["rejected"] >= 1, (res.reason, res.settings)
    assert res.nfev == res.iterations + 1 + res.settings["rejected"]
    assert res.final_force_residual == pytest.approx(fld.residuals(res.z, 0.1)[0], rel=1e-12)


# -- Newton–Krylov ----------------------------------------------------------------------------
def test_newton_krylov_converges_quadratically_on_a_thick_field():
    fld = thick_field()
    res = newton_krylov(fld, tol=1e-13)
    r = res.force_residual
    assert res.converged and r[-1] <= 1e-13, res.reason
    assert _quadratic_tail(r), r
    assert len(res.linear_iterations) == res.iterations == len(r) - 1
    assert res.matvecs >= res.linear_iterations.sum()
    assert np.all(np.isnan(res.eps)) and np.isnan(res.step_residual[-1])
    assert res.final_force_residual == pytest.approx(fld.residuals(res.z, 0.1)[0], rel=1e-9)
    # the criterion can fail: a fixed loose inner tolerance makes Newton only linear
    loose = newton_krylov(fld, tol=1e-6, gmres_tol=0.3)
    assert loose.converged and not _quadratic_tail(loose.force_residual)


def test_newton_krylov_finds_the_fixed_point_relaxation_runs_away_from():
    fld, zs = unstable_field()
    away = relax_euler(fld, eps=0.1, steps=300)
    assert away.final_force_residual > 10 * away.force_residual[0]
    assert float((away.z - zs).norm()) > 1.0
    res = newton_krylov(fld, tol=1e-12)
    assert res.converged, res.reason
    assert torch.allclose(res.z, zs, atol=1e-10)
    # relaxing all the way (no hand-over), find_fixed_point notices the runaway and polishes from z0
    ffp = find_fixed_point(fld, eps=0.1, relax_steps=300, tol=1e-12, newton_from=0.0)
    assert ffp.converged and ffp.settings["newton_start"] == "z0"
    assert torch.allclose(ffp.z, zs, atol=1e-10)
    # by default z0 is already within the hand-over residual: Newton starts there at once
    fast = find_fixed_point(fld, eps=0.1, relax_steps=300, tol=1e-12)
    assert fast.converged and fast.nfev < ffp.nfev and torch.allclose(fast.z, zs, atol=1e-10)


def test_newton_krylov_reports_stagnation_far_away_and_relaxing_first_fixes_it():
    fld = thick_field(seed=17)  # from x, the line search leads into a local minimum of ||F||
    far = newton_krylov(fld, tol=1e-10)
    assert not far.converged and far.reason.startswith("stagnated at Newton step")
    assert far.iterations < 30 and far.final_force_residual > 1e-3
    near = find_fixed_point(fld, eps=0.1, relax_steps=300, tol=1e-10)
    assert near.converged and near.settings["newton_start"] == "relaxed", near.reason


def test_find_fixed_point_concatenates_both_stages():
    fld = thick_field()
    res = find_fixed_point(fld, eps=0.1, relax_steps=40, tol=1e-11, newton_from=0.0)
    assert res.converged and res.solver == "euler+newton" and res.settings["newton_start"] == "relaxed"
    assert np.all(np.diff(res.step) == 1) and res.step[0] == 0
    relaxed = ~np.isnan(res.eps)
    assert relaxed.sum() == 40 and np.all(relaxed[:40]) and not relaxed[40:].any()
    np.testing.assert_allclose(res.step_residual[:40], 0.1 * res.force_residual[:40], rtol=1e-15)
    assert res.iterations == 40 + len(res.linear_iterations)
    assert res.reason.startswith("euler: maxiter reached") and "newton from relaxed state" in res.reason
    # by default relaxation hands over to Newton at force residual 1e-2 (here at step 41 or later)
    handed = find_fixed_point(fld, eps=0.1, relax_steps=300, tol=1e-11)
    settled = ~np.isnan(handed.eps)
    assert handed.converged and 40 < settled.sum() < 300 and "≤ tol 1e-02" in handed.reason
    assert handed.force_residual[~settled][0] <= 1e-2 < handed.force_residual[settled][-1]
    assert torch.allclose(handed.z, res.z, atol=1e-9)
    # already converged by relaxation (no hand-over asked): Newton is skipped
    easy, _ = cubic_field()
    only = find_fixed_point(easy, eps=0.1, relax_steps=3000, tol=1e-8, newton_from=0.0)
    assert only.converged and only.solver == "euler" and only.matvecs == 0



def _one_oscillating_sequence():
    """A random C=32, T=16 thick block on 8 token sequences: plain Euler iteration settles seven of
    them on fixed points and circles on the eighth (index 7), where the fixed point is unstable.
    Newton from the batch's hand-over state (force residual 1e-2 after 156 steps) stagnates."""
    from stabilitylab.model import BlockConfig, block_field, make_block

    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # the seeded weights are float32 draws (other tests change the default)
    try:
        block = make_block(BlockConfig(vocab=65, C=32, H=2, T=16, c=1.0), seed=0)
    finally:
        torch.set_default_dtype(before)
    block = block.to(DT).requires_grad_(False)
    idx = torch.randint(0, 65, (8, 16), generator=torch.Generator().manual_seed(0))
    return block, idx, block_field(block, idx)


def test_newton_starts_again_where_the_relaxation_circles_an_unstable_fixed_point():
    from torch.func import jacfwd

    from stabilitylab.model import block_field

    block, idx, fld = _one_oscillating_sequence()
    z = fld.z0.clone()
    with torch.no_grad():  # the reference: the deployed iteration itself, 4,000 plain Euler steps
        for _ in range(4000):
            z = z + 0.1 * fld(z)
        per_seq = fld(z).flatten(1).norm(dim=1) / z.flatten(1).norm(dim=1)
    assert (per_seq[:7] < 1e-9).all() and per_seq[7] > 1e-3  # seven settle, the eighth circles
    stuck = newton_krylov(fld, relax_euler(fld, 0.1, 300, tol=1e-2).z, tol=1e-9)
    assert not stuck.converged and stuck.reason.startswith("stagnated")
    fp = find_fixed_point(fld, eps=0.1, tol=1e-9)
    assert fp.converged, fp.reason
    assert "no progress, so Newton again from where it stopped" in fp.reason
    assert fp.solver.count("newton") >= 2
    assert torch.allclose(fp.z[:7], z[:7], atol=1e-7)  # the stable sequences: the iteration's fixed points
    one = block_field(block, idx[7:])  # the eighth alone: a fixed point, and unstable (why it circles)
    z7 = fp.z[7:].reshape(one.shape)
    assert float(one(z7).norm() / z7.norm()) < 1e-8
    lam = np.linalg.eigvals(jacfwd(one.flat_force())(z7.reshape(-1)).numpy())
    assert lam.real.max() > 0.05


def test_a_continuation_starts_where_the_relaxation_circles_an_unstable_fixed_point():
    from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation

    _, _, fld = _one_oscillating_sequence()
    branch = continuation(ContinuationProblem(fld, "alpha", 0.1),
                          ContinuationOptions(1.0, 0.98, ds=0.01, ds_max=0.01, max_points=1, k=2))
    start = branch.points[0]
    assert start.param == 1.0 and start.force_residual <= 1e-9 and start.n_unstable_J == 2

def test_field_knob_overrides_and_unknown_knobs():
    fld = Field(lambda z, a: -(z - a), torch.zeros(3, dtype=DT), {"a": 1.0})
    res = newton_krylov(fld, a=2.0)
    assert res.converged and torch.allclose(res.z, torch.full((3,), 2.0, dtype=DT))
    assert torch.allclose(find_fixed_point(fld, relax_steps=5, a=3.0).z, torch.full((3,), 3.0, dtype=DT))
    with pytest.raises(FieldError, match="unknown field parameter"):
        newton_krylov(fld, b=1.0)


# -- failure modes ----------------------------------------------------------------------------
@pytest.mark.parametrize("solve", [
    lambda f: relax_euler(f, eps=0.1, steps=300, tol=1e-9),
    lambda f: relax_adaptive(f, eps=0.1, eps_min=0.1, steps=300),
    lambda f: anderson(f, eps=0.1, steps=300),
], ids=["euler", "adaptive", "anderson"])
def test_nan_mid_relaxation_is_reported(solve):
    res = solve(nan_field())
    assert not res.converged
    assert res.reason.startswith("non-finite force at step ")
    k = int(res.reason.rsplit(" ", 1)[1])
    assert k == 164 and res.iterations == k - 1 and len(res.step) == k
    assert torch.isfinite(res.z).all() and np.all(np.isfinite(res.force_residual))
    assert res.final_force_residual == pytest.approx(nan_field().residuals(res.z, 0.1)[0], rel=1e-12)


@pytest.mark.parametrize("solve", [relax_euler, relax_adaptive, anderson, newton_krylov,
                                   find_fixed_point])
def test_non_finite_start_is_reported_not_raised(solve):
    fld, _ = cubic_field()
    z0 = fld.z0.clone()
    z0[0] = math.nan
    res = solve(fld, z0=z0)
    assert not res.converged and "non-finite state at step 0" in res.reason


def test_bad_settings_raise_config_errors():
    fld, _ = cubic_field()
    with pytest.raises(ConfigError):
        relax_adaptive(fld, eps_min=0.5, eps_max=0.1)
    with pytest.raises(ConfigError):
        anderson(fld, m=0)
    with pytest.raises(ConfigError):
        relax_euler(fld, record_every=0)


# -- dataset ----------------------------------------------------------------------------------
def test_result_dataset_round_trips_through_zarr(tmp_path):
    res = find_fixed_point(thick_field(), eps=0.1, relax_steps=20, tol=1e-10, progress=True)
    ds = res.to_dataset()
    assert set(ds.data_vars) == {"force_residual", "step_residual", "eps", "linear_iterations"}
    assert ds.sizes["step"] == len(res.step)
    assert ds.attrs["solver"] == "euler+newton" and ds.attrs["converged"] == 1
    assert "force_residual = ||F(z)||/max(||z||, 1)" in ds.attrs["residual_kinds"]
    assert "step_residual = ||eps F(z)||/max(||z||, 1)" in ds.attrs["residual_kinds"]
    assert ds.attrs["line_search"] == 1 and ds.attrs["gmres_tol"] == "eisenstat-walker"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.to_zarr(tmp_path / "solve.zarr", consolidated=False)
        back = xr.open_zarr(tmp_path / "solve.zarr", consolidated=False).load()
    xr.testing.assert_identical(back, ds)
    plain = relax_euler(thick_field(), steps=5).to_dataset()
    assert "linear_iterations" not in plain and plain.attrs["tol"] == "none"
