"""The torch-native eigensolvers against independent answers, in float64.

References: matrices ``S D S⁻¹`` built with a known spectrum (D block-diagonal), dense
``numpy.linalg.eig``/``eigvalsh``, ARPACK (``scipy.sparse.linalg.eigs``/``eigsh``) on the same
operator, and a dense ``torch.func.jacfwd`` Jacobian of a small nonlinear field (dense Jacobians
appear only here, in tests).
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg as spla
import torch
from torch.func import jacfwd

from stabilitylab.errors import ConvergenceWarning, NonFiniteError, StabilityLabError
from stabilitylab.field import Field
from stabilitylab.linear import LinearOperator, Linearization
from stabilitylab.spectral import EigResult, eigs, eigsh

F64 = torch.float64
KEYS = {
    "LR": lambda z: z.real,
    "SR": lambda z: -z.real,
    "LM": np.abs,
    "LI": lambda z: np.abs(z.imag),
}


# -- helpers (independent of the module under test) -----------------------------------------------
def as_operator(A: np.ndarray, dtype=F64) -> LinearOperator:
    At = torch.from_numpy(np.ascontiguousarray(A)).to(dtype)
    return LinearOperator(lambda v: At @ v, A.shape[0], dtype, torch.device("cpu"),
                          batched=lambda V: At @ V)


def with_spectrum(pairs, reals, rng, mix=0.3) -> np.ndarray:
    """A dense real matrix ``S D S⁻¹`` with eigenvalues ``a ± ib`` (pairs) and ``reals``;
    ``S = I + mix·G/√n`` makes it non-normal but well conditioned."""
    blocks = [np.array([[a, b], [-b, a]]) for a, b in pairs] + [np.array([[r]]) for r in reals]
    n = sum(len(b) for b in blocks)
    D = np.zeros((n, n))
    i = 0
    for b in blocks:
        D[i : i + len(b), i : i + len(b)] = b
        i += len(b)
    S = np.eye(n) + mix * rng.standard_normal((n, n)) / np.sqrt(n)
    return S @ D @ np.linalg.inv(S)


def spectrum_of(pairs, reals) -> np.ndarray:
    lam = [complex(a, s * b) for a, b in pairs for s in (1, -1)] + [complex(r) for r in reals]
    return np.array(lam)


def ranked(lam, which: str, count: int) -> np.ndarray:
    """The ``count`` best of ``lam`` for ``which``, pairs adjacent with Im > 0 first."""
    lam = np.asarray(lam, dtype=complex)
    return lam[np.lexsort((-lam.imag, -np.abs(lam.imag), -KEYS[which](lam)))][:count]


def assert_close(got, ref, rel=1e-6):
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, (got, ref)
    err = np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)
    assert err.max() <= rel, f"max relative error {err.max():.2e}\n got {got}\n ref {ref}"


def assert_well_formed(res: EigResult, which: str, k: int):
    lam = res.eigenvalues.numpy()
    assert res.eigenvalues.dtype == torch.complex128
    assert len(lam) in (k, k + 1) and res.converged and res.nconv == len(lam)
    key = KEYS[which](lam)
    assert np.all(np.diff(key) <= 1e-9 * np.abs(key).max()), "not sorted by the ranking"
    i = 0
    while i < len(lam):  # pairs adjacent, positive imaginary part first, never split
        if lam[i].imag != 0:
            assert lam[i].imag > 0 and lam[i + 1] == np.conj(lam[i]), lam
            i += 2
        else:
            i += 1
    scale = np.maximum(np.abs(lam), res.norm_estimate)
    assert np.all(res.residuals.numpy() <= res.tol * scale)


def rng_(seed=0):
    return np.random.default_rng(seed)



# -- non-symmetric: eigs ---------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["LR", "SR", "LM", "LI"])
def test_known_spectrum_all_rankings(which):
    rng = rng_(1)
    pairs = list(zip(-rng.uniform(0.0, 4.0, 50), rng.uniform(0.05, 3.0, 50)))
    reals = list(rng.uniform(-5.0, 0.5, 60))
    A = with_spectrum(pairs, reals, rng)
    res = eigs(as_operator(A), k=6, which=which, tol=1e-10)
    assert_well_formed(res, which, 6)
    n = len(res.eigenvalues)
    assert_close(res.eigenvalues, ranked(spectrum_of(pairs, reals), which, n))
    assert_close(res.eigenvalues, ranked(np.linalg.eigvals(A), which, n))


@pytest.mark.parametrize("which", ["LR", "SR"])
def test_gaussian_matrix_matches_numpy_and_arpack(which):
    n = 300
    A = rng_(2).standard_normal((n, n)) / np.sqrt(n)
    op = as_operator(A)
    res = eigs(op, k=6, which=which, tol=1e-10)
    assert_well_formed(res, which, 6)
    assert res.matvecs == op.count
    r = len(res.eigenvalues)
    assert_close(res.eigenvalues, ranked(np.linalg.eigvals(A), which, r), rel=1e-8)
    same_op = spla.LinearOperator((n, n), matvec=lambda v: op.matvec(torch.from_numpy(v)).numpy(),
                                  dtype=np.float64)
    arpack = spla.eigs(same_op, k=r, which=which, tol=1e-12, return_eigenvectors=False)
    assert_close(res.eigenvalues, ranked(arpack, which, r), rel=1e-8)


def test_strongly_non_normal_operator():
    """``S D S⁻¹`` with cond(S) = 100 and a Jordan-like block ``[[0.5, 5], [0, 0.45]]`` in D:
    ‖A‖ is 20× the spectral radius and the two rightmost eigenvalues have condition ~1e3."""
    rng = rng_(3)
    n = 200
    bulk_pairs = list(zip(-rng.uniform(0.2, 3.0, 50), rng.uniform(0.1, 2.0, 50)))
    bulk_reals = list(-rng.uniform(0.2, 3.0, n - 104))
    D = np.zeros((n, n))
    D[:4, :4] = [[0.5, 5.0, 0, 0], [0, 0.45, 0, 0], [0, 0, 0.3, 0.4], [0, 0, -0.4, 0.3]]
    D[4:, 4:] = with_spectrum(bulk_pairs, bulk_reals, rng, mix=0.0)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    S = U @ np.diag(np.logspace(0, 2, n)) @ V.T
    A = S @ D @ np.linalg.inv(S)
    lam = np.concatenate([[0.5, 0.45, 0.3 + 0.4j, 0.3 - 0.4j], spectrum_of(bulk_pairs, bulk_reals)])
    w, left, right = scipy.linalg.eig(A, left=True, right=True)
    kappa = 1 / np.abs(np.sum(left.conj() * right, axis=0))
    assert np.linalg.norm(A, 2) > 20 * np.abs(lam).max() and kappa[np.argmax(w.real)] > 500
    res = eigs(as_operator(A), k=4, which="LR", tol=1e-10)
    assert_well_formed(res, "LR", 4)
    assert_close(res.eigenvalues, ranked(lam, "LR", 4))
    assert_close(res.eigenvalues, ranked(w, "LR", 4))
    arpack = spla.eigs(A, k=4, which="LR", tol=1e-12, return_eigenvectors=False)
    assert_close(res.eigenvalues, ranked(arpack, "LR", 4))


def test_nearly_critical_cluster_and_arpack():
    """Two complex pairs 1e-4 from the imaginary axis, 0.01i apart, above 150 stable modes."""
    rng = rng_(4)
    pairs = [(-1e-4, 1.0), (-2e-4, 1.01)]
    pairs += list(zip(-rng.uniform(0.01, 2.0, 60), rng.uniform(0.1, 3.0, 60)))
    A = with_spectrum(pairs, list(-rng.uniform(0.01, 3.0, 30)), rng)
    op = as_operator(A)
    res = eigs(op, k=4, which="LR", tol=1e-10)
    assert_well_formed(res, "LR", 4)
    lam = res.eigenvalues.numpy()
    assert_close(lam, [-1e-4 + 1j, -1e-4 - 1j, -2e-4 + 1.01j, -2e-4 - 1.01j])
    assert np.all(lam.real < 0) and abs(lam[0].real + 1e-4) < 1e-8  # sign and size of Re λ resolved
    arpack = spla.eigs(A, k=4, which="LR", tol=1e-12, return_eigenvectors=False)
    assert_close(lam, ranked(arpack, "LR", 4))


def test_flip_mode_is_found_by_lm_on_M_not_by_lr_on_J():
    """A stiff real λ = −25 with ε = 0.1 gives μ = 1 + ελ = −1.5: the largest |μ| of M, a flip,
    while the rightmost-J search ranks λ = −25 last."""
    rng = rng_(5)
    eps = 0.1
    pairs = [(-0.05, 0.8)] + list(zip(-rng.uniform(0.5, 3.0, 40), rng.uniform(0.1, 1.0, 40)))
    reals = [-25.0] + list(-rng.uniform(0.1, 3.0, 50))
    J = as_operator(with_spectrum(pairs, reals, rng))
    lam = spectrum_of(pairs, reals)
    assert ranked(lam, "LR", len(lam))[-1] == -25.0
    right = eigs(J, k=6, which="LR", tol=1e-10).eigenvalues.numpy()
    assert_close(right, ranked(lam, "LR", len(right)))
    assert np.all(right.real > -5)
    mu = eigs(J.shifted(eps, 1.0), k=3, which="LM", tol=1e-10)
    assert_well_formed(mu, "LM", 3)
    assert_close(mu.eigenvalues, ranked(1 + eps * lam, "LM", len(mu.eigenvalues)))
    assert mu.eigenvalues[0].imag == 0 and mu.eigenvalues[0].real < -1  # flip: real μ below −1
    # one subspace of J serving both searches: a callable key ranking "rightmost or |μ| > 1"
    both = eigs(J, k=3, which=lambda z: np.maximum(z.real, np.abs(1 + eps * z) - 1), tol=1e-10)
    assert both.converged and both.which == "<lambda>"
    assert_close(both.eigenvalues, [-25.0, -0.05 + 0.8j, -0.05 - 0.8j])


def test_eigenvectors_and_explicit_residuals():
    rng = rng_(6)
    pairs = list(zip(-rng.uniform(0.0, 2.0, 30), rng.uniform(0.1, 2.0, 30)))
    A = with_spectrum(pairs, list(-rng.uniform(0.0, 2.0, 40)), rng, mix=0.5)
    res = eigs(as_operator(A), k=6, which="LM", tol=1e-9, return_eigenvectors=True)
    assert_well_formed(res, "LM", 6)
    X, lam = res.eigenvectors.numpy(), res.eigenvalues.numpy()
    assert X.shape == (A.shape[0], len(lam)) and X.dtype == np.complex128
    assert np.allclose(np.linalg.norm(X, axis=0), 1.0)
    true_res = np.linalg.norm(A @ X - X * lam, axis=0)
    assert np.allclose(true_res, res.residuals.numpy(), rtol=1e-3, atol=1e-13)
    assert true_res.max() <= 1e-9 * res.norm_estimate
    for i in np.flatnonzero(lam.imag > 0):
        assert np.array_equal(X[:, i + 1], X[:, i].conj())


def test_residual_check_is_one_block_product_and_plain_callables_work():
    pairs = list(zip(-rng_(7).uniform(0, 2, 30), rng_(8).uniform(0.1, 2, 30)))
    A = with_spectrum(pairs, [0.3, -1.0], rng_(9))
    At = torch.from_numpy(A)
    blocks = []
    op = LinearOperator(lambda v: At @ v, A.shape[0], F64, torch.device("cpu"),
                        batched=lambda V: blocks.append(V.shape[1]) or At @ V)
    res = eigs(op, k=4, which="LR")
    assert blocks == [len(res.eigenvalues)]  # the Krylov steps are vectors; the check one block
    plain = eigs(lambda v: At @ v, k=4, which="LR", n=A.shape[0], dtype=F64)
    assert_close(plain.eigenvalues, res.eigenvalues, rel=1e-8)
    assert plain.matvecs == res.matvecs


def test_warm_start_block_is_right_and_no_dearer_than_a_cold_start():
    """Continuation-style: the eigenvectors at one operator (complex, as returned) warm-start the
    solve at the same operator and at a slightly perturbed one. The start is their random
    combination plus an equal-norm random vector (so no mode is missing from it, see
    test_a_warm_start_lacking_the_rightmost_mode_does_not_hide_it): it saves products, but only
    about a fifth here (527 against 644), not the 4–6× of the old vectors alone."""
    rng = rng_(10)
    pairs = list(zip(-rng.uniform(0.0, 3.0, 60), rng.uniform(0.1, 3.0, 60)))
    A = with_spectrum(pairs, list(-rng.uniform(0.0, 3.0, 60)), rng)
    A2 = A + 1e-6 * rng.standard_normal(A.shape) / np.sqrt(A.shape[0])
    first = eigs(as_operator(A), k=6, which="LR", return_eigenvectors=True)
    again = eigs(as_operator(A), k=6, which="LR", v0=first.eigenvectors)
    assert_close(again.eigenvalues, ranked(np.linalg.eigvals(A), "LR", len(again.eigenvalues)))
    assert again.matvecs <= first.matvecs, (again.matvecs, first.matvecs)
    cold = eigs(as_operator(A2), k=6, which="LR")
    warm = eigs(as_operator(A2), k=6, which="LR", v0=first.eigenvectors)
    ref = ranked(np.linalg.eigvals(A2), "LR", len(cold.eigenvalues))
    assert_close(cold.eigenvalues, ref)
    assert_close(warm.eigenvalues, ref)
    assert warm.converged and warm.matvecs <= cold.matvecs, (warm.matvecs, cold.matvecs)


def test_not_converged_returns_partial_result_with_warning():
    rng = rng_(11)
    pairs = [(-1e-4, 1.0), (-2e-4, 1.01)]
    pairs += list(zip(-rng.uniform(0.01, 2.0, 60), rng.uniform(0.1, 3.0, 60)))
    op = as_operator(with_spectrum(pairs, list(-rng.uniform(0.01, 3.0, 30)), rng))
    with pytest.warns(ConvergenceWarning, match="raise maxiter or ncv"):
        res = eigs(op, k=4, which="LR", ncv=20, maxiter=2, tol=1e-10)
    lam = res.eigenvalues.numpy()
    assert not res.converged and res.nconv < len(lam) and len(lam) in (4, 5)
    assert res.restarts == 1 and np.all(np.isfinite(res.residuals.numpy()))
    assert res.matvecs == op.count <= 20 + 10 + len(lam) + 1  # two expansions + the residual check


def test_small_operator_is_solved_exactly():
    A = rng_(12).standard_normal((9, 9))
    res = eigs(as_operator(A), k=4, which="LM", return_eigenvectors=True)
    assert_well_formed(res, "LM", 4)
    ref = ranked(np.linalg.eigvals(A), "LM", len(res.eigenvalues))
    assert_close(res.eigenvalues, ref, rel=1e-12)
    assert res.restarts == 0 and res.matvecs == 9 + len(res.eigenvalues)


def test_float32_operator():
    rng = rng_(13)
    pairs = list(zip(-rng.uniform(0.0, 3.0, 50), rng.uniform(0.1, 3.0, 50)))
    A = with_spectrum(pairs, [0.4], rng)
    res = eigs(as_operator(A, torch.float32), k=5, which="LR", return_eigenvectors=True)
    assert res.converged and res.eigenvectors.dtype == torch.complex64
    assert res.tol == pytest.approx(64 * torch.finfo(torch.float32).eps)
    ref = ranked(spectrum_of(pairs, [0.4]), "LR", len(res.eigenvalues))
    assert_close(res.eigenvalues, ref, rel=2e-5)


def test_invariant_start_vector_and_zero_operator():
    """Breakdown: an exact eigenvector as v0 (Krylov space invariant at once), and A = 0."""
    A = np.diag(np.arange(60.0))
    res = eigs(as_operator(A), k=3, which="LR", v0=np.eye(60)[:, 5])
    assert_close(res.eigenvalues, [59.0, 58.0, 57.0], rel=1e-10)
    zero = eigs(as_operator(np.zeros((50, 50))), k=2, which="LM")
    assert zero.converged and np.all(zero.eigenvalues.numpy() == 0)


def test_non_finite_operator_is_reported():
    def bad(v):
        w = v.clone()
        w[3] = float("nan")
        return w

    with pytest.raises(NonFiniteError, match="NaN or Inf"):
        eigs(bad, k=2, n=80, dtype=F64)


def test_option_errors():
    op = as_operator(np.eye(30))
    for kwargs in (dict(k=30), dict(k=0), dict(k=6, ncv=7), dict(which="XX"), dict(tol=0.0),
                   dict(v0=torch.zeros(30)), dict(v0=torch.ones(29))):
        with pytest.raises(StabilityLabError) as info:
            eigs(op, **kwargs)
        assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="needs n="):
        eigs(lambda v: v, k=2)


# -- symmetric: eigsh ------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["LA", "SA"])
def test_eigsh_matches_eigvalsh_and_arpack(which):
    n = 300
    G = rng_(14).standard_normal((n, n))
    S = (G + G.T) / np.sqrt(8 * n)
    op = as_operator(S)
    res = eigsh(op, k=4, which=which, tol=1e-10, return_eigenvectors=True)
    ref = np.linalg.eigvalsh(S)
    ref = ref[::-1][:4] if which == "LA" else ref[:4]
    assert res.converged and res.eigenvalues.dtype == F64 and res.matvecs == op.count
    assert_close(res.eigenvalues, ref, rel=1e-9)
    arpack = spla.eigsh(S, k=4, which=which, tol=1e-12, return_eigenvectors=False)
    assert_close(np.sort(res.eigenvalues.numpy()), np.sort(arpack), rel=1e-9)
    X = res.eigenvectors.numpy()
    assert np.allclose(X.T @ X, np.eye(4), atol=1e-8)
    true_res = np.linalg.norm(S @ X - X * res.eigenvalues.numpy(), axis=0)
    assert true_res.max() <= 1e-9 * res.norm_estimate


# -- a nonlinear field through Linearization -------------------------------------------------------
def test_linearization_of_a_field_matches_dense_jacobian():
    n = 60  # > ncv: the restarted iteration, not the dense fallback
    g = torch.Generator().manual_seed(0)
    W = 1.6 * torch.randn(n, n, generator=g, dtype=F64) / n**0.5

    def force(z, gain):
        return -z + torch.tanh(gain * (W @ z))

    fld = Field(force, torch.randn(n, generator=g, dtype=F64) * 0.3, params={"gain": 1.0})
    z = fld.z0
    Jd = jacfwd(fld.flat_force())(z).numpy()
    lin = Linearization(fld, z)
    eps = 0.5

    right = eigs(lin.J(), k=4, which="LR", tol=1e-10)
    assert_well_formed(right, "LR", 4)
    ref = ranked(np.linalg.eigvals(Jd), "LR", len(right.eigenvalues))
    assert_close(right.eigenvalues, ref, rel=1e-8)
    transpose = eigs(lin.JT(), k=4, which="LR", tol=1e-10)
    assert_close(transpose.eigenvalues, right.eigenvalues, rel=1e-8)
    mu = eigs(lin.M(eps), k=3, which="LM", tol=1e-10)
    Md = np.eye(n) + eps * Jd
    assert_close(mu.eigenvalues, ranked(np.linalg.eigvals(Md), "LM", len(mu.eigenvalues)), rel=1e-8)
    omega = eigsh(lin.S(), k=1, which="LA", tol=1e-10)
    assert_close(omega.eigenvalues, np.linalg.eigvalsh((Jd + Jd.T) / 2)[-1:], rel=1e-8)


@pytest.mark.parametrize("shared", [False, True])
def test_a_warm_start_lacking_the_rightmost_mode_does_not_hide_it(shared):
    """A warm block of old eigenvectors that holds the new rightmost mode only at 1e-14 (and the
    bulk at 1e-6): from that start alone the search converged on λ = −0.45 and called it the
    rightmost; the random half of a block start finds −0.35, the dense answer."""
    from stabilitylab.spectral.krylov_schur import eigs_shared

    n, rng = 400, np.random.default_rng(0)
    lam = np.concatenate([[-0.35, -0.45, -0.455], rng.uniform(-3, -0.5, n - 3)])
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(lam) @ Q.T
    rightmost = np.linalg.eigvals(A).real.max()
    X, At = torch.tensor(Q), torch.tensor(A)
    bulk = X[:, 3:] @ torch.tensor(rng.standard_normal(n - 3))
    v0 = torch.stack([X[:, 1] + 1e-6 * bulk / bulk.norm() + 1e-14 * X[:, 0], X[:, 2]], dim=1)
    op = LinearOperator(lambda v: At @ v, n, torch.float64, torch.device("cpu"))
    for seed in range(3):
        if shared:
            res = eigs_shared(op, {"J": ("LR", 1), "M": (lambda z: np.abs(1 + 0.1 * z), 1)}, tol=1e-10, v0=v0,
                              seed=seed).results["J"]
        else:
            res = eigs(op, k=1, which="LR", tol=1e-10, v0=v0, seed=seed)
        assert res.converged and abs(res.eigenvalues[0].real - rightmost) < 1e-8
