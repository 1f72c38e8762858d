"""The continuation engine on fields written here (none of them in the package), against closed forms.

- Bogdanov–Takens form x' = y, y' = β1 + β2 x + x² − x y embedded in R^12: equilibria y = 0,
  β1 + β2 x + x² = 0; J = [[0, 1], [β2 + 2x, −x]]; fold where β2 + 2x = 0, i.e. the fold curve
  β1 = β2²/4, along which J's second eigenvalue is −x = β2/2: a Bogdanov–Takens point at (0, 0).
  There the fold coefficient a = ½⟨p, B(q, q)⟩/⟨p, q⟩ = −2/β2 has a pole (the old label: cusp).
- x' = μ + x − x³ (bistable for |μ| < 2/(3√3)) in R^6: a fold at μ* = 2/(3√3) on the lower branch;
  continued upward from μ = 0.2 the branch turns there and runs back down through its start.
- a 1-D Brusselator u_t = a − (b+1)u + u²v + d u_xx, v_t = bu − u²v + d v_xx with Dirichlet walls
  held at the homogeneous state (a, b/a), 500 cells (1,000 unknowns), d = 0.01, no preconditioner:
  sine modes κ_j = (4/h²) sin²(jπ/(2(N+1))), h = 1/(N+1); the first Hopf is mode 1's at
  b = 1 + a² + 2dκ_1 (stiff: d·κ_max ≈ 4·10⁴ against O(1) reaction rates).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stabilitylab import Field
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.continuation.curve import CurveOptions, curve
from stabilitylab.continuation.engine import LEFT_START
from stabilitylab.errors import StabilityLabError

from embedding import embedded as embed

TOL = 1e-6



def embedded(core, m, n, params, y0):
    """The shared embedding (tests/embedding.py) with this file's constants: seed 3, y0² coupling 0.2,
    decay rates linspace(0.5, 3.0) (the BT test's closed form for a uses them)."""
    return embed(core, m, n, params, y0, seed=3, coupling=0.2, rates=(0.5, 3.0))


def bt_form(y, b1, b2):
    x, w = y[0:1], y[1:2]
    return torch.cat([w, b1 + b2 * x + x * x - x * w])


def bistable(y, mu):
    return mu + y - y**3


def specials(fld, param, lo, hi, **kw):
    return continuation(ContinuationProblem(fld, param, 0.1), ContinuationOptions(lo, hi, **kw))


def test_bogdanov_takens_on_a_fold_curve_is_labelled_and_located():
    fld = embedded(bt_form, 2, 12, {"b1": 0.0, "b2": 1.0}, [-0.9, 0.0])
    br = specials(fld, "b1", 0.0, 0.5, ds=0.05)
    (fold,) = [i for i, sp in enumerate(br.specials) if sp.kind == "fold" and sp.operator == "J"]
    assert br.specials[fold].param == pytest.approx(0.25, abs=TOL)  # β1 = β2²/4 at β2 = 1
    cv = curve(fld, br.to_dataset(), fold, "b2", -0.5, 1.5, CurveOptions(0, 1, ds=0.05, ds_max=0.2)).to_dataset()
    b1, b2 = cv["b1"].values, cv["b2"].values
    np.testing.assert_allclose(b1, b2**2 / 4, atol=TOL)
    assert b2.min() == pytest.approx(-0.5, abs=1e-9)  # through the BT point to the end of the range
    assert list(cv["special_kind"].values) == ["bogdanov_takens"]  # not a cusp
    assert abs(float(cv["special_b1"][0])) < TOL and abs(float(cv["special_b2"][0])) < TOL
    # the fold coefficient with q normalised in R^12: q = s·(1, 0 | 0.4x/rates) (the slaved
    # coordinates lean on x = −β2/2), p = (−β2/2, 1 | 0), so a = −2s/β2: a pole at BT, no zero
    x = -b2[:, None] / 2
    s = 1 / np.sqrt(1 + ((0.2 * 2 * x / np.linspace(0.5, 3.0, 10)) ** 2).sum(axis=1))
    np.testing.assert_allclose(np.abs(cv["l1"].values), np.abs(2 * s / b2), rtol=1e-5)


def test_a_branch_that_turns_back_out_through_its_start_stops_there():
    fld = embedded(bistable, 1, 6, {"mu": 0.2}, [-1.2])
    br = specials(fld, "mu", 0.2, 0.5, ds=0.02, max_points=500)
    assert br.stop_reason.startswith(LEFT_START) and br.complete
    assert len(br.points) < 60
    assert min(pt.param for pt in br.points[:-1]) >= 0.2 > br.points[-1].param > 0.2 - 0.2
    (fold,) = [sp for sp in br.specials if sp.kind == "fold" and sp.operator == "J"]
    assert fold.param == pytest.approx(2 / (3 * math.sqrt(3)), abs=TOL)


def cusp_form(y, mu, nu):
    return mu + nu * y - y**3


def test_curve_starts_from_the_stored_point_on_another_branch_than_the_fields_start():
    # the continuation ran from the lower branch; the field handed to curve starts on the upper one,
    # where re-finding the fixed point from z0 lands (the old behaviour: "another branch", exit 2)
    ds = specials(embedded(cusp_form, 1, 6, {"mu": 0.2, "nu": 1.0}, [-1.2]), "mu", 0.2, 0.5, ds=0.02).to_dataset()
    fold = [str(k) for k in ds["special_kind"].values].index("fold")
    on_upper = embedded(cusp_form, 1, 6, {"mu": 0.2, "nu": 1.0}, [1.2])
    cv = curve(on_upper, ds, fold, "nu", 0.5, 1.5, CurveOptions(0, 1, ds=0.05, ds_max=0.2)).to_dataset()
    mu, nu = cv["mu"].values, cv["nu"].values
    np.testing.assert_allclose(27 * mu**2, 4 * nu**3, atol=TOL)  # the lower branch's folds: μ > 0
    assert np.all(mu > 0) and nu.min() == pytest.approx(0.5, abs=1e-9) and nu.max() == pytest.approx(1.5, abs=1e-9)
    with pytest.raises(StabilityLabError, match="state of 6 numbers, this field 7"):
        curve(embedded(cusp_form, 1, 7, {"mu": 0.2, "nu": 1.0}, [-1.2]), ds, fold, "nu", 0.5, 1.5)


class DirichletBrusselator:
    """The 1-D Brusselator on ``cells`` interior cells of [0, 1], walls at (a, b/a)."""

    def __init__(self, cells: int, d: float):
        self.cells, self.d, self.h = cells, d, 1.0 / (cells + 1)

    def lap(self, w, wall):
        wall = w.new_tensor([wall])
        return (torch.cat([wall, w[:-1]]) - 2 * w + torch.cat([w[1:], wall])) / self.h**2

    def __call__(self, z, *, a, b):
        u, v = z[: self.cells], z[self.cells:]
        u2v = u * u * v
        return torch.cat([a - (b + 1) * u + u2v + self.d * self.lap(u, a),
                          b * u - u2v + self.d * self.lap(v, float(b) / a)])


def test_stiff_reaction_diffusion_without_preconditioner_starts_and_locates_its_hopf():
    cells, d, a = 500, 0.01, 2.0
    kappa1 = 4 / (1 / (cells + 1)) ** 2 * math.sin(math.pi / (2 * (cells + 1))) ** 2
    b_hopf = 1 + a * a + 2 * d * kappa1
    b0 = 5.1
    z0 = torch.cat([torch.full((cells,), a), torch.full((cells,), b0 / a)]).double()
    fld = Field(DirichletBrusselator(cells, d), z0, {"a": a, "b": b0})
    br = continuation(ContinuationProblem(fld, "b", 0.1), ContinuationOptions(b0, 5.3, ds=0.05, k=4))
    assert br.complete, br.stop_reason
    hopf = [sp for sp in br.specials if sp.kind == "hopf"]
    assert hopf and abs(hopf[0].param - b_hopf) <= 1e-7 * b_hopf
    omega2 = a * a * b_hopf - (a * a + d * kappa1) ** 2  # det of mode 1's block at its Hopf
    assert hopf[0].frequency == pytest.approx(math.sqrt(omega2), abs=1e-6)
