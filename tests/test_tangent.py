"""Tangent products of the Lyapunov exponent: the forward difference against dense Jacobians, exact
forward mode and closed-form exponents."""
import math

import numpy as np
import pytest
import torch

from stabilitylab import examples as ex
from stabilitylab.dynamics.batch import batch_force
from stabilitylab.dynamics.tangent import difference_jvp, jvp, tangent_product
from stabilitylab.dynamics.trajectory import relax_batch
from stabilitylab.errors import ConfigError


def _field_rows(E=3, n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n, n, generator=g, dtype=torch.float64) / math.sqrt(n)
    X = 3 * torch.randn(E, n, generator=g, dtype=torch.float64)
    V = torch.randn(E, n, generator=g, dtype=torch.float64)
    return (lambda Y: torch.tanh(Y @ W.T) - 0.5 * Y + 0.1 * Y ** 3), W, X, V


def test_difference_jvp_matches_the_dense_jacobian_row_by_row():
    f, W, X, V = _field_rows()
    V[1] = 0.0  # a zero direction gets a zero tangent, not a division by zero
    F, JV = difference_jvp(f, X, V)
    for x, v, jv in zip(X.numpy(), V.numpy(), JV.numpy()):
        pre = np.tanh(W.numpy() @ x)
        J = (1 - pre ** 2)[:, None] * W.numpy() - 0.5 * np.eye(len(x)) + np.diag(0.3 * x ** 2)
        exact = J @ v
        assert np.linalg.norm(jv - exact) <= 1e-6 * max(np.linalg.norm(exact), 1e-300) or not v.any()
    assert torch.equal(JV[1], torch.zeros_like(JV[1]))
    assert torch.allclose(F, f(X), rtol=0, atol=0)


def _lyapunov(field, eps, steps, tangent):
    x0 = field.z0.reshape(1, -1)
    tr = relax_batch(batch_force(field, x0), x0.clone(), eps, steps, tail=64, tangent=tangent, seed=3)
    return float(tr.lyapunov[0]), float(tr.lyapunov_error[0])


def test_difference_and_exact_tangents_give_the_same_henon_exponent():
    diff, err = _lyapunov(ex.henon(), 1.0, 6000, "difference")
    dual, _ = _lyapunov(ex.henon(), 1.0, 6000, "dual")
    assert diff == pytest.approx(dual, rel=1e-7)
    assert diff == pytest.approx(0.41922, abs=max(4 * err, 0.01))


def test_difference_tangent_gives_ln2_on_the_logistic_map_at_r4():
    lam, err = _lyapunov(ex.logistic(4.0), 1.0, 8000, "difference")
    assert lam == pytest.approx(math.log(2.0), abs=max(4 * err, 0.01))


def test_auto_is_the_difference_in_float64_only_and_names_are_checked():
    assert tangent_product("auto", torch.float64) is difference_jvp
    assert tangent_product("auto", torch.float32) is jvp
    assert tangent_product("dual", torch.float64) is jvp
    with pytest.raises(ConfigError, match="tangent must be one of"):
        tangent_product("secant", torch.float64)
