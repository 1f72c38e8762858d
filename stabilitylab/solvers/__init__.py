"""Fixed-point solvers for a :class:`~stabilitylab.Field`: F(z) = 0.

- :func:`relax_euler` — the deployed computation, z ← z + εF(z) with fixed ε.
- :func:`relax_adaptive` — Euler with the overshoot-driven ε controller.
- :func:`anderson` — Anderson acceleration of the Euler map, gated and restarted.
- :func:`newton_krylov` — Newton with GMRES on J δ = −F (reaches unstable fixed points too).
- :func:`find_fixed_point` — Euler relaxation, then Newton–Krylov polish (what analyses call).
- :func:`gmres` — restarted, matrix-free GMRES on flat torch vectors; :func:`gmres_escalated` retries
  a stalled solve once with the longest basis that fits in memory.

Every solver returns a :class:`SolveResult` with both residual kinds traced per step:
force residual ‖F(z)‖/max(‖z‖, 1) and step residual ‖εF(z)‖/max(‖z‖, 1).
"""
from .anderson import anderson
from .gmres import GMRESResult, gmres, gmres_escalated
from .newton_krylov import find_fixed_point, newton_krylov
from .relax import relax_adaptive, relax_euler
from .result import RESIDUAL_KINDS, SolveResult

__all__ = [
    "RESIDUAL_KINDS",
    "GMRESResult",
    "SolveResult",
    "anderson",
    "find_fixed_point",
    "gmres",
    "gmres_escalated",
    "newton_krylov",
    "relax_adaptive",
    "relax_euler",
]
