"""Settings of a continuation run: an immutable dataclass validated at construction.

The run follows the branch from ``p_start`` toward ``p_end`` (either order: the direction is the
sign of ``p_end − p_start``). Step lengths are arclengths in the metric of :mod:`.problem`
(``‖(δz, δp)‖² = θ‖δz‖²/n + δp²``; on a branch flat in z a step of ``ds`` moves p by ``ds``);
for ``method='natural'`` a step is exactly ``ds`` in p.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..errors import ConfigError
from ..spectral.settings import SEARCHES

METHODS = ("palc", "natural")


def _finite(name, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return v


def _opt(default, helptext: str, choices=None):
    """A field carrying its default, a one-line help text and (optionally) its choices in
    ``metadata``, for any front end that lists the options (the command line generates its options
    from them)."""
    return field(default=default, metadata={"help": helptext, **({"choices": choices} if choices else {})})


@dataclass(frozen=True)
class ContinuationOptions:
    """How to continue a branch.

    Range and steps: ``p_start``, ``p_end``; ``ds`` first step, kept in ``[ds_min, ds_max]``
    (grown ×``grow`` after a Newton solve of at most ``easy_iters`` iterations, halved after a
    failure), and allowed to grow on up to ``ds_far`` (default 3·ds_max) while no eigenvalue of
    the window is predicted to cross within two steps (:func:`.events.event_distance`, a linear
    extrapolation of every tracked Re λ and |μ| − 1: a step is at most max(ds_max, half that
    distance), so a mode of the window whose test function changes at a steady rate crosses within
    a step of at most ds_max; ``ds_far = ds_max`` is the plain control); a resumed branch restarts
    at ≤ ds_max; ``max_points`` branch points at most (the starting point included); a step is also
    rejected and halved when the correction deviates from the prediction by more than ``max_angle``
    degrees (see :mod:`.run`).
    Corrector: ``method`` ('palc' pseudo-arclength, 'natural' parameter), Newton to force residual
    ``tol`` in at most ``newton_maxiter`` iterations, GMRES(``gmres_restart``) with at most
    ``gmres_maxiter`` inner iterations per solve; ``theta`` weights the state in the arclength.
    Spectra: ``k`` leading eigenvalues of J and of M stored per point; at least ``unstable +
    margin`` are computed, never more than ``max_window`` (default 4k: a degenerate spectrum past
    its loss of stability would otherwise grow the window without end; a full window reports its
    count as a lower bound); ``eig_tol`` is the eigensolver tolerance, ``eig_maxiter`` its restart
    budget; ``sigma`` (None: off) tracks J by shift-invert about σ (:mod:`~..spectral.transform`;
    the multipliers are then 1 + ελ of those eigenvalues); ``search`` 'shared' computes J's and M's
    modes from one Krylov space (:mod:`.spectra`), 'separate' by two searches. The first point is
    relaxed for ``relax_steps`` Euler steps before the corrector. A branch stops, with the reason,
    when ‖z‖ exceeds ``diverge_factor``·max(‖z_start‖, 1) (a fold at infinity). Events: a mode counts as
    unstable when ``Re λ > detect_tol`` (J) or ``|μ| > 1 + detect_tol`` (M); crossings are located
    to ``locate_tol`` in the step parameter (arclength for PALC, p for natural).
    """

    p_start: float
    p_end: float
    ds: float = _opt(0.02, 'First step length (arclength).')
    ds_min: float = _opt(1e-5, 'Smallest step before giving up.')
    ds_max: float = _opt(0.1, 'Largest step near a predicted event.')
    ds_far: float = _opt(0.0, 'Largest step while no tracked eigenvalue is predicted to cross within two steps (0: 3 x ds_max).')
    max_points: int = _opt(500, 'Maximum number of branch points.')
    method: str = _opt("palc", 'palc: pseudo-arclength (follows folds); natural: step the knob.', METHODS)
    tol: float = 1e-9
    newton_maxiter: int = 10
    easy_iters: int = 3
    grow: float = 1.5
    max_angle: float = 30.0
    theta: float = 1.0
    gmres_restart: int = _opt(40, 'GMRES restart length of the linear solves.')
    gmres_maxiter: int = _opt(800, 'GMRES iterations per linear solve at most.')
    k: int = _opt(6, 'Leading eigenvalues of J and of M stored per point.')
    margin: int = 2
    eig_tol: float = 1e-10
    detect_tol: float = 1e-9
    locate_tol: float = 1e-8
    max_window: int = _opt(0, 'Most eigenvalues computed per point (0: 4k).')
    eig_maxiter: int = _opt(300, 'Eigensolver restarts per search at most.')
    sigma: float | None = _opt(None, 'Track J by shift-invert about this real shift (stiff fields; multipliers from the same eigenvalues).')
    search: str = _opt("shared", "shared: J's and M's modes from one Krylov space per point; separate: two searches.", SEARCHES)
    relax_steps: int = _opt(300, 'Euler steps before the first corrector solve.')
    diverge_factor: float = 1e6

    def __post_init__(self):
        for name in ("p_start", "p_end", "ds", "ds_min", "ds_max", "ds_far", "tol", "grow", "max_angle",
                     "theta", "eig_tol", "detect_tol", "locate_tol", "diverge_factor"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.sigma is not None:
            object.__setattr__(self, "sigma", _finite("sigma", self.sigma))
        if self.ds_far == 0:
            object.__setattr__(self, "ds_far", 3 * self.ds_max)
        if self.max_window == 0 and isinstance(self.k, int):
            object.__setattr__(self, "max_window", 4 * self.k)
        for name in ("max_points", "newton_maxiter", "easy_iters", "gmres_restart", "gmres_maxiter",
                     "k", "margin", "max_window", "eig_maxiter", "relax_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{name} must be an integer, got {v!r}")
        if self.p_start == self.p_end:
            raise ConfigError(f"the parameter range {self.p_start:g}:{self.p_end:g} is empty")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.search not in SEARCHES:
            raise ConfigError(f"search must be one of {', '.join(SEARCHES)}, got {self.search!r}")
        if not 0 < self.ds_min <= self.ds <= self.ds_max:
            raise ConfigError(f"need 0 < ds_min <= ds <= ds_max, got ds_min={self.ds_min:g}, "
                              f"ds={self.ds:g}, ds_max={self.ds_max:g}")
        if self.ds_far < self.ds_max:
            raise ConfigError(f"need ds_far >= ds_max (0: 3 x ds_max), got ds_far={self.ds_far:g}, "
                              f"ds_max={self.ds_max:g}")
        positive = dict(tol=self.tol, eig_tol=self.eig_tol, locate_tol=self.locate_tol,
                        theta=self.theta)
        for name, v in positive.items():
            if v <= 0:
                raise ConfigError(f"{name} must be > 0, got {v:g}")
        if self.detect_tol < 0:
            raise ConfigError(f"detect_tol must be >= 0, got {self.detect_tol:g}")
        if self.diverge_factor <= 1:
            raise ConfigError(f"diverge_factor must be > 1, got {self.diverge_factor:g}")
        if self.grow < 1:
            raise ConfigError(f"grow must be >= 1, got {self.grow:g}")
        if not 0 < self.max_angle <= 180:
            raise ConfigError(f"max_angle must be in (0, 180] degrees, got {self.max_angle:g}")
        for name, lo in (("max_points", 1), ("newton_maxiter", 1), ("easy_iters", 0),
                         ("gmres_restart", 1), ("gmres_maxiter", 1), ("k", 1), ("margin", 1),
                         ("max_window", self.k), ("eig_maxiter", 1), ("relax_steps", 0)):
            if getattr(self, name) < lo:
                raise ConfigError(f"{name} must be >= {lo}, got {getattr(self, name)}")

    @property
    def direction(self) -> float:
        """+1 when continuing toward larger p, −1 toward smaller."""
        return 1.0 if self.p_end > self.p_start else -1.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CurveOptions:
    """Range ``[lo, hi]`` of p2; steps ``ds`` (first) within ``[ds_min, ds_max]`` in the arclength
    metric, grown ×``grow`` after at most ``easy_iters`` Newton steps, ``max_points`` per direction;
    Newton to ``tol`` (force and eigen residuals) in ``newton_maxiter`` steps, GMRES(``gmres_restart``)
    with ``gmres_maxiter`` steps per solve; codim-2 points located to ``locate_tol`` in arclength."""

    lo: float
    hi: float
    ds: float = _opt(0.05, "First step length (arclength).")
    ds_min: float = 1e-6
    ds_max: float = _opt(0.2, "Largest step.")
    max_points: int = _opt(200, "Maximum number of points per direction.")
    tol: float = 1e-9
    newton_maxiter: int = 12
    easy_iters: int = 3
    grow: float = 1.5
    max_angle: float = 30.0
    gmres_restart: int = _opt(60, "Krylov dimension of the inner GMRES (raise it, up to 2n+3, when it stalls on a large field).")
    gmres_maxiter: int = 600
    locate_tol: float = 1e-9

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ConfigError(f"the range of the second knob must be LO:HI with LO < HI, got {self.lo:g}:{self.hi:g}")
        if not 0 < self.ds_min <= self.ds <= self.ds_max:
            raise ConfigError(f"need 0 < ds_min <= ds <= ds_max, got {self.ds_min:g}, {self.ds:g}, {self.ds_max:g}")
