"""The fidelity study behind ``stabilitylab gradcheck``: every estimator on one batch, sweeps over
the nudge length T2 and strength β, and over the asymmetry knob r, as one xarray Dataset.

:func:`study` runs it on any :class:`~.objective.Objective` (a user Field with a readout loss:
:func:`~.objective.field_objective`); the asymmetry sweep varies the field's own knob ``asym``
and is left out when the field has none. :func:`gradcheck` runs it on an equilibrium block and
its token batch, where ``asym`` is the blend of :class:`~.asymmetry.BlendedBlock` (thick blocks).

The fixed-point estimators (implicit, EP variants) share one free state z*, found by Euler
relaxation (then Newton–Krylov if relaxation stalls) to a force residual ``fp_tol``; BPTT
differentiates the deployed T1-step unroll, so its distance from ``implicit`` is the truncation
bias of the unroll. Sweeps compare against the reference ``implicit`` (the exact gradient at z*).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..model import BlockForce, ThickBlock
from ..solvers import find_fixed_point
from ..solvers.relax import progress_bar
from .adjoint import transpose_adjoint
from .asymmetry import BlendedBlock, antisymmetry_ratio
from .block import block_objective, readout_batch
from .objective import field_objective
from .eprop import VARIANTS, ep_sweep, equilibrium_propagation
from .fidelity import compare, groups_of, pair
from .unroll import bptt

ESTIMATORS = ("bptt", "implicit", *VARIANTS)
REFERENCE = "implicit"
DIAGNOSTICS = ("loss", "free_force_residual", "nudged_change", "adjoint_residual", "cost")


def free_state(obj, eps: float, steps: int, tol: float, newton: bool = True):
    """z* for the fixed-point estimators (module docstring) and its SolveResult."""
    res = find_fixed_point(obj.field, eps=eps, tol=tol, relax_steps=steps, newton=newton)
    return res.z, res


def all_estimators(obj, z_star, eps: float, T1: int, T2: int, beta: float) -> dict:
    """``{estimator: GradientResult}`` for :data:`ESTIMATORS` on one objective."""
    out = {"bptt": bptt(obj, eps, T1), "implicit": transpose_adjoint(obj, eps, z_free=z_star)}
    for v in VARIANTS:
        out[v] = equilibrium_propagation(obj, eps, T2=T2, beta=beta, variant=v, z_free=z_star)
    return out


def _diagnostics(results: dict) -> dict:
    return {k: ("estimator", [float(results[e].loss) if k == "loss" else results[e].diagnostics.get(k, np.nan)
                              for e in ESTIMATORS]) for k in DIAGNOSTICS}


def _vs_reference(results: dict, groups: dict):
    """cosine and norm ratio of each result against the reference's, (E, G) each."""
    pairs = [pair(results[e].grads, results[REFERENCE].grads, groups) for e in ESTIMATORS]
    return np.stack([c for c, _ in pairs]), np.stack([q for _, q in pairs])


def _nudge_sweep(obj, z_star, exact, eps, t2s, betas, beta, groups, advance):
    """EP variants over T2 × β against ``exact``: data variables, and the results at (β, max T2)."""
    shape = (len(VARIANTS), len(t2s), len(betas))
    cos, ratio = np.full(shape + (len(groups),), np.nan), np.full(shape + (len(groups),), np.nan)
    change, adj = np.full(shape, np.nan), np.full(shape, np.nan)
    at_beta = {}
    for i, v in enumerate(VARIANTS):
        for k, b in enumerate(betas):
            sweep = ep_sweep(obj, eps, T2s=t2s, beta=b, variant=v, z_free=z_star)
            for j, t in enumerate(t2s):
                cos[i, j, k], ratio[i, j, k] = pair(sweep[t].grads, exact.grads, groups)
                change[i, j, k] = sweep[t].diagnostics["nudged_change"]
                adj[i, j, k] = sweep[t].diagnostics["adjoint_residual"]
            if b == beta:
                at_beta[v] = sweep[t2s[-1]]
            advance()
    dims = ("variant", "t2", "beta")
    return {
        "sweep_cosine": (dims + ("group",), cos, {"long_name": f"cosine of the EP variant vs {REFERENCE}"}),
        "sweep_norm_ratio": (dims + ("group",), ratio),
        "sweep_nudged_change": (dims, change, {"long_name": "||a_T - a_(T-K)|| / ||a_T||"}),
        "sweep_adjoint_residual": (dims, adj, {"long_name": "||J^T a + dL/dz|| / ||dL/dz||"}),
    }, at_beta


