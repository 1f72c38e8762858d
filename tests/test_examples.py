"""Every analytic claim of stabilitylab.examples, checked numerically and independently.

The checks use dense Jacobians (``torch.func.jacfwd``) and numpy eigensolvers at the known fixed
points, direct iteration of the Euler maps, RK4 integration of the flows, and tangent-map
iteration for Lyapunov exponents — never the helpers' own formulas.
"""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from torch.func import jacfwd, jvp, vjp, vmap

from stabilitylab import examples as ex
from stabilitylab.field import Field, load_factory

F64 = torch.float64


# ------------------------------------------------------------------------------------------------
# helpers (test-local, independent of the module under test)
# ------------------------------------------------------------------------------------------------
def dense_J(fld: Field, z, **knobs) -> np.ndarray:
    z = torch.as_tensor(z, dtype=F64)
    return jacfwd(fld.flat_force(**knobs))(z.reshape(-1)).numpy()


def euler(fld: Field, z, eps, steps, **knobs):
    f = fld.flat_force(**knobs)
    for _ in range(steps):
        z = z + eps * f(z)
    return z


def sorted_c(lam) -> np.ndarray:
    lam = np.asarray(lam, dtype=complex)
    return lam[np.lexsort((lam.imag, lam.real))]


def assert_spectra_equal(a, b, tol):
    a, b = sorted_c(a), sorted_c(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=tol, rtol=0)


def rk4(f, z, dt, steps):
    for _ in range(steps):
        k1 = f(z)
        k2 = f(z + 0.5 * dt * k1)
        k3 = f(z + 0.5 * dt * k2)
        k4 = f(z + dt * k3)
        z = z + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z


NAMES = sorted(ex.EXAMPLES)


# ------------------------------------------------------------------------------------------------
# the Field contract for every factory
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_zero_argument_factory(name):
    fld = ex.EXAMPLES[name]()
    assert isinstance(fld, Field)
    assert fld.name == name
    assert fld.params and all(isinstance(v, float) for v in fld.params.values())
    assert isinstance(fld.meta["description"], str) and fld.meta["description"]
    assert fld.meta["factory"].startswith(f"stabilitylab.examples:{name}(")
    assert fld.z0.dtype == F64 and fld.z0.dim() == 1
    f = fld(fld.z0)
    assert f.shape == fld.z0.shape and f.dtype == F64
    assert torch.isfinite(f).all()
    assert float(f.norm()) > 0  # z0 is not exactly a fixed point: relaxation has work to do
    fld.check_finite()
    # --field package.module:factory
    loaded = load_factory(f"stabilitylab.examples:{name}")
    assert torch.equal(loaded(loaded.z0), f)
    # picklable (dask ships fields to workers)
    clone = pickle.loads(pickle.dumps(fld))
    assert torch.equal(clone(clone.z0), f) and clone.params == fld.params
    # knobs can be overridden per call
    knob = next(iter(fld.params))
    g = fld(fld.z0, **{knob: fld.params[knob] + 0.25})
    assert not torch.equal(g, f)


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name):
    fld = ex.EXAMPLES[name]()
    f64 = fld(fld.z0)
    f32fld = fld.to(dtype=torch.float32)
    f32 = f32fld(f32fld.z0)
    assert f32fld.z0.dtype == torch.float32 and f32.dtype == torch.float32
    torch.testing.assert_close(f32.double(), f64, rtol=1e-5, atol=1e-5 * float(f64.abs().max()))
    # and float64 again after a float32 call (per-dtype constant cache)
    assert torch.equal(fld(fld.z0), f64)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", NAMES)
