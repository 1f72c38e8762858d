"""A low-dimensional core embedded in R^n, for tests against closed forms: z = Q (y_core, s) with Q a
seeded random orthogonal matrix and ṡ = −rates·s + coupling·y0² (the stable directions are slaved
to the core quadratically: the centre manifold is curved, the core's bifurcations stay exact)."""
import torch

from stabilitylab import Field


def embedded(core, m: int, n: int, params: dict, y0, seed: int = 0, coupling: float = 0.3,
             rates: tuple = (0.6, 2.0)) -> Field:
    """``core(y[:m], **params)`` embedded in R^n (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))[0]
    r = torch.linspace(*rates, n - m, dtype=torch.float64)

    def force(z, **p):
        y = Q.T @ z
        return Q @ torch.cat([core(y[:m], **p), -r * y[m:] + coupling * y[0:1] ** 2])

    y = torch.zeros(n, dtype=torch.float64)
    y[:m] = torch.as_tensor(y0, dtype=torch.float64)
    y[m:] = coupling * y[0] ** 2 / r
    return Field(force, Q @ y, params)
