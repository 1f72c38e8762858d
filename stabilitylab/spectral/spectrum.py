"""Leading spectra of J and of the Euler map M = I + εJ at a fixed point, as an xarray Dataset.

M = I + εJ has the Krylov spaces of J, so by default ONE Krylov–Schur search on J keeps three
wanted sets at every restart (:func:`~stabilitylab.spectral.krylov_schur.eigs_shared`): the
rightmost λ of J, the largest |μ| = |1 + ελ| of M, and the smallest ε_crit(λ). The M set is not
redundant: a stiff mode with ελ < −2 is a flip instability (μ < −1) that the rightmost-J set ranks
last; the ε_crit set finds the mode limiting ε over *all* modes (the one on the largest disk
|1 + ελ| ≤ 1 through 0, an exterior eigenvalue a Krylov space finds) with no extra search.
``search="separate"`` runs the former two independent searches (LR of J, LM of M) and refines
ε_crit by extra LM searches of M. ``search="blocks"`` runs the shared search once per sequence of
a batch, all in lockstep (:mod:`.blocks`: J of a batch is block-diagonal by sequence); the modes
carry their ``sequence`` and the verdict is the worst sequence's.

With a shift σ (``sigma``) the J search runs on ``(J − σI)⁻¹`` (:mod:`.transform`): the rightmost
eigenvalues of a stiff J converge in a few restarts. The multipliers are then ``μ = 1 + ελ`` of
those eigenvalues; stiff modes far from σ (flips, ελ < −2) are not searched, and the dataset says so.

Honest output: an unconverged fixed point, eigenvalue or inner linear solve makes the verdict
``unconverged`` (never "stable"); ``converged`` = 0 and ``not_converged`` names what failed.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from ..errors import StabilityLabError
from ..field import Field
from ..linear import Linearization
from ..solvers import find_fixed_point
from ..store import provenance
from ..solvers.result import RESIDUAL_KINDS
from .blocks import block_count, block_search
from .dense import DENSE_MAX_N, leading_eigs, needs_dense
from .euler import (UNCONVERGED, crit_key, eigen_uncertainty, eps_crit, is_complex, min_positive,
                    smallest_eps_crit, stability_verdict)
from .krylov_schur import eigs_shared
from .multiplicity import count_copies, multiplicity as copies_found
from .nonnormal import MODES, nonnormality
from .settings import DIAGNOSTICS, SPECTRUM_SEARCHES
from .transform import eigs_shift_invert

RESIDUAL_KIND = RESIDUAL_KINDS
SHIFT_INVERT_NOTE = ("M multipliers are 1 + eps*lambda of the J eigenvalues nearest sigma: stiff "
                     "modes far from sigma (flips, eps*lambda < -2) were not searched")


def _pad(x: np.ndarray, m: int, fill) -> np.ndarray:
    out = np.full(m, fill, dtype=x.dtype)
    out[: len(x)] = x
    return out


def spectrum(field: Field, k: int = 8, eps: float = 0.1, z: torch.Tensor | None = None, *,
             tol: float = 1e-8, ncv: int | None = None, maxiter: int | None = None, seed: int = 0,
             vectors: bool = False, fixed_point_tol: float = 1e-9, relax_steps: int = 300,
             diagnostics: bool | str = "fast", probes: int = 4, growth_steps: int = 100,
             search: str = "shared", refine_eps_crit: int = 3, z0: torch.Tensor | None = None,
             sigma: float | None = None, gmres_restart: int = 40, gmres_maxiter: int = 1000,
             multiplicity: bool = False, search_start: torch.Tensor | None = None) -> xr.Dataset:
    """Spectra of J (LR) and M = I + εJ (LM) at the fixed point of ``field`` (or at ``z``).

    Finds the fixed point with :func:`~stabilitylab.solvers.find_fixed_point` when ``z`` is None
    (``relax_steps`` Euler steps from ``z0``, default ``field.z0``, then Newton–Krylov: unstable
    fixed points are found too; GMRES(``gmres_restart``), ≤ ``gmres_maxiter`` iterations per
    solve, preconditioned by the field's hook); the shared search then starts from
    :func:`start_vector` (the rightmost Ritz vectors of Newton's last GMRES space: 302 products
    against 384 from a random start at n = 131,072), otherwise from ``search_start`` (a vector, or
    an (n, p) block such as a nearby operator's eigenvectors: a random combination of its columns
    plus a random vector) or a ``seed``-ed random vector. ``sigma``: search J by
    shift-invert about σ (see the module docstring). ``multiplicity``: count the copies of the leading λ of J and μ of M by
    deflation (:func:`~.multiplicity.count_copies`; not with ``sigma``). Data variables on
    dim ``mode``: ``eig_J``, ``residual_J``, ``eps_crit`` (−2a/(a²+b²), 0 for a ≥ 0), ``mu_of_J`` =
    1 + ελ, ``eig_M``, ``residual_M``, ``lambda_of_M`` = (μ − 1)/ε, ``complex_J``/``complex_M``;
    scalars: unstable counts, ``max_abs_mu``, ``min_eps_crit`` (over all modes: the ε_crit set of
    the shared search, or with ``search="separate"`` refined by up to ``refine_eps_crit`` extra LM
    searches, see :func:`min_eps_crit`) and the non-normality measures of
    :mod:`~stabilitylab.spectral.nonnormal` (``diagnostics``: ``'fast'`` (tol 1e-3, start vectors
    from the search's Krylov basis), ``'full'`` (tol 1e-8) or ``'none'``; True/False mean
    fast/none). With ``search="blocks"`` also ``sequence_J``/``sequence_M`` on ``mode`` and, on dim
    ``sequence``, ``max_abs_mu_seq`` and ``leading_re_J_seq``. Attributes: ε, the verdict, the fixed point's force and step residuals, solver
    settings (``matvecs_search``: products of the eigen-search(es)) and provenance.
    """
    diagnostics = {True: "fast", False: "none"}.get(diagnostics, diagnostics)
    if diagnostics not in DIAGNOSTICS:
        raise StabilityLabError(f"diagnostics={diagnostics!r}: choose {', '.join(DIAGNOSTICS)}")
    if search not in SPECTRUM_SEARCHES:
        raise StabilityLabError(f"search={search!r}: choose {', '.join(SPECTRUM_SEARCHES)}")
    blocks = block_count(field) if search == "blocks" else 1
    if search == "blocks" and sigma is not None:
        raise StabilityLabError("search='blocks' does not combine with sigma (shift-invert): drop one")
    if eps <= 0:
        raise StabilityLabError(f"eps must be > 0, got {eps}")
    size = field.n // blocks  # the space one search runs in
    if k < 1 or (size > DENSE_MAX_N and k > size - 2):
        raise StabilityLabError(f"k={k} wanted eigenvalues: need 1 ≤ k ≤ n − 2 = {size - 2} for this state"
                                + (" (per sequence)" if blocks > 1 else ""))
    k = min(k, field.n)  # a tiny state has n eigenvalues, all exact (dense path of leading_eigs)
    fp_attrs, v0 = {}, search_start
    start = START_KINDS[3] if search_start is not None else START_KINDS[2]
    if z is None:
        # float32 round-off floors the force residual near 1e-7: never ask for less than 10 ulp
        fp_tol = max(fixed_point_tol, 10 * torch.finfo(field.dtype).eps)
        fp = find_fixed_point(field, eps=eps, z0=z0, tol=fp_tol, relax_steps=relax_steps,
                              gmres_restart=gmres_restart, gmres_maxiter=gmres_maxiter)
        z = fp.z
        if search_start is None:
            v0, start = start_vector(fp)
        fp_attrs = {"fixed_point_converged": int(fp.converged), "fixed_point_reason": fp.reason,
                    "fixed_point_solver": fp.solver}
    force_res, step_res = field.residuals(z, eps)
    if not math.isfinite(force_res):
        raise StabilityLabError("the state is not finite (relaxation diverged); no spectrum can be computed")
    lin = Linearization(field, z)
    problems = [] if fp_attrs.get("fixed_point_converged", 1) else [
        f"fixed point (force residual {force_res:.1e}: {fp_attrs['fixed_point_reason']})"]
    copies, space, by_sequence = {}, None, None
    if sigma is None:
        if needs_dense(lin.n, k) and search != "blocks":  # a tiny state: the exact dense path
            search = "separate"
        want_vectors = vectors or multiplicity
        if search == "shared":
            rj, rm, mu, res_M, min_crit, crit_settled, space = _shared_search(
                lin, k, eps, tol, ncv, maxiter, seed, want_vectors, diagnostics == "fast", v0)
        elif search == "blocks":
            by_sequence = block_search(lin, blocks, k, eps, tol=tol, ncv=ncv, maxiter=maxiter, seed=seed,
                                       vectors=want_vectors, v0=None if v0 is None or v0.dim() != 1 else v0)
            start = start if v0 is None or v0.dim() == 1 else START_KINDS[2]  # a block start: not split
            rj, rm = by_sequence.J, by_sequence.M
            mu, res_M = 1 + eps * rm.eigenvalues.numpy(), eps * rm.residuals.numpy()
            min_crit, crit_settled = by_sequence.min_crit, by_sequence.settled
        else:
            rj, rm, mu, res_M, min_crit, crit_settled = _separate_searches(
                lin, k, eps, tol, ncv, maxiter, seed, want_vectors, refine_eps_crit)
        lam, vec_M = rj.eigenvalues.numpy(), rm.eigenvectors
        if multiplicity:
            copies = {name: count_copies(op, value, r.eigenvectors[:, 0], which, tol=tol, maxiter=maxiter, seed=seed)
                      for name, op, r, value, which in (("J", lin.J(), rj, complex(lam[0]), "LR"),
                                                        ("M", lin.M(eps), rm, complex(mu[0]), "LM"))}
        problems += [f"{name}: {len(r.eigenvalues) - r.nconv} of {len(r.eigenvalues)} eigenvalues "
                     f"(max residual {float(r.residuals.max()):.1e} after {r.restarts} restarts)"
                     for name, r in (("J", rj), ("M", rm)) if not r.converged]
    else:
        search = "shift-invert"
        rj = rm = eigs_shift_invert(lin, sigma, k=k, tol=tol, ncv=ncv, maxiter=maxiter, seed=seed,
                                    return_eigenvectors=vectors, gmres_restart=gmres_restart,
                                    gmres_maxiter=gmres_maxiter)
        lam = rj.eigenvalues.numpy()
        order = np.lexsort((-(1 + eps * lam).imag, -np.abs(1 + eps * lam)))
        mu, res_M = 1 + eps * lam[order], eps * rj.residuals.numpy()[order]
        vec_M = rj.eigenvectors[:, torch.as_tensor(order)] if vectors else None
        problems += [f"J: {rj.problems}"] if rj.problems else []
        min_crit, crit_settled = min_eps_crit(lin, lam, mu, eps, k, tol=tol, seed=seed, rounds=0)  # M is not searched
    m = max(len(lam), len(mu))
    nan = complex(np.nan, np.nan)
    mult_J = copies_found(lam)
    if "J" in copies:  # the deflation count of the leading eigenvalue (and its conjugate)
        lead = np.abs(lam - lam[0]) <= 1e-6 * max(abs(lam[0]), 1.0)
        lead |= np.abs(lam - np.conj(lam[0])) <= 1e-6 * max(abs(lam[0]), 1.0)
        mult_J[lead] = copies["J"][0]
    crit = eps_crit(lam)
    scale = float(np.abs(np.concatenate([lam, (mu - 1) / eps])).max())
    floor = torch.finfo(field.dtype).eps
    u_J = eigen_uncertainty(rj.residuals.numpy(), force_res, scale, floor)
    u_M = eigen_uncertainty(np.asarray(res_M) / eps, force_res, scale, floor) * eps
    verdict, text = stability_verdict(lam, mu, eps, min_crit, u_J, u_M)
    if not fp_attrs.get("fixed_point_converged", 1):
        verdict, text = UNCONVERGED, (f"not converged: {'; '.join(problems)} — no stability verdict: the "
                                      "eigenvalues are of J at a state that is not a fixed point")
    elif problems:
        verdict, text = UNCONVERGED, f"not converged: {'; '.join(problems)} — unusable as is (tentative: {text})"
    data = {
        "eig_J": ("mode", _pad(lam, m, nan), {"long_name": "eigenvalues of J, rightmost first"}),
        "residual_J": ("mode", _pad(rj.residuals.numpy(), m, np.nan), {"long_name": "||Jx - lambda x||/||x||"}),
        "uncertainty_J": ("mode", _pad(u_J, m, np.nan),
                          {"long_name": "uncertainty of lambda: residual_J + 10 force_residual + round-off",
                           "units": "per unit time"}),
        "eps_crit": ("mode", _pad(crit, m, np.nan), {"long_name": "-2a/(a^2+b^2) for a<0, else 0"}),
        "mu_of_J": ("mode", _pad(1 + eps * lam, m, nan), {"long_name": "1 + eps*lambda"}),
        "complex_J": ("mode", _pad(is_complex(lam), m, False)),
        "multiplicity_J": ("mode", _pad(mult_J, m, 0),
                           {"long_name": "copies of this eigenvalue found (lower bound of its multiplicity; "
                                         "by deflation for the leading one if asked)"}),
        "eig_M": ("mode", _pad(mu, m, nan), {"long_name": "eigenvalues of M = I + eps J, largest modulus first"}),
        "residual_M": ("mode", _pad(res_M, m, np.nan), {"long_name": "||Mx - mu x||/||x||"}),
        "uncertainty_M": ("mode", _pad(u_M, m, np.nan),
                          {"long_name": "uncertainty of mu: residual_M + eps (10 force_residual + round-off)"}),
        "lambda_of_M": ("mode", _pad((mu - 1) / eps, m, nan), {"long_name": "(mu - 1)/eps"}),
        "complex_M": ("mode", _pad(is_complex(mu), m, False)),
        "n_unstable_J": ((), int((lam.real > 0).sum())),
        "n_unstable_M": ((), int((np.abs(mu) > 1).sum())),
        "max_abs_mu": ((), float(np.abs(mu).max())),
        "leading_re_J": ((), float(lam.real.max())),
        "min_eps_crit": ((), min_crit, {"long_name": "smallest eps_crit = -2a/|lambda|^2 over all modes",
                                        "settled": int(crit_settled)}),
    }
    if by_sequence is not None:
        data.update({
            "sequence_J": ("mode", _pad(by_sequence.sequence_J, m, -1), {"long_name": "sequence of eig_J's mode"}),
            "sequence_M": ("mode", _pad(by_sequence.sequence_M, m, -1), {"long_name": "sequence of eig_M's mode"}),
            "max_abs_mu_seq": ("sequence", by_sequence.max_abs_mu_seq,
                               {"long_name": "largest |mu| of M among the sequence's own modes"}),
            "leading_re_J_seq": ("sequence", by_sequence.leading_re_J_seq,
                                 {"long_name": "rightmost Re lambda of J among the sequence's own modes"}),
        })
    if vectors:
        data["vec_J"] = (("mode", "state_index"), _pad_rows(rj.eigenvectors, m))
        data["vec_M"] = (("mode", "state_index"), _pad_rows(vec_M, m))
    matvecs_M = rm.matvecs if search == "separate" else 0  # shared / shift-invert: one search did both
    settings = {"k": k, "tol": tol, "ncv": rj.ncv, "seed": seed, "search": search, "search_start": start,
                "matvecs_search": rj.matvecs + matvecs_M, "matvecs_J": rj.matvecs, "matvecs_M": matvecs_M,
                "converged_J": int(rj.converged), "converged_M": int(rm.converged),
                "restarts_J": rj.restarts, "restarts_M": rm.restarts, "diagnostics": diagnostics,
                "converged": int(not problems), "not_converged": "; ".join(problems),
                "gmres_restart": gmres_restart, "gmres_maxiter": gmres_maxiter,
                "preconditioned": int(field.precondition is not None)}
    if by_sequence is not None:
        settings.update(blocks=blocks, matvecs_per_sequence=by_sequence.matvecs_per_sequence,
                        worst_sequence=int(np.argmax(by_sequence.max_abs_mu_seq)))
    if copies:
        settings.update(leading_multiplicity_J=copies["J"][0], leading_multiplicity_M=copies["M"][0],
                        matvecs_multiplicity=copies["J"][1] + copies["M"][1])
    if sigma is not None:
        settings.update(sigma=float(sigma), inner_solves=rj.inner_solves,
                        inner_unconverged=rj.inner_unconverged, m_search=SHIFT_INVERT_NOTE)
    if diagnostics != "none":
        nn = nonnormality(lin, eps, mode=diagnostics, space=space, probes=probes,
                          growth_steps=growth_steps, seed=seed, max_abs_mu=float(np.abs(mu).max()))
        for key, val in nn.as_dict().items():
            if key == "matvecs":
                settings["matvecs_nonnormality"] = val
            elif key == "converged":
                settings["converged_nonnormality"] = int(val)
            elif key == "skipped":
                settings["nonnormality_skipped"] = val
            else:
                data[key] = ((), val)
        settings["nonnormality_tol"] = MODES[diagnostics]
    leading = lam[np.argmax(lam.real)]
    attrs = provenance(
        field, analysis="spectrum", verdict=verdict, verdict_text=text, eps=eps,
        leading_kind="complex pair" if is_complex(leading) else "real",
        force_residual=force_res, step_residual=step_res, residual_kind=RESIDUAL_KIND,
        **fp_attrs, **settings,
    )
    coords = {"mode": np.arange(m)} if by_sequence is None else {"mode": np.arange(m), "sequence": np.arange(blocks)}
    return xr.Dataset(data, coords=coords, attrs=attrs)


START_KINDS = ("newton ritz vectors", "relaxation error", "random", "given")


def start_vector(fp) -> tuple[torch.Tensor | None, str]:
    """(start vector, which of :data:`START_KINDS`) of the search at the fixed point ``fp`` found:
    the sum of the rightmost Ritz vectors of Newton's last GMRES space (``fp.slow_modes``), else
    the error the relaxation left for Newton to remove, ``z* − z_relaxed``; both rich in the
    wanted (rightmost, slowest) modes. (None, 'random') without either."""
    for d, kind in ((fp.slow_modes, START_KINDS[0]),
                    (None if fp.polished_from is None else fp.z - fp.polished_from, START_KINDS[1])):
        if d is not None and bool(torch.isfinite(d).all()) and bool(d.abs().max() > 0):
            return d.reshape(-1), kind
    return None, START_KINDS[2]


def _shared_search(lin, k, eps, tol, ncv, maxiter, seed, vectors, want_space, v0=None):
    """J (LR), M (largest |1 + ελ|) and the smallest ε_crit from one Krylov–Schur search on J,
    started from ``v0`` (random when None)."""
    res = eigs_shared(lin.J(), {"J": ("LR", k), "M": (lambda lam: np.abs(1 + eps * lam), k),
                                "eps_crit": (crit_key, 1)},
                      tol=tol, ncv=ncv, maxiter=maxiter, v0=v0, seed=seed, return_eigenvectors=vectors,
                      return_space=want_space)
    rj, rm, rc = res.results["J"], res.results["M"], res.results["eps_crit"]
    every = np.concatenate([r.eigenvalues.numpy() for r in (rj, rm, rc)])
    min_crit = smallest_eps_crit(every)
    settled = rj.converged and rm.converged and rc.converged
    return rj, rm, 1 + eps * rm.eigenvalues.numpy(), eps * rm.residuals.numpy(), min_crit, settled, res.space


def _separate_searches(lin, k, eps, tol, ncv, maxiter, seed, vectors, refine):
    """Independent LR search of J and LM search of M, ε_crit refined by extra LM searches."""
    rj = leading_eigs(lin.J(), k=k, which="LR", tol=tol, ncv=ncv, maxiter=maxiter, seed=seed, return_eigenvectors=vectors)
    rm = leading_eigs(lin.M(eps), k=k, which="LM", tol=tol, ncv=ncv, maxiter=maxiter, seed=seed + 1,
              return_eigenvectors=vectors)
    lam, mu = rj.eigenvalues.numpy(), rm.eigenvalues.numpy()
    min_crit, settled = min_eps_crit(lin, lam, mu, eps, k, tol=tol, seed=seed, rounds=refine)
    return rj, rm, mu, rm.residuals.numpy(), min_crit, settled


def min_eps_crit(lin: Linearization, lam: np.ndarray, mu: np.ndarray, eps: float, k: int, *,
                 tol: float = 1e-8, seed: int = 0, rounds: int = 3) -> tuple[float, bool]:
    """The smallest ε_crit over *all* modes, not only those the searches at ε happened to rank:
    the one ε_crit every command, monitor and figure reports.

    ``lam``: rightmost eigenvalues of J; ``mu``: largest multipliers of M = I + εJ at ``eps``. The
    first candidate is the smallest positive ε_crit of λ and of (μ − 1)/ε.

    A stiff mode (large |λ|) limits ε_crit without being among the rightmost λ or the largest |μ|
    at a small ε. Fixed-point iteration: at ε = candidate, every |1 + ελ| ≤ 1 iff ε ≤ min ε_crit;
    so an LM search of M(candidate) either shows max|μ| ≤ 1 (the candidate is the minimum:
    settled) or finds modes with |μ| > 1, whose smaller ε_crit is the next candidate. Returns
    (estimate, settled). A continuous-unstable spectrum (some Re λ ≥ 0) has ε_crit = 0.
    """
    candidate = min_positive(np.concatenate([eps_crit(lam), eps_crit((np.asarray(mu) - 1) / eps)]))
    if (np.asarray(lam).real >= 0).any() or candidate <= 0:
        return 0.0, True
    for i in range(rounds):
        res = leading_eigs(lin.M(candidate), k=k, which="LM", tol=tol, seed=seed + 2 + i)
        mu = res.eigenvalues.numpy()
        if np.abs(mu).max() <= 1 + 1e-8:
            return candidate, True
        candidate = min(candidate, min_positive(eps_crit((mu - 1) / candidate)))
    return candidate, rounds == 0


def _pad_rows(vecs: torch.Tensor, m: int) -> np.ndarray:
    v = vecs.detach().cpu().numpy().T.astype(np.complex128)
    out = np.full((m, v.shape[1]), complex(np.nan, np.nan))
    out[: v.shape[0]] = v
    return out
