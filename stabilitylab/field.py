"""The Field contract: a torch vector field ``F(z; p)`` with an initial state and named knobs.

Everything in stabilitylab (solvers, spectra, continuation, dynamics) works on a :class:`Field`.
A Field wraps any torch callable ``force(z, **params) -> Tensor`` (same shape as ``z``), the state
``z0`` relaxation starts from, and ``params``, a dict of named float knobs (``alpha``, ``c``, ...).
The relaxation of a field is the explicit Euler map ``z <- z + eps * F(z)``.

Linear algebra is done on *flat* vectors of ``n = z0.numel()`` numbers; :meth:`Field.flat` and
:meth:`Field.unflat` convert.

Optional ``precondition(z, v, shift, **params)``: an approximation of ``(J(z) − shift·I)⁻¹ v``
(field-shaped ``z``, ``v``; real ``shift``), e.g. the inverse of the stiff linear part (diffusion)
of a discretised PDE. Newton–Krylov, the continuation corrector and shift-invert eigensolves use
it as a right preconditioner of their GMRES solves; without it GMRES runs unpreconditioned.
"""
from __future__ import annotations

import copy
import importlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field as dc_field, replace
from typing import Any, Callable, Mapping

import torch

from .errors import FieldError, NonFiniteError, did_you_mean