def test_func_transforms(name, dtype):
    fld = ex.EXAMPLES[name]().to(dtype=dtype)
    f = fld.flat_force()
    g = torch.Generator().manual_seed(1)
    n = fld.n
    z = fld.z0 + 0.1 * torch.randn(n, generator=g, dtype=F64).to(dtype)
    v = torch.randn(n, generator=g, dtype=F64).to(dtype)
    u = torch.randn(n, generator=g, dtype=F64).to(dtype)
    # jvp vs a central difference (in float64)
    fz, jv = jvp(f, (z,), (v,))
    assert jv.dtype == dtype and fz.shape == (n,)
    f64 = ex.EXAMPLES[name]().flat_force()
    h = 1e-6
    fd = (f64(z.double() + h * v.double()) - f64(z.double() - h * v.double())) / (2 * h)
    tol = 1e-6 if dtype == F64 else 1e-3
    torch.testing.assert_close(jv.double(), fd, rtol=tol, atol=tol * (1 + float(fd.abs().max())))
    # vjp: <u, J v> = <J^T u, v>
    _, pull = vjp(f, z)
    (jtu,) = pull(u)
    lhs, rhs = float(u.double() @ jv.double()), float(jtu.double() @ v.double())
    assert abs(lhs - rhs) <= tol * (1 + abs(lhs))
    # vmap over states, and over tangents, equals the loop
    zs = fld.z0 + 0.1 * torch.randn(3, n, generator=g, dtype=F64).to(dtype)
    batched = vmap(f)(zs)
    looped = torch.stack([f(zi) for zi in zs])
    torch.testing.assert_close(batched, looped)
    torch.testing.assert_close(fld.force(zs, **fld.params), looped)  # (..., n) states too
    vs = torch.randn(3, n, generator=g, dtype=F64).to(dtype)
    jvs = vmap(lambda vi: jvp(f, (z,), (vi,))[1])(vs)
    torch.testing.assert_close(jvs, torch.stack([jvp(f, (z,), (vi,))[1] for vi in vs]))


@pytest.mark.parametrize("name", NAMES)
def test_knobs_differentiable_as_tensors(name):
    """dF/d(knob) by jvp with the knob a 0-d tensor (no float() or branching on knobs)."""
    fld = ex.EXAMPLES[name]()
    z = fld.z0 + 0.05
    for knob, val in fld.params.items():
        def of_knob(k):
            return fld.force(z, **{**fld.params, knob: k})

        _, d = jvp(of_knob, (torch.tensor(val, dtype=F64),), (torch.tensor(1.0, dtype=F64),))
        h = 1e-6
        fd = (fld(z, **{knob: val + h}) - fld(z, **{knob: val - h})) / (2 * h)
        torch.testing.assert_close(d, fd, rtol=1e-6, atol=1e-7)


def test_mixing_is_not_axis_aligned_and_orthogonal():
    for fld in (ex.stuart_landau(), ex.fold(), ex.flip()):
        Q = fld.force.Q
        torch.testing.assert_close(Q.T @ Q, torch.eye(fld.n, dtype=F64), atol=1e-12, rtol=0)
        assert float(Q.abs().max()) < 0.95
        y = torch.randn(fld.n, dtype=F64)
        torch.testing.assert_close(fld.force.to_y(fld.force.to_z(y)), y)
    assert torch.equal(ex.stuart_landau(mix=False).force.Q, torch.eye(16, dtype=F64))


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        ex.stuart_landau_ns_point(omega=20.0, eps=0.1)
    with pytest.raises(ValueError):
        ex.stuart_landau_map_cycle(mu=-0.2, eps=0.1)  # before the NS point: no circle
    with pytest.raises(ValueError):
        ex.stuart_landau_flow_cycle(mu=-0.1)
    with pytest.raises(ValueError):
        ex.linear(A=np.ones((2, 3)))
    with pytest.raises(ValueError):
        ex.flip_cycle(p=30.0, eps=0.1)  # the cubic 2-cycle exists only before the flip
    with pytest.raises(ValueError):
        ex.flip_cycle(p=10.0, eps=0.1, saturating=True)


