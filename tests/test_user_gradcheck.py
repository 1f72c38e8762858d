"""``gradcheck --field`` on a user field that carries a readout loss: a small causal attention field
(independent W_Q, W_K, W_V, W_O, a readout W_head), checked against a dense implicit gradient.

The exact gradient of L(z*) at the fixed point F(z*; θ) = 0 is, by the implicit-function theorem,
dL/dθ = ∂L/∂θ − ℓᵀ J⁻¹ ∂F/∂θ with ℓ = ∂L/∂z*, J = ∂F/∂z*: computed here with the dense Jacobian of
this 24-number state and numpy's solve, independently of the package's estimators.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import Field, store
from stabilitylab.cli import cli
from stabilitylab.gradients import field_objective, transpose_adjoint
from stabilitylab.gradients.asymmetry import antisymmetry_ratio
from stabilitylab.gradients.study import study
from stabilitylab.solvers import find_fixed_point

T, C, V = 4, 6, 5


class TinyAttention(torch.nn.Module):
    """F(z) = −(z − x) − c z + α·Attn(z), causal single-head softmax attention with independent
    weights; knob ``asym`` blends W_K toward W_Q and W_O toward W_Vᵀ (asym = 1: the field as given).
    Readout loss: cross-entropy of z W_head against fixed targets."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        w = lambda *s: torch.nn.Parameter(0.4 * torch.randn(*s, generator=g, dtype=torch.float64))  # noqa: E731
        self.WQ, self.WK, self.WV, self.WO, self.W_head = w(C, C), w(C, C), w(C, C), w(C, C), w(C, V)
        self.register_buffer("x", torch.randn(T, C, generator=g, dtype=torch.float64))
        self.register_buffer("targets", torch.arange(T) % V)

    def forward(self, z, alpha=1.0, c=0.5, asym=1.0):
        WK = (1 - asym) * self.WQ + asym * self.WK
        WO = (1 - asym) * self.WV.T + asym * self.WO
        s = (z @ self.WQ) @ (z @ WK).T / C ** 0.5
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        return -(z - self.x) - c * z + alpha * torch.softmax(s, -1) @ (z @ self.WV) @ WO

    def loss(self, z):
        return torch.nn.functional.cross_entropy(z @ self.W_head, self.targets)


def attention_field() -> Field:
    f = TinyAttention()
    return Field(f, f.x.clone(), {"alpha": 1.0, "c": 0.5, "asym": 1.0}, "tiny-attention", loss=f.loss)


def dense_implicit(fld: Field, z: torch.Tensor) -> dict:
    f = fld.force
    p = fld.params
    J = torch.autograd.functional.jacobian(lambda u: f(u.reshape(T, C), **p).reshape(-1), z.reshape(-1))
    zz = z.detach().requires_grad_(True)
    (ell,) = torch.autograd.grad(f.loss(zz), zz)
    lam = np.linalg.solve(J.numpy().T, -ell.reshape(-1).numpy())
    names = [n for n, _ in f.named_parameters()]
    total = f.loss(z) + (torch.from_numpy(lam).reshape(T, C) * f(z, **p)).sum()
    return dict(zip(names, torch.autograd.grad(total, list(f.parameters()))))


def test_implicit_gradient_of_a_user_field_matches_the_dense_solve():
    fld = attention_field()
    z = find_fixed_point(fld, eps=0.2, tol=1e-12).z
    exact = dense_implicit(fld, z)
    got = transpose_adjoint(field_objective(fld), 0.2, z_free=z).grads
    assert set(got) == set(exact) == {"WQ", "WK", "WV", "WO", "W_head"}
    for name in exact:
        torch.testing.assert_close(got[name], exact[name], rtol=1e-7, atol=1e-10)


def test_study_on_a_user_field_runs_every_sweep():
    obj = field_objective(attention_field())
    ds = study(obj, eps=0.2, T1=300, t2s=(10, 40), betas=(0.01,), beta=0.01, asyms=(0.0, 1.0), fp_steps=400,
               groups={n: (n,) for n in obj.params})
    cos = ds.cosine.sel(group="all")
    assert float(cos.sel(estimator="bptt", estimator2="implicit")) > 0.999999  # a contracting unroll
    assert float(cos.sel(estimator="aep", estimator2="implicit")) > 0.999
    assert set(ds.group.values) == {"all", "WQ", "WK", "WV", "WO", "W_head"}
    assert ds.sizes["asym"] == 2 and np.isfinite(ds.asym_cosine.sel(group="all").values).all()
    own = ds.asym_cosine.sel(asym=1.0, group="all")  # r = 1 is the field itself: the main comparison
    np.testing.assert_array_equal(own.values, ds.cosine.sel(estimator2="implicit", group="all").values)
    # a non-conservative field: naive EP realises J⁻¹ instead of J⁻ᵀ, AEP corrects it
    assert float(cos.sel(estimator="naive", estimator2="implicit")) < float(cos.sel(estimator="aep", estimator2="implicit"))


def test_gradcheck_field_cli(tmp_path):
    out = tmp_path / "g.zarr"
    res = CliRunner().invoke(cli, ["gradcheck", "--field", "test_user_gradcheck:attention_field", "--eps", "0.2",
                                   "--t1", "100", "--t2", "10,20", "--betas", "0.01", "--beta", "0.01",
                                   "--asym", "0,1", "--fp-steps", "300", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ds = store.read(out)
    assert ds.attrs["analysis"] == "gradcheck" and ds.attrs["field"] == "test_user_gradcheck:attention_field"
    assert float(ds.cosine.sel(estimator="aep", estimator2="implicit", group="all")) > 0.99


def test_field_parameters_select_what_is_differentiated():
    f = TinyAttention()
    fld = Field(f, f.x.clone(), {}, loss=f.loss, parameters=("WO", "W_head")).to(dtype=torch.float32)
    obj = field_objective(fld)
    assert list(obj.params) == ["WO", "W_head"] and obj.params["WO"].dtype == torch.float32
    assert obj.loss.__self__ is fld.force  # the loss follows the module through Field.to


def test_antisymmetry_probes_do_not_depend_on_the_state_dtype():
    fld = attention_field()
    z = find_fixed_point(fld, eps=0.2, tol=1e-10).z
    r64 = antisymmetry_ratio(fld, z)
    r32 = antisymmetry_ratio(fld.to(dtype=torch.float32), z.float())
    assert r32 == pytest.approx(r64, rel=1e-5)
