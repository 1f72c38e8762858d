"""Gradient estimators against independent references on tiny float64 models.

References: torch.autograd through a long converged unroll, and the dense implicit-function
theorem (dense J and ∂F/∂θ built here, J⁻ᵀ by a dense solve).
"""
import math

import pytest
import torch
from torch import nn

from stabilitylab import Field
from stabilitylab.batches import analysis_batch, batch_for
from stabilitylab.data import generated_corpus
from stabilitylab.errors import ConfigError, FieldError
from stabilitylab.gradients import (BlendedBlock, antisymmetry_ratio, block_objective, bptt, bptt_gradient,
                                    compare, cosine, ep_gradient, ep_sweep, equilibrium_propagation,
                                    field_objective, groups_of, implicit_gradient, readout_loss,
                                    transpose_adjoint)
from stabilitylab.model import BlockConfig, make_block
from stabilitylab.solvers import relax_euler

torch.set_default_dtype(torch.float64)
EPS = 0.25  # fast contraction of these tiny c=1 blocks: free and nudged phases settle in ~100 steps



def flat(grads):
    return torch.cat([g.reshape(-1) for g in grads.values()])


def rel_err(a, b):
    return float((flat(a) - flat(b)).norm() / flat(b).norm())


class Case:
    """A tiny block, a batch, its converged free state and the exact implicit gradient."""

    def __init__(self, mode, seed):
        cfg = BlockConfig(vocab=7, C=8, H=2, T=4, c=1.0, ffn_mult=2, mode=mode)
        self.block = make_block(cfg, seed).double()
        g = torch.Generator().manual_seed(seed)
        self.idx, self.tgt = (torch.randint(0, 7, (2, 4), generator=g) for _ in range(2))
        self.obj = block_objective(self.block, self.idx, self.tgt)
        fp = relax_euler(self.obj.field, EPS, 3000, tol=1e-13)
        assert fp.converged
        self.z, self.steps = fp.z, fp.iterations
        self.exact = implicit_gradient(self.block, self.idx, self.tgt, eps=EPS, z_free=self.z, tol=1e-12)


@pytest.fixture(scope="module")
def thick():
    return Case("thick", 1)


@pytest.fixture(scope="module")
def cons():
    return Case("conservative", 2)


def dense_implicit(obj, z):
    """The implicit-function theorem, densely: dz*/dθ = −J⁻¹ ∂F/∂θ, dL/dθ = ∂L/∂θ + ℓᵀ dz*/dθ."""
    zf = z.reshape(-1)
    J = torch.autograd.functional.jacobian(obj.field.flat_force(), zf)
    ell = obj.loss_grad(z).reshape(-1)
    names, params = list(obj.params), list(obj.params.values())
    with obj.tracked():
        Fz = obj.field.flat_force()(zf)
        rows = torch.autograd.grad(Fz, params, torch.eye(zf.numel()), is_grads_batched=True,
                                   allow_unused=True)
        loss = obj.loss(z)
        direct = (torch.autograd.grad(loss, params, allow_unused=True) if loss.requires_grad
                  else [None] * len(params))
    out = {}
    for n, p, dF, dL in zip(names, params, rows, direct):
        dF = torch.zeros(zf.numel(), p.numel()) if dF is None else dF.reshape(zf.numel(), -1)
        dz = -torch.linalg.solve(J, dF)  # dz*/dθ, n × |θ|
        out[n] = (ell @ dz).reshape(p.shape) + (0 if dL is None else dL)
    return out


# -- exactness of the transpose adjoint and of BPTT -------------------------------------------------

@pytest.mark.parametrize("case", ["thick", "cons"])
def test_implicit_matches_dense_implicit_function_theorem(case, request):
    c = request.getfixturevalue(case)
    ref = dense_implicit(c.obj, c.z)
    assert rel_err(c.exact.grads, ref) < 1e-6
    assert c.exact.diagnostics["adjoint_residual"] < 1e-11
    assert c.exact.diagnostics["gmres_converged"] == 1.0


def test_implicit_matches_autograd_through_a_converged_unroll(thick):
    long = bptt_gradient(thick.block, thick.idx, thick.tgt, eps=EPS, T1=thick.steps + 50)
    assert rel_err(long.grads, thick.exact.grads) < 1e-6
    assert long.diagnostics["free_force_residual"] < 1e-12