# ------------------------------------------------------------------------------------------------
# 1. linear
# ------------------------------------------------------------------------------------------------
def test_linear_spectrum():
    fld = ex.linear()
    for p in (0.0, 0.3, 0.7):
        lam = np.linalg.eigvals(dense_J(fld, torch.zeros(fld.n), p=p))
        assert_spectra_equal(lam, ex.linear_spectrum(fld, p), 1e-10)
        assert_spectra_equal(lam, ex.linear_spectrum(p=p), 1e-10)  # the default A
    lam = ex.linear_spectrum()
    assert lam.real.max() == pytest.approx(-0.5, abs=1e-12)  # stable, boundary at p = 0.5
    assert np.any(np.abs(lam.imag) > 1e-3)  # non-symmetric: complex pairs
    assert np.all(np.diff(lam.real) <= 1e-12)  # sorted by descending real part
    J = dense_J(fld, torch.zeros(fld.n))
    assert np.abs(J - J.T).max() > 0.1
    # user matrix
    A = np.array([[0.0, 2.0], [-3.0, -1.0]])
    fa = ex.linear(A=A, p=0.5)
    np.testing.assert_allclose(dense_J(fa, torch.zeros(2)), A + 0.5 * np.eye(2), atol=1e-15)
    assert_spectra_equal(ex.linear_spectrum(torch.tensor(A), 0.5), np.linalg.eigvals(A) + 0.5, 1e-12)
    assert ex.linear(n=5, seed=3).n == 5
    assert ex.linear_spectrum(ex.linear(n=5, seed=3)).real.max() == pytest.approx(-0.5, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# 2. Stuart–Landau
# ------------------------------------------------------------------------------------------------
def test_stuart_landau_fixed_point_spectrum_and_hopf():
    fld = ex.stuart_landau()
    rates = ex.stuart_landau_rates()
    np.testing.assert_allclose(fld.force.rates.numpy(), rates)
    assert len(rates) == 14 and rates.min() == 0.5 and rates.max() == 3.0
    for mu, omega in ((0.1, 1.0), (-0.3, 2.0)):
        lam = np.linalg.eigvals(dense_J(fld, torch.zeros(16), mu=mu, omega=omega))
        assert_spectra_equal(lam, [mu + 1j * omega, mu - 1j * omega, *(-rates)], 1e-12)
    hopf = ex.stuart_landau_hopf(omega=1.5)
    lam = np.linalg.eigvals(dense_J(fld, torch.zeros(16), mu=hopf["mu"], omega=1.5))
    lead = lam[np.argsort(-lam.real)[:2]]
    assert_spectra_equal(lead, hopf["eigenvalues"], 1e-12)
    assert hopf["period"] == pytest.approx(2 * math.pi / 1.5)


@pytest.mark.parametrize("omega,eps", [(1.0, 0.1), (2.0, 0.3)])
def test_stuart_landau_neimark_sacker_point(omega, eps):
    fld = ex.stuart_landau()
    ns = ex.stuart_landau_ns_point(omega, eps)
    assert ns["mu"] < 0  # the map loses stability before the flow does

    def rho_map(mu):
        M = np.eye(16) + eps * dense_J(fld, torch.zeros(16), mu=mu, omega=omega)
        return np.linalg.eigvals(M)

    mult = rho_map(ns["mu"])
    top = mult[np.argsort(-np.abs(mult))[:2]]
    np.testing.assert_allclose(np.abs(top), 1.0, atol=1e-12)
    assert np.abs(np.angle(top)).max() == pytest.approx(ns["theta"], abs=1e-12)
    assert_spectra_equal(top, ns["multipliers"], 1e-12)
    assert np.abs(rho_map(ns["mu"] - 1e-3)).max() < 1 < np.abs(rho_map(ns["mu"] + 1e-3)).max()
    # and the J eigenvalues there are still in the left half plane
    lam = np.linalg.eigvals(dense_J(fld, torch.zeros(16), mu=ns["mu"], omega=omega))
    assert lam.real.max() < 0


@pytest.mark.parametrize("mu,omega,shear", [(0.05, 1.0, 0.5), (-0.02, 1.0, 0.0), (0.1, 1.0, -1.0)])
def test_stuart_landau_map_cycle_by_iteration(mu, omega, shear):
    eps = 0.1
    fld = ex.stuart_landau(mu=mu, omega=omega, shear=shear)
    ans = ex.stuart_landau_map_cycle(mu, omega, shear, eps, fld.force.rates.numpy())
    assert ans["stable"]
    f = fld.flat_force()
    z = euler(fld, fld.z0.clone(), eps, 6000)
    z1 = z + eps * f(z)
    # radius, independent of Q: the stable coordinates have decayed to nothing
    assert float(z.norm()) == pytest.approx(ans["radius"], abs=1e-10)
    assert float(z1.norm()) == pytest.approx(ans["radius"], abs=1e-10)
    # rotation per step: the angle between successive states (unsigned) ...
    cosang = float(z @ z1) / float(z.norm() * z1.norm())
    sinang = float(torch.sqrt(torch.clamp((z.norm() * z1.norm()) ** 2 - (z @ z1) ** 2, min=0))) / float(
        z.norm() * z1.norm())
    assert math.atan2(sinang, cosang) == pytest.approx(abs(ans["theta"]), abs=1e-8)
    # ... and signed, in the (y0, y1) plane
    y, y1 = fld.force.to_y(z), fld.force.to_y(z1)
    signed = math.atan2(float(y[0] * y1[1] - y[1] * y1[0]), float(y[0] * y1[0] + y[1] * y1[1]))
    assert signed == pytest.approx(ans["theta"], abs=1e-10)
    assert ans["period_steps"] == pytest.approx(2 * math.pi / abs(signed), rel=1e-9)
    # radial multiplier: derivative of the one-step radius map, by central difference
    u = z / z.norm()
    h = 1e-5

    def radius_after(r):
        w = r * u
        return float((w + eps * f(w)).norm())

    dr = (radius_after(ans["radius"] + h) - radius_after(ans["radius"] - h)) / (2 * h)
    assert dr == pytest.approx(ans["radial_multiplier"], abs=1e-8)
    # stable multipliers: the map Jacobian at 0 restricted to the decaying directions
    mult = np.linalg.eigvals(np.eye(16) + eps * dense_J(fld, torch.zeros(16)))
    real_mults = np.sort(mult[np.abs(mult.imag) < 1e-12].real)
    np.testing.assert_allclose(real_mults, np.sort(ans["stable_multipliers"]), atol=1e-12)
    np.testing.assert_allclose(ans["lyapunov"], np.log(np.abs(ans["multipliers"])))


def test_stuart_landau_map_below_ns_decays():
    eps, fld = 0.1, ex.stuart_landau()
    mu = ex.stuart_landau_ns_point(1.0, eps)["mu"] - 0.1
    z = euler(fld, fld.z0.clone(), eps, 3000, mu=mu)
    assert float(z.norm()) < 1e-6


def test_stuart_landau_small_eps_limit_of_map_cycle():
    mu, omega, shear, eps = 0.2, 1.0, 0.5, 1e-4
    m = ex.stuart_landau_map_cycle(mu, omega, shear, eps)
    fc = ex.stuart_landau_flow_cycle(mu, omega, shear)
    assert m["radius"] == pytest.approx(fc["radius"], rel=1e-3)
    assert m["theta"] / eps == pytest.approx(fc["omega"], rel=1e-3)
    assert (m["radial_multiplier"] - 1) / eps == pytest.approx(fc["exponents"][1], rel=1e-3)


def test_stuart_landau_flow_cycle_by_rk4():
    mu, omega, shear = 0.2, 1.0, 0.5
    fld = ex.stuart_landau(n=4, mu=mu, omega=omega, shear=shear, decay=(0.5, 1.0))
    ans = ex.stuart_landau_flow_cycle(mu, omega, shear, fld.force.rates.numpy())
    r, T = ans["radius"], ans["period"]
    assert ans["omega"] == pytest.approx(omega - shear * mu)
    f = fld.flat_force()
    on = fld.force.to_z(torch.tensor([r, 0.0, 0.0, 0.0], dtype=F64))
    # on the circle the force is tangent with speed r |Omega|
    assert abs(float(on @ f(on))) < 1e-14
    assert float(f(on).norm()) == pytest.approx(r * abs(ans["omega"]), rel=1e-12)
    # integrate one period: the cycle point returns; perturbations decay by the Floquet multipliers
    d = 1e-4
    starts = torch.stack([
        on,
        fld.force.to_z(torch.tensor([r * (1 + d), 0.0, 0.0, 0.0], dtype=F64)),
        on + d * fld.force.Q[:, 2],
        on + d * fld.force.Q[:, 3],
    ])
    steps = 1000
    ends = rk4(lambda z: fld.force(z, **fld.params), starts, T / steps, steps)
    assert float((ends[0] - on).norm()) < 1e-8
    radial = (float(ends[1].norm()) - r) / (r * d)
    assert radial == pytest.approx(ans["multipliers"][1], rel=2e-3)
    assert ans["exponents"][0] == 0.0 and ans["multipliers"][0] == 1.0
    for k, col in ((2, 2), (3, 3)):
        got = float(fld.force.to_y(ends[k])[col]) / d
        assert got == pytest.approx(ans["multipliers"][col], rel=1e-6)
    np.testing.assert_allclose(ans["exponents"][2:], -fld.force.rates.numpy())


# ------------------------------------------------------------------------------------------------
# 3. Brusselator
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a,b", [(1.0, 1.5), (2.0, 3.0), (1.5, 4.0)])
def test_brusselator_fixed_point_and_spectrum(a, b):
    fld = ex.brusselator(a=a, b=b, n_extra=3)
    zs = torch.tensor(ex.brusselator_fixed_point(a, b, 3), dtype=F64)
    assert float(fld(zs).abs().max()) < 1e-14
    np.testing.assert_allclose(zs[:2].numpy(), [a, b / a])
    lam = np.linalg.eigvals(dense_J(fld, zs))
    assert_spectra_equal(lam, ex.brusselator_spectrum(a, b, 3), 1e-12)


@pytest.mark.parametrize("a", [1.0, 2.0, 0.7])
def test_brusselator_hopf_and_ns(a):
    fld = ex.brusselator(a=a)
    hopf = ex.brusselator_hopf(a)
    assert hopf["b"] == pytest.approx(1 + a * a)
    zs = torch.tensor(hopf["fixed_point"], dtype=F64)
    assert float(fld(zs, b=hopf["b"]).abs().max()) < 1e-14
    lam = np.linalg.eigvals(dense_J(fld, zs, b=hopf["b"]))
    assert_spectra_equal(lam, hopf["eigenvalues"], 1e-12)

    def lead_re(b):
        zb = torch.tensor(ex.brusselator_fixed_point(a, b), dtype=F64)
        return np.linalg.eigvals(dense_J(fld, zb, b=b)).real.max()

    assert lead_re(hopf["b"] - 1e-3) < 0 < lead_re(hopf["b"] + 1e-3)
    eps = 0.2
    ns = ex.brusselator_ns_point(a, eps)
    assert ns["b"] < hopf["b"]

    def map_radius(b):
        zb = torch.tensor(ex.brusselator_fixed_point(a, b), dtype=F64)
        return np.abs(np.linalg.eigvals(np.eye(2) + eps * dense_J(fld, zb, b=b)))

    np.testing.assert_allclose(map_radius(ns["b"]), 1.0, atol=1e-12)
    assert map_radius(ns["b"] - 1e-3).max() < 1 < map_radius(ns["b"] + 1e-3).max()


# ------------------------------------------------------------------------------------------------
# 4. fold
# ------------------------------------------------------------------------------------------------
def test_fold_branch_and_turning_points():
    fld = ex.fold()
    rates = fld.force.rates.numpy()
    for x in np.linspace(-2.5, 2.5, 11):
        p = x ** 3 / 3 - x
        z = fld.force.to_z(torch.tensor([x] + [0.0] * 7, dtype=F64))
        assert float(fld(z, p=p).abs().max()) < 1e-13
        lam = np.linalg.eigvals(dense_J(fld, z, p=p))
        assert_spectra_equal(lam, [1 - x * x, *(-rates)], 1e-12)
    info = ex.fold_points()
    assert {(f["x"], round(f["p"], 12)) for f in info["folds"]} == {(1.0, round(-2 / 3, 12)), (-1.0, round(2 / 3, 12))}
    for fp in info["folds"]:
        z = fld.force.to_z(torch.tensor([fp["x"]] + [0.0] * 7, dtype=F64))
        assert float(fld(z, p=fp["p"]).abs().max()) < 1e-14
        lam = np.linalg.eigvals(dense_J(fld, z, p=fp["p"]))
        assert np.abs(lam).min() < 1e-12
        mult = np.linalg.eigvals(np.eye(8) + 0.1 * dense_J(fld, z, p=fp["p"]))
        assert np.abs(mult - 1).min() < 1e-12


def test_fold_equilibria_counts_and_relaxation():
    fld = ex.fold()
    for p, count in ((-1.0, 1), (-0.5, 3), (0.0, 3), (0.6, 3), (0.7, 1), (2.0, 1)):
        xs = ex.fold_equilibria(p)
        assert len(xs) == count
        for x in xs:
            z = fld.force.to_z(torch.tensor([x] + [0.0] * 7, dtype=F64))
            assert float(fld(z, p=p).abs().max()) < 1e-12
    assert len(ex.fold_equilibria(2 / 3)) == 2  # the double root at the fold
    # relaxation from z0 reaches the stable lower-branch equilibrium at the default p = -1
    z = euler(fld, fld.z0.clone(), 0.1, 800)
    x = float(fld.force.to_y(z)[0])
    assert x == pytest.approx(ex.fold_equilibria(-1.0)[0], abs=1e-10)
    assert x == pytest.approx(-2.1038034, abs=1e-6)


# ------------------------------------------------------------------------------------------------
# 5. flip
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("saturating", [False, True])
def test_flip_point_map_only(saturating):
    eps = 0.1
    fld = ex.flip(saturating=saturating)
    fp = ex.flip_point(eps)
    assert fp["p"] == pytest.approx(2 / eps)

    def spectra(p):
        J = dense_J(fld, torch.zeros(8), p=p)
        return np.linalg.eigvals(J), np.linalg.eigvals(np.eye(8) + eps * J)

    lam, mult = spectra(fp["p"])
    assert np.abs(lam.imag).max() < 1e-12 and lam.real.max() < 0
    assert np.abs(mult - (-1.0)).min() < 1e-12
    assert lam.real.min() == pytest.approx(fp["eigenvalue"], abs=1e-12)
    below, above = spectra(fp["p"] - 0.5)[1], spectra(fp["p"] + 0.5)[1]
    assert np.abs(below).max() < 1 < np.abs(above).max()
    assert spectra(fp["p"] + 0.5)[0].real.max() < 0  # J never sees it
    # J is symmetric negative definite at any state
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        z = torch.randn(8, generator=g, dtype=F64)
        J = dense_J(fld, z, p=fp["p"] + 3)
        np.testing.assert_allclose(J, J.T, atol=1e-12)
        assert np.linalg.eigvalsh(J).max() < 0


def test_flip_two_cycles():
    eps = 0.1
    # supercritical (saturating): a stable 2-cycle born past the flip, found by iterating the map
    p = 2.5 / eps
    fld = ex.flip(saturating=True, p=p)
    ans = ex.flip_cycle(p, eps, saturating=True)
    assert ans["stable"]
    z = euler(fld, fld.z0.clone(), eps, 300)
    y0 = float(fld.force.to_y(z)[0])
    assert abs(y0) == pytest.approx(ans["amplitude"], abs=1e-10)
    z2 = euler(fld, z, eps, 1)
    assert float(fld.force.to_y(z2)[0]) == pytest.approx(-y0, abs=1e-10)

    # subcritical (cubic): an unstable 2-cycle before the flip
    for saturating, p in ((False, 15.0), (True, 30.0)):
        fld = ex.flip(saturating=saturating, p=p, mix=False)
        ans = ex.flip_cycle(p, eps, saturating=saturating)
        f = fld.flat_force()

        def step0(x):
            z = torch.zeros(8, dtype=F64)
            z[0] = x
            return float((z + eps * f(z))[0])

        x = ans["amplitude"]
        assert step0(x) == pytest.approx(-x, abs=1e-12)
        h = 1e-6
        two = lambda t: step0(step0(t))  # noqa: E731
        d2 = (two(x + h) - two(x - h)) / (2 * h)
        assert d2 == pytest.approx(ans["multiplier"], rel=1e-6)
        assert ans["stable"] == (abs(d2) < 1)
    assert not ex.flip_cycle(15.0, eps)["stable"]


# ------------------------------------------------------------------------------------------------
# 6./7. logistic and Hénon: the eps = 1 maps and their Lyapunov exponents
# ------------------------------------------------------------------------------------------------
def tangent_lyapunov(fld: Field, z, burn, steps):
    """Largest Lyapunov exponent of the eps = 1 Euler map over a batch of orbits z (B, n)."""
    F = lambda w: fld.force(w, **fld.params)  # noqa: E731  acts row-wise on (B, n)
    step = lambda w: w + F(w)  # noqa: E731
    for _ in range(burn):
        z = step(z)
    v = torch.ones_like(z) / math.sqrt(z.shape[1])
    acc = torch.zeros(z.shape[0], dtype=z.dtype)
    for _ in range(steps):
        z, v = jvp(step, (z,), (v,))
        nrm = v.norm(dim=1)
        acc += torch.log(nrm)
        v = v / nrm[:, None]
    assert torch.isfinite(acc).all()
    return float(acc.mean()) / steps


def test_logistic():
    fld = ex.logistic()
    x = torch.linspace(0, 1, 11, dtype=F64)[:, None]
    torch.testing.assert_close(x + fld.force(x, r=3.3), 3.3 * x * (1 - x), rtol=0, atol=1e-15)
    for r in (2.5, 3.7):
        xs = torch.tensor([0.0, 1 - 1 / r], dtype=F64)[:, None]
        assert float(fld.force(xs, r=r).abs().max()) < 1e-15
    g = torch.Generator().manual_seed(0)
    z0 = 0.05 + 0.9 * torch.rand(2048, 1, generator=g, dtype=F64)
    lyap4 = tangent_lyapunov(fld, z0, 50, 400)
    assert ex.logistic_lyapunov(4.0) == math.log(2)
    assert lyap4 == pytest.approx(math.log(2), abs=1e-2)
    lyap38 = tangent_lyapunov(fld.with_params(r=3.8), z0, 200, 400)
    assert ex.logistic_lyapunov(3.8) == pytest.approx(lyap38, abs=1e-2)
    assert ex.logistic_lyapunov(3.2) == pytest.approx(tangent_lyapunov(fld.with_params(r=3.2), z0, 200, 200), abs=1e-2)
    assert ex.logistic_lyapunov(3.2) < 0 < ex.logistic_lyapunov(3.8)


def test_henon():
    fld = ex.henon()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 2, generator=g, dtype=F64)
    x, y = z[:, 0], z[:, 1]
    torch.testing.assert_close(z + fld.force(z, a=1.4, b=0.3), torch.stack([1 - 1.4 * x * x + y, 0.3 * x], 1))
    fps = ex.henon_fixed_points(1.4, 0.3)
    assert fps.shape == (2, 2)
    assert float(fld.force(torch.tensor(fps), a=1.4, b=0.3).abs().max()) < 1e-14
    z0 = 0.01 * torch.randn(2048, 2, generator=g, dtype=F64)
    lyap = tangent_lyapunov(fld, z0, 100, 500)
    assert ex.henon_lyapunov() == pytest.approx(0.41922, abs=1e-5)
    assert lyap == pytest.approx(ex.henon_lyapunov(), abs=1e-2)
    # the helper's numerical path (any (a, b) other than the classical pair)
    assert ex.henon_lyapunov(1.4 + 1e-9, 0.3, steps=5000) == pytest.approx(0.41922, abs=1e-2)
    # the two exponents sum to ln|det| = ln b: check via the product of Jacobian determinants
    det = np.linalg.det(np.eye(2) + dense_J(fld, torch.tensor([0.3, -0.2])))
    assert det == pytest.approx(-0.3, abs=1e-14)


