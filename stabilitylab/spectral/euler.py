"""Continuous spectrum ↔ Euler-map spectrum: multipliers, ε_crit, instability kinds.

For an eigenvalue λ = a + ib of J the Euler map z ← z + εF(z) has multiplier μ = 1 + ελ; the map
is stable iff every |μ| < 1. For a < 0 the mode is map-stable iff ε < ε_crit = −2a/(a² + b²);
for a ≥ 0 no ε is stable (ε_crit = 0).
"""
from __future__ import annotations

import numpy as np

#: verdicts of :func:`stability_verdict`
STABLE = "stable"
CONTINUOUS_UNSTABLE = "continuous-unstable"
DISCRETISATION_ONLY = "discretisation-only-unstable"
MARGINAL = "marginal"  # on the boundary within the eigenvalues' uncertainty (or a null space)
UNCONVERGED = "unconverged"  # some number the verdict rests on did not converge: no verdict

#: an eigenvalue of J at a state with force residual r (a rate, like λ) is known to about
#: FIXED_POINT_FACTOR · r: the state is ~J⁻¹F from the fixed point and J varies on the scale of the
#: state, so eigenvalues near the boundary move by O(r) (a continuum of fixed points: exactly ∝ r)
FIXED_POINT_FACTOR = 10.0


def eigen_uncertainty(residuals, force_residual: float, scale: float, dtype_eps: float) -> np.ndarray:
    """Uncertainty of each eigenvalue of J: its residual ‖Jx − λx‖ (backward error), plus
    :data:`FIXED_POINT_FACTOR` × the fixed point's force residual, plus the round-off floor
    100 · ulp · ``scale`` (``scale``: the largest |λ| found)."""
    res = np.nan_to_num(np.asarray(residuals, dtype=float), nan=0.0)
    return res + FIXED_POINT_FACTOR * max(force_residual, 0.0) + 100 * dtype_eps * max(scale, 1e-300)


def multiplier(lam, eps: float):
    """μ = 1 + ελ (elementwise)."""
    return 1.0 + eps * np.asarray(lam, dtype=complex)


def eps_crit(lam):
    """ε_crit(λ) = −2a/(a² + b²) for a < 0, else 0 (elementwise, λ = a + ib)."""
    lam = np.asarray(lam, dtype=complex)
    a, m2 = lam.real, np.abs(lam) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a < 0, -2.0 * a / np.where(m2 > 0, m2, 1.0), 0.0)
    return out


def crit_key(lam: np.ndarray) -> np.ndarray:
    """Ranking key for the smallest ε_crit(λ) first: modes with Re λ ≥ 0 (ε_crit = 0) above all,
    ordered by Re λ, then ε_crit ascending; continuous, so no ties among distinct modes."""
    a = lam.real
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_crit = np.abs(lam) ** 2 / np.where(a < 0, -2 * a, 1.0)
    return np.where(a < 0, 2 / np.pi * np.arctan(inv_crit), 1 + a / (1 + np.abs(a)))


def min_positive(x: np.ndarray) -> float:
    """The smallest positive entry of ``x`` (0 when there is none)."""
    return float(x[x > 0].min()) if (x > 0).any() else 0.0


def smallest_eps_crit(lam) -> float:
    """The smallest ε_crit over the modes ``lam`` found: 0 when one has Re λ ≥ 0 (no ε is stable)."""
    lam = np.asarray(lam)
    return 0.0 if (lam.real >= 0).any() else min_positive(eps_crit(lam))


def is_complex(lam, rtol: float = 1e-8) -> np.ndarray:
    """True where λ is a genuinely complex eigenvalue (|Im λ| > rtol·max(|λ|, 1))."""
    lam = np.asarray(lam, dtype=complex)
    return np.abs(lam.imag) > rtol * np.maximum(np.abs(lam), 1.0)


def map_instability_kind(mu, rtol: float = 1e-8) -> str:
    """How a multiplier leaves the unit circle: complex → 'neimark_sacker', real μ>0 → 'fold'
    (through +1), real μ<0 → 'flip' (through −1)."""
    mu = complex(mu)
    if is_complex(mu, rtol):
        return "neimark_sacker"
    return "fold" if mu.real > 0 else "flip"


