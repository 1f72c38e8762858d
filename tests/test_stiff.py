"""Large stiff fields: a 1-D reaction–diffusion Brusselator against its closed-form spectrum.

At the homogeneous state (a, b/a) the Jacobian is block-diagonal in the cosine modes of the
reflecting 3-point Laplacian, κ_j = (4/h²) sin²(πj/(2N)): J_j = [[b−1−dκ, a²], [−b, −a²−dκ]].
Mode 0 has trace b − 1 − a² and determinant a²: Hopf at b = 1 + a² (λ = ±ia); the Euler map
z ← z + εF has |1 + ελ|² = 1 + εT + ε²D, so its NS is at T = −εD, b = 1 + a²(1 − ε); with equal
diffusion no other mode crosses first while ε·d·κ_max < 2 − ε²a² (checked below per mode).
"""
import dataclasses
import time
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import Field, examples, store
from stabilitylab.examples import reaction_diffusion
from stabilitylab.cli import cli
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.errors import ConvergenceWarning
from stabilitylab.linear import Linearization
from stabilitylab.solvers import find_fixed_point, gmres
from stabilitylab.spectral.euler import UNCONVERGED
from stabilitylab.spectral.spectrum import spectrum
from stabilitylab.spectral.transform import eigs_shift_invert

A, EPS = 2.0, 1e-3
B_HOPF, B_NS = 1 + A * A, 1 + A * A * (1 - EPS)


def homogeneous(cells, b):
    return torch.tensor(np.concatenate([np.full(cells, A), np.full(cells, b / A)]))


def first_ns_of_each_mode_is_mode_0(cells, b):
    """|1 + ελ| < 1 for every mode except mode 0's pair, at b just past B_NS (dense 2×2 blocks)."""
    lam = examples.brusselator_1d_spectrum(cells=cells, a=A, b=b)
    mu = np.abs(1 + EPS * lam)
    return (mu > 1).sum() == 2 and np.isclose(lam[0].real, (b - B_HOPF) / 2)


def test_closed_form_spectrum_and_preconditioner_match_dense():
    cells, b = 12, 4.5
    fld = examples.brusselator_1d(cells=cells, b=b)
    z = homogeneous(cells, b)
    assert float(fld(z).norm()) < 1e-13
    J = torch.func.jacfwd(fld.flat_force())(z).numpy()
    dense = np.sort_complex(np.linalg.eigvals(J))
    ref = np.sort_complex(examples.brusselator_1d_spectrum(cells=cells, b=b))
    assert np.abs(dense - ref).max() < 1e-10
    P = Linearization(fld, z).preconditioner(0.3)  # exact (J − 0.3 I)⁻¹ at a homogeneous state
    v = torch.randn(2 * cells, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert np.allclose((J - 0.3 * np.eye(2 * cells)) @ P(v).numpy(), v.numpy(), atol=1e-12)


def test_gmres_reports_failure_unpreconditioned_and_converges_with_the_hook():
    cells, b = 500, 4.9
    fld = examples.brusselator_1d(cells=cells, b=b)
    lin = Linearization(fld, fld.z0)  # not homogeneous: the hook is only approximate here
    rhs = -fld(fld.z0).reshape(-1)
    plain = gmres(lin.J(), rhs, tol=1e-10, restart=30, maxiter=300)
    assert not plain.converged and plain.residual_norm > 1e-6
    pre = gmres(lin.J(), rhs, tol=1e-10, restart=30, maxiter=300, M=lin.preconditioner())
    assert pre.converged and pre.iterations <= 30
    x = pre.x
    assert float((lin.J()(x) - rhs).norm() / rhs.norm()) <= 1e-10


def test_gmres_stops_on_stagnation_instead_of_spinning():
    A_sing = torch.diag(torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64))  # b ∉ range(A)
    sol = gmres(A_sing, torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64), restart=2, maxiter=10_000)
    assert not sol.converged and sol.stagnated and sol.iterations < 100
    assert abs(sol.residual_norm - 1 / np.sqrt(3)) < 1e-8  # the component outside range(A)