def _asym_sweep(base, asyms, main, z_star, fp, run, groups, advance):
    """All estimators on the field at each ``asym`` = r, against its own implicit gradient (the
    study's results ``main`` are those at the field's own r)."""
    shape = (len(ESTIMATORS), len(asyms))
    cos, ratio = np.full(shape + (len(groups),), np.nan), np.full(shape + (len(groups),), np.nan)
    change, adj = np.full(shape, np.nan), np.full(shape, np.nan)
    antisym, free = np.full(len(asyms), np.nan), np.full(len(asyms), np.nan)
    own = base.field.params.get("asym")
    for m, r in enumerate(asyms):
        obj = replace(base, field=base.field.with_params(asym=r))
        if r == own:  # the study's own field: reuse
            zr, fpr, res = z_star, fp, main
        else:
            zr, fpr = free_state(obj, run["eps"], run["fp_steps"], run["fp_tol"], run["fp_newton"])
            res = all_estimators(obj, zr, run["eps"], run["T1"], run["T2"], run["beta"])
        cos[:, m], ratio[:, m] = _vs_reference(res, groups)
        change[:, m] = [res[e].diagnostics.get("nudged_change", np.nan) for e in ESTIMATORS]
        adj[:, m] = [res[e].diagnostics.get("adjoint_residual", np.nan) for e in ESTIMATORS]
        antisym[m], free[m] = antisymmetry_ratio(obj.field, zr), fpr.final_force_residual
        advance()
    return {
        "asym_cosine": (("estimator", "asym", "group"), cos,
                        {"long_name": f"cosine vs {REFERENCE} of the blended field F_r"}),
        "asym_norm_ratio": (("estimator", "asym", "group"), ratio),
        "asym_nudged_change": (("estimator", "asym"), change),
        "asym_adjoint_residual": (("estimator", "asym"), adj),
        "asym_antisymmetry": ("asym", antisym, {"long_name": "mean ||A v|| / ||J v|| at z*_r"}),
        "asym_free_force_residual": ("asym", free, {"long_name": "||F_r(z*)|| / ||z*||"}),
    }


def gradcheck(block, idx: torch.Tensor, targets: torch.Tensor, *, knobs: dict | None = None,
              asyms: Sequence[float] = (0, 0.25, 0.5, 0.75, 1), **options) -> xr.Dataset:
    """:func:`study` on ``block`` with the next-token readout loss on batch ``idx``; the asymmetry
    sweep blends a thick block toward its conservative counterpart (:class:`BlendedBlock`, left
    out for other blocks)."""
    knobs = dict(knobs or {})
    if isinstance(block, ThickBlock) and asyms:
        obj = block_objective(BlendedBlock.of(block), idx, targets, **knobs)  # asym = 1: the block's own force
    else:
        obj, asyms = block_objective(block, idx, targets, **knobs), []
    ds = study(obj, asyms=asyms, **options)
    ds.attrs["asym_construction"] = ("F_r = (1-r) F_cons + r F_thick on the same parameters "
                                     "(stabilitylab.gradients.asymmetry)")
    return ds


