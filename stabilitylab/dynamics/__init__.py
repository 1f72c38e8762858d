"""Dynamics beyond fixed points: what the Euler relaxation z ← z + εF(z) settles on when it does
not converge, and why.

- :func:`detect` — long (batched) relaxations classified as fixed point / limit cycle /
  quasi-periodic / chaotic / diverged from the residual floor and oscillation, the period, a
  return-map check and the largest Lyapunov exponent.
- :func:`floquet` — Floquet multipliers of a cycle (matrix-free monodromy, Krylov–Schur).
- :func:`analyse_cycle` — both, plus the spectrum at the nearby fixed point (``stabilitylab cycle``).
- :func:`eps_sweep` — attractors over a grid of ε against the ε_crit the spectrum predicts.
- :func:`knockout` — attractors and spectra as one component (attention, FFN, a head, c) is scaled.
"""
from .attractor import KINDS, Attractor, Attractors, Criteria, detect
from .cycle import analyse_cycle
from .floquet import Floquet, floquet, monodromy
from .knockout import knockout, target_knob
from .sweep import default_grid, eps_sweep

__all__ = ["KINDS", "Attractor", "Attractors", "Criteria", "Floquet", "analyse_cycle", "default_grid",
           "detect", "eps_sweep", "floquet", "knockout", "monodromy", "target_knob"]
