r"""Analytic vector fields with known bifurcations and known answers.

These fields are the independent ground truth for the spectral engine, continuation and dynamics
tests, and ready-made inputs for users (``--field stabilitylab.examples:stuart_landau``). Every
factory can be called with no arguments and returns a :class:`~stabilitylab.field.Field` whose
float knobs are in ``params``; ``meta`` holds a one-line ``description`` and the ``factory`` call.

=================  ============================  =============================================
factory            knobs                         known answers (helpers)
=================  ============================  =============================================
``linear``         ``p``                         spectrum eig(A) + p (:func:`linear_spectrum`)
``stuart_landau``  ``mu``, ``omega``, ``shear``  Hopf, Euler-map Neimark–Sacker, limit cycle
                                                 of the flow and invariant circle of the map
``brusselator``    ``a``, ``b``                  fixed point (a, b/a), Hopf b = 1 + a²,
                                                 Euler-map NS b = 1 + a² − ε a²
``fold``           ``p``                         S-shaped branch, folds at x = ±1, p = ∓2/3
``flip``           ``p``                         Euler-map flip at p = 2/ε (J stays stable)
``logistic``       ``r``                         ε = 1 map is the logistic map; Lyapunov ln 2
``henon``          ``a``, ``b``                  ε = 1 map is the Hénon map; Lyapunov 0.41922
``nonnormal``      ``coupling``                  eigenvalues all −1, abscissa −1 + c cos(π/(n+1))
``energy``         ``gain``                      F = −∇E, symmetric Jacobian
``brusselator_1d`` ``a``, ``b``                  reaction–diffusion on a 1-D grid (stiff, n =
                                                 2·cells): homogeneous state, spectrum per
                                                 cosine mode, Hopf b = 1 + a², NS as above
=================  ============================  =============================================

Conventions. The relaxation is the explicit Euler map ``z <- z + eps * F(z)``; its multipliers at
a fixed point are ``1 + eps * lambda``. Forces act on the last axis (states of shape ``(n,)`` or
batches ``(..., n)``), use only pure torch ops (``torch.func.jvp``/``vjp``/``vmap`` work, knobs may
be 0-d tensors), and keep their constant matrices in float64, cast per call to the dtype and
device of ``z``: a field works in float32 and float64. States ``z0`` are float64 by default
(``dtype=`` on every factory; ``Field.to(dtype=...)`` converts).

Fields that embed a low-dimensional normal form in ``R^n`` (``stuart_landau``, ``fold``, ``flip``)
write the state as ``z = Q y`` with a seeded random orthogonal ``Q`` (``mix=True``) so nothing is
axis-aligned; ``field.force.Q`` is that matrix and ``field.force.to_z(y)`` / ``to_y(z)`` convert.
The decay rates of the linear stable directions are ``field.force.rates`` (eigenvalues ``-rates``).

One module per family (:mod:`.linear_flow`, :mod:`.hopf_normal_form`, :mod:`.brusselator_ode`, :mod:`.fold_normal_form`, :mod:`.flip_normal_form`, :mod:`.logistic_map`, :mod:`.henon_map`, :mod:`.nonnormal_chain`, :mod:`.gradient_energy`, :mod:`.reaction_diffusion`),
on the shared machinery of :mod:`._base`.
"""
from __future__ import annotations

from .linear_flow import linear, linear_spectrum
from .hopf_normal_form import stuart_landau, stuart_landau_rates, stuart_landau_hopf, stuart_landau_ns_point, stuart_landau_flow_cycle, stuart_landau_map_cycle
from .brusselator_ode import brusselator, brusselator_fixed_point, brusselator_spectrum, brusselator_hopf, brusselator_ns_point
from .fold_normal_form import fold, fold_points, fold_equilibria
from .flip_normal_form import flip, flip_point, flip_cycle
from .logistic_map import logistic, logistic_lyapunov
from .henon_map import henon, henon_fixed_points, henon_lyapunov, HENON_LYAPUNOV_LITERATURE
from .nonnormal_chain import nonnormal, nonnormal_abscissa, nonnormal_growth
from .gradient_energy import energy
from .reaction_diffusion import brusselator_1d, brusselator_1d_spectrum

__all__ = [
    "EXAMPLES",
    "HENON_LYAPUNOV_LITERATURE",
    "linear",
    "linear_spectrum",
    "stuart_landau",
    "stuart_landau_rates",
    "stuart_landau_hopf",
    "stuart_landau_ns_point",
    "stuart_landau_flow_cycle",
    "stuart_landau_map_cycle",
    "brusselator",
    "brusselator_fixed_point",
    "brusselator_spectrum",
    "brusselator_hopf",
    "brusselator_ns_point",
    "fold",
    "fold_points",
    "fold_equilibria",
    "flip",
    "flip_point",
    "flip_cycle",
    "logistic",
    "logistic_lyapunov",
    "henon",
    "henon_fixed_points",
    "henon_lyapunov",
    "nonnormal",
    "nonnormal_abscissa",
    "nonnormal_growth",
    "energy",
    "brusselator_1d",
    "brusselator_1d_spectrum",
]

#: every factory by name (each callable with no arguments)
EXAMPLES = {
    "linear": linear,
    "stuart_landau": stuart_landau,
    "brusselator": brusselator,
    "fold": fold,
    "flip": flip,
    "logistic": logistic,
    "henon": henon,
    "nonnormal": nonnormal,
    "energy": energy,
}
