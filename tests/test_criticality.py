"""Normal-form coefficients (first Lyapunov coefficient, Neimark–Sacker d, fold a) against closed forms.

The reference is a planar field ẋ = μx − ωy + f(x, y), ẏ = ωx + μy + g(x, y) with quadratic and
cubic f, g, written in w = x + iy as ẇ = (μ + iω)w + Σ g_kl w^k w̄^l/(k! l!). Its coefficients come
from the normal-form formulas in the g_kl (Kuznetsov eqs. 3.20 and 4.20 — no linear solves, no
eigenvectors) and, for the flow, also from Guckenheimer–Holmes' formula in the partial derivatives
of f, g. The field is embedded in R^n with stable linear directions and a random orthogonal change
of coordinates, under which the ⟨q, q⟩ = 1/2-normalised coefficients are invariant.
"""
from __future__ import annotations

import math

import pytest
import torch

from stabilitylab import Field
from stabilitylab.continuation.criticality import fold_coefficient, hopf_coefficient, ns_coefficient

MONOMIALS = ((2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3))


def _poly(c, x, y):
    return sum(ck * x**i * y**j for ck, (i, j) in zip(c, MONOMIALS))


def planar(cf, cg, omega=1.3, n=2, seed=0):
    """The planar field (knob ``mu``) with polynomial coefficients cf, cg on MONOMIALS, embedded in
    R^n: z = Q (x, y, s), ṡ = −rates·s."""
    gen = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))[0] if n > 2 else torch.eye(2, dtype=torch.float64)
    rates = torch.linspace(0.7, 2.5, n - 2, dtype=torch.float64)

    def force(z, mu):
        y = Q.T @ z
        x1, x2 = y[0], y[1]
        f1 = mu * x1 - omega * x2 + _poly(cf, x1, x2)
        f2 = omega * x1 + mu * x2 + _poly(cg, x1, x2)
        return Q @ torch.cat([torch.stack([f1, f2]), -rates * y[2:]])

    return Field(force, torch.zeros(n, dtype=torch.float64), {"mu": 0.0})


def g_coefficients(cf, cg, scale=1.0):
    """g20, g11, g02, g21 of G = scale·(f + i g) in w = x + iy (∂_w = (∂x − i∂y)/2)."""
    c = [scale * (a + 1j * b) for a, b in zip(cf, cg)]
    Gxx, Gxy, Gyy = 2 * c[0], c[1], 2 * c[2]
    Gxxx, Gxxy, Gxyy, Gyyy = 6 * c[3], 2 * c[4], 2 * c[5], 6 * c[6]
    g20 = (Gxx - 2j * Gxy - Gyy) / 4
    g11 = (Gxx + Gyy) / 4
    g02 = (Gxx + 2j * Gxy - Gyy) / 4
    g21 = (Gxxx + Gxyy - 1j * Gxxy - 1j * Gyyy) / 8
    return g20, g11, g02, g21


def l1_reference(cf, cg, omega):
    """Kuznetsov (3.20): l1 = Re c1/ω, c1 = i/(2ω)(g20 g11 − 2|g11|² − |g02|²/3) + g21/2."""
    g20, g11, g02, g21 = g_coefficients(cf, cg)
    c1 = 1j / (2 * omega) * (g20 * g11 - 2 * abs(g11) ** 2 - abs(g02) ** 2 / 3) + g21 / 2
    return c1.real / omega


def l1_guckenheimer_holmes(cf, cg, omega):
    """Guckenheimer–Holmes (3.4.11) a/ω from the partial derivatives of f and g."""
    fxx, fxy, fyy, fxxx, fxyy = 2 * cf[0], cf[1], 2 * cf[2], 6 * cf[3], 2 * cf[5]
    gxx, gxy, gyy, gxxy, gyyy = 2 * cg[0], cg[1], 2 * cg[2], 2 * cg[4], 6 * cg[6]
    a = (fxxx + fxyy + gxxy + gyyy) / 16 + (fxy * (fxx + fyy) - gxy * (gxx + gyy) - fxx * gxx + fyy * gyy) / (16 * omega)
    return a / omega