@pytest.mark.parametrize("cells", [500, 5000])
def test_shift_invert_rightmost_eigenvalues_match_closed_form(cells):
    """n = 1,000 and n = 10,000: the rightmost eigenvalues of a stiff J (‖J‖ ≈ 4·10⁵ at 5,000
    cells) converge by shift-invert in seconds, to 1e-6 of the closed form, with honest residuals."""
    b = 4.5
    fld = examples.brusselator_1d(cells=cells, b=b)
    t0 = time.perf_counter()
    res = eigs_shift_invert(Linearization(fld, homogeneous(cells, b)), 0.5, k=6, tol=1e-10)
    assert time.perf_counter() - t0 < 60
    ref = examples.brusselator_1d_spectrum(cells=cells, b=b)[:6]
    got = res.eigenvalues.numpy()
    assert res.converged and res.inner_unconverged == 0
    assert np.abs(np.sort_complex(got) - np.sort_complex(ref)).max() < 1e-6 * np.abs(ref).max()


def test_spectrum_at_10k_unknowns_with_sigma_is_converged_and_analytic():
    """The whole spectrum() pipeline (fixed point by preconditioned Newton, shift-invert)."""
    cells, b = 5000, 4.5
    ds = spectrum(examples.brusselator_1d(cells=cells, b=b), k=4, eps=1e-5, sigma=0.5, diagnostics=False)
    ref = examples.brusselator_1d_spectrum(cells=cells, b=b)[:4]
    lam = ds["eig_J"].values[:4]
    assert np.abs(np.sort_complex(lam) - np.sort_complex(ref)).max() < 1e-6 * np.abs(ref).max()
    assert ds.attrs["converged"] == 1 and ds.attrs["verdict"] == "stable"
    assert ds.attrs["fixed_point_converged"] == 1 and "not searched" in ds.attrs["m_search"]


def test_starved_eigensolver_is_named_in_verdict_and_exit_status(tmp_path):
    out = tmp_path / "s.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = CliRunner().invoke(cli, ["spectrum", "--field", "stabilitylab.examples:brusselator_1d",
                                       "--k", "4", "--eps", "1e-3", "--maxiter", "1", "--no-diagnostics",
                                       "--out", str(out)])
    assert res.exit_code == 3, res.output
    assert "not converged: J:" in res.output and "stable (" not in res.output.split("verdict:")[1]
    ds = store.read(out)
    assert ds.attrs["verdict"] == UNCONVERGED and ds.attrs["converged"] == 0
    assert "eigenvalues" in ds.attrs["not_converged"]


def test_continuation_locates_hopf_and_ns_at_1000_unknowns():
    cells = 500
    assert first_ns_of_each_mode_is_mode_0(cells, B_NS + 1e-3)
    fld = examples.brusselator_1d(cells=cells, b=4.9)
    opts = ContinuationOptions(4.9, 5.01, ds=0.02, ds_max=0.05, method="natural", sigma=0.5, k=4)
    br = continuation(ContinuationProblem(fld, "b", EPS), opts)
    assert br.complete, br.stop_reason
    first = {}
    for sp in sorted(br.specials, key=lambda sp: sp.param):
        first.setdefault(sp.kind, sp)
    assert abs(first["hopf"].param - B_HOPF) <= 1e-7 * B_HOPF
    assert abs(first["neimark_sacker"].param - B_NS) <= 1e-7 * B_NS
    assert abs(first["hopf"].frequency - A) < 1e-6
    for sp in first.values():  # the precision is a real bound, not the tolerance of a shifted root
        ref = B_HOPF if sp.kind == "hopf" else B_NS
        assert sp.precision < 1e-7 and abs(sp.param - ref) < max(1e-8, 10 * sp.precision)
    assert all(pt.eig_converged for pt in br.points)


