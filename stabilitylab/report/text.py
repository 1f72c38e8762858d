"""Words and numbers of the report: display names and the one number format every page uses."""
from __future__ import annotations

import math

import numpy as np

KIND_NAMES = {"fixed_point": "fixed point", "limit_cycle": "limit cycle", "quasi_periodic": "quasi-periodic",
              "chaotic": "chaotic", "diverged": "diverged"}
ESTIMATOR_NAMES = {"bptt": "BPTT", "implicit": "implicit (exact)", "naive": "naive EP", "aep": "AEP",
                   "aep_track": "tracking AEP"}
RULE_NAMES = {"ep": "EP", "bptt": "BPTT", "ep+jacreg": "EP + Jacobian penalty", "ep-ungated": "EP without the gate"}
KNOB_SYMBOLS = {"alpha": "α", "c": "c", "ffn_scale": "FFN scale"}
TARGET_NAMES = {"attn": "attention", "ffn": "the FFN", "c": "the damping c"}


def num(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits ('–' for None/NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{float(x):.{digits}g}"


def eig(lam, digits: int = 3) -> str:
    """A complex eigenvalue as ``a ± bi`` (a pair's upper member), a real one as ``a``."""
    lam = complex(lam)
    if not np.isfinite(lam):
        return "–"
    if abs(lam.imag) <= 1e-8 * max(abs(lam), 1.0):
        return num(lam.real, digits)
    return f"{num(lam.real, digits)} ± {num(abs(lam.imag), digits)}i"


def nonnormality(ds) -> str:
    """The non-normality measures of a spectrum dataset as one phrase. The transient growth
    max‖Mᵏv‖ is only meaningful for a map with max|μ| ≤ 1 (else it grows without bound, like
    max|μ|ᵏ), and ρ(S⁻¹A) has a bound only when ω(J) < 0. A growth whose last residual missed the
    diagnostics' tolerance (the ``fast`` budget ran out) is shown as the lower bound it is."""
    rho, norm_A = float(ds["rho_bound"]), float(ds["norm_A"])
    certified = float(ds.get("transient_growth_residual", 0.0)) <= ds.attrs.get("nonnormality_tol", math.inf)
    growth = (f"transient growth max‖Mᵏv‖ {'=' if certified else '≥'} {num(float(ds['transient_growth']))} "
              f"at k = {int(ds['transient_growth_step'])}" + ("" if certified else " (a lower bound: not certified)")
              if float(ds["max_abs_mu"]) <= 1 else
              "no transient-growth bound: ‖Mᵏ‖ grows without bound (max|μ| > 1)")
    return (f"‖Av‖/‖Jv‖ = {num(float(ds['antisymmetry_ratio']))}, numerical abscissa ω(J) = "
            f"{num(float(ds['numerical_abscissa']))}, "
            + ("" if math.isnan(norm_A) else f"‖A‖ = {num(norm_A)}, ")
            + (f"ρ(S⁻¹A) ≤ {num(rho)}" if math.isfinite(rho) else "no bound on ρ(S⁻¹A) (ω(J) ≥ 0)")
            + f", {growth}")


def knob(name: str) -> str:
    """Display name of a field knob (``head_3`` → 'head 3 gain')."""
    if name.startswith("head_"):
        return f"head {name[5:]} gain"
    return KNOB_SYMBOLS.get(name, name)


def knob_label(name: str) -> str:
    """A knob in a sentence ('attention scale α')."""
    return "attention scale α" if name == "alpha" else knob(name)


def values(xs, digits: int = 3) -> str:
    """A short list of numbers: '1, 0.5, 0'."""
    return ", ".join(num(x, digits) for x in xs)
