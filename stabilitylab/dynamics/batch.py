"""Many relaxations at once: a force on a stack of flat states, one row per run.

Row ``e`` of ``X`` (shape ``(E, n)``) is a state of its own run, evolved with its own step ε_e and,
optionally, its own value of one knob. Rows are independent, so the stacked force is
``torch.func.vmap`` of the flat force — one call per step instead of E, which is where batching pays
(small states are dominated by per-call overhead); knob values enter the force as 0-d tensors.
Forces that vmap cannot trace (``.item()``, ``torch.tensor`` built from a knob, Python branches on
values, …) fall back to a loop over rows. The choice is made once, by running both on the start
states and keeping vmap only if it agrees with the loop; a single row is always called directly.
A relaxation that stops the rows it has settled evaluates the rest only: ``force(X, rows)`` is the
force of the runs ``rows`` (indices into the E runs) at their states ``X`` (len(rows), n).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..errors import StabilityLabError
from ..field import Field

BatchForce = Callable[..., torch.Tensor]  # (X, rows=None) -> force of those runs


def batch_force(field: Field, x0: torch.Tensor, knob: str | None = None,
                values: Sequence[float] | None = None) -> BatchForce:
    """``X (E, n) -> (E, n)``: row e is ``F(x_e)``, or ``F(x_e; knob=values[e])`` when ``knob`` is given;
    ``(X, rows)``: the runs ``rows`` only (see the module docstring).

    ``x0`` (E, n) are the start states used to choose between vmap and the loop. Without a knob the
    result works for any number of rows; with one, for E rows (or the given ``rows``).
    """
    if knob is None:
        one = field.flat_force()
        each_row = torch.func.vmap(one)
        vmapped = lambda X, rows=None: each_row(X)  # noqa: E731

        def loop(X: torch.Tensor, rows=None) -> torch.Tensor:
            return torch.stack([one(x) for x in X])
    else:
        if knob not in field.params:
            raise StabilityLabError(f"unknown knob {knob!r}; this field has {', '.join(sorted(field.params))}")
        if len(values) != x0.shape[0]:
            raise StabilityLabError(f"{len(values)} knob values for {x0.shape[0]} states")
        fields = [field.with_params(**{knob: float(v)}).flat_force() for v in values]
        params, shape = dict(field.params), field.shape
        vals = torch.as_tensor([float(v) for v in values], dtype=x0.dtype, device=x0.device)
        each = torch.func.vmap(lambda x, a: field.force(x.reshape(shape), **{**params, knob: a}).reshape(-1))
        vmapped = lambda X, rows=None: each(X, vals if rows is None else vals[rows])  # noqa: E731

        def loop(X: torch.Tensor, rows=None) -> torch.Tensor:
            picked = fields if rows is None else [fields[int(e)] for e in rows]
            return torch.stack([f(x) for f, x in zip(picked, X)])

    if x0.shape[0] == 1:
        return loop
    with torch.no_grad():
        ref = loop(x0)
        try:
            got = vmapped(x0)
        except Exception:  # any failure to trace: the loop is always correct
            return loop
    tol = 100 * torch.finfo(ref.dtype).eps
    same = got.shape == ref.shape and torch.allclose(got, ref, rtol=tol, atol=tol * float(ref.abs().max()))
    return vmapped if same else loop