def test_identical_batch_past_the_loss_of_stability_is_quick_and_counts_each_mode_once():
    """8 identical copies: every eigenvalue 8-fold. Each mode is one crossing (not one per copy
    found), located at the closed form; the run takes seconds, not the issue's 20+ minutes."""
    fld = examples.brusselator_1d(cells=32, batch=8, b=4.8, du=0.01, dv=0.01)
    t0 = time.perf_counter()
    br = continuation(ContinuationProblem(fld, "b", EPS),
                      ContinuationOptions(4.8, 5.3, ds=0.05, method="natural", k=4))
    assert time.perf_counter() - t0 < 60 and br.complete, br.stop_reason
    kinds = sorted((sp.kind, round(sp.param, 6)) for sp in br.specials)
    lam = examples.brusselator_1d_spectrum(cells=32, b=5.3, du=0.01, dv=0.01)
    kappa1 = reaction_diffusion._neumann_wavenumbers(32, 1.0)[1]
    assert [k for k, _ in kinds] == ["hopf", "hopf", "neimark_sacker", "neimark_sacker"]
    hopf = sorted(sp.param for sp in br.specials if sp.kind == "hopf")
    assert abs(hopf[0] - B_HOPF) < 1e-7 and abs(hopf[1] - (B_HOPF + 0.02 * kappa1)) < 1e-7
    assert (lam.real > 0).sum() == 4  # two pairs unstable at b = 5.3, each counted once per mode
    assert br.points[-1].n_unstable_J == 4
    assert all(sp.multiplicity >= 1 for sp in br.specials)


def test_force_residual_is_absolute_near_a_zero_fixed_point():
    """z* = 0: ‖F‖/‖z‖ = O(1) for ever; the residual ‖F‖/max(‖z‖, 1) converges."""
    fld = Field(lambda z: -z, torch.full((6,), 0.5, dtype=torch.float64), {})
    res = find_fixed_point(fld, eps=0.5, tol=1e-9, relax_steps=100, newton_from=0.0)
    assert res.converged and res.solver == "euler" and float(res.z.norm()) < 1e-9
    assert fld.residuals(res.z, 0.5)[0] <= 1e-9


def test_fold_at_infinity_ends_the_branch_with_a_named_reason():
    """F_i = 1 − (r_i − p) z_i: z_i* = 1/(r_i − p) escapes to infinity as p → 1 = r_0."""
    r = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    fld = Field(lambda z, p: 1 - (r - p) * z, 1 / r, {"p": 0.0})
    opts = ContinuationOptions(0.0, 2.0, ds=0.05, ds_max=50.0, grow=2.0, k=2, diverge_factor=1e3)
    br = continuation(ContinuationProblem(fld, "p", 0.1), opts)
    assert br.stop_reason.startswith("fold at infinity") and not br.complete
    assert br.points[-1].param < 1.0 and br.points[-1].state_norm > 1e3


def test_unpreconditioned_corrector_names_the_linear_solver():
    fld = dataclasses.replace(examples.brusselator_1d(cells=500, b=4.9), precondition=None)
    opts = ContinuationOptions(4.9, 5.0, gmres_restart=10, gmres_maxiter=20, relax_steps=0)
    with pytest.raises(Exception, match="GMRES on the bordered Jacobian reached only"):
        continuation(ContinuationProblem(fld, "b", EPS), opts)


