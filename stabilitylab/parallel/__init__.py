"""Resumable, distributed sweeps: one task per point, each writing its own region of a zarr store.

A *sweep* is a list of points (JSON-able mappings: a checkpoint path, a batch seed, an ε, a
knockout, ...) and a function ``compute(point) -> xr.Dataset`` giving one point's result.
:func:`run_sweep` pre-creates the store with the full ``point`` dimension (fill values: NaN for
floats), runs ``compute`` for every point not yet done — serially in-process, on a
``LocalCluster``, or on an existing dask cluster — and each task writes its result and then its
``status``/``reason``/``done`` flags straight into the store. Rerunning the same sweep resumes it;
a settings fingerprint refuses to mix two different sweeps in one store. Per-point failures
(user errors, NaN/Inf, non-convergence, crashed workers) are recorded, never fatal.

Example (a sweep of the Euler step size over the spectrum of one field)::

    from stabilitylab import store
    from stabilitylab.parallel import run_sweep, template_like
    from stabilitylab.spectral.spectrum import spectrum

    def compute(point):                      # module level, so dask workers can import it
        return spectrum(my_field(), k=6, eps=point["eps"], diagnostics=False)

    template = template_like(compute({"eps": 0.1}), mode=7)   # mode: at most k + 1 values
    report = run_sweep([{"eps": e} for e in (0.05, 0.1, 0.2)], compute, "eps.zarr", template,
                       settings={"k": 6}, workers=2)
    ds = store.read("eps.zarr")  # dims (point, mode), coordinate eps; ds.status, ds.reason, ds.done

With ``workers > 1`` the workers are spawned processes that import ``compute`` by name: define it
in a module (or under ``if __name__ == "__main__":`` in a script), not interactively. Store layout
and atomicity: :mod:`~stabilitylab.parallel.sweepstore`; execution and outcome classes:
:mod:`~stabilitylab.parallel.engine`; the host-read audit of solvers:
:mod:`~stabilitylab.parallel.hostreads`.
"""
from .engine import PointResult, PointSummary, SweepReport, default_threads, run_sweep
from .sweepstore import ERROR, FAILED, NOT_CONVERGED, OK, PENDING, template_like

__all__ = ["ERROR", "FAILED", "NOT_CONVERGED", "OK", "PENDING", "PointResult", "PointSummary",
           "SweepReport", "default_threads", "run_sweep", "template_like"]
