"""J's and M's modes along a branch from one shared Krylov space vs two separate searches.

The field is linear, F(z) = (A + pI) z with A = Q T Qᵀ non-normal (T upper triangular with
random couplings): eigenvalues −0.2 ± i (Hopf at p = 0.2, Neimark–Sacker of the Euler map at
p = 0.2 + (√(1 − ε²) − 1)/ε), 40 mild rates in [−3, −0.5] and 38 stiff ones in [−19.9, −16]. The
stiff modes have ε(λ + p) near −2: the largest |μ| include them although they are the leftmost λ,
so the M set is not the J set; at p = −1.5 fourteen of them are flips (μ < −1) and M's window
must grow while J's does not. References: dense numpy eigenvalues of A + pI and the closed forms.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import examples as ex
from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.continuation.spectra import SpectrumTracker
from stabilitylab.errors import ConfigError

EPS, N = 0.1, 80
HOPF = 0.2
NS = HOPF + (math.sqrt(1 - EPS**2) - 1) / EPS


def _matrix(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mild, stiff = np.linspace(-0.5, -3.0, 40), np.linspace(-16.0, -19.9, N - 42)
    T = np.diag(np.concatenate([[-0.2, -0.2], mild, stiff]))
    T += np.triu(rng.standard_normal((N, N)), 1) / np.sqrt(N)
    T[0, 1], T[1, 0] = 1.0, -1.0  # the pair −0.2 ± i
    Q = np.linalg.qr(rng.standard_normal((N, N)))[0]
    return Q @ T @ Q.T


@pytest.fixture(scope="module")
def field():
    return ex.linear(_matrix())


def _ranked(values: np.ndarray, key: np.ndarray) -> np.ndarray:
    return values[np.lexsort((-values.imag, -key))]


@pytest.mark.parametrize("p, unstable_M", [(0.0, 0), (NS + 0.01, 2), (-1.5, 14)])
def test_shared_tracker_matches_separate_and_dense(field, p, unstable_M):
    opts = {s: ContinuationOptions(0.0, 0.3, k=4, max_window=24, search=s) for s in ("shared", "separate")}
    z = torch.zeros(N, dtype=torch.float64)
    modes = {s: SpectrumTracker(ContinuationProblem(field, "p", EPS), o).modes(z, p) for s, o in opts.items()}
    lam = np.linalg.eigvals(_matrix()) + p
    ref = {"J": _ranked(lam, lam.real), "M": _ranked(1 + EPS * lam, np.abs(1 + EPS * lam))}
    shared, separate = modes["shared"], modes["separate"]
    for op in ("J", "M"):
        a, b = shared[op], separate[op]
        assert len(a.values) == len(b.values) >= max(4, a.n_unstable + 2)
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-8)
        np.testing.assert_allclose(a.values, ref[op][: len(a.values)], rtol=0, atol=1e-8)
        assert a.n_unstable == b.n_unstable and a.converged and not a.window_full
        scale = EPS if op == "M" else 1.0  # M's residuals: ε times J's, ‖Mx − μx‖ = ε‖Jx − λx‖
        assert a.residuals.max() <= 1e-8 * scale * 20
    assert shared["J"].n_unstable == 0 and shared["M"].n_unstable == unstable_M
    assert ((shared["M"].values.real - 1) / EPS - p < -15).any()  # stiff modes lead M, never J
    assert (shared["J"].values.real - p > -5).all()
    if unstable_M > 4:  # M's window grew, J's kept k
        assert len(shared["M"].values) >= unstable_M + 2 and len(shared["J"].values) == 4
    # one search served both: its products are counted once, on J's ModeSet
    assert shared["M"].matvecs == 0 and separate["M"].matvecs > 0
    assert shared["J"].matvecs < separate["J"].matvecs + separate["M"].matvecs


def test_shared_branch_locates_the_same_events_at_the_closed_form(field):
    runs = {s: continuation(ContinuationProblem(field, "p", EPS),
                            ContinuationOptions(0.0, 0.3, ds=0.05, method="natural", k=4, search=s))
            for s in ("shared", "separate")}
    for br in runs.values():
        assert br.complete, br.stop_reason
        assert [(sp.kind, sp.operator) for sp in sorted(br.specials, key=lambda sp: sp.param)] == [
            ("neimark_sacker", "M"), ("hopf", "J")]
        for sp in br.specials:
            truth = HOPF if sp.kind == "hopf" else NS
            assert abs(sp.param - truth) <= sp.precision + 1e-10 and sp.precision < 1e-8
        assert all(pt.eig_converged for pt in br.points)
    a, b = runs["shared"], runs["separate"]
    for pa, pb in zip(a.points, b.points, strict=True):
        np.testing.assert_allclose(pa.eig_J, pb.eig_J, rtol=0, atol=1e-8)
        np.testing.assert_allclose(pa.eig_M, pb.eig_M, rtol=0, atol=1e-8)
        assert (pa.n_unstable_J, pa.n_unstable_M) == (pb.n_unstable_J, pb.n_unstable_M)
    assert a.column("eig_matvecs").sum() < b.column("eig_matvecs").sum()


def test_search_option_is_validated_and_recorded(tmp_path):
    with pytest.raises(ConfigError, match="search must be one of shared, separate"):
        ContinuationOptions(0.0, 1.0, search="both")
    out = tmp_path / "c.zarr"
    res = CliRunner().invoke(cli, ["continuation", "--field", "stabilitylab.examples:flip", "--param", "p",
                                   "--range", "1:1.2", "--ds", "0.1", "--k", "2", "--search", "separate",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(store.read(out).attrs["options"])["search"] == "separate"
    res = CliRunner().invoke(cli, ["continuation", "--field", "stabilitylab.examples:flip", "--param", "p",
                                   "--range", "1:1.2", "--search", "both", "--out", str(tmp_path / "d.zarr")])
    assert res.exit_code == 2 and "both" in res.output


def test_shared_branch_locates_a_flip_that_J_never_sees():
    """The stiff mode of :func:`~stabilitylab.examples.flip` (n = 80: not the dense path) leaves
    through μ = −1 at p = 2/ε while J stays stable: only the M set of the shared search holds it."""
    ref = ex.flip_point(EPS)
    br = continuation(ContinuationProblem(ex.flip(n=N), "p", EPS),
                      ContinuationOptions(15.0, 25.0, ds=0.5, ds_max=2.0))
    assert br.complete, br.stop_reason
    (flip,) = br.specials
    assert (flip.kind, flip.operator) == ("flip", "M")
    assert abs(flip.param - ref["p"]) < 1e-8 and abs(flip.eig - ref["multiplier"]) < 1e-8
    assert all(pt.n_unstable_J == 0 for pt in br.points)
    assert [pt.n_unstable_M for pt in br.points] == [int(pt.param > ref["p"]) for pt in br.points]