def study(obj, *, eps: float = 0.1, T1: int = 150, beta: float = 0.02, t2s: Sequence[int] = (20, 40, 80, 160),
          betas: Sequence[float] = (0.02, 0.5, 5.0), asyms: Sequence[float] = (0, 0.25, 0.5, 0.75, 1),
          fp_steps: int = 5000, fp_tol: float = 1e-10, fp_newton: bool = True, groups: dict | None = None,
          progress: bool = False) -> xr.Dataset:
    """The study (module docstring) on the objective ``obj``. The pairwise comparison uses
    β = ``beta`` (added to ``betas``) and T2 = max(t2s); the asymmetry sweep over ``asyms`` needs
    a knob ``asym`` on ``obj.field`` (it is left out otherwise). ``fp_newton=False`` keeps the
    free state Euler-only (e.g. the deployed T1 steps, unconverged). ``groups``: parameter groups
    ``{group: names}`` compared besides "all" (default: :func:`~.fidelity.groups_of`)."""
    t2s = sorted({int(t) for t in t2s})
    betas = sorted(set(map(float, betas)) | {float(beta)})
    asyms = [float(r) for r in asyms] if "asym" in obj.field.params else []
    run = dict(eps=eps, T1=T1, T2=t2s[-1], beta=beta, fp_steps=fp_steps, fp_tol=fp_tol, fp_newton=fp_newton)
    groups = groups_of(dict(obj.params), groups)
    tasks = 1 + len(VARIANTS) * len(betas) + len(asyms)
    with progress_bar(tasks, "gradient estimators", progress) as advance:
        z_star, fp = free_state(obj, eps, fp_steps, fp_tol, fp_newton)
        main = {"bptt": bptt(obj, eps, T1), "implicit": transpose_adjoint(obj, eps, z_free=z_star)}
        advance()
        sweep_vars, at_beta = _nudge_sweep(obj, z_star, main[REFERENCE], eps, t2s, betas, beta, groups,
                                           advance)
        main.update(at_beta)
        asym_vars = _asym_sweep(obj, asyms, main, z_star, fp, run, groups, advance)
    cos, ratio, norm = compare({e: main[e].grads for e in ESTIMATORS}, groups)
    ds = xr.Dataset(
        {
            "cosine": (("estimator", "estimator2", "group"), cos,
                       {"long_name": "cosine between the gradients of estimator and estimator2"}),
            "norm_ratio": (("estimator", "estimator2", "group"), ratio,
                           {"long_name": "||g_estimator|| / ||g_estimator2||"}),
            "grad_norm": (("estimator", "group"), norm),
            **_diagnostics(main), **sweep_vars, **asym_vars,
        },
        coords={"estimator": list(ESTIMATORS), "estimator2": list(ESTIMATORS), "group": list(groups),
                "variant": list(VARIANTS), "t2": np.asarray(t2s, dtype=np.int64),
                "beta": np.asarray(betas, dtype=np.float64), "asym": np.asarray(asyms, dtype=np.float64)},
    )
    ds.attrs.update(analysis="gradcheck", reference=REFERENCE, eps=eps, t1=T1, beta=beta, t2=run["T2"], fp_tol=fp_tol,
                    fp_steps=fp_steps, fp_newton=int(fp_newton), fp_solver=fp.solver, fp_converged=int(fp.converged),
                    fp_force_residual=fp.final_force_residual,
                    residual_kind="force residual ||F(z)||/||z||; step residual ||eps F(z)||/||z||",
                    asym_construction="the field's knob asym = r")
    return ds


def check_study(fld) -> None:
    """Raise unless ``fld`` has a readout loss: a checkpoint's block, or a Field with ``loss``."""
    if not isinstance(fld.force, BlockForce) and fld.loss is None:
        raise StabilityLabError("gradcheck needs a checkpoint or a Field with a readout "
                                "loss (Field(..., loss=...)); this field has none")


def run_study(fld, **options):
    """The gradcheck study on ``fld``: a checkpoint's block on its analysis batch with the
    next-token loss, or a user Field with its own ``loss`` and ``parameters``."""
    check_study(fld)
    if isinstance(fld.force, BlockForce):
        block, idx, targets = readout_batch(fld)
        return gradcheck(block, idx, targets, knobs=fld.params, **options)
    obj = field_objective(fld)
    return study(obj, groups={name: (name,) for name in obj.params}, **options)
