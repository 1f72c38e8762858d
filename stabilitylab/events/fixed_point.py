"""Bifurcations of a fixed-point branch, detected where the unstable count of J or of the Euler
map M = I + εJ changes (located by :mod:`stabilitylab.continuation.events`)."""
from . import Kind, register

HOPF = register(Kind("hopf", "Hopf", "o", "#d62728", "a complex pair of J crosses the imaginary axis: the flow "
                     "starts to oscillate", "fixed_point", operator="J", pair=True, curve=True))
NEIMARK_SACKER = register(Kind("neimark_sacker", "Neimark–Sacker", "s", "#9467bd", "a complex pair of M leaves "
                               "the unit circle: the Euler relaxation starts to oscillate", "fixed_point",
                               operator="M", pair=True, curve=True))
FOLD = register(Kind("fold", "fold", "v", "0.1", "a real eigenvalue of J passes 0 where the branch turns back: "
                     "two fixed points meet and vanish", "fixed_point", operator="J", curve=True))
BRANCH_POINT = register(Kind("branch_point", "branch point", "D", "#2ca02c", "a real eigenvalue passes 0 (or μ "
                             "passes +1) without a turn: another branch crosses", "fixed_point", operator="J"))
FLIP = register(Kind("flip", "flip (period doubling)", "^", "#ff7f0e", "a real multiplier of M passes −1: the "
                     "Euler relaxation alternates with period 2", "fixed_point", operator="M", curve=True))