def modulus_text(m: float, digits: int = 4) -> str:
    """``m`` (a modulus compared with 1) to ``digits`` significant digits, written 1−δ / 1+δ when it
    would round to 1, so that no text reads "max|μ|=1<1"."""
    text = f"{m:.{digits}g}"
    if m != 1.0 and float(text) == 1.0:
        return f"1{'-' if m < 1 else '+'}{abs(m - 1):.2g}"
    return text


def stability_verdict(eig_J, eig_M, eps: float, min_eps_crit: float | None = None,
                      uncertainty_J=None, uncertainty_M=None) -> tuple[str, str]:
    """(verdict, one-line explanation) from leading eigenvalues of J and of M = I + εJ.

    continuous-unstable: some Re λ > 0 beyond its uncertainty (no ε helps); marginal: the leading
    Re λ within its uncertainty of 0 (a zero eigenvalue: a null space — a continuum of fixed points
    or a symmetry; a complex pair: on the Hopf boundary), or, with Re λ < 0, the largest |μ| within
    its uncertainty of 1; discretisation-only-unstable: all Re λ < 0 but some |μ| > 1 (a smaller ε
    restores stability: ε < min ε_crit); otherwise stable. ``uncertainty_J``/``uncertainty_M``: per
    eigenvalue (:func:`eigen_uncertainty`; default 0). ``min_eps_crit``: the smallest ε_crit over all
    modes when known (else over the given modes).
    """
    eig_J = np.asarray(eig_J, dtype=complex)
    eig_M = np.asarray(eig_M, dtype=complex)
    u_J = np.zeros(eig_J.shape) if uncertainty_J is None else np.asarray(uncertainty_J, dtype=float)
    u_M = np.zeros(eig_M.shape) if uncertainty_M is None else np.asarray(uncertainty_M, dtype=float)
    i_lead = int(np.argmax(eig_J.real)) if eig_J.size else None
    lead = eig_J[i_lead] if eig_J.size else 0j
    u_lead = float(u_J[i_lead]) if eig_J.size else 0.0
    kind = "complex pair" if is_complex(lead) else "real mode"
    # the M search may see stiff modes (ελ < −2) the rightmost-J search ranks last: λ = (μ − 1)/ε
    crit = eps_crit(np.concatenate([eig_J, (eig_M - 1.0) / eps]))
    pos = crit[crit > 0]
    emin = float(pos.min()) if pos.size else 0.0
    if min_eps_crit is not None:
        emin = min_eps_crit
    i_mu = int(np.argmax(np.abs(eig_M))) if eig_M.size else None
    mu_max = float(np.abs(eig_M[i_mu])) if eig_M.size else 0.0
    u_mu = float(u_M[i_mu]) if eig_M.size else 0.0
    if lead.real > u_lead:
        return CONTINUOUS_UNSTABLE, (f"{kind}, Re λ={lead.real:.3g}>0: the fixed point is unstable for "
                                     "every ε (continuous-time instability)")
    if abs(lead.real) <= u_lead:
        what = ("on the Hopf boundary" if is_complex(lead) else
                "a zero eigenvalue: a null space (a continuum of fixed points or a symmetry)")
        return MARGINAL, (f"{kind}, Re λ={lead.real:.3g} lies within its uncertainty ±{u_lead:.2g} of 0: "
                          f"marginal, {what}")
    mu_lead = eig_M[i_mu] if eig_M.size else 0j
    how = map_instability_kind(mu_lead).replace("_", "–")
    if mu_max - 1 > u_mu:
        return DISCRETISATION_ONLY, (f"{kind}, Re λ<0, Euler-unstable at ε={eps:g} (max|μ|={modulus_text(mu_max)}, "
                                     f"{how}; ε_crit={emin:.3g}): discretisation-only instability")
    if abs(mu_max - 1) <= u_mu:
        return MARGINAL, (f"{kind}, Re λ<0, max|μ|={modulus_text(mu_max)} lies within its uncertainty "
                          f"±{u_mu:.2g} of 1 at ε={eps:g}: marginal, on the Euler-map ({how}) boundary "
                          f"(ε_crit={emin:.3g})")
    return STABLE, (f"{kind}, Re λ={lead.real:.3g}<0 and max|μ|={modulus_text(mu_max)}<1 at ε={eps:g}: stable "
                    f"(ε_crit={emin:.3g})")