def d_reference(cf, cg, omega, eps):
    """Kuznetsov (4.20) for the Euler map w ↦ λw + ε(f + ig) at its NS point |λ| = 1:
    c1 = g20 g11(1 − 2λ)/(2(λ² − λ)) + |g11|²/(1 − λ̄) + |g02|²/(2(λ² − λ̄)) + g21/2, d = Re(λ̄ c1)."""
    mu = (math.sqrt(1 - (eps * omega) ** 2) - 1) / eps
    lam = 1 + eps * complex(mu, omega)
    g20, g11, g02, g21 = g_coefficients(cf, cg, eps)
    c1 = (g20 * g11 * (1 - 2 * lam) / (2 * (lam**2 - lam)) + abs(g11) ** 2 / (1 - lam.conjugate())
          + abs(g02) ** 2 / (2 * (lam**2 - lam.conjugate())) + g21 / 2)
    return mu, lam, (lam.conjugate() * c1).real


SUPER = ((0.3, -0.5, 0.2, -1.0, 0.1, -0.8, 0.2), (-0.4, 0.25, 0.6, 0.3, -0.9, 0.1, -1.1))
SUB = ((0.8, 0.5, -0.3, 0.7, 0.0, 0.6, -0.2), (0.5, -0.7, 0.4, 0.1, 0.9, 0.0, 0.8))
OMEGA = 1.3


def test_references_agree():
    """The two independent flow references agree, and the cases are super- and subcritical."""
    for cf, cg in (SUPER, SUB):
        assert l1_reference(cf, cg, OMEGA) == pytest.approx(l1_guckenheimer_holmes(cf, cg, OMEGA), rel=1e-12)
    assert l1_reference(*SUPER, OMEGA) < 0 < l1_reference(*SUB, OMEGA)


@pytest.mark.parametrize("case, kind", [(SUPER, "supercritical"), (SUB, "subcritical")])
@pytest.mark.parametrize("n", [2, 9])
def test_hopf_first_lyapunov_coefficient(case, kind, n):
    fld = planar(*case, omega=OMEGA, n=n, seed=n)
    nf = hopf_coefficient(fld, fld.z0, 1j * OMEGA, {"mu": 0.0})
    ref = l1_reference(*case, OMEGA)
    assert nf.coefficient == pytest.approx(ref, rel=1e-8)
    assert nf.criticality == kind and nf.residual < 1e-9
    assert abs(nf.eig - 1j * OMEGA) < 1e-10


def test_hopf_pure_cubic_normal_form():
    """ẇ = (μ + iω)w + a w|w|²: l1 = a/ω exactly (a = ±0.7), and a = 0 is degenerate."""
    for a, kind in ((0.7, "subcritical"), (-0.7, "supercritical"), (0.0, "degenerate")):
        cf, cg = (0, 0, 0, a, 0, a, 0), (0, 0, 0, 0, a, 0, a)
        nf = hopf_coefficient(planar(cf, cg, omega=2.0, n=6), torch.zeros(6, dtype=torch.float64), 2j, {"mu": 0.0})
        assert nf.coefficient == pytest.approx(a / 2.0, abs=1e-12) and nf.criticality == kind


@pytest.mark.parametrize("case, kind", [(SUPER, "supercritical"), (SUB, "subcritical")])
@pytest.mark.parametrize("eps", [0.1, 0.6])
def test_neimark_sacker_coefficient(case, kind, eps):
    mu, lam, ref = d_reference(*case, OMEGA, eps)
    fld = planar(*case, omega=OMEGA, n=7, seed=3)
    nf = ns_coefficient(fld, fld.z0, lam, eps, {"mu": mu})
    assert nf.coefficient == pytest.approx(ref, rel=1e-8)
    assert nf.criticality == kind and nf.residual < 1e-9
    # small ε: the map inherits the flow's coefficient, d ≈ ε ω l1
    if eps == 0.1:
        assert nf.coefficient == pytest.approx(eps * OMEGA * l1_reference(*case, OMEGA), rel=0.2)


