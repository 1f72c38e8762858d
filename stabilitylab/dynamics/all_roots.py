r"""All the fixed points reachable from many starts, each classified by its leading spectrum.

For every start z_s: Euler relaxation (≤ ``relax_steps`` steps, the deployed computation: it finds
the stable fixed points); when relaxation settled without converging, plain Newton–Krylov from the
relaxed state (finding a known root again counts as a hit); then Newton–Krylov with every root
found so far deflated (:func:`~.deflation.deflated_newton`), from the relaxed state and from z_s, each repeated while it keeps finding new roots (≤
``per_start`` per start): deflation finds unstable roots that relaxation cannot reach. A converged state is a *new* root unless it lies
within ``dedup_tol``·max(‖r‖, 1) of a known root r (then it counts as found again). Each root is
classified by :func:`~stabilitylab.spectral.spectrum.spectrum` at it (rightmost λ of J, largest
|μ| of M = I + εJ, verdict). Optionally from every start L-BFGS minimises q = ½‖F‖²
(:func:`~.deflation.slow_point`); converged minima with force residual above the root tolerance
are *slow points*, listed separately (de-duplicated); unconverged minimisations are only counted.

Starts (:func:`seeded_starts`): the field's own z0, data windows (the initial states of other
input batches of a checkpoint, batch seeds batch_seed+1, +2, ...), and z0 plus seeded Gaussian
noise of relative size ``noise``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..store import provenance
from ..solvers.deflation import POWER, SHIFT, deflated_newton, slow_point
from ..solvers.relax import relax_euler
from ..solvers.result import relative_norm
from ..spectral.spectrum import spectrum

SCHEMA = 1


def seeded_starts(field: Field, count: int, *, data: int = 0, noise: float = 0.5,
                  seed: int = 0) -> tuple[list[torch.Tensor], list[str]]:
    """``count`` starts and their kinds: ``z0``, then ``data`` data windows (checkpoint fields
    only: z0 of batch seeds batch_seed+1..), then z0 + noise·rms(z0)·N(0, I) (seeded; rms floored
    at 1)."""
    if count < 1:
        raise StabilityLabError(f"need at least one start, got {count}")
    starts, kinds = [field.z0.detach().clone()], ["z0"]
    if data and "checkpoint" in field.meta:
        from ..checkpoint import load

        base = int(field.meta.get("batch_seed", 0))
        for s in range(1, min(data, count - 1) + 1):
            other = load(field.meta["checkpoint"], batch_seed=base + s,
                         batch_size=field.shape[0] if len(field.shape) == 3 else 1,
                         device=field.device, dtype=field.dtype)
            starts.append(other.z0.detach().clone())
            kinds.append(f"data (batch seed {base + s})")
    gen = torch.Generator().manual_seed(int(seed))
    rms = max(float(field.z0.norm()) / math.sqrt(field.n), 1.0)
    while len(starts) < count:
        z = torch.randn(field.n, generator=gen, dtype=torch.float64).reshape(field.shape)
        starts.append(field.z0 + (noise * rms * z).to(field.device, field.dtype))
        kinds.append(f"noise {noise:g}")
    return starts, kinds


def _match(z: torch.Tensor, known: list[torch.Tensor], tol: float) -> int | None:
    for i, r in enumerate(known):
        if float((z - r).norm()) <= tol * max(float(r.norm()), 1.0):
            return i
    return None


def all_fixed_points(field: Field, starts: list[torch.Tensor], kinds: list[str] | None = None, *,
                     eps: float = 0.1, k: int = 4, tol: float = 1e-9, dedup_tol: float = 1e-5,
                     relax_steps: int = 300, per_start: int = 3, newton_maxiter: int = 40,
                     slow_points: bool = True, slow_maxiter: int = 300, power: float = POWER,
                     shift: float = SHIFT, gmres_restart: int = 30, gmres_maxiter: int = 300,
                     spectrum_tol: float = 1e-8, seed: int = 0) -> xr.Dataset:
    """Roots (dim ``root``) and slow points (dim ``slow``) found from ``starts`` (module docstring).

    Root variables: ``z`` (root × state_index), ``force_residual``, ``step_residual``,
    ``state_norm``, ``found_from`` (start index), ``found_by`` (relaxation / newton / deflated
    newton), ``times_found``, ``eig_J`` / ``eig_M`` (root × mode, complex), ``leading_re_J``,
    ``max_abs_mu``, ``n_unstable_J``, ``n_unstable_M``, ``verdict``, ``spectrum_converged``.
    Slow-point variables: ``slow_z``, ``slow_q`` = ½‖F‖², ``slow_force_residual``,
    ``slow_grad_norm``, ``slow_found_from`` (converged L-BFGS runs only; the others are counted in
    the ``slow_unconverged`` attribute). Per start (dim ``start``):
    ``start_kind``, ``relaxed_residual`` (force residual after relaxation), ``roots_from_start``.
    """
    kinds = kinds or ["given"] * len(starts)
    roots, how, origin, hits = [], [], [], []
    slow, slow_info, slow_unconverged = [], [], 0
    relaxed_res, per_start_new = [], []
    def record(z: torch.Tensor, label: str, s: int) -> bool:
        hit = _match(z, roots, dedup_tol)
        if hit is not None:
            hits[hit] += 1
            return False
        roots.append(z.detach().clone())
        how.append(label)
        origin.append(s)
        hits.append(1)
        return True

    for s, z0 in enumerate(starts):
        new_here = 0
        rel = relax_euler(field, eps, relax_steps, z0, tol=tol) if relax_steps else None
        relaxed_res.append(rel.final_force_residual if rel else math.nan)
        if rel is not None and rel.converged:
            new_here += record(rel.z.reshape(-1), "relaxation", s)
        settled = rel is not None and not rel.converged and rel.final_force_residual <= rel.force_residual[0]
        newton = dict(tol=tol, maxiter=newton_maxiter, gmres_restart=gmres_restart, gmres_maxiter=gmres_maxiter,
                      power=power, shift=shift)
        if settled:  # plain Newton polishes what relaxation settled on (a root found again counts as a hit)
            res = deflated_newton(field, rel.z.reshape(-1), [], **newton)
            if res.converged:
                new_here += record(res.z, "newton", s)
        # then deflated Newton from there and from the raw start (not next to a deflated root)
        for newton_from in ([rel.z.reshape(-1)] if settled else []) + [z0.reshape(-1)]:
            while new_here < per_start:  # deflated Newton until it finds nothing new
                res = deflated_newton(field, newton_from, roots, **newton)
                if not (res.converged and record(res.z, "deflated newton" if roots else "newton", s)):
                    break
                new_here += 1
        per_start_new.append(new_here)
        if slow_points:
            sp = slow_point(field, z0, maxiter=slow_maxiter)
            fr = relative_norm(field.flat_force()(sp.z.reshape(-1)), sp.z)
            if not sp.converged:
                slow_unconverged += 1
            elif fr > 10 * tol and _match(sp.z.reshape(-1), [p.z.reshape(-1) for p in slow], 1e-4) is None:
                slow.append(sp)
                slow_info.append((s, fr))
    if not roots and not slow:
        raise StabilityLabError(f"no fixed point and no slow point found from {len(starts)} start(s)")
    # separate LR / LM searches: the shared search lost copies of a triple eigenvalue next to a
    # rounding-split pair (Hopfield memories, 2026-12-06), see tests/test_all_fixed_points.py
    spectra = [spectrum(field, k=k, eps=eps, z=r.reshape(field.shape), diagnostics="none", tol=spectrum_tol,
                        seed=seed, search="separate") for r in roots]
    data = _root_variables(field, roots, spectra, how, origin, hits, eps)
    data.update(_slow_variables(slow, slow_info, field.n))
    data["start_kind"] = ("start", np.array(kinds, dtype=object))
    data["relaxed_residual"] = ("start", np.asarray(relaxed_res, dtype=float),
                                {"long_name": "force residual ||F||/max(||z||,1) after the relaxation"})
    data["roots_from_start"] = ("start", np.asarray(per_start_new, dtype=np.int64))
    unconverged = [i for i, sp in enumerate(spectra) if not sp.attrs["converged"]]
    problems = [f"spectrum of root(s) {', '.join(map(str, unconverged))}: {spectra[unconverged[0]].attrs['not_converged']}"] if unconverged else []
    attrs = provenance(field, analysis="fixed-points", schema_version=SCHEMA, eps=eps, k=k, tol=tol,
                       residual_kind="force residual ||F(z)||/max(||z||,1)", dedup_tol=dedup_tol,
                       dedup_rule="same root when ||z - r|| <= dedup_tol * max(||r||, 1)",
                       relax_steps=relax_steps, per_start=per_start, deflation_power=power,
                       deflation_shift=shift, starts=len(starts), n_roots=len(roots), n_slow=len(slow),
                       slow_unconverged=slow_unconverged, slow_maxiter=slow_maxiter,
                       converged=int(not problems), not_converged="; ".join(problems),
                       verdict=_verdict(len(roots), len(slow), len(starts), data, problems, slow_unconverged))
    coords = {"root": np.arange(len(roots)), "slow": np.arange(len(slow)), "start": np.arange(len(starts)),
              "mode": np.arange(data["eig_J"][1].shape[1])}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _root_variables(field, roots, spectra, how, origin, hits, eps) -> dict:
    n, m = field.n, max([sp.sizes["mode"] for sp in spectra], default=1)
    pad = lambda v: np.concatenate([v, np.full(m - len(v), complex(np.nan, np.nan))])  # noqa: E731
    Z = np.stack([r.to("cpu", torch.float64).numpy() for r in roots]) if roots else np.zeros((0, n))
    res = [field.residuals(r.reshape(field.shape), eps) for r in roots]
    return {
        "z": (("root", "state_index"), Z, {"long_name": "fixed point (flat state)"}),
        "force_residual": ("root", np.array([r[0] for r in res], dtype=float)),
        "step_residual": ("root", np.array([r[1] for r in res], dtype=float)),
        "state_norm": ("root", np.linalg.norm(Z, axis=1)),
        "found_from": ("root", np.asarray(origin, dtype=np.int64), {"long_name": "index of the start"}),
        "found_by": ("root", np.array(how, dtype=object)),
        "times_found": ("root", np.asarray(hits, dtype=np.int64),
                        {"long_name": "converged runs that ended on this root (de-duplicated)"}),
        "eig_J": (("root", "mode"), np.array([pad(sp["eig_J"].values) for sp in spectra]).reshape(-1, m),
                  {"long_name": "rightmost eigenvalues of J at the root"}),
        "eig_M": (("root", "mode"), np.array([pad(sp["eig_M"].values) for sp in spectra]).reshape(-1, m),
                  {"long_name": "largest-modulus eigenvalues of M = I + eps J at the root"}),
        "leading_re_J": ("root", np.array([float(sp["leading_re_J"]) for sp in spectra])),
        "max_abs_mu": ("root", np.array([float(sp["max_abs_mu"]) for sp in spectra])),
        "n_unstable_J": ("root", np.array([int(sp["n_unstable_J"]) for sp in spectra], dtype=np.int64),
                         {"long_name": "eigenvalues of J found with Re lambda > 0 (of the k searched)"}),
        "n_unstable_M": ("root", np.array([int(sp["n_unstable_M"]) for sp in spectra], dtype=np.int64)),
        "verdict": ("root", np.array([sp.attrs["verdict"] for sp in spectra], dtype=object)),
        "spectrum_converged": ("root", np.array([int(sp.attrs["converged"]) for sp in spectra], dtype=np.int64)),
    }


def _slow_variables(slow, info, n) -> dict:
    Z = np.stack([p.z.reshape(-1).to("cpu", torch.float64).numpy() for p in slow]) if slow else np.zeros((0, n))
    return {
        "slow_z": (("slow", "state_index"), Z, {"long_name": "slow point (local minimum of q = ||F||^2/2)"}),
        "slow_q": ("slow", np.array([p.q for p in slow], dtype=float), {"long_name": "q = ||F||^2 / 2"}),
        "slow_force_residual": ("slow", np.array([fr for _, fr in info], dtype=float)),
        "slow_grad_norm": ("slow", np.array([p.grad_norm for p in slow], dtype=float),
                           {"long_name": "||grad q|| = ||J^T F||"}),
        "slow_found_from": ("slow", np.array([s for s, _ in info], dtype=np.int64)),
    }


def _verdict(n_roots, n_slow, n_starts, data, problems, slow_unconverged) -> str:
    counts = {}
    for v in data["verdict"][1]:
        counts[v] = counts.get(v, 0) + 1
    kinds = ", ".join(f"{c} {v}" for v, c in counts.items())
    text = (f"{n_roots} distinct fixed point(s) from {n_starts} start(s)" + (f" ({kinds})" if kinds else "")
            + (f"; {n_slow} slow point(s) (local minima of ||F||^2/2 that are not roots)" if n_slow else "")
            + (f"; {slow_unconverged} slow-point minimisation(s) stopped unconverged (not listed)"
               if slow_unconverged else "")
            + ("; unique among those reached" if n_roots == 1 else ""))
    return f"not converged: {'; '.join(problems)} ({text})" if problems else text
