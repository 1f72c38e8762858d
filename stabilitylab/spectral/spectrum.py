"""Leading spectra of J and of the Euler map M = I + εJ at a fixed point, as an xarray Dataset.

Two independent Krylov–Schur searches on the same linearisation: the rightmost eigenvalues of J
(``LR``) and the largest-modulus multipliers of M (``LM``). The second is not redundant: a stiff
mode with ελ < −2 is a flip instability (μ < −1) that the rightmost-J search ranks last.
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
from .euler import eps_crit, is_complex, stability_verdict
from .dense import DENSE_MAX_N, leading_eigs
from .nonnormal import nonnormality

RESIDUAL_KIND = "force_residual = ||F(z)||/||z||; step_residual = ||eps F(z)||/||z||"


def _pad(x: np.ndarray, m: int, fill) -> np.ndarray:
    out = np.full(m, fill, dtype=x.dtype)
    out[: len(x)] = x
    return out


def spectrum(field: Field, k: int = 8, eps: float = 0.1, z: torch.Tensor | None = None, *,
             tol: float = 1e-8, ncv: int | None = None, maxiter: int | None = None, seed: int = 0,
             vectors: bool = False, fixed_point_tol: float = 1e-9, relax_steps: int = 300,
             diagnostics: bool = True, probes: int = 4, growth_steps: int = 100,
             refine_eps_crit: int = 3) -> xr.Dataset:
    """Spectra of J (LR) and M = I + εJ (LM) at the fixed point of ``field`` (or at ``z``).

    Finds the fixed point with :func:`~stabilitylab.solvers.find_fixed_point` when ``z`` is None
    (Euler relaxation, then Newton–Krylov: unstable fixed points are found too). Data variables on
    dim ``mode``: ``eig_J``, ``residual_J``, ``eps_crit`` (−2a/(a²+b²), 0 for a ≥ 0), ``mu_of_J`` =
    1 + ελ, ``eig_M``, ``residual_M``, ``lambda_of_M`` = (μ − 1)/ε, ``complex_J``/``complex_M``;
    scalars: unstable counts, ``max_abs_mu``, ``min_eps_crit`` (refined by up to
    ``refine_eps_crit`` extra LM searches, see :func:`min_eps_crit`) and (``diagnostics``) the
    non-normality measures of :mod:`~stabilitylab.spectral.nonnormal`. Attributes: ε, the verdict,
    the fixed point's force and step residuals, solver settings and provenance.
    """
    if eps <= 0:
        raise StabilityLabError(f"eps must be > 0, got {eps}")
    if k < 1 or (field.n > DENSE_MAX_N and k > field.n - 2):
        raise StabilityLabError(f"k={k} wanted eigenvalues: need 1 ≤ k ≤ n − 2 = {field.n - 2} for this state")
    k = min(k, field.n)  # a tiny state has n eigenvalues, all exact (dense path of leading_eigs)
    fp_attrs = {}
    if z is None:
        # float32 round-off floors the force residual near 1e-7: never ask for less than 10 ulp
        fp_tol = max(fixed_point_tol, 10 * torch.finfo(field.dtype).eps)
        fp = find_fixed_point(field, eps=eps, tol=fp_tol, relax_steps=relax_steps)
        z = fp.z
        fp_attrs = {"fixed_point_converged": int(fp.converged), "fixed_point_reason": fp.reason,
                    "fixed_point_solver": fp.solver}
    force_res, step_res = field.residuals(z, eps)
    if not math.isfinite(force_res):
        raise StabilityLabError("the state is not finite (relaxation diverged); no spectrum can be computed")
    lin = Linearization(field, z)
    J, M = lin.J(), lin.M(eps)
    rj = leading_eigs(J, k=k, which="LR", tol=tol, ncv=ncv, maxiter=maxiter, seed=seed, return_eigenvectors=vectors)
    rm = leading_eigs(M, k=k, which="LM", tol=tol, ncv=ncv, maxiter=maxiter, seed=seed + 1, return_eigenvectors=vectors)
    lam = rj.eigenvalues.numpy()
    mu = rm.eigenvalues.numpy()
    m = max(len(lam), len(mu))
    nan = complex(np.nan, np.nan)
    crit = eps_crit(lam)
    min_crit, crit_settled = min_eps_crit(lin, lam, mu, eps, k, tol=tol, seed=seed, rounds=refine_eps_crit)
    verdict, text = stability_verdict(lam, mu, eps, min_crit)
    data = {
        "eig_J": ("mode", _pad(lam, m, nan), {"long_name": "eigenvalues of J, rightmost first"}),
        "residual_J": ("mode", _pad(rj.residuals.numpy(), m, np.nan), {"long_name": "||Jx - lambda x||/||x||"}),
        "eps_crit": ("mode", _pad(crit, m, np.nan), {"long_name": "-2a/(a^2+b^2) for a<0, else 0"}),
        "mu_of_J": ("mode", _pad(1 + eps * lam, m, nan), {"long_name": "1 + eps*lambda"}),
        "complex_J": ("mode", _pad(is_complex(lam), m, False)),
        "eig_M": ("mode", _pad(mu, m, nan), {"long_name": "eigenvalues of M = I + eps J, largest modulus first"}),
        "residual_M": ("mode", _pad(rm.residuals.numpy(), m, np.nan), {"long_name": "||Mx - mu x||/||x||"}),
        "lambda_of_M": ("mode", _pad((mu - 1) / eps, m, nan), {"long_name": "(mu - 1)/eps"}),
        "complex_M": ("mode", _pad(is_complex(mu), m, False)),
        "n_unstable_J": ((), int((lam.real > 0).sum())),
        "n_unstable_M": ((), int((np.abs(mu) > 1).sum())),
        "max_abs_mu": ((), float(np.abs(mu).max())),
        "leading_re_J": ((), float(lam.real.max())),
        "min_eps_crit": ((), min_crit, {"long_name": "smallest eps_crit = -2a/|lambda|^2 over all modes",
                                        "settled": int(crit_settled)}),
    }
    if vectors:
        data["vec_J"] = (("mode", "state_index"), _pad_rows(rj.eigenvectors, m))
        data["vec_M"] = (("mode", "state_index"), _pad_rows(rm.eigenvectors, m))
    settings = {"k": k, "tol": tol, "ncv": rj.ncv, "seed": seed, "matvecs_J": rj.matvecs,
                "matvecs_M": rm.matvecs, "converged_J": int(rj.converged), "converged_M": int(rm.converged),
                "restarts_J": rj.restarts, "restarts_M": rm.restarts}
    if diagnostics:
        nn = nonnormality(lin, eps, probes=probes, growth_steps=growth_steps, seed=seed)
        for key, val in nn.as_dict().items():
            if key == "matvecs":
                settings["matvecs_nonnormality"] = val
            else:
                data[key] = ((), val)
    leading = lam[np.argmax(lam.real)]
    attrs = provenance(
        field, analysis="spectrum", verdict=verdict, verdict_text=text, eps=eps,
        leading_kind="complex pair" if is_complex(leading) else "real",
        force_residual=force_res, step_residual=step_res, residual_kind=RESIDUAL_KIND,
        **fp_attrs, **settings,
    )
    return xr.Dataset(data, coords={"mode": np.arange(m)}, attrs=attrs)


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
    candidate = _min_positive(np.concatenate([eps_crit(lam), eps_crit((np.asarray(mu) - 1) / eps)]))
    if (np.asarray(lam).real >= 0).any() or candidate <= 0:
        return 0.0, True
    for i in range(rounds):
        res = leading_eigs(lin.M(candidate), k=k, which="LM", tol=tol, seed=seed + 2 + i)
        mu = res.eigenvalues.numpy()
        if np.abs(mu).max() <= 1 + 1e-8:
            return candidate, True
        candidate = min(candidate, _min_positive(eps_crit((mu - 1) / candidate)))
    return candidate, rounds == 0


def _min_positive(x: np.ndarray) -> float:
    return float(x[x > 0].min()) if (x > 0).any() else 0.0


def _pad_rows(vecs: torch.Tensor, m: int) -> np.ndarray:
    v = vecs.detach().cpu().numpy().T.astype(np.complex128)
    out = np.full((m, v.shape[1]), complex(np.nan, np.nan))
    out[: v.shape[0]] = v
    return out
