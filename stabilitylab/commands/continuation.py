"""``stabilitylab continuation``: follow the fixed point in a knob and locate its bifurcations."""
from __future__ import annotations

import math
import sys

import click

from ..errors import StabilityLabError
from ..continuation.options import ContinuationOptions
from .settings import options_from
from .common import (EXIT_UNCONVERGED, check_k, console, eps_option, field_options, finish, fmt, out_option,
                     resolve_eps, resolve_field, table, user_errors)

DEFAULT_PARAM, DEFAULT_RANGE = "alpha", "0.2:1.0"
MAX_ROWS = 60
#: the ContinuationOptions fields that are options of the command (defaults and help from the dataclass)
CLI_OPTIONS = ("ds", "ds_min", "ds_max", "ds_far", "method", "k", "max_points", "sigma", "search", "relax_steps",
               "gmres_restart", "gmres_maxiter", "eig_maxiter", "max_window")


def parse_range(text: str, option: str, descending: bool) -> tuple[float, float]:
    """``"A:B"`` → (A, B): continue from A to B (A > B only with ``--descending``)."""
    a, sep, b = str(text).partition(":")
    if not sep:
        raise StabilityLabError(f"{option} expects START:END, e.g. {DEFAULT_RANGE}; got {text!r}")
    try:
        lo, hi = float(a), float(b)
    except ValueError:
        raise StabilityLabError(f"{option} {text!r}: START and END must be numbers") from None
    if lo == hi:
        raise StabilityLabError(f"{option} {text!r} is an empty range")
    if lo > hi and not descending:
        raise StabilityLabError(f"{option} {text!r} runs downward; add --descending to continue from "
                                f"{lo:g} down to {hi:g}")
    if lo < hi and descending:
        raise StabilityLabError(f"--descending needs START > END, got {option} {text!r}")
    return lo, hi


def _range(param: str, alpha: str | None, generic: str | None, descending: bool) -> tuple[float, float]:
    if alpha is not None and generic is not None:
        raise StabilityLabError("give the range once: --alpha A:B or --range A:B")
    if alpha is not None and param != DEFAULT_PARAM:
        raise StabilityLabError(f"--alpha is the range of alpha; for --param {param} use --range A:B")
    if alpha is None and generic is None:
        if param != DEFAULT_PARAM:
            raise StabilityLabError(f"give the range of {param} with --range A:B")
        alpha = DEFAULT_RANGE
    return parse_range(alpha if alpha is not None else generic,
                       "--alpha" if alpha is not None else "--range", descending)


def _stability(n: int) -> str:
    return "stable" if n == 0 else f"UNSTABLE({n})"


