"""Step control by the predicted distance to the next event (``ds_far``), on fields written here.

The first field is linear, F(z) = A(p) z in R^12: one pair Re λ = a − (p − ½)², Im λ = ω = 0.1 (a Hopf
point where it enters, p = ½ − √a, and one where it leaves, p = ½ + √a; the Euler map's
Neimark–Sacker points, where |1 + ελ| = 1, lie 0.03 from p = ½ at ε = 0.1) and ten fixed rates in
[−0.5, −3]. The fixed point is z = 0 for every p. With a = 4·10⁻⁴ the two Hopf points are 0.04
apart: a run allowed steps of 0.5 everywhere walks over both (the unstable count is 0 at both
ends of the step), a run whose steps shrink to ds_max = 0.02 near them finds both.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stabilitylab import Field
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.continuation.events import event_distance
from stabilitylab.continuation.spectra import ModeSet
from stabilitylab.errors import ConfigError

A, OMEGA = 4e-4, 0.1
RATES = np.linspace(-0.5, -3.0, 10)  # the fixed stable rates beside the pairs


def _pairs_field(pairs, seed: int, name: str) -> Field:
    """Linear field in R^(2·len(pairs) + 10), z = Q y with Q seeded orthogonal: block j of y is the
    pair re_j(p) ± i·im_j for (re_j, im_j) in ``pairs``, then the ten :data:`RATES`."""
    n = 2 * len(pairs) + len(RATES)
    Q = torch.as_tensor(np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0])

    def force(z, p):
        y = Q.T @ z
        blocks = []
        for j, (re, im) in enumerate(pairs):
            r, u, w = re(p), y[2 * j], y[2 * j + 1]
            blocks += [r * u + im * w, -im * u + r * w]
        return Q @ torch.cat([torch.stack(blocks), torch.as_tensor(RATES, dtype=z.dtype) * y[2 * len(pairs):]])

    return Field(force, torch.zeros(n, dtype=torch.float64), {"p": 0.0}, name)


def _pair_field(a: float = A) -> Field:
    return _pairs_field([(lambda p: a - (p - 0.5) ** 2, OMEGA)], 1, "hopf_pair")


def _run(**kw):
    opts = ContinuationOptions(0.0, 1.0, ds=0.02, k=4, method="natural", **kw)
    return continuation(ContinuationProblem(_pair_field(), "p", 0.1), opts)


def _modes(values, operator="J", unstable=0):
    return ModeSet(operator, np.asarray(values, dtype=complex), None, unstable, 0)


def test_event_distance_is_the_linear_extrapolation_of_the_next_crossing_mode():
    before = {"J": _modes([-0.3 + 1j, -0.3 - 1j, -1.0]), "M": _modes([0.9, 0.5], "M")}
    after = {"J": _modes([-0.2 + 1j, -0.2 - 1j, -1.0]), "M": _modes([0.95, 0.5], "M")}
    # J: Re λ rises 0.1 per 0.1 of step, 0.2 below zero; M: |μ| − 1 rises 0.05 per 0.1, 0.05 below
    assert event_distance(before, after, 0.1) == pytest.approx(0.1)
    assert event_distance({"J": before["J"]}, {"J": after["J"]}, 0.1) == pytest.approx(0.2)
    # moving away from zero counts at the same rate (a mode may turn back); not moving: no event ahead
    assert event_distance({"J": after["J"]}, {"J": before["J"]}, 0.1) == pytest.approx(0.3)
    assert event_distance({"J": after["J"]}, {"J": after["J"]}, 0.1) == math.inf
    # an unstable pair coming back: the last unstable mode (rank n_unstable − 1) is followed
    out, back = _modes([0.3 + 1j, 0.3 - 1j, -1.0], unstable=2), _modes([0.2 + 1j, 0.2 - 1j, -1.0], unstable=2)
    assert event_distance({"J": out}, {"J": back}, 0.05) == pytest.approx(0.1)
    assert event_distance({}, {"J": back}, 0.05) == math.inf  # nothing to compare with


def test_long_steps_far_from_events_and_short_ones_across_two_close_hopf_points():
    near = _run(ds_max=0.02, ds_far=0.5)
    hopf = sorted(sp.param for sp in near.specials if sp.operator == "J")
    np.testing.assert_allclose(hopf, [0.5 - math.sqrt(A), 0.5 + math.sqrt(A)], atol=1e-6)
    assert [sp.kind for sp in near.specials if sp.operator == "J"] == ["hopf", "hopf"]
    p = np.asarray(near.params)
    steps = np.diff(p)
    assert steps.max() > 2 * 0.02  # far from the pair the steps grew past ds_max …
    crossing = [i for i in range(len(steps)) if any(p[i] < h <= p[i + 1] for h in hopf)]
    assert crossing and all(steps[i] <= 0.02 + 1e-12 for i in crossing)  # … and crossed it at ≤ ds_max
    uniform = _run(ds_max=0.02, ds_far=0.02)
    assert sorted(sp.param for sp in uniform.specials if sp.operator == "J") == pytest.approx(hopf, abs=1e-6)
    assert len(near.points) < len(uniform.points)
    blind = _run(ds_max=0.5, ds_far=0.5)  # long steps everywhere walk over the pair
    assert not [sp for sp in blind.specials if sp.operator == "J"]


def _bump_field() -> Field:
    """A still pair A (Re λ = −0.05, Im 0.3) ranked above a pair B rushing up through zero and back:
    Re λ_B = 0.05 − 10.2(p − 0.53)², Im 0.3 (Hopf at 0.53 ∓ 0.07; Euler-map NS where
    2 Re λ + ε|λ|² = 0)."""
    return _pairs_field([(lambda p: -0.05, 0.3), (lambda p: 0.05 - (0.05 / 0.07**2) * (p - 0.53) ** 2, 0.3)],
                        3, "bump")


@pytest.mark.parametrize("method", ["natural", "palc"])
def test_a_lower_mode_rushing_past_a_still_leading_one_keeps_the_steps_short(method, tmp_path):
    """The leading pair A does not move, so following only the next-to-cross rank would predict no
    event and step over both crossings of B (count 0 at both ends); every rank of the window counts.
    A run stopped early and resumed with ds_far = ds_max restarts at ≤ ds_max and finds them too."""
    eps, c = 0.1, 0.05 / 0.07**2
    r = (-1 + math.sqrt(1 - (eps * 0.3) ** 2)) / eps  # Re λ_B on |1 + ελ| = 1
    hopf = [0.53 - 0.07, 0.53 + 0.07]
    ns = [0.53 - math.sqrt((0.05 - r) / c), 0.53 + math.sqrt((0.05 - r) / c)]
    problem = ContinuationProblem(_bump_field(), "p", eps)
    br = continuation(problem, ContinuationOptions(0.0, 1.0, method=method))
    found = {op: sorted(sp.param for sp in br.specials if sp.operator == op) for op in ("J", "M")}
    np.testing.assert_allclose(found["J"], hopf, atol=1e-6)
    np.testing.assert_allclose(found["M"], ns, atol=1e-6)
    out = tmp_path / "bump.zarr"
    first = continuation(problem, ContinuationOptions(0.0, 1.0, method=method, max_points=6), out=out)
    assert not first.specials
    resumed = continuation(problem, ContinuationOptions(0.0, 1.0, method=method, ds_far=0.1), out=out)
    steps = np.diff(resumed.params)
    assert steps[5] <= 0.1 + 1e-12  # the first step after the restart
    assert sorted(sp.param for sp in resumed.specials if sp.operator == "J") == pytest.approx(hopf, abs=1e-6)


def test_ds_far_defaults_to_three_ds_max_and_is_validated():
    assert ContinuationOptions(0.0, 1.0, ds_max=0.2).ds_far == pytest.approx(0.6)
    with pytest.raises(ConfigError, match="ds_far >= ds_max"):
        ContinuationOptions(0.0, 1.0, ds_max=0.2, ds_far=0.1)