def test_state_saved_by_relax_restarts_spectrum(tmp_path):
    """Stuart–Landau at mu = −0.2: z* = 0 (only the absolute residual test can converge there),
    eigenvalues −0.2 ± i (ω = 1)."""
    relax_out, spec_out = tmp_path / "r.zarr", tmp_path / "s.zarr"
    base = ["--field", "stabilitylab.examples:stuart_landau", "--set", "mu=-0.2"]
    res = CliRunner().invoke(cli, ["relax", *base, "--steps", "3000", "--tol", "1e-11", "--out", str(relax_out)])
    assert res.exit_code == 0 and "converged" in res.output, res.output
    res = CliRunner().invoke(cli, ["spectrum", *base, "--k", "2", "--state", str(relax_out), "--relax-steps", "0",
                                   "--no-diagnostics", "--out", str(spec_out)])
    assert res.exit_code == 0, res.output
    ds = store.read(spec_out)
    assert abs(ds["eig_J"].values[0] - complex(-0.2, 1.0)) < 1e-8 and ds.attrs["fixed_point_converged"] == 1
    assert ds.attrs["force_residual"] <= 1e-9
    bad = CliRunner().invoke(cli, ["spectrum", *base, "--state", str(tmp_path / "nope.zarr")])
    assert bad.exit_code == 2 and "no such file" in bad.output


def test_multiplicity_of_an_identical_batch_by_deflation():
    """8 identical copies of a 32-unknown field: the leading pair is exactly 8-fold (the dense
    eigenvalues of the block-diagonal J repeat each value 8 times)."""
    fld = examples.brusselator_1d(cells=16, batch=8, b=4.5, du=0.01, dv=0.01)
    z = homogeneous(16, 4.5).expand(8, 32).clone()
    ds = spectrum(fld, k=4, eps=EPS, z=z, diagnostics=False, multiplicity=True)
    ref = examples.brusselator_1d_spectrum(cells=16, b=4.5, du=0.01, dv=0.01)[0]
    assert abs(ds["eig_J"].values[0] - ref) < 1e-8
    assert ds.attrs["leading_multiplicity_J"] == 8 and ds.attrs["leading_multiplicity_M"] == 8
    assert int(ds["multiplicity_J"].values[0]) == 8
    single = spectrum(examples.brusselator_1d(cells=16, b=4.5, du=0.01, dv=0.01), k=4, eps=EPS,
                      z=homogeneous(16, 4.5), diagnostics=False, multiplicity=True)
    assert single.attrs["leading_multiplicity_J"] == 1


def test_continuation_cli_names_unconverged_points_and_exits_3(tmp_path):
    args = ["continuation", "--field", "stabilitylab.examples:brusselator_1d", "--param", "b",
            "--range", "4.9:4.95", "--eps", "1e-3", "--k", "2", "--max-points", "2", "--method", "natural",
            "--out", str(tmp_path / "c.zarr")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        starved = CliRunner().invoke(cli, args + ["--eig-maxiter", "1"])
    assert starved.exit_code == 3, starved.output
    assert "not converged: eigenvalues at 2 of 2 points" in starved.output
    assert "unconverged eigenvalues" in starved.output
    ds = store.read(tmp_path / "c.zarr")
    assert (ds["eig_converged"].values == 0).all()


@pytest.mark.parametrize("detect_tol", [1e-9, 1e-4])
def test_events_sit_on_the_true_crossing_or_say_how_far(detect_tol):
    """Stuart–Landau at small ε: Hopf at mu = 0, NS at mu_NS = (√(1 − ε²) − 1)/ε ≈ −ε/2. Located on
    the true crossing (1e-9) when the step straddles it; a coarse threshold (1e-4) detects it a
    step late, and the precision then covers the lag (the true value lies within it)."""
    eps = 0.01
    fld = examples.stuart_landau(mu=-0.05)
    opts = ContinuationOptions(-0.05, 0.02, ds=0.01, method="natural", k=2, detect_tol=detect_tol)
    br = continuation(ContinuationProblem(fld, "mu", eps), opts)
    assert br.complete, br.stop_reason
    ns = next(sp for sp in br.specials if sp.kind == "neimark_sacker")
    hopf = next(sp for sp in br.specials if sp.kind == "hopf")
    ref = examples.stuart_landau_ns_point(1.0, eps)["mu"]
    for sp, truth in ((ns, ref), (hopf, 0.0)):
        assert abs(sp.param - truth) <= sp.precision + 1e-10
        if detect_tol == 1e-9:
            assert abs(sp.param - truth) < 1e-9 and sp.precision < 1e-7
