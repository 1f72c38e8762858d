"""``stabilitylab gradcheck``: how faithful is each gradient estimator at a checkpoint?"""
from __future__ import annotations

import click
import numpy as np

from ..errors import StabilityLabError
from .common import (console, default_out, eps_option, field_options, finish, fmt, out_option, resolve_eps, resolve_field, table,
                     user_errors)


def parse_values(text: str, kind: str, default_points: int) -> list[float]:
    """``"a,b,c"`` or ``"A:B[:N]"`` (N points from A to B; geometric for kind='geom', else linear)."""
    try:
        if ":" not in text:
            vals = [float(v) for v in text.split(",") if v.strip()]
        else:
            parts = [float(v) for v in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            n = int(parts[2]) if len(parts) == 3 else default_points
            if n < 1 or (kind == "geom" and min(parts[:2]) <= 0):
                raise ValueError
            space = np.geomspace if kind == "geom" else np.linspace
            vals = space(parts[0], parts[1], n).tolist()
    except ValueError:
        raise StabilityLabError(f"cannot read {text!r}: give a list a,b,c or a range A:B[:N]") from None
    if not vals:
        raise StabilityLabError("an empty list of sweep values")
    return vals


def _report(ds) -> None:
    est, ref = list(ds.estimator.values), ds.attrs["reference"]
    ok = "converged" if ds.attrs["fp_converged"] else "[red]not converged[/]"
    console.print(f"free state z* ({ds.attrs['fp_solver']}): force residual ||F(z*)||/||z*|| = "
                  f"{fmt(ds.attrs['fp_force_residual'], 2)}, {ok}. BPTT unrolls T1={ds.attrs['t1']} "
                  f"steps; EP uses beta={ds.attrs['beta']:g}, T2={ds.attrs['t2']}.")

    def val(var, **sel):
        return fmt(float(var.sel(**sel)), 3)

    table("estimators: convergence and cost (forward-pass equivalents; the fixed-point estimators share "
          "z*, its cost is not counted)",
          ["estimator", "loss", "force res.", "nudged change", "adjoint res.", "cost"],
          [(e, fmt(float(ds.loss.sel(estimator=e)), 5), val(ds.free_force_residual, estimator=e),
            val(ds.nudged_change, estimator=e), val(ds.adjoint_residual, estimator=e),
            fmt(float(ds.cost.sel(estimator=e)), 5)) for e in est])
    for var, title in ((ds.cosine, "cosine"), (ds.norm_ratio, "norm ratio |g_row|/|g_column|")):
        table(f"{title}, all parameters", ["", *est],
              [(e, *(val(var, estimator=e, estimator2=e2, group="all") for e2 in est)) for e in est])
    pairs = [(e, ref) for e in est if e != ref] + [(e, "bptt") for e in est if e not in (ref, "bptt")]
    short = {"implicit": "impl", "aep_track": "track"}
    table("cosine per parameter group (estimator/reference)",
          ["group", *(f"{short.get(a, a)}/{short.get(b, b)}" for a, b in pairs)],
          [(g, *(val(ds.cosine, estimator=a, estimator2=b, group=g) for a, b in pairs))
           for g in ds.group.values])
    last = int(ds.t2.values[-1])
    table(f"EP cosine vs {ref} over the nudge length T2; nudged change and adjoint residual at T2={last}",
          ["variant", "beta", *(f"T2={t}" for t in ds.t2.values), "change", "adj. res."],
          [(v, f"{b:g}", *(val(ds.sweep_cosine, variant=v, t2=t, beta=b, group="all") for t in ds.t2.values),
            val(ds.sweep_nudged_change, variant=v, t2=last, beta=b),
            val(ds.sweep_adjoint_residual, variant=v, t2=last, beta=b))
           for v in ds.variant.values for b in ds.beta.values])
    if not ds.sizes["asym"]:
        console.print("asymmetry sweep skipped: it blends a thick block towards a conservative one (this "
                      "checkpoint is conservative), or varies a --field's knob asym (this field has none)")
        return
    table(f"asymmetry sweep F_r = (1-r) F_cons + r F_thick: cosine vs {ref}",
          ["r", "|Av|/|Jv|", "force res.", *(e for e in est if e != ref)],
          [(f"{r:g}", val(ds.asym_antisymmetry, asym=r), val(ds.asym_free_force_residual, asym=r),
            *(val(ds.asym_cosine, estimator=e, asym=r, group="all") for e in est if e != ref))
           for r in ds.asym.values])


STYLE = {"bptt": ("C0", "s", "-"), "implicit": ("k", "o", "-"), "naive": ("C3", "v", "-"),
         "aep": ("C2", "o", "-"), "aep_track": ("C1", "x", "--")}


def _figure(ds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, est = ds.attrs["reference"], list(ds.estimator.values)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    im = axes[0].imshow(ds.cosine.sel(group="all").values, vmin=-1, vmax=1, cmap="RdBu_r")
    axes[0].set_xticks(range(len(est)), est, rotation=45)
    axes[0].set_yticks(range(len(est)), est)
    axes[0].set_title("pairwise cosine (all parameters)")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    for v in ds.variant.values:
        color, marker, _ = STYLE[v]
        for b, style in zip(ds.beta.values, ("-", "--", ":", "-.", (0, (1, 3)))):
            axes[1].plot(ds.t2.values, ds.sweep_cosine.sel(variant=v, beta=b, group="all"), linestyle=style,
                         color=color, marker=marker, label=f"{v} β={b:g}")
    axes[1].set_xscale("log")
    axes[1].set_xticks(ds.t2.values, [str(t) for t in ds.t2.values])
    axes[1].minorticks_off()
    axes[1].set_xlabel("nudge length T2")
    axes[1].set_ylabel(f"cosine vs {ref}")
    axes[1].set_title("EP fidelity vs nudge length")
    axes[1].legend(fontsize=7)
    if ds.sizes["asym"]:
        for e in est:
            if e != ref:
                color, marker, style = STYLE[e]
                axes[2].plot(ds.asym.values, ds.asym_cosine.sel(estimator=e, group="all"), color=color,
                             marker=marker, linestyle=style, label=e)
        axes[2].set_xlabel("asymmetry r  (F_r = (1-r) F_cons + r F_thick)")
        axes[2].set_ylabel(f"cosine vs {ref}")
        axes[2].legend(fontsize=8)
    axes[2].set_title("fidelity vs asymmetry")
    for ax in axes[1:]:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


@click.command("gradcheck")
@field_options
@click.option("--alpha", default=None, type=float, help="Attention-output scale α (W_O <- α W_O).")
@eps_option("Euler step size ε (free and nudged phases).")
@click.option("--t1", default=150, show_default=True, help="Unroll length T1 that BPTT differentiates.")
@click.option("--beta", default=0.02, show_default=True, help="Nudge strength β of the pairwise comparison.")
@click.option("--t2", "t2_text", default="20:160", show_default=True,
              help="Nudge lengths T2 swept, a,b,c or A:B[:N] (N geometric points, default 4); the "
                   "pairwise comparison uses the largest.")
@click.option("--betas", "betas_text", default="0.02,0.5,5", show_default=True,
              help="Nudge strengths β swept (with --beta), a,b,c or A:B[:N] (N geometric points, "
                   "default 3).")
@click.option("--asym", "asym_text", default="0:1:5", show_default=True,
              help="Asymmetry knob values r swept (F_r = (1-r) F_cons + r F_thick), a,b,c or A:B[:N] "
                   "(N linear points, default 5).")
@click.option("--fp-tol", default=1e-10, show_default=True,
              help="Force residual ||F(z)||/||z|| the shared free state z* is relaxed to.")
@click.option("--fp-steps", default=5000, show_default=True,
              help="Euler steps before Newton–Krylov takes over the free phase.")
@click.option("--newton/--no-newton", default=True, show_default=True,
              help="Polish the free state by Newton–Krylov when Euler stops short of --fp-tol; "
                   "--no-newton --fp-steps 150 evaluates the estimators at the deployed, possibly "
                   "unconverged, state.")
@out_option("gradcheck.zarr")
@user_errors
def command(alpha, eps, t1, beta, t2_text, betas_text, asym_text, fp_tol, fp_steps, newton, out, **fopts):
    """Compare gradient estimators on one batch: BPTT, exact implicit (transpose adjoint), naive EP,
    AEP and tracking AEP.

    Prints cosines and norm ratios between every pair, overall and per parameter group, the
    fidelity of the EP variants against the exact gradient over the nudge length T2 and strength
    beta, and over an asymmetry knob r from a conservative force (r=0) to the checkpoint's own
    block (r=1). Each estimator reports its convergence: free-phase force residual, nudged change
    and adjoint residual ||J^T a + dL/dz||/||dL/dz||.
    """
    if beta <= 0 or t1 < 1 or fp_steps < 0 or fp_tol <= 0:
        raise StabilityLabError("need --beta > 0, --t1 >= 1, --fp-steps >= 0, --fp-tol > 0")
    t2s = sorted({max(1, round(t)) for t in parse_values(t2_text, "geom", 4)})
    betas = parse_values(betas_text, "geom", 3)
    asyms = parse_values(asym_text, "linear", 5)
    if min(betas) <= 0 or not all(0 <= r <= 1 for r in asyms):
        raise StabilityLabError("--betas must be > 0 and --asym values in [0, 1]")
    from ..gradients.study import run_study

    fld = resolve_field(alpha=alpha, **fopts)
    eps = resolve_eps(eps, fld)
    ds = run_study(fld, eps=eps, T1=t1, beta=beta, t2s=t2s, betas=betas, asyms=asyms, fp_steps=fp_steps,
                   fp_tol=fp_tol, fp_newton=newton, progress=True)
    from .. import store

    ds.attrs = {**store.provenance(fld), **ds.attrs}
    _report(ds)
    finish(ds, default_out(out, "gradcheck.zarr"), _figure(ds))