# ------------------------------------------------------------------------------------------------
# 8. non-normal
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,c", [(16, 10.0), (5, 3.0), (9, 0.5)])
def test_nonnormal_abscissa(n, c):
    fld = ex.nonnormal(n=n, coupling=c)
    J = dense_J(fld, torch.zeros(n))
    # one Jordan block at -1: J + I is nilpotent, so every eigenvalue is exactly -1
    assert np.allclose(np.diag(J), -1.0) and np.abs(np.tril(J, -1)).max() == 0
    assert np.abs(np.linalg.matrix_power(J + np.eye(n), n)).max() == 0
    sym = np.linalg.eigvalsh((J + J.T) / 2)
    assert sym.max() == pytest.approx(ex.nonnormal_abscissa(n, c), abs=1e-12)
    assert (ex.nonnormal_abscissa(n, c) > 0) == (c * math.cos(math.pi / (n + 1)) > 1)


def test_nonnormal_transient_growth():
    n, c, eps = 8, 5.0, 0.1
    fld = ex.nonnormal(n=n, coupling=c)
    ans = ex.nonnormal_growth(n, c, eps, steps=120)
    assert ex.nonnormal_abscissa(n, c) > 0 and ans["spectral_radius"] < 1
    assert ans["max"] > 100 and 0 < ans["argmax"] < 120
    # ‖M^k‖ from propagating the identity through the field's Euler map
    f = vmap(fld.flat_force())
    P = torch.eye(n, dtype=F64)
    for k in range(1, 121):
        P = P + eps * f(P)  # rows are M^k e_i; ‖·‖₂ is transpose-invariant
        if k in (1, 10, 40, ans["argmax"], 120):
            assert float(torch.linalg.matrix_norm(P, ord=2)) == pytest.approx(ans["norms"][k], rel=1e-10)
    assert ans["norms"][0] == 1.0


