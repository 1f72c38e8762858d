"""Example family: 1-D reaction–diffusion Brusselator (a stiff PDE discretisation)."""
from __future__ import annotations

import numpy as np
import torch

from ..field import Field
from ._base import ExampleForce, _generator, _meta, _check_dtype, _sort_spectrum


def _neumann_wavenumbers(cells: int, length: float) -> np.ndarray:
    """−(eigenvalues) of the 3-point Laplacian with reflecting ends: κ_j = (4/h²) sin²(πj/(2N))."""
    h = length / cells
    return 4.0 / h**2 * np.sin(np.pi * np.arange(cells) / (2 * cells)) ** 2


class Brusselator1DForce(ExampleForce):
    r"""``u_t = a − (b+1)u + u²v + d_u u_xx``, ``v_t = bu − u²v + d_v v_xx`` on ``z = (u, v)``
    (last axis, ``2·cells``), reflecting (Neumann) ends; :meth:`precondition` is the field hook."""

    _consts = ()

    def __init__(self, cells: int, length: float, du: float, dv: float):
        super().__init__()
        self.cells, self.length, self.du, self.dv = int(cells), float(length), float(du), float(dv)
        self.kappa = _neumann_wavenumbers(self.cells, self.length)

    def _lap(self, w):
        h = self.length / self.cells
        padded = torch.cat([w[..., :1], w, w[..., -1:]], dim=-1)
        return (padded[..., :-2] - 2.0 * w + padded[..., 2:]) / (h * h)

    def __call__(self, z, *, a, b):
        u, v = z[..., : self.cells], z[..., self.cells :]
        u2v = u * u * v
        fu = a - (b + 1.0) * u + u2v + self.du * self._lap(u)
        fv = b * u - u2v + self.dv * self._lap(v)
        return torch.cat([fu, fv], dim=-1)

    def precondition(self, z, w, shift, *, a, b):
        r"""``(J̄ − shift·I)⁻¹ w`` with J̄ the Jacobian at the spatial mean of each sequence:
        diffusion plus the mean 2×2 reaction block, block-diagonal per cosine mode (DCT-II),
        so exact on homogeneous states and an approximation elsewhere."""
        import scipy.fft

        zz, ww = z.detach().cpu().double().numpy(), w.detach().cpu().double().numpy()
        N = self.cells
        u, v = zz[..., :N].mean(-1, keepdims=True), zz[..., N:].mean(-1, keepdims=True)
        k11, k12 = -(b + 1.0) + 2 * u * v - shift, u * u
        k21, k22 = b - 2 * u * v, -u * u - shift
        m11, m22 = k11 - self.du * self.kappa, k22 - self.dv * self.kappa
        det = m11 * m22 - k12 * k21
        det = np.where(det == 0.0, 1.0, det)
        wu = scipy.fft.dct(ww[..., :N], type=2, norm="ortho", axis=-1)
        wv = scipy.fft.dct(ww[..., N:], type=2, norm="ortho", axis=-1)
        xu, xv = (m22 * wu - k12 * wv) / det, (m11 * wv - k21 * wu) / det
        x = np.concatenate([scipy.fft.idct(xu, type=2, norm="ortho", axis=-1),
                            scipy.fft.idct(xv, type=2, norm="ortho", axis=-1)], axis=-1)
        return torch.as_tensor(x, dtype=w.dtype, device=w.device)


def brusselator_1d(cells: int = 500, a: float = 2.0, b: float = 4.5, du: float = 1e-3,
                   dv: float = 1e-3, length: float = 1.0, batch: int = 0, seed: int = 0,
                   dtype=torch.float64) -> Field:
    r"""The Brusselator as a reaction–diffusion system on ``cells`` grid cells of ``[0, length]``.

    .. math::  u_t = a - (b+1)u + u^2 v + d_u u_{xx},\qquad v_t = b u - u^2 v + d_v v_{xx},

    3-point Laplacian with reflecting (Neumann) ends; state ``(u, v)`` of ``2·cells`` numbers
    (``batch > 0``: ``batch`` identical copies, shape ``(batch, 2·cells)``, every eigenvalue
    ``batch``-fold). Homogeneous fixed point ``(a, b/a)``; on cosine mode j (wavenumber
    ``κ_j = (4/h²) sin²(πj/(2N))``) J is ``[[b−1−d_u κ, a²], [−b, −a²−d_v κ]]``
    (:func:`brusselator_1d_spectrum`). With ``d_u = d_v`` no Turing mode exists near the Hopf,
    so the first instability is mode 0's Hopf at ``b = 1 + a²`` (λ = ±ia), and the Euler map's
    first NS is ``b = 1 + a²(1 − ε)`` provided ``ε·d·κ_max < 2 − ε²a²`` (stiff: small ε).
    The field carries a ``precondition`` hook (exact at homogeneous states). ``z0``: the fixed
    point plus a seeded perturbation of size 0.01.
    """
    _check_dtype(dtype)
    cells = int(cells)
    force = Brusselator1DForce(cells, length, du, dv)
    gen = _generator(seed)
    shape = (batch, 2 * cells) if batch else (2 * cells,)
    base = torch.tensor(np.concatenate([np.full(cells, a), np.full(cells, b / a)]))
    noise = 0.01 * torch.randn(2 * cells, generator=gen, dtype=torch.float64)
    z0 = (base + noise).expand(shape).clone()
    args = dict(cells=cells, a=float(a), b=float(b), du=float(du), dv=float(dv),
                length=float(length), batch=int(batch), seed=int(seed))
    return Field(force, z0.to(dtype), {"a": a, "b": b}, "brusselator_1d",
                 _meta("brusselator_1d", f"1-D reaction-diffusion Brusselator on {cells} cells "
                       "(Neumann ends; Hopf at b = 1 + a^2)", args),
                 precondition=force.precondition)


def brusselator_1d_spectrum(cells: int = 500, a: float = 2.0, b: float = 4.5, du: float = 1e-3,
                            dv: float = 1e-3, length: float = 1.0) -> np.ndarray:
    """All ``2·cells`` eigenvalues of J at the homogeneous state, from the 2×2 block of each cosine
    mode (complex128, by descending real part)."""
    kappa = _neumann_wavenumbers(int(cells), float(length))
    tr = b - 1.0 - a * a - (du + dv) * kappa
    det = (b - 1.0 - du * kappa) * (-a * a - dv * kappa) + a * a * b
    sq = np.sqrt((tr * tr / 4.0 - det).astype(np.complex128))
    return _sort_spectrum(np.concatenate([tr / 2 + sq, tr / 2 - sq]))