def _rows(branch) -> list:
    pts = branch.points
    events = {}
    for sp in branch.specials:
        events.setdefault(sp.point, []).append(f"{sp.kind}({sp.operator})")
    keep = set(range(0, len(pts), max(1, -(-len(pts) // MAX_ROWS)))) | {len(pts) - 1}
    keep |= set(events) | {i + 1 for i in events if i + 1 < len(pts)}
    rows = []
    for i in sorted(keep):
        pt = pts[i]
        lead = complex(pt.eig_J[0]) if len(pt.eig_J) else None
        top = complex(pt.eig_M[int(abs(pt.eig_M).argmax())]) if len(pt.eig_M) else None  # M's leading mode
        rows.append((str(i), f"{pt.param:.6g}", fmt(pt.state_norm), fmt(pt.force_residual, 2),
                     str(pt.newton_iters), fmt(lead), fmt(top, 4), fmt(None if top is None else abs(top), 5),
                     _stability(pt.n_unstable_J), _stability(pt.n_unstable_M), " ".join(events.get(i, []))))
    return rows


def at_precision(value: float, precision: float) -> str:
    """``value`` with the decimals its ``precision`` supports (one guard digit; 10 significant digits
    when the precision is unknown): a Hopf at 1e-16 with precision 1e-9 reads 0."""
    if not (precision > 0 and math.isfinite(precision)):
        return f"{value:.10g}"
    decimals = min(15, max(0, math.ceil(-math.log10(precision)) + 1))
    text = f"{round(value, decimals):.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _special_rows(branch) -> list:
    rows = []
    for i, sp in enumerate(branch.specials):
        freq = f"{sp.frequency:.6g}" + (" (Im λ)" if sp.operator == "J" else " rad/step (arg μ)")
        copies = f" ×{sp.multiplicity}" if sp.multiplicity > 1 else ""
        rows.append((str(i), sp.kind + copies, sp.operator, at_precision(sp.param, sp.precision), fmt(sp.eig, 6), freq,
                     f"{sp.precision:.1e}", fmt(sp.l1, 4), sp.criticality or "-"))
    return rows


def _unconverged(branch) -> str:
    """'not converged: ...' naming the points whose eigenvalues did not converge ('' if none)."""
    bad = [i for i, pt in enumerate(branch.points) if not pt.eig_converged]
    full = [i for i, pt in enumerate(branch.points) if pt.window_full]
    out = []
    if bad:
        out.append(f"eigenvalues at {len(bad)} of {len(branch.points)} points (first: point {bad[0]}); "
                   "counts and events there are unreliable (raise --eig-maxiter, or try --sigma)")
    if full:
        out.append(f"the eigen-window was full at {len(full)} points (unstable counts are lower bounds; "
                   "raise --max-window)")
    return "; ".join(out)


@click.command("continuation")
@field_options
@click.option("--param", default=DEFAULT_PARAM, show_default=True,
              help="The knob to continue in (alpha, c, ffn_scale, head_3, or a --field's knob).")
@click.option("--alpha", "alpha_range", default=None, metavar="A:B",
              help=f"Range of alpha, continued from A to B (default {DEFAULT_RANGE} when --param is alpha).")
@click.option("--range", "generic_range", default=None, metavar="A:B",
              help="Range of the --param knob, continued from A to B.")
@click.option("--descending", is_flag=True, help="Allow a range that runs downward (A > B).")
@eps_option("Euler step ε of the map M = I + εJ analysed along the branch.")
@click.option("--tol", default=None, type=float,
              help="Newton tolerance on the force residual ||F||/max(||z||,1) (default 1e-9, float32: 2e-5).")
@options_from(ContinuationOptions, CLI_OPTIONS)
@out_option("cont.zarr", resumable=("alpha_range", "generic_range", "max_points"))
@user_errors
def command(ckpt, field_spec, config_text, data, split, batch_seed, batch_size, device, dtype, knobs,
            param, alpha_range, generic_range, descending, eps, tol, out, **chosen):
    """Continue the fixed point z*(p) of F(z; p) = 0 in a knob p, tracking the leading eigenvalues
    of J and of the Euler map M = I + eps*J, and locate where stability is lost: hopf / fold /
    branch_point (J: Re lambda through 0), neimark_sacker / flip / fold (M: |mu| through 1).

    Every point is appended to --out as it is computed; running again with the same --out resumes
    an interrupted run. A bifurcation diagram PNG is saved next to the dataset. Points whose
    eigenvalues did not converge are named ("not converged: ...") and make the exit status 3.
    """
    from ..continuation import ContinuationOptions, ContinuationProblem, continuation, resume
    from ..continuation.diagram import figure
    from .. import events
    from ..report import verdict

    p_start, p_end = _range(param, alpha_range, generic_range, descending)
    if tol is None:
        tol = 1e-9 if dtype == "float64" else 2e-5
    options = ContinuationOptions(p_start, p_end, tol=tol, **{name: chosen[name] for name in CLI_OPTIONS})
    note = resume.plan(out, options)
    fld = resolve_field(ckpt, field_spec, config_text, batch_seed, batch_size, device, dtype, knobs,
                        data=data, split=split)
    check_k(chosen["k"], fld)
    eps = resolve_eps(eps, fld)
    problem = ContinuationProblem(fld, param, eps)
    if note:
        console.print(note, markup=False)
    branch = continuation(problem, options, out=out, progress=True)
    # at a narrow width keep the eigenvalue of the operator that loses stability (the crossing pair)
    on_M = bool(branch.specials) and events.get(branch.specials[0].kind).operator == "M"
    other = "rightmost λ(J)" if on_M else "leading μ(M)"
    table(f"branch of {fld.name} in {param} (eps={eps:g}; force residual ||F||/max(||z||,1))",
          ["#", param, "||z||", "r_F", "Newton", "rightmost λ(J)", "leading μ(M)", "|μ|", "J", "M",
           "event before next"], _rows(branch), secondary=["||z||", "Newton", "r_F", "J", other, "M"])
    problems = _unconverged(branch)
    if branch.specials:
        table("special points (l1: first Lyapunov coefficient at hopf, map coefficient d at "
              "neimark_sacker, quadratic coefficient a at fold; < 0 supercritical)",
              ["#", "kind", "operator", param, "eigenvalue (λ or μ)", "frequency", "precision", "l1 / d / a",
               "criticality"], _special_rows(branch),
              secondary=["frequency", "precision", "eigenvalue (λ or μ)", "operator", "l1 / d / a"])
    else:
        console.print("no change of stability along the branch"
                      + (" (in unconverged eigenvalues: see below)" if problems else ""))
    console.print(f"stopped: {branch.stop_reason}")
    data = branch.to_dataset()
    console.print(f"verdict: {verdict.continuation(data)}", highlight=False)
    if problems:
        console.print(f"[red]not converged: {problems}[/]")
    finish(data, out, figure(branch, eps))
    if problems:
        sys.exit(EXIT_UNCONVERGED)
