"""BPTT: the exact gradient of the finite computation ``z_T1 = (z ↦ z + εF(z; θ))^T1 (z_0(θ))``,
``g = dL(z_T1; θ)/dθ`` by reverse mode through all T1 steps (memory grows with T1).

As T1 → ∞ on a contracting map it tends to the implicit gradient at z*, geometrically at the rate
of the map's spectral radius.
"""
from __future__ import annotations

from .objective import Cost, GradientResult, Objective


def bptt(obj: Objective, eps: float = 0.1, T1: int = 150) -> GradientResult:
    """Differentiate the T1-step Euler unroll from ``obj.start()`` (see the module docstring)."""
    with obj.tracked():
        z = obj.start()
        for _ in range(T1):
            z = z + eps * obj.field(z)
        loss = obj.loss(z)
        grads = obj.grads_of(loss)
    cost = Cost(forwards=T1, backward_steps=T1)
    z, diag = obj.free_phase(eps, T1, z, cost)  # residuals of the final state
    return GradientResult(grads, float(loss.detach()), z, {**diag, **cost.as_diagnostics()}, "bptt")
