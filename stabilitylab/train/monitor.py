"""The in-training stability monitor: where the trained operator sits relative to the boundary.

On the fixed analysis batch (``batches.analysis_batch``: one validation window, seed 0 — the batch
``stabilitylab.load`` gives every analysis of a snapshot) in float64, relaxing at the training ε:

- force residual ``‖F(z)‖/‖z‖`` and step residual ``‖εF(z)‖/‖z‖`` after T1 steps (the state
  training sees), and the force residual after ``LONG × T1`` steps (a slow-but-converging
  relaxation vs one that never settles);
- at the long-run state z_L (the fixed point when the relaxation reaches one; otherwise a point on
  its attractor, where J is only the instantaneous Jacobian — the figure marks those records):
  the rightmost eigenvalues of J (``eigs``, 'LR') and the largest-modulus eigenvalues of
  M = I + εJ (``eigs``, 'LM'); the leading λ = a + ib, max |μ|, and ε_crit, the smallest
  −2a/(a² + b²) over *all* modes (0 if any a ≥ 0), refined as ``spectrum`` refines its
  ``min_eps_crit`` (:func:`~stabilitylab.spectral.spectrum.min_eps_crit`, a few extra LM searches);
- the numerical abscissa ω(J) = λ_max((J + Jᵀ)/2) (``eigsh``, 'LA') and the antisymmetry ratio
  ‖Av‖/‖Jv‖ (random v);
- optionally cos(g_EP, g_BPTT) on the first training-sized validation batch.

Validation cross-entropy is the readout loss after T1 Euler steps (the deployed computation) on a
fixed validation set; the median and max over its sequences of the T1 force residual say how much
of the data distribution the relaxation still settles on.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import torch

from ..errors import ConvergenceWarning, NonFiniteError
from ..field import Field
from ..gradients import bptt_gradient, ep_gradient, readout_loss
from ..linear import Linearization
from ..model import EquilibriumBlock, block_field
from ..solvers import relax_euler
from ..spectral import eigs, eigsh
from ..spectral.spectrum import min_eps_crit
from .config import TrainConfig

MODES = 6  # eigenvalues kept per operator
LONG = 10  # the long relaxation runs LONG × T1 steps
PROBES = 4  # random vectors of the antisymmetry ratio
UNSETTLED = 1e-4  # long-run force residual above which the relaxation reached no fixed point
#: the spectral scalars, named as in the spectrum dataset (docs/GLOSSARY.md)
SPECTRAL = ("leading_re_J", "leading_im_J", "max_abs_mu", "min_eps_crit", "numerical_abscissa",
            "antisymmetry_ratio", "eig_converged")
SCALARS = ("val_ce", "val_force_residual_median", "val_force_residual_max", "force_residual",
           "step_residual", "force_residual_long", "cos_ep_bptt", *SPECTRAL)


@torch.no_grad()
def validate(block: EquilibriumBlock, x: torch.Tensor, y: torch.Tensor, eps: float, T1: int,
             chunk: int = 64) -> dict:
    """After T1 Euler steps from x_in on every row of (x, y): the mean readout cross-entropy and
    the median and max over rows of the force residual ‖F(z_b)‖/‖z_b‖."""
    total, res = 0.0, []
    for i in range(0, len(x), chunk):
        xi, yi = x[i:i + chunk], y[i:i + chunk]
        field = block_field(block, xi)
        z = relax_euler(field, eps=eps, steps=T1).z
        total += float(readout_loss(block, z, yi)) * len(xi)
        res.append(field(z).flatten(1).norm(dim=1) / z.flatten(1).norm(dim=1))
    res = torch.cat(res)
    return {"val_ce": total / len(x), "val_force_residual_median": float(res.median()),
            "val_force_residual_max": float(res.max())}


def gradient_cosine(block: EquilibriumBlock, x, y, cfg: TrainConfig) -> float:
    """cos(g_EP, g_BPTT) over all parameters on batch (x, y) at the training settings."""
    ep = ep_gradient(block, x, y, eps=cfg.eps, T1=cfg.T1, T2=cfg.T2, beta=cfg.beta, variant="aep").flat()
    bp = bptt_gradient(block, x, y, eps=cfg.eps, T1=cfg.T1).flat()
    return float(torch.nn.functional.cosine_similarity(ep, bp, dim=0))


def _antisymmetry(lin: Linearization) -> float:
    """Mean ‖Av‖/‖Jv‖ over seeded random v (reusing ``lin``'s JVP trace)."""
    V = torch.randn(lin.n, PROBES, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(lin.z)
    with torch.no_grad():
        return float((lin.A()(V).norm(dim=0) / lin.J()(V).norm(dim=0)).mean())


def spectral_state(block: EquilibriumBlock, idx: torch.Tensor, eps: float, T1: int) -> dict:
    """:func:`field_state` of ``block`` on ``idx`` (a float64 copy)."""
    return field_state(block_field(copy.deepcopy(block).double(), idx), eps, T1)


def field_state(field: Field, eps: float, T1: int, k: int = MODES) -> dict:
    """Residuals at T1 and at LONG×T1 Euler steps from ``field.z0``, and the leading spectra
    (:func:`state_spectra`) at the long-run state: the record of the trainer's monitor and of
    :class:`stabilitylab.StabilityMonitor`."""
    free = relax_euler(field, eps=eps, steps=T1)
    long = relax_euler(field, eps=eps, steps=LONG * T1, z0=free.z)
    return {"force_residual": free.final_force_residual, "step_residual": free.final_step_residual,
            "force_residual_long": long.final_force_residual, **state_spectra(field, long.z, eps, k)}


def state_spectra(field: Field, z: torch.Tensor, eps: float, k: int = MODES) -> dict:
    """The spectral scalars and ``k`` leading eigenvalues at ``z``; NaN where ``z`` or F(z) is
    not finite (the relaxation diverged)."""
    try:
        field.check_finite(z, "long-run state")
    except NonFiniteError:
        return {**{name: float("nan") for name in SPECTRAL}, "eig_J": [], "eig_M": []}
    return _spectra(Linearization(field, z), eps, k)


def _spectra(lin: Linearization, eps: float, k: int) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        rJ = eigs(lin.J(), k=k, which="LR", seed=0)
        rM = eigs(lin.M(eps), k=k, which="LM", seed=0)
        abscissa = float(eigsh(lin.S(), k=1, which="LA", seed=0).eigenvalues[0])
        lam = rJ.eigenvalues.numpy()[:k]
        mu = rM.eigenvalues.numpy()[:k]
        crit = min_eps_crit(lin, lam, mu, eps, k, seed=0)[0]
    lead = complex(lam[0])
    return {
        "leading_re_J": lead.real, "leading_im_J": abs(lead.imag),
        "max_abs_mu": float(np.abs(mu).max()),
        "min_eps_crit": crit,
        "numerical_abscissa": abscissa,
        "antisymmetry_ratio": _antisymmetry(lin),
        "eig_converged": float(rJ.converged and rM.converged and not caught),
        "eig_J": lam, "eig_M": mu,
    }


def measure(block: EquilibriumBlock, cfg: TrainConfig, idx: torch.Tensor, val: tuple,
            cos_batch: tuple | None = None) -> dict:
    """One monitor record (see the module docstring); ``cos_batch`` = (x, y) turns on the cosine."""
    rec = spectral_state(block, idx, cfg.eps, cfg.T1)
    rec.update(validate(block, *val, cfg.eps, cfg.T1))
    rec["cos_ep_bptt"] = gradient_cosine(block, *cos_batch, cfg) if cos_batch is not None else float("nan")
    return rec
