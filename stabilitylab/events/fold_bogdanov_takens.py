"""Bogdanov–Takens points on a fold curve: the left and right null vectors of J become orthogonal
(a second eigenvalue reaches 0 and J has a Jordan block), so the pairing ⟨p̂, q̂⟩ changes sign;
the fold coefficient a = ½⟨p, B(q, q)⟩/⟨p, q⟩ has a pole there (not a cusp)."""
from . import curves

curves.add(curves.CurveEvent(curves.BOGDANOV_TAKENS, "fold", lambda m: m.pairing, coefficient=True))
