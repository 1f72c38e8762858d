"""The monitor history as one xarray Dataset with dims ``rule`` × ``step`` (× ``mode``).

Per (rule, step): the monitor scalars of :mod:`.monitor` plus ``train_ce`` and ``grad_norm``
(means since the previous record; the norm before clipping), ``lr``, ``gate_skips`` and
``nonfinite_skips`` (cumulative) and ``stabiliser_gain``; per (rule, step, mode): ``eig_J`` (rightmost eigenvalues of J) and ``eig_M``
(largest-modulus eigenvalues of M = I + εJ), complex128. Missing entries are NaN.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from ..solvers import RESIDUAL_KINDS
from .monitor import LONG, MODES, SCALARS

LOOP_SCALARS = ("train_ce", "grad_norm", "lr", "gate_skips", "nonfinite_skips", "stabiliser_gain")
#: the monitor's names before it used the glossary's (docs/GLOSSARY.md): old name -> name
RENAMED = {"lead_re": "leading_re_J", "lead_im": "leading_im_J", "eps_crit": "min_eps_crit",
           "omega": "numerical_abscissa", "antisymmetry": "antisymmetry_ratio"}
DESCRIPTIONS = {
    "val_ce": "validation cross-entropy after T1 Euler steps (nats/char)",
    "val_force_residual_median": "median over validation sequences of the force residual after T1 steps",
    "val_force_residual_max": "max over validation sequences of the force residual after T1 steps",
    "train_ce": "mean training cross-entropy since the previous record (nats/char)",
    "grad_norm": "mean total gradient norm (before clipping) since the previous record",
    "force_residual": "force residual ||F(z)||/||z|| after T1 steps (analysis batch)",
    "step_residual": "step residual ||eps F(z)||/||z|| after T1 steps (analysis batch)",
    "force_residual_long": f"force residual ||F(z)||/||z|| after {LONG}*T1 steps (analysis batch)",
    "leading_re_J": "Re of the rightmost eigenvalue of J at the long-run state",
    "leading_im_J": "|Im| of the rightmost eigenvalue of J at the long-run state",
    "max_abs_mu": "max |mu| of M = I + eps J at the training eps",
    "min_eps_crit": "smallest -2a/(a^2+b^2) over all modes, refined as spectrum's min_eps_crit (0 if some a >= 0)",
    "numerical_abscissa": "numerical abscissa lambda_max((J + J^T)/2)",
    "antisymmetry_ratio": "||A v|| / ||J v||, A = (J - J^T)/2, random v",
    "cos_ep_bptt": "cosine of the AEP and BPTT gradients (NaN when not monitored)",
    "eig_converged": "1 when both eigensolves converged",
    "eig_J": "rightmost eigenvalues of J",
    "eig_M": "largest-modulus eigenvalues of M = I + eps J",
}


def record_row(step: int, monitor: dict, loop: dict) -> dict:
    """A history row: plain floats and complex tensors (storable in the run state)."""
    row = {"step": int(step), **{k: float(loop[k]) for k in LOOP_SCALARS},
           **{k: float(monitor[k]) for k in SCALARS}}
    for k in ("eig_J", "eig_M"):
        vals = np.full(MODES, np.nan + 0j)
        got = np.asarray(monitor[k], dtype=complex)[:MODES]
        vals[:got.size] = got
        row[k] = torch.from_numpy(vals)
    return row


def renamed(names: dict) -> dict:
    """A monitor record or history row with the old names (:data:`RENAMED`) under the new ones."""
    return {RENAMED.get(k, k): v for k, v in names.items()}


def to_dataset(history: dict, attrs: dict) -> xr.Dataset:
    """``history`` (rule → list of rows) as a Dataset with the given attributes."""
    rules = list(history)
    steps = sorted({r["step"] for rows in history.values() for r in rows})
    pos = {s: i for i, s in enumerate(steps)}
    scal = {k: np.full((len(rules), len(steps)), np.nan) for k in (*SCALARS, *LOOP_SCALARS)}
    eig = {k: np.full((len(rules), len(steps), MODES), np.nan + 0j) for k in ("eig_J", "eig_M")}
    for i, rule in enumerate(rules):
        for row in history[rule]:
            j = pos[row["step"]]
            for k in scal:
                scal[k][i, j] = row[k]
            for k in eig:
                eig[k][i, j] = np.asarray(row[k])
    data = {k: (("rule", "step"), v, {"description": DESCRIPTIONS.get(k, k)}) for k, v in scal.items()}
    data.update({k: (("rule", "step", "mode"), v, {"description": DESCRIPTIONS[k]}) for k, v in eig.items()})
    coords = {"rule": np.array(rules, dtype=object), "step": np.array(steps, dtype=np.int64),
              "mode": np.arange(MODES)}
    return xr.Dataset(data, coords=coords, attrs={**attrs, "analysis": "monitor", "residual_kind": RESIDUAL_KINDS})
