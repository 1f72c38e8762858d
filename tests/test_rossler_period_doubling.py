"""The first period doubling of the Rössler flow, located on the continued cycle branch and checked
against the literature and against brute-force integration (scipy, independent of the package).

ẋ = −y − z, ẏ = x + a y, ż = b + z (x − c), a = b = 0.2: the period-1 orbit doubles at c ≈ 2.832
(the cascade c₁ ≈ 2.832, c₂ ≈ 3.837, c₃ ≈ 4.123; e.g. Strogatz, *Nonlinear Dynamics and Chaos*,
§12.4, and the bifurcation diagrams of Rössler-system studies). Below it the Poincaré section
x-maxima take one value, past it two alternating ones.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from stabilitylab import Field
from stabilitylab.cycles.flow_branch import continue_cycles

A = B = 0.2
LITERATURE = 2.832


def rossler(z, c):
    x, y, w = z[..., 0:1], z[..., 1:2], z[..., 2:3]
    return torch.cat([-y - w, x + A * y, B + w * (x - c)], dim=-1)


def rhs(c):
    return lambda t, u: [-u[1] - u[2], u[0] + A * u[1], B + u[2] * (u[0] - c)]


def section_maxima(c: float, t_end: float = 600.0) -> np.ndarray:
    """x at the maxima of x (ẋ = 0 from above) after a long transient, by scipy's DOP853."""
    def top(t, u):
        return -u[1] - u[2]
    top.direction = -1
    sol = solve_ivp(rhs(c), (0, t_end), [1.0, 1.0, 0.0], method="DOP853", rtol=1e-10, atol=1e-12, events=top)
    t, u = sol.t_events[0], sol.y_events[0]
    return u[t > t_end - 300, 0]


def orbit_start(c: float):
    """A point on the settled period-1 orbit and its period (scipy)."""
    def top(t, u):
        return -u[1] - u[2]
    top.direction = -1
    sol = solve_ivp(rhs(c), (0, 400), [1.0, 1.0, 0.0], method="DOP853", rtol=1e-11, atol=1e-12, events=top)
    t, u = sol.t_events[0], sol.y_events[0]
    return torch.tensor(u[-1], dtype=torch.float64), float(t[-1] - t[-2])


@pytest.mark.slow  # a few minutes: RK4 shooting on a 3-variable field is Python-bound
def test_first_period_doubling_of_rossler_on_the_cycle_branch():
    x0, period = orbit_start(2.6)
    fld = Field(rossler, x0.clone(), {"c": 2.6})
    branch = continue_cycles(fld, "c", x0, period, 2.6, 3.0, steps=250, ds=0.15, ds_max=0.3, max_points=12, k=3)
    pd = [s for s in branch.specials if s.kind == "period_doubling"]
    assert len(pd) == 1, (branch.reason, [(s.kind, s.p) for s in branch.specials])
    c_pd = pd[0].p
    assert abs(c_pd - LITERATURE) < 5e-3, c_pd
    assert pd[0].defect < 1e-6  # the integrator's share of the error (twice the RK4 steps)
    # brute force: one section value just below the located point, two just above
    below, above = section_maxima(c_pd - 0.15, 3000.0), section_maxima(c_pd + 0.15, 3000.0)
    assert np.ptp(below) < 1e-5
    assert np.ptp(above) > 1e-2 and np.ptp(above[::2]) < 1e-5 and np.ptp(above[1::2]) < 1e-5
    # and the branch itself: the period-1 orbit is stable before, unstable past the doubling
    stable = {round(p.p, 6): p.stable for p in branch.points}
    assert all(s for c, s in stable.items() if c < c_pd - 1e-3) and not any(s for c, s in stable.items() if c > c_pd + 1e-3)