def test_ns_of_euler_map_of_cubic_normal_form():
    """Euler map of ẇ = (μ + iω)w + c w|w|² is already in normal form: d = Re(e^{−iθ} ε c)."""
    c, omega, eps = complex(-0.5, 0.8), 1.0, 0.4
    cf, cg = (0, 0, 0, c.real, -c.imag, c.real, -c.imag), (0, 0, 0, c.imag, c.real, c.imag, c.real)
    mu = (math.sqrt(1 - (eps * omega) ** 2) - 1) / eps
    lam = 1 + eps * complex(mu, omega)
    nf = ns_coefficient(planar(cf, cg, omega=omega, n=5, seed=1), torch.zeros(5, dtype=torch.float64),
                        lam, eps, {"mu": mu})
    assert abs(lam) == pytest.approx(1.0, abs=1e-14)
    assert nf.coefficient == pytest.approx((lam.conjugate() * eps * c).real, rel=1e-10)


def test_fold_quadratic_coefficient():
    """x' = μ − x² (+ stable directions, rotated): a = ½⟨p, B(q, q)⟩ = −1 with q = e_x; and
    x' = μ + 3x²/2: a = 3/2."""
    for coef in (-1.0, 1.5):
        gen = torch.Generator().manual_seed(4)
        Q = torch.linalg.qr(torch.randn(5, 5, generator=gen, dtype=torch.float64))[0]
        rates = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)

        def force(z, mu):
            y = Q.T @ z
            return Q @ torch.cat([(mu + coef * y[0] ** 2).reshape(1), -rates * y[1:] + y[0] ** 2])

        fld = Field(force, torch.zeros(5, dtype=torch.float64), {"mu": 0.0})
        nf = fold_coefficient(fld, fld.z0, 0.0, {"mu": 0.0}, q=Q[:, 0])
        assert nf.coefficient == pytest.approx(coef, rel=1e-10)
        assert abs(nf.eig) < 1e-12


def test_continuation_stores_criticality(tmp_path):
    """Stuart–Landau ẇ = (μ + iω)w − (1 + i·shear)|w|²w: the branch's Hopf has l1 = −1/ω, its
    Euler-map NS d = Re(e^{−iθ} ε·(−1 − i·shear)); both stored, printed and read back."""
    from stabilitylab import examples as ex, store
    from stabilitylab.continuation import Branch, ContinuationOptions, ContinuationProblem, continuation

    omega, shear, eps = 1.5, 0.4, 0.2
    fld = ex.stuart_landau(n=6, omega=omega, shear=shear)
    br = continuation(ContinuationProblem(fld, "mu", eps), ContinuationOptions(-0.3, 0.1, ds=0.05),
                      out=tmp_path / "c.zarr")
    (hopf,) = [sp for sp in br.specials if sp.kind == "hopf"]
    (ns,) = [sp for sp in br.specials if sp.kind == "neimark_sacker"]
    assert hopf.l1 == pytest.approx(-1 / omega, rel=1e-6) and hopf.criticality == "supercritical"
    rot = ns.eig / abs(ns.eig)
    assert ns.l1 == pytest.approx((rot.conjugate() * eps * complex(-1, -shear)).real, rel=1e-6)
    assert ns.criticality == "supercritical"
    ds = store.read(tmp_path / "c.zarr")
    assert sorted(ds["special_criticality"].values.tolist()) == ["supercritical", "supercritical"]
    back = Branch.from_dataset(ds)
    assert [sp.l1 for sp in back.specials] == [sp.l1 for sp in br.specials]
