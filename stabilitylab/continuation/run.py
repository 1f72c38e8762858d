"""The fixed-point branch on the continuation engine (:mod:`.engine`): predict, correct, adapt the
step, track spectra, locate events, store.

From the fixed point at ``p_start`` (Euler relaxation, then the corrector at fixed p) each step

1. predicts with the method's predictor and corrects with the bordered Newton–Krylov corrector;
   on failure, or when the correction deviates from the prediction by more than ``max_angle``
   (``atan(‖x − guess‖/‖guess − x_k‖)``: Newton jumped to another branch, or the step is too long
   for the curvature), it halves ds and retries, and stops cleanly, with the reason, once ds would
   fall below ``ds_min``;
2. at the accepted point computes the new direction (bordered tangent / secant) and the leading
   eigenvalues of J and M (warm-started from the previous point), then locates every change of
   the unstable counts within the step (:mod:`.events`);
3. records the point (written to ``out`` in batches by :class:`~.writer.BufferedWriter`, restart
   state in the side file of :mod:`.resume`: a crash loses at most the points since the last
   flush, ≤ 60 s of work; :mod:`.writer`) and grows ds ×``grow`` after an easy Newton solve, up to
   ``ds_max`` while a tracked eigenvalue is predicted to cross within two steps
   (:func:`.events.event_distance`), else up to ``ds_far``: long steps far from any event, steps of
   at most ``ds_max`` near one.

It stops at ``p_end`` (the last step lands on it: p is held there; :meth:`.predictor.PseudoArclength.plan`),
when a fold turns it back out of the range through ``p_start``, after
``max_points`` points, when the corrector or a tangent solve fails (the reason names the linear
solve when GMRES stalled: a singular or ill-conditioned Jacobian), or when ‖z‖ exceeds
``diverge_factor``·max(‖z_start‖, 1) (a fold at infinity: the branch escapes as p approaches a
finite value). A run given a branch (``restart=``, or found
in ``out``) extends it from its last point.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from .. import store
from ..errors import StabilityLabError
from ..interrupts import Interrupted, deferred
from ..solvers import find_fixed_point, relax_euler
from . import engine, resume
from .branch import Branch, BranchPoint
from .corrector import BorderedNewton, LinearSolveError
from .events import EventLocator, event_distance
from .options import ContinuationOptions
from .predictor import PREDICTORS, Cursor, unit_p
from .problem import ContinuationProblem
from .spectra import SpectrumTracker
from .writer import ANALYSIS, BufferedWriter

START_NEWTON_FACTOR = 3


class _Run:
    """State and helpers of one run (see the module docstring)."""

    def __init__(self, problem: ContinuationProblem, options: ContinuationOptions, out, command):
        self.problem, self.options = problem, options
        self.out = Path(out) if out is not None else None
        self.solver = BorderedNewton(problem, options)
        self.tracker = SpectrumTracker(problem, options)
        self.locator = EventLocator(problem, options, self.solver, self.tracker)
        self.predictor = PREDICTORS[options.method]()
        settings = resume.settings(problem, options)
        self.attrs = store.provenance(problem.field, command=command, analysis="continuation", **settings,
                                      options=options.to_dict(),
                                      eigensolver="stabilitylab.spectral.eigs (Krylov-Schur)")
        self.branch = Branch(problem.param, options.k, attrs=self.attrs, settings=settings)
        self.modes: dict | None = None
        self.writer = BufferedWriter(self.out) if self.out is not None else None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.branch.x, self.branch.t, self.branch.ds)

    def done(self) -> str:
        """The stop reason if the branch already ends past ``p_end`` or has ``max_points``."""
        p, opts = self.branch.points[-1].param, self.options
        why = engine.range_exit(p, opts.p_start, opts.p_end, self.problem.param, opts.ds_min)
        if why:
            return why
        if len(self.branch.points) >= self.options.max_points:
            return f"max_points={self.options.max_points} reached"
        return ""

    # -- bookkeeping -------------------------------------------------------------------------
    def record(self, x, t, ds, modes, step_size, iters, residual, newton_mv, event_mv, clocks):
        """Append a branch point and move the restart state to it (``clocks``: the (wall, CPU)
        times at which work on it began)."""
        z, p = self.problem.split(x)
        prev = self.branch.points[-1] if self.branch.points else None
        arc = 0.0 if prev is None else prev.arclength + abs(step_size)
        znorm = float(torch.linalg.vector_norm(z))
        self.branch.points.append(BranchPoint(
            param=p, eig_J=modes["J"].values, eig_M=modes["M"].values,
            n_unstable_J=modes["J"].n_unstable, n_unstable_M=modes["M"].n_unstable,
            force_residual=residual, newton_iters=iters, step_size=step_size, arclength=arc,
            tangent_p=float(t[-1]), state_norm=znorm, state_rms=znorm / math.sqrt(self.problem.n),
            newton_matvecs=newton_mv, eig_matvecs=modes["J"].matvecs + modes["M"].matvecs,
            eig_converged=int(modes["J"].converged and modes["M"].converged),
            window_full=int(modes["J"].window_full or modes["M"].window_full),
            event_matvecs=event_mv, seconds=time.perf_counter() - clocks[0],
            cpu_seconds=time.process_time() - clocks[1]))
        self.branch.x, self.branch.t, self.branch.ds = x, t, ds
        self.modes = modes
        if self.writer is not None:
            self.writer.added(self.branch)

    # -- start -------------------------------------------------------------------------------
    def start(self) -> None:
        """The first branch point: Euler relaxation at ``p_start`` (from ``z0``, or ``z0`` itself if
        relaxation ran away), polished by the corrector with p fixed (Newton reaches unstable
        fixed points too); if that fails, :func:`~stabilitylab.solvers.find_fixed_point` (line
        search, back to relaxation on stagnation) and the corrector from its fixed point."""
        prob, opts = self.problem, self.options
        clocks = time.perf_counter(), time.process_time()
        fld = prob.field.with_params(**{prob.param: opts.p_start})
        rel = relax_euler(fld, prob.eps, opts.relax_steps, tol=opts.tol)
        settled = len(rel.step) > 0 and rel.final_force_residual <= rel.force_residual[0]
        x = prob.point(rel.z if settled else fld.z0, opts.p_start)
        corr = self.solver.correct(x, unit_p(x, 1.0), 0.0, x, START_NEWTON_FACTOR * opts.newton_maxiter)
        tried = f"Euler: {rel.reason}; Newton: {corr.reason}"
        if not corr.converged:  # the fixed-point recipe: line search, back to relaxation on stagnation
            fp = find_fixed_point(fld, eps=prob.eps, tol=opts.tol, relax_steps=opts.relax_steps,
                                  gmres_restart=opts.gmres_restart, gmres_maxiter=opts.gmres_maxiter)
            tried += f"; then {fp.solver}: {fp.reason}"
            if fp.converged:
                x = prob.point(fp.z, opts.p_start)
                corr = self.solver.correct(x, unit_p(x, 1.0), 0.0, x, START_NEWTON_FACTOR * opts.newton_maxiter)
        if not corr.converged:
            raise StabilityLabError(f"no fixed point found at {prob.param}={opts.p_start:g} to start the "
                                    f"branch from ({tried}); start elsewhere in the range")
        try:
            t, mv = self.predictor.initial(self.solver, corr.x, opts.direction)
        except LinearSolveError as exc:
            raise StabilityLabError(f"cannot start the branch: {exc}") from None
        modes = self.tracker.modes(*prob.split(corr.x))
        self.record(corr.x, t, opts.ds, modes, 0.0, corr.iterations, corr.residual, corr.matvecs + mv,
                    0, clocks)

    def extend(self, branch: Branch, stored: bool) -> None:
        """Continue ``branch`` (same settings; see :mod:`.resume`); unless it was read from
        ``out`` (``stored``), it is first written there."""
        if branch.x is None or not branch.points:
            raise StabilityLabError("the branch to extend has no restart state (a Branch rebuilt from a "
                                    "dataset alone has none: resume from its --out instead)")
        resume.check(branch, self.branch.settings, self.out or "the restart branch")
        self.branch.points, self.branch.specials = list(branch.points), list(branch.specials)
        # no event distance is known yet: the first step is at most ds_max
        self.branch.x, self.branch.t, self.branch.ds = branch.x, branch.t, min(branch.ds, self.options.ds_max)
        if self.out is not None and not stored:
            with deferred():
                store.write(self.branch.points_dataset(), self.out, ANALYSIS, complete=False)
                resume.save(self.out, self.branch)
        if self.writer is not None:
            self.writer.stored(len(self.branch.points))

    # -- steps -------------------------------------------------------------------------------
    def step(self) -> str:
        """Take one accepted step; return why the run cannot go on ('' if it can)."""
        prob, opts, cur = self.problem, self.options, self.cursor
        clocks = time.perf_counter(), time.process_time()
        if self.modes is None:  # extending a branch: the spectrum that seeds event detection
            self.modes = self.tracker.modes(*prob.split(cur.x))
        step = engine.advance(self.solver, lambda cur, ds: self.predictor.plan(cur, ds, opts.p_end), cur, opts)
        if isinstance(step, engine.Failure):
            fold_hint = opts.method == "natural" and "GMRES" not in step.reason
            return (f"corrector failed after {prob.param}={float(cur.x[-1]):.6g} with ds < ds_min={opts.ds_min:g}: "
                    f"{step.reason}" + (" (a fold? --method palc follows turning points)" if fold_hint else ""))
        try:
            t, mv = self.predictor.direction(self.solver, cur, step.x)
        except LinearSolveError as exc:
            return str(exc)
        modes = self.tracker.modes(*prob.split(step.x), warm=self.modes)
        turning = float(t[-1]) * float(cur.t[-1]) < 0
        self.locator.matvecs = 0
        index = len(self.branch.points) - 1
        self.branch.specials += self.locator.between(index, cur.x, self.modes, step.x, modes, step.c, step.s, turning)
        cap = min(opts.ds_far, max(opts.ds_max, 0.5 * event_distance(self.modes, modes, step.taken)))
        self.record(step.x, t, engine.next_ds(step, opts, cap), modes, step.taken, step.iterations, step.residual,
                    step.matvecs + mv, self.locator.matvecs, clocks)
        return self.diverged()

    def diverged(self) -> str:
        """The stop reason when ‖z‖ has run away (a fold at infinity), else ''."""
        first, last = self.branch.points[0], self.branch.points[-1]
        bound = self.options.diverge_factor * max(first.state_norm, 1.0)
        if last.state_norm <= bound:
            return ""
        return (f"fold at infinity: ||z|| = {last.state_norm:.3g} exceeds {self.options.diverge_factor:g} x "
                f"max(||z_start||, 1) at {self.problem.param}={last.param:.6g} (the branch escapes to "
                "infinity; J may be singular there)")

    def finish(self, reason: str) -> Branch:
        self.branch.stop_reason = reason
        self.branch.complete = reason.startswith((engine.END_REACHED, engine.LEFT_START))
        if self.writer is not None:
            self.writer.finish(self.branch)
        return self.branch


def _progress(enabled: bool):
    if not enabled:
        return nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True)


def continuation(problem: ContinuationProblem, options: ContinuationOptions, out=None,
                 restart: Branch | None = None, progress: bool = False,
                 command: str | None = None) -> Branch:
    """Continue the fixed-point branch of ``problem`` over ``options``' range; return the Branch.

    With ``out`` (a ``.zarr`` path) the points are appended there in batches as they are computed
    (:mod:`.writer`: a crash loses at most the points since the last flush), and a branch
    already stored there with the same settings is extended instead of restarted (:mod:`.resume`);
    the complete dataset (with special points) is written at the end. ``restart`` extends a Branch
    returned by an earlier call (e.g. further along, with a larger ``p_end`` or ``max_points``).
    ``progress`` shows a rich progress bar; ``command`` is recorded in the provenance attributes.
    """
    run = _Run(problem, options, out, command)
    stored = resume.open_branch(out, problem.field.z0) if restart is None and out is not None else None
    if restart is not None or stored is not None:
        run.extend(restart or stored, stored is not None)
    else:
        run.start()
    name, total = problem.param, abs(options.p_end - options.p_start)
    reason = run.done()
    with _progress(progress) as bar:
        task = bar.add_task(name, total=total) if bar is not None else None
        while not reason:
            try:
                reason = run.step() or run.done()
            except Interrupted:  # keep the points computed so far: flush them, then stop
                if run.writer is not None:
                    run.writer.flush(run.branch)
                raise
            if bar is not None:
                pt = run.branch.points[-1]
                bar.update(task, completed=min(total, abs(pt.param - options.p_start)),
                           description=f"{name}={pt.param:.4g}  point {len(run.branch.points)}  "
                                       f"unstable J:{pt.n_unstable_J} M:{pt.n_unstable_M}")
    return run.finish(reason)
