"""Fixed-point continuation of ``F(z; p) = 0`` in a named knob, with bifurcation detection.

- :class:`ContinuationProblem` — field, knob, ε (:mod:`.problem`);
- :class:`ContinuationOptions` — range, steps, tolerances, method (:mod:`.options`);
- :func:`continuation` — the run, resumable from its zarr store (:mod:`.run`, :mod:`.resume`);
- :class:`Branch` — branch points and special points, ``to_dataset()`` (:mod:`.branch`);
- :class:`SpecialPoint` — hopf / neimark_sacker / fold / branch_point / flip (:mod:`.events`).

Predictors (:mod:`.predictor`), the bordered Newton–Krylov corrector (:mod:`.corrector`), spectra
along the branch (:mod:`.spectra`) and the bifurcation diagram (:mod:`.diagram`) are the parts.
"""
from .branch import Branch, BranchPoint
from .events import KINDS, SpecialPoint
from .options import ContinuationOptions
from .problem import ContinuationProblem
from .run import continuation

__all__ = ["KINDS", "Branch", "BranchPoint", "ContinuationOptions", "ContinuationProblem",
           "SpecialPoint", "continuation"]
