"""``stabilitylab curve``: continue a special point of a continuation in two knobs."""
from __future__ import annotations

import click

from ..errors import StabilityLabError
from .common import console, default_out, field_options, finish, fmt, out_option, resolve_field, table, user_errors
from ..continuation.options import CurveOptions
from .continuation import parse_range
from .settings import options_from

MAX_ROWS = 40
#: the CurveOptions fields that are options of the command (defaults and help from the dataclass)
CLI_OPTIONS = ("ds", "ds_max", "max_points", "gmres_restart")


def _rows(ds) -> list:
    p1, p2 = str(ds.attrs["param"]), str(ds.attrs["param2"])
    n = ds.sizes["point"]
    keep = sorted(set(range(0, n, max(1, -(-n // MAX_ROWS)))) | {n - 1}
                  | {int(i) for i in ds["special_point"].values})
    return [(str(i), f"{ds[p2].values[i]:.6g}", f"{ds[p1].values[i]:.8g}", fmt(ds["frequency"].values[i], 5),
             fmt(ds["l1"].values[i], 4), str(ds["criticality"].values[i]) or "-",
             fmt(ds["force_residual"].values[i], 2), fmt(ds["eigen_residual"].values[i], 2)) for i in keep]


def _special_rows(ds) -> list:
    p1, p2 = str(ds.attrs["param"]), str(ds.attrs["param2"])
    return [(str(ds["special_kind"].values[i]), f"{ds[f'special_{p2}'].values[i]:.8g}",
             f"{ds[f'special_{p1}'].values[i]:.8g}", fmt(ds["special_frequency"].values[i], 5),
             fmt(ds["special_l1"].values[i], 4)) for i in range(ds.sizes["special"])]


@click.command("curve")
@field_options
@click.option("--from", "source", required=True, metavar="CONT.zarr",
              help="A continuation dataset (stabilitylab continuation --out).")
@click.option("--point", required=True, metavar="I",
              help="Index of its special point to continue (the '#' column of its special points table).")
@click.option("--param2", required=True, metavar="NAME",
              help="The second knob (a field knob, or eps for neimark_sacker / flip points).")
@click.option("--range", "range_text", required=True, metavar="LO:HI",
              help="Range of the second knob to cover, on both sides of its current value.")
@options_from(CurveOptions, CLI_OPTIONS)
@out_option("curve.zarr")
@user_errors
def command(ckpt, field_spec, config_text, data, split, batch_seed, batch_size, device, dtype, knobs,
            source, point,
            param2, range_text, out, ds, ds_max, max_points, gmres_restart):
    """Continue special point I of a continuation (hopf, neimark_sacker, fold, flip) in its knob and
    a second knob: the stability boundary in two parameters, with l1 along it.

    Math: pseudo-arclength Newton-Krylov (matrix-free) on F(z; p1, p2) = 0 plus the critical eigen-equation
    (J v = 0 | J^2 v + w^2 v = 0 | M v = -v | M^2 v - 2 cos(theta) M v + v = 0, M = I + eps*J, |v| normalised).
    Codim-2 points located on the way: bautin (l1 = 0), bogdanov_takens (w -> 0), cusp (fold a = 0),
    chenciner (map d = 0), resonance_1:1 ... 1:4 (theta = 2 pi/k).

    The field is the one the continuation ran on (its recorded --ckpt / --field unless given).
    """
    from .. import store
    from ..continuation.curve import curve
    from ..continuation.curve_figure import figure

    try:
        index = int(point)
    except ValueError:
        raise StabilityLabError(f"--point expects the index of a special point, got {point!r}") from None
    lo, hi = parse_range(range_text, "--range", descending=False)
    cont = store.read(source)
    if "param" not in cont.attrs or "special" not in cont.dims:
        raise StabilityLabError(f"{source} is not a continuation dataset (stabilitylab continuation --out)")
    if not ckpt and not field_spec:  # the field and input batch the continuation ran on
        ckpt, field_spec = cont.attrs.get("checkpoint"), cont.attrs.get("field")
        if cont.attrs.get("batch_data") == "--data" and data is None:
            data, split = cont.attrs["batch_source"], cont.attrs.get("batch_split", split)
            batch_seed, batch_size = int(cont.attrs["batch_seed"]), int(cont.attrs["batch_size"])
    fld = resolve_field(ckpt, field_spec, config_text, batch_seed, batch_size, device, dtype, knobs,
                        data=data, split=split)
    options = CurveOptions(lo, hi, ds=min(ds, ds_max), ds_max=ds_max, max_points=max_points,
                           gmres_restart=gmres_restart, gmres_maxiter=max(600, 2 * gmres_restart))
    result = curve(fld, cont, index, param2, lo, hi, options,
                   observer=lambda pt: console.print(f"  {param2}={pt.p2:.6g}  {cont.attrs['param']}={pt.p1:.8g}"
                                                     f"  l1={fmt(pt.l1, 4)}", highlight=False))
    data = result.to_dataset()
    p1 = str(cont.attrs["param"])
    table(f"{result.kind} curve of {fld.name} in ({param2}, {p1}) (residuals: force ||F||/max(||z||,1), "
          "eigen ||eigen equations||/(||v|| max(1, w^2)))",
          ["#", param2, p1, "frequency", "l1 / d / a", "criticality", "force res.", "eigen res."], _rows(data))
    if data.sizes["special"]:
        table("codimension-2 points", ["kind", param2, p1, "frequency", "l1 / d / a"], _special_rows(data))
    else:
        console.print("no codimension-2 point along the curve")
    console.print(f"stopped: toward lower {param2}: {result.stop_reasons[0]}; toward higher: {result.stop_reasons[1]}")
    finish(data, default_out(out, "curve.zarr"), figure(data))