def test_bptt_tends_to_the_implicit_gradient(thick):
    errs = [rel_err(bptt_gradient(thick.block, thick.idx, thick.tgt, eps=EPS, T1=t).grads, thick.exact.grads)
            for t in (5, 20, 80)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-3 < errs[0]


def test_gradient_result_contract(thick):
    res = thick.exact
    named = dict(thick.block.named_parameters())
    assert list(res.grads) == list(named)
    assert all(res.grads[n].shape == p.shape for n, p in named.items())
    for n in ("tok_emb", "pos_emb", "W_head", "WV", "WO"):
        assert res.grads[n].abs().max() > 0
    with torch.no_grad():
        assert math.isclose(res.loss, readout_loss(thick.block, thick.z, thick.tgt).item(), rel_tol=1e-12)
    assert torch.equal(res.z_free, thick.z)
    assert res.estimator == "implicit" and res.diagnostics["cost"] > 0
    assert all(isinstance(v, float) for v in res.diagnostics.values())


def test_parameters_need_not_require_grad_and_flags_are_restored(thick):
    block = make_block(thick.block.config, 1).double().requires_grad_(False)
    block.WQ.requires_grad_(True)
    res = implicit_gradient(block, thick.idx, thick.tgt, eps=EPS, z_free=thick.z, tol=1e-12)
    assert rel_err(res.grads, thick.exact.grads) < 1e-9
    assert [n for n, p in block.named_parameters() if p.requires_grad] == ["WQ"]


def test_knobs_reach_the_force(thick):
    a = implicit_gradient(thick.block, thick.idx, thick.tgt, eps=EPS, T1=300, alpha=0.5)
    assert rel_err(a.grads, thick.exact.grads) > 1e-3
    with pytest.raises(FieldError, match="unknown field parameter"):
        implicit_gradient(thick.block, thick.idx, thick.tgt, T1=10, bogus=1.0)


# -- equilibrium propagation -------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["aep", "aep_track"])
def test_aep_matches_the_exact_gradient(thick, variant):
    res = ep_gradient(thick.block, thick.idx, thick.tgt, eps=EPS, T2=100, beta=1e-3, variant=variant,
                      z_free=thick.z)
    assert 1 - cosine(res.grads, thick.exact.grads) < 1e-3
    assert rel_err(res.grads, thick.exact.grads) < 1e-3
    assert res.diagnostics["nudged_change"] < 1e-3
    assert res.diagnostics["adjoint_residual"] < 1e-3


def test_naive_ep_is_exact_on_the_conservative_model(cons):
    res = ep_gradient(cons.block, cons.idx, cons.tgt, eps=EPS, T2=100, beta=1e-3, variant="naive",
                      z_free=cons.z)
    assert 1 - cosine(res.grads, cons.exact.grads) < 1e-3
    assert res.diagnostics["adjoint_residual"] < 1e-3


def test_naive_ep_is_biased_on_the_thick_model_and_the_diagnostics_say_so(thick):
    """Settled (small nudged change) on −J⁻¹ℓ instead of the adjoint −J⁻ᵀℓ (large adjoint residual)."""
    res = ep_gradient(thick.block, thick.idx, thick.tgt, eps=EPS, T2=100, beta=1e-3, variant="naive",
                      z_free=thick.z)
    assert 1 - cosine(res.grads, thick.exact.grads) > 0.05
    assert res.diagnostics["nudged_change"] < 1e-3
    assert res.diagnostics["adjoint_residual"] > 0.1
    J = torch.autograd.functional.jacobian(thick.obj.field.flat_force(), thick.z.reshape(-1))
    a = -torch.linalg.solve(J, thick.obj.loss_grad(thick.z).reshape(-1))
    untransposed, _ = thick.obj.param_grads(thick.z, a)
    assert rel_err(res.grads, untransposed) < 1e-4


def test_diagnostics_flag_an_unconverged_nudged_phase(thick):
    sweep = ep_sweep(thick.obj, EPS, T2s=(3, 100), beta=1e-3, variant="aep", z_free=thick.z)
    short, long = sweep[3].diagnostics, sweep[100].diagnostics
    assert short["nudged_change"] > 0.1 and short["adjoint_residual"] > 0.1
    assert long["nudged_change"] < 1e-3 and long["adjoint_residual"] < 1e-3
    assert 1 - cosine(sweep[3].grads, thick.exact.grads) > 1 - cosine(sweep[100].grads, thick.exact.grads)
    assert short["cost"] < long["cost"]


def test_sweep_agrees_with_single_runs(thick):
    sweep = ep_sweep(thick.obj, EPS, T2s=(5, 12), beta=0.01, variant="aep_track", z_free=thick.z)
    one = equilibrium_propagation(thick.obj, EPS, T2=12, beta=0.01, variant="aep_track", z_free=thick.z)
    assert rel_err(sweep[12].grads, one.grads) < 1e-12
    assert sweep[12].diagnostics == one.diagnostics


def test_free_phase_runs_when_no_state_is_given(thick):
    res = ep_gradient(thick.block, thick.idx, thick.tgt, eps=EPS, T1=thick.steps + 20, T2=100, beta=1e-3,
                      variant="naive")
    assert res.diagnostics["free_force_residual"] < 1e-12
    assert torch.allclose(res.z_free, thick.z, atol=1e-10)


def test_invalid_settings_are_refused(thick):
    for kw in ({"variant": "dyadic"}, {"beta": 0.0}, {"T2": 0}):
        with pytest.raises(ConfigError):
            ep_gradient(thick.block, thick.idx, thick.tgt, z_free=thick.z, **kw)


# -- any parametrised field with any loss --------------------------------------------------------------

class Recurrent(nn.Module):
    """F(z) = −z + U tanh(W z + b): non-conservative for independent U, W."""

    def __init__(self, n=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(n, n, generator=g) * 0.5)
        self.U = nn.Parameter(torch.randn(n, n, generator=g) * 0.5)
        self.b = nn.Parameter(torch.randn(n, generator=g) * 0.3)

    def forward(self, z):
        return -z + torch.tanh(z @ self.W.T + self.b) @ self.U.T


def test_user_field_with_any_loss():
    target = torch.linspace(-1, 1, 6)
    fld = Field(Recurrent(), torch.zeros(6))
    obj = field_objective(fld, lambda z: 0.5 * (z - target).pow(2).sum() + z.pow(4).sum())
    exact = transpose_adjoint(obj, EPS, T1=800, tol=1e-13)
    assert exact.diagnostics["free_force_residual"] < 1e-12
    assert rel_err(exact.grads, dense_implicit(obj, exact.z_free)) < 1e-8
    assert rel_err(bptt(obj, EPS, 800).grads, exact.grads) < 1e-8
    aep = equilibrium_propagation(obj, EPS, T2=400, beta=1e-4, variant="aep", z_free=exact.z_free)
    naive = equilibrium_propagation(obj, EPS, T2=400, beta=1e-4, variant="naive", z_free=exact.z_free)
    assert 1 - cosine(aep.grads, exact.grads) < 1e-6
    assert 1 - cosine(naive.grads, exact.grads) > 1e-3
    assert set(exact.grads) == {"W", "U", "b"}


def test_field_objective_needs_parameters():
    with pytest.raises(FieldError, match="nn.Module"):
        field_objective(Field(lambda z: -z, torch.zeros(3)), lambda z: z.sum())


# -- asymmetry knob and fidelity measures -----------------------------------------------------------

def test_blended_block_spans_conservative_to_thick(thick):
    blended = BlendedBlock.of(thick.block)
    x = thick.block.embed(thick.idx).detach()
    z = thick.z
    assert torch.equal(blended.force(z, x), thick.block.force(z, x))
    for r, symmetric in ((0.0, True), (0.5, False)):
        obj = block_objective(blended, thick.idx, thick.tgt, asym=r)
        J = torch.autograd.functional.jacobian(obj.field.flat_force(), z.reshape(-1))
        assert torch.allclose(J, J.T, atol=1e-12) == symmetric
        assert (antisymmetry_ratio(obj.field, z) < 1e-12) == symmetric
    A1 = torch.autograd.functional.jacobian(block_objective(blended, thick.idx, thick.tgt).field.flat_force(),
                                            z.reshape(-1))
    Ah = torch.autograd.functional.jacobian(
        block_objective(blended, thick.idx, thick.tgt, asym=0.5).field.flat_force(), z.reshape(-1))
    assert torch.allclose(Ah - Ah.T, 0.5 * (A1 - A1.T), atol=1e-12)  # antisymmetric part scales with r


def test_compare_cosines_ratios_and_groups():
    a = {"WQ": torch.tensor([1.0, 0.0]), "W_head": torch.tensor([0.0, 2.0])}
    b = {"WQ": torch.tensor([2.0, 0.0]), "W_head": torch.tensor([0.0, -1.0])}
    groups = groups_of(a)
    assert list(groups) == ["all", "Q", "K", "V", "O", "FFN", "LN", "embeddings", "head"]
    cos, ratio, norm = compare({"a": a, "b": b}, groups)
    g = list(groups)
    assert cos[0, 1, g.index("Q")] == pytest.approx(1.0)
    assert cos[0, 1, g.index("head")] == pytest.approx(-1.0)
    assert ratio[0, 1, g.index("Q")] == pytest.approx(0.5)
    assert cos[0, 1, g.index("all")] == pytest.approx((2 - 2) / (math.sqrt(5) * math.sqrt(5)))
    assert math.isnan(cos[0, 1, g.index("V")]) and math.isnan(norm[0, g.index("V")])
    assert list(groups_of({"w": 0, "u": 0})) == ["all", "w", "u"]


def test_targets_are_the_next_tokens_of_the_analysis_batch():
    for corpus in (None, generated_corpus()):
        vocab = corpus.vocab_size if corpus else 9
        batch = batch_for(vocab, 12, 3, 5, corpus.source if corpus else None)
        idx, tgt = batch.idx, batch.targets
        assert torch.equal(idx, analysis_batch(vocab, 12, 3, 5, corpus))
        assert torch.equal(idx[:, 1:], tgt[:, :-1]) and tgt.shape == idx.shape