# ------------------------------------------------------------------------------------------------
# 9. energy (the symmetric control)
# ------------------------------------------------------------------------------------------------
def test_energy_gradient_field_with_symmetric_jacobian():
    fld = ex.energy()
    g = torch.Generator().manual_seed(0)
    for gain in (1.0, 2.5):
        for _ in range(3):
            z = 2 * torch.randn(16, generator=g, dtype=F64)
            J = dense_J(fld, z, gain=gain)
            assert np.abs(J - J.T).max() < 1e-12
            grad = torch.func.grad(lambda w: fld.force.energy(w, gain))(z)
            torch.testing.assert_close(fld(z, gain=gain), -grad, rtol=0, atol=1e-12)
    # default gain: J <= -0.2 I everywhere (one globally stable fixed point)
    for _ in range(3):
        z = torch.randn(16, generator=g, dtype=F64)
        assert np.linalg.eigvalsh(dense_J(fld, z)).max() <= -0.2 + 1e-12
    z = euler(fld, fld.z0.clone(), 0.5, 300)
    assert float(fld(z).norm()) < 1e-10
    # and it is the energy minimum: E increases in every random direction
    E = float(fld.force.energy(z))
    for _ in range(5):
        d = 1e-3 * torch.randn(16, generator=g, dtype=F64)
        assert float(fld.force.energy(z + d)) > E