@dataclass(frozen=True)
class Field:
    """A vector field ``force(z, **params)`` with initial state ``z0`` and float knobs ``params``.

    ``meta`` carries provenance (checkpoint path and hash, model config, input batch) into every
    dataset computed from the field. If ``force`` is a :class:`torch.nn.Module`, :meth:`to`
    converts its parameters too; a plain function must accept any dtype/device it is given.

    Optional, for gradient studies (``gradcheck``): ``loss``, a scalar readout loss L(z) of the
    state (a method of the force module, e.g. ``loss=module.loss``, follows :meth:`to`; any other
    callable must accept the state's dtype and device), and ``parameters``, the names of the force
    module's parameters θ to differentiate (default: all of them).
    """

    force: Callable[..., torch.Tensor]
    z0: torch.Tensor
    params: Mapping[str, float] = dc_field(default_factory=dict)
    name: str = "field"
    meta: Mapping[str, Any] = dc_field(default_factory=dict)
    loss: Callable[[torch.Tensor], torch.Tensor] | None = None
    parameters: tuple[str, ...] | None = None
    precondition: Callable[..., torch.Tensor] | None = None

    def __post_init__(self):
        if not callable(self.force):
            raise FieldError(f"Field.force must be callable, got {type(self.force).__name__}")
        if self.loss is not None and not callable(self.loss):
            raise FieldError(f"Field.loss must be callable, got {type(self.loss).__name__}")
        if self.parameters is not None:
            object.__setattr__(self, "parameters", tuple(str(p) for p in self.parameters))
        if not isinstance(self.z0, torch.Tensor):
            raise FieldError(f"Field.z0 must be a torch.Tensor, got {type(self.z0).__name__}")
        if self.precondition is not None and not callable(self.precondition):
            raise FieldError("Field.precondition must be callable (z, v, shift, **params) -> tensor")
        if not self.z0.is_floating_point():
            raise FieldError(f"Field.z0 must be a floating-point tensor, got {self.z0.dtype}")
        clean = {}
        for k, v in dict(self.params).items():
            try:
                clean[str(k)] = float(v)
            except (TypeError, ValueError):
                raise FieldError(f"Field parameter {k!r} must be a float, got {v!r}") from None
        object.__setattr__(self, "params", clean)
        object.__setattr__(self, "meta", dict(self.meta))

    # -- evaluation -------------------------------------------------------------------------
    def __call__(self, z: torch.Tensor, **overrides: float) -> torch.Tensor:
        """F(z) with ``overrides`` replacing knobs for this call only."""
        return self.force(z, **self._merged(overrides))

    def _merged(self, overrides: Mapping[str, float]) -> dict:
        unknown = set(overrides) - set(self.params)
        if unknown:
            raise FieldError(
                f"unknown field parameter(s) {sorted(unknown)}; this field has {sorted(self.params)}"
                + (did_you_mean(next(iter(unknown)), self.params) if len(unknown) == 1 else "")
            )
        return {**self.params, **{k: float(v) for k, v in overrides.items()}}

    def flat_force(self, **overrides: float) -> Callable[[torch.Tensor], torch.Tensor]:
        """The map ``x -> vec(F(unvec(x)))`` on flat vectors, with knobs fixed."""
        p = self._merged(overrides)
        shape = self.shape
        return lambda x: self.force(x.reshape(shape), **p).reshape(-1)

    def forward_seconds(self, reps: int = 5) -> float:
        """Median wall time of one no-grad force evaluation at ``z0`` over ``reps`` calls (after one
        warm-up): the unit of the forward-pass equivalents costs are stated in."""
        f, x = self.flat_force(), self.z0.reshape(-1)
        with torch.no_grad():
            f(x)
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                f(x)
                times.append(time.perf_counter() - t)
        return statistics.median(times)

    # -- shape helpers ----------------------------------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return self.z0.shape

    @property
    def n(self) -> int:
        """State dimension (number of scalars)."""
        return self.z0.numel()

    @property
    def dtype(self) -> torch.dtype:
        return self.z0.dtype

    @property
    def device(self) -> torch.device:
        return self.z0.device

    def flat(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(-1)

    def unflat(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(self.shape)

    # -- derived fields ---------------------------------------------------------------------
    def with_params(self, **knobs: float) -> "Field":
        """A copy with some knobs changed (unknown knob names are an error)."""
        return replace(self, params=self._merged(knobs))

    def to(self, device=None, dtype=None) -> "Field":
        """A copy on another device and/or dtype (the force module is copied, not moved)."""
        if device is None and dtype is None:
            return self
        force, loss = self.force, self.loss
        if isinstance(force, torch.nn.Module):
            force = copy.deepcopy(force).to(device=device, dtype=dtype)
            if getattr(loss, "__self__", None) is self.force:  # a method of the module: the copy's
                loss = getattr(force, loss.__name__)
        return replace(self, force=force, z0=self.z0.to(device=device, dtype=dtype), loss=loss)

    def check_finite(self, z: torch.Tensor | None = None, what: str = "state") -> None:
        """Raise :class:`NonFiniteError` if ``z`` (default z0) or F(z) has NaN/Inf."""
        z = self.z0 if z is None else z
        if not torch.isfinite(z).all():
            raise NonFiniteError(f"the {what} contains NaN or Inf")
        with torch.no_grad():
            f = self(z)
        if f.shape != z.shape:
            raise FieldError(f"force returned shape {tuple(f.shape)} for a state of shape {tuple(z.shape)}")
        if not torch.isfinite(f).all():
            raise NonFiniteError(f"the force at the {what} contains NaN or Inf (check the weights)")

    def residuals(self, z: torch.Tensor, eps: float) -> tuple[float, float]:
        """(force residual ‖F(z)‖/max(‖z‖, 1), step residual ‖εF(z)‖/max(‖z‖, 1))."""
        with torch.no_grad():
            f = self(z)
        fr = float(f.norm()) / max(float(z.norm()), 1.0)
        return fr, abs(eps) * fr


def load_factory(spec: str) -> Field:
    """Import ``package.module:factory`` and call it; it must return a :class:`Field`.

    The current directory is put first on the import path, as ``python -m`` does, so
    ``mymodule:make`` finds ``./mymodule.py``. This runs user code by design (the same trust as
    ``python -c 'import package.module'``).
    """
    if ":" not in spec:
        raise FieldError(f"field must look like package.module:factory, got {spec!r}", param="field")
    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
        importlib.invalidate_caches()
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise FieldError(f"cannot import {mod_name!r} for --field: {exc} (searched the current directory "
                         f"{cwd} and the Python path)") from None
    except Exception as exc:  # any import failure is the user's module
        raise FieldError(f"cannot import {mod_name!r} for the field factory: {exc}") from None
    factory = getattr(mod, attr, None)
    if factory is None or not callable(factory):
        raise FieldError(f"{mod_name!r} has no callable {attr!r}")
    try:
        fld = factory()
    except Exception as exc:
        raise FieldError(f"the field factory {spec} raised {type(exc).__name__}: {exc}") from None
    if not isinstance(fld, Field):
        raise FieldError(f"{spec} returned {type(fld).__name__}, not a stabilitylab.Field")
    meta = {"source": "field", "field": spec, **fld.meta}
    return replace(fld, meta=meta, name=fld.name if fld.name != "field" else spec)
