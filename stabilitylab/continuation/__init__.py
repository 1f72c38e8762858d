"""Fixed-point continuation of ``F(z; p) = 0`` in a named knob, with bifurcation detection.

- :class:`ContinuationProblem` — field, knob, ε (:mod:`.problem`);
- :class:`ContinuationOptions` — range, steps, tolerances, method (:mod:`.options`);
- :func:`continuation` — the run, resumable from its zarr store (:mod:`.run`, :mod:`.resume`);
- :class:`Branch` — branch points and special points, ``to_dataset()`` (:mod:`.branch`);
- :class:`SpecialPoint` — hopf / neimark_sacker / fold / branch_point / flip (:mod:`.events`).

Predictors (:mod:`.predictor`), the bordered Newton–Krylov corrector (:mod:`.corrector`), spectra
along the branch (:mod:`.spectra`) and the bifurcation diagram (:mod:`.diagram`) are the parts.
"""
import importlib

#: public name -> the module that defines it, imported on first use (so that reading the options,
#: e.g. for a command's --help, does not load torch)
_EXPORTS = {"Branch": ".branch", "BranchPoint": ".branch", "KINDS": ".events", "SpecialPoint": ".events",
            "ContinuationOptions": ".options", "ContinuationProblem": ".problem", "continuation": ".run"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
