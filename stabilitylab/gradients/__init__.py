"""Gradient estimators for equilibrium blocks and any parametrised field, and their fidelity.

Generic (any :class:`Objective`: a Field whose force closes over parameters θ, a loss of z):
:func:`bptt`, :func:`transpose_adjoint` (exact implicit), :func:`equilibrium_propagation`
(naive / AEP / tracking AEP) and :func:`ep_sweep`. Block versions with the next-token readout
loss: :func:`bptt_gradient`, :func:`implicit_gradient`, :func:`ep_gradient`. Fidelity:
:func:`compare`, :func:`pair`, :func:`cosine` (cosines and norm ratios per parameter group).
Asymmetry knob: :class:`BlendedBlock`. The ``gradcheck`` study: :mod:`.study`.
"""
from .adjoint import transpose_adjoint
from .asymmetry import BlendedBlock, antisymmetry_ratio
from .block import block_objective, bptt_gradient, ep_gradient, implicit_gradient, readout_batch, readout_loss
from .eprop import VARIANTS, ep_sweep, equilibrium_propagation
from .fidelity import compare, cosine, groups_of, pair
from .objective import Cost, GradientResult, Objective, field_objective
from .unroll import bptt

__all__ = ["VARIANTS", "BlendedBlock", "Cost", "GradientResult", "Objective", "antisymmetry_ratio",
           "block_objective", "bptt", "bptt_gradient", "compare", "cosine", "ep_gradient", "ep_sweep",
           "equilibrium_propagation", "field_objective", "groups_of", "implicit_gradient", "pair",
           "readout_batch", "readout_loss", "transpose_adjoint"]
