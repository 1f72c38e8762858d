"""The equilibrium blocks against independent references; AD through them; Field contract."""
import math

import pytest
import torch

from stabilitylab import Field
from stabilitylab.errors import ConfigError, FieldError
from stabilitylab.linear import Linearization
from stabilitylab.model import BlockConfig, block_field, make_block

torch.set_default_dtype(torch.float64)


def tiny(mode="thick", **kw):
    cfg = BlockConfig(vocab=11, C=16, H=4, T=8, mode=mode, **kw)
    block = make_block(cfg, seed=3).double()
    idx = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(1))
    return block, block_field(block, idx)


def reference_thick_force(P, cfg, z, x_in, alpha=1.0, ffn_scale=1.0, c=1.0, heads=None):
    """Token-by-token, head-by-head loops: an implementation independent of blocks.py."""
    B, T, C = z.shape
    H, d = cfg.H, C // cfg.H
    heads = heads or [1.0] * H

    def layer_norm(x, w, b):
        mu = x.mean()
        var = ((x - mu) ** 2).mean()
        return (x - mu) / math.sqrt(var + 1e-5) * w + b

    def gelu(u):
        return 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))

    out = torch.zeros_like(z)
    for b in range(B):
        h1 = torch.stack([layer_norm(z[b, t], P["ln1_w"], P["ln1_b"]) for t in range(T)])
        h2 = torch.stack([layer_norm(z[b, t], P["ln2_w"], P["ln2_b"]) for t in range(T)])
        q, k, v = h1 @ P["WQ"], h1 @ P["WK"], h1 @ P["WV"]
        att = torch.zeros(T, C)
        for hh in range(H):
            sl = slice(hh * d, (hh + 1) * d)
            for t in range(T):
                qt = q[t, sl]
                ks = k[: t + 1, sl]
                if cfg.qknorm:
                    qt = qt / torch.sqrt((qt ** 2).mean() + 1e-6)
                    ks = ks / torch.sqrt((ks ** 2).mean(-1, keepdim=True) + 1e-6)
                w = torch.softmax(ks @ qt / math.sqrt(d), 0)
                att[t, sl] = heads[hh] * (w[:, None] * v[: t + 1, sl]).sum(0)
        attn = att @ P["WO"]
        ffn = gelu(h2 @ P["W1"] + P["b1"]) @ P["W2"] + P["b2"]
        out[b] = -(z[b] - x_in[b]) + alpha * attn + ffn_scale * ffn - c * z[b]
    return out


@pytest.mark.parametrize("qknorm", [True, False])
def test_thick_force_matches_reference(qknorm):
    block, fld = tiny(qknorm=qknorm)
    z = fld.z0 + 0.3 * torch.randn(fld.shape, generator=torch.Generator().manual_seed(2))
    P = dict(block.named_parameters())
    heads = [1.0, 0.5, 0.0, 2.0]
    knobs = dict(alpha=0.7, ffn_scale=1.3, c=0.4, **{f"head_{h}": g for h, g in enumerate(heads)})
    got = fld(z, **knobs)
    ref = reference_thick_force(P, block.config, z, fld.force.x_in, 0.7, 1.3, 0.4, heads)
    assert torch.allclose(got, ref, atol=1e-12, rtol=1e-10)


def test_jvp_matches_finite_difference_and_jacfwd():
    _, fld = tiny()
    z = fld.z0.reshape(-1)
    lin = Linearization(fld, z)
    v = torch.randn(fld.n, generator=torch.Generator().manual_seed(5))
    jv = lin.J()(v)
    f = fld.flat_force()
    h = 1e-6
    fd = (f(z + h * v) - f(z - h * v)) / (2 * h)
    assert torch.allclose(jv, fd, atol=1e-7, rtol=1e-6)
    J = torch.func.jacfwd(f)(z)
    assert torch.allclose(jv, J @ v, atol=1e-12)
    assert torch.allclose(lin.JT()(v), J.T @ v, atol=1e-12)
    V = torch.randn(fld.n, 3, generator=torch.Generator().manual_seed(6))
    assert torch.allclose(lin.M(0.1).matvec(V), V + 0.1 * J @ V, atol=1e-12)
    assert torch.allclose(lin.S().matvec(V), 0.5 * (J + J.T) @ V, atol=1e-12)


def test_conservative_jacobian_symmetric_thick_not():
    _, cons = tiny("conservative")
    _, thick = tiny("thick")
    for fld, symmetric in ((cons, True), (thick, False)):
        z = fld.z0.reshape(-1) + 0.1
        J = torch.func.jacfwd(fld.flat_force())(z)
        asym = (J - J.T).abs().max().item()
        if symmetric:
            assert asym < 1e-10
        else:
            assert asym > 1e-2


def test_conservative_force_is_minus_energy_gradient():
    block, fld = tiny("conservative")
    z = (fld.z0 + 0.2).requires_grad_(True)
    e = block.energy(z, fld.force.x_in, alpha=0.8, ffn_scale=1.2, c=0.5, head_1=0.3)
    (g,) = torch.autograd.grad(e, z)
    f = block.force(z.detach(), fld.force.x_in, alpha=0.8, ffn_scale=1.2, c=0.5, head_1=0.3)
    assert torch.allclose(f, -g, atol=1e-11)


def test_knobs_scale_components():
    block, fld = tiny()
    z = fld.z0 + 0.1
    base = fld(z, alpha=0.0, ffn_scale=0.0, c=0.0)
    assert torch.allclose(base, -(z - fld.force.x_in))
    all_heads_off = fld(z, **{f"head_{h}": 0.0 for h in range(4)})
    assert torch.allclose(all_heads_off, fld(z, alpha=0.0))


def test_config_validation_messages():
    with pytest.raises(ConfigError, match="divisible"):
        BlockConfig(C=10, H=4)
    with pytest.raises(ConfigError, match="damping"):
        BlockConfig(c=-1.0)
    with pytest.raises(ConfigError, match="mode"):
        BlockConfig(mode="weird")
    with pytest.raises(ConfigError, match="unknown"):
        BlockConfig.from_dict({"C": 8, "bogus": 1})
    assert BlockConfig.parse("C=8,H=2,qknorm=false,c=0.5") == BlockConfig(C=8, H=2, qknorm=False, c=0.5)


def test_field_contract_errors():
    with pytest.raises(FieldError):
        Field(lambda z: z, torch.zeros(3), {"a": "x"})
    fld = Field(lambda z, a: -a * z, torch.ones(3), {"a": 2.0})
    assert torch.allclose(fld(fld.z0), -2 * torch.ones(3))
    with pytest.raises(FieldError, match="unknown field parameter"):
        fld.with_params(b=1.0)
    assert fld.with_params(a=3.0).params == {"a": 3.0}
    assert fld.to(dtype=torch.float32).z0.dtype == torch.float32
