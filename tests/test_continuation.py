"""Continuation with bifurcation detection, checked against fields with known answers.

Stuart–Landau in many stable dimensions (Hopf at μ = 0, Euler-map Neimark–Sacker at the known
μ_NS), the S-shaped fold field followed around both turning points, the flip field (M flips at
p = 2/ε while J stays stable), resumable runs, the CLI, and the shipped thick checkpoint
cross-checked against long Euler relaxation.
"""
from __future__ import annotations


import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stabilitylab import examples as ex
from stabilitylab import store
from stabilitylab.checkpoint import load
from stabilitylab.cli import cli
from stabilitylab.continuation import Branch, ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.continuation import resume
from stabilitylab.continuation.resume import side_path
from stabilitylab.errors import ConfigError, FieldError, StabilityLabError
from stabilitylab.solvers import relax_euler

EPS = 0.1
LOCATE = 1e-4  # required location accuracy in p


def kinds(branch):
    return sorted((sp.kind, sp.operator) for sp in branch.specials)


def special(branch, kind, operator):
    return [sp for sp in branch.specials if sp.kind == kind and sp.operator == operator]


@pytest.fixture(scope="module")
def sl_field():
    """Stuart–Landau: the Hopf pair μ ± i on 2 of 40 coordinates, 38 stable rates in [0.5, 3]."""
    return ex.stuart_landau(n=40, omega=1.0)


def sl_run(field, **kw):
    opts = dict(ds=0.03) | kw
    return ContinuationProblem(field, "mu", EPS), ContinuationOptions(-0.3, 0.2, **opts)


@pytest.fixture(scope="module")
def sl_whole(sl_field, tmp_path_factory):
    """One uninterrupted PALC run over μ ∈ [−0.3, 0.2], stored: (branch, store path)."""
    out = tmp_path_factory.mktemp("sl") / "whole.zarr"
    return continuation(*sl_run(sl_field), out=out), out


# ------------------------------------------------------------------------------------------------
# analytic fields
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["palc", "natural"])
def test_stuart_landau_hopf_and_neimark_sacker(sl_field, sl_whole, method):
    br = sl_whole[0] if method == "palc" else continuation(*sl_run(sl_field, method=method))
    assert br.complete and br.params[-1] >= 0.2 - 1e-12, br.stop_reason
    assert kinds(br) == [("hopf", "J"), ("neimark_sacker", "M")]
    (hopf,), (ns,) = special(br, "hopf", "J"), special(br, "neimark_sacker", "M")
    ref = ex.stuart_landau_ns_point(1.0, EPS)
    assert abs(hopf.param - ex.stuart_landau_hopf(1.0)["mu"]) < LOCATE
    assert abs(ns.param - ref["mu"]) < LOCATE
    assert hopf.precision < LOCATE and ns.precision < LOCATE
    assert abs(hopf.eig - 1j) < 1e-4 and abs(hopf.frequency - 1.0) < 1e-8
    assert abs(ns.eig - ref["multipliers"][0]) < 1e-4 and abs(ns.frequency - ref["theta"]) < 1e-8
    for pt in br.points:  # counts switch by a pair exactly at the located points
        assert pt.n_unstable_J == (2 if pt.param > hopf.param else 0)
        assert pt.n_unstable_M == (2 if pt.param > ns.param else 0)
        np.testing.assert_allclose(pt.eig_J[:2], [complex(pt.param, 1), complex(pt.param, -1)], atol=1e-8)
        np.testing.assert_allclose(abs(pt.eig_M[0]), abs(1 + EPS * complex(pt.param, 1)), atol=1e-8)
        assert pt.force_residual <= 1e-9
    if method == "natural":
        np.testing.assert_allclose(br.params[-1], 0.2, atol=1e-14)  # lands on p_end


def test_fold_followed_around_both_turning_points():
    fld = ex.fold(n=16)
    br = continuation(ContinuationProblem(fld, "p", EPS), ContinuationOptions(-1.0, 1.0, ds=0.05, ds_max=0.2))
    assert br.complete, br.stop_reason
    assert kinds(br) == [("fold", "J"), ("fold", "J"), ("fold", "M"), ("fold", "M")]
    truth = sorted(f["p"] for f in ex.fold_points()["folds"])  # -2/3 (x = 1), +2/3 (x = -1)
    for op in ("J", "M"):
        found = sorted(sp.param for sp in special(br, "fold", op))
        np.testing.assert_allclose(found, truth, atol=LOCATE)
        assert all(sp.precision < LOCATE for sp in special(br, "fold", op))
    # p rises to 2/3, turns back along the unstable middle branch to -2/3, and rises again
    turns = np.flatnonzero(np.diff(np.sign(br.column("tangent_p"))))
    assert len(turns) == 2
    middle = br.points[turns[0] + 1: turns[1] + 1]
    assert middle and all(pt.n_unstable_J == 1 and pt.n_unstable_M == 1 for pt in middle)
    # it ends on the upper branch, at the known equilibrium
    x_end = float(fld.force.to_y(br.z)[0])
    np.testing.assert_allclose(x_end, ex.fold_equilibria(br.params[-1])[-1], atol=1e-7)


def test_natural_continuation_stops_cleanly_at_a_fold():
    br = continuation(ContinuationProblem(ex.fold(n=16), "p", EPS),
                      ContinuationOptions(-1.0, 1.0, ds=0.05, ds_max=0.2, method="natural"))
    assert not br.complete
    assert "corrector failed" in br.stop_reason and "palc" in br.stop_reason
    assert 0.6 < br.params[-1] < 2 / 3  # stopped just before the fold, did not jump branches
    assert all(pt.n_unstable_J == 0 for pt in br.points)


def test_flip_of_the_euler_map_while_J_stays_stable():
    ref = ex.flip_point(EPS)
    br = continuation(ContinuationProblem(ex.flip(n=16), "p", EPS), ContinuationOptions(15.0, 25.0, ds=0.5, ds_max=2.0))
    assert br.complete
    assert kinds(br) == [("flip", "M")]
    flip, = br.specials
    assert abs(flip.param - ref["p"]) < LOCATE and flip.precision < LOCATE
    assert abs(flip.eig - ref["multiplier"]) < 1e-6 and abs(flip.frequency - np.pi) < 1e-12
    assert all(pt.n_unstable_J == 0 for pt in br.points)
    assert [pt.n_unstable_M for pt in br.points] == [int(pt.param > ref["p"]) for pt in br.points]


# ------------------------------------------------------------------------------------------------
# datasets, resuming, restarting
# ------------------------------------------------------------------------------------------------
def test_dataset_layout_and_round_trip(sl_whole):
    br, out = sl_whole
    ds = store.read(out)
    assert set(ds.sizes) == {"point", "mode", "special", "state", "unknown"} and ds.sizes["mode"] == 6
    for i, sp in enumerate(br.specials):  # the stored state is the special point's fixed point
        assert np.linalg.norm(ds["special_state"].values[i]) == pytest.approx(sp.state_norm, rel=1e-12)
    assert ds["eig_J"].dtype == np.complex128 and ds["special_eig"].dtype == np.complex128
    for var in ("mu", "n_unstable_J", "n_unstable_M", "force_residual", "newton_iters", "step_size",
                "state_norm", "special_kind", "special_param", "special_operator", "special_precision"):
        assert var in ds.variables, var
    assert list(ds["special_kind"].values) == [sp.kind for sp in br.specials]
    assert ds.attrs["param"] == "mu" and ds.attrs["reached_end"] == 1 and "versions" in ds.attrs
    back = Branch.from_dataset(ds)
    np.testing.assert_array_equal(back.params, br.params)
    np.testing.assert_array_equal(back.column("n_unstable_M"), br.column("n_unstable_M"))
    assert back.specials == br.specials
    # a finished run leaves no side file: the restart state is in the store
    assert not side_path(out).exists() and ds.sizes["unknown"] == ds.attrs["state_size"] + 1


def _compare(a: Branch, b: Branch):
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(a.column("n_unstable_J"), b.column("n_unstable_J"))
    np.testing.assert_array_equal(a.column("n_unstable_M"), b.column("n_unstable_M"))
    for pa, pb in zip(a.points, b.points):
        np.testing.assert_allclose(pa.eig_J[:2], pb.eig_J[:2], atol=1e-8)
    assert kinds(a) == kinds(b)
    for sa, sb in zip(a.specials, b.specials):
        assert abs(sa.param - sb.param) < 1e-9


def test_interrupted_run_resumes_from_its_store(sl_field, sl_whole, tmp_path):
    whole = sl_whole[0]
    problem, opts = sl_run(sl_field)
    out = tmp_path / "cont.zarr"
    first = continuation(problem, ContinuationOptions(-0.3, 0.2, ds=0.03, max_points=4), out=out)
    assert not first.complete and len(first.points) == 4 and "max_points" in first.stop_reason
    assert store.read(out).sizes["point"] == 4
    assert not side_path(out).exists()  # the stopped run's restart state is in its store
    # a crash between an append and the side-file write: the store has points the state has not
    at_4 = resume.open_branch(out, sl_field.z0)
    continuation(problem, ContinuationOptions(-0.3, 0.2, ds=0.03, max_points=6), out=out)
    resume.save(out, at_4)
    resumed = continuation(problem, opts, out=out)
    assert resumed.complete
    _compare(resumed, whole)
    _compare(Branch.from_dataset(store.read(out)), whole)
    again = continuation(problem, opts, out=out)  # complete: returned as stored
    assert len(again.points) == len(whole.points)


def test_buffered_writes_crash_loses_only_unflushed_points(sl_field, sl_whole, tmp_path, monkeypatch):
    """Points reach the store in batches (continuation.writer); a crash loses only the points since
    the last flush, and rerunning resumes from the last flushed one to the same branch."""
    from stabilitylab.continuation import spectra, writer

    whole = sl_whole[0]
    problem, opts = sl_run(sl_field)
    out = tmp_path / "cont.zarr"
    monkeypatch.setattr(writer, "FIRST_COST", 0.0)  # first flush at once,
    monkeypatch.setattr(writer, "IO_SHARE", 1e-12)  # then never again before the end
    monkeypatch.setattr(writer, "MAX_UNFLUSHED_SECONDS", 1e9)
    calls, modes = [0], spectra.SpectrumTracker.modes

    def crash_on_5th(self, *a, **kw):
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt
        return modes(self, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(spectra.SpectrumTracker, "modes", crash_on_5th)
        with pytest.raises(KeyboardInterrupt):
            continuation(problem, opts, out=out)
    assert store.read(out, partial=True).sizes["point"] == 1  # four points computed, one flushed
    assert torch.load(side_path(out), weights_only=True)["npoints"] == 1
    resumed = continuation(problem, opts, out=out)
    assert resumed.complete
    _compare(resumed, whole)
    _compare(Branch.from_dataset(store.read(out)), whole)


def test_restart_from_a_branch_and_settings_mismatch(sl_field, sl_whole):
    problem, opts = sl_run(sl_field)
    short = continuation(problem, ContinuationOptions(-0.3, -0.1, ds=0.03))
    assert short.complete and kinds(short) == [] and abs(short.params[-1] + 0.1) < 1e-9  # lands on the end
    longer = continuation(problem, opts, restart=short)  # extended from -0.1: another grid, the same events
    np.testing.assert_allclose(longer.params[: len(short.points)], short.params, rtol=0, atol=1e-12)
    found = sorted((sp.param, sp.kind) for sp in longer.specials)
    expected = sorted((sp.param, sp.kind) for sp in sl_whole[0].specials)
    assert [k for _, k in found] == [k for _, k in expected]
    np.testing.assert_allclose([p for p, _ in found], [p for p, _ in expected], rtol=0, atol=1e-8)
    with pytest.raises(StabilityLabError, match="other settings"):
        continuation(ContinuationProblem(sl_field, "mu", 0.05), opts, restart=short)



# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(p_start=1.0, p_end=1.0), "empty"),
    (dict(ds=0.5, ds_max=0.1), "ds_min <= ds <= ds_max"),
    (dict(method="newton"), "method"),
    (dict(p_end=float("nan")), "finite"),
    (dict(k=0), "k must be"),
])
def test_options_are_validated(kw, match):
    with pytest.raises(ConfigError, match=match):
        ContinuationOptions(**(dict(p_start=0.0, p_end=1.0) | kw))


def test_problem_is_validated(sl_field):
    with pytest.raises(FieldError, match="unknown knob 'alpha'.*mu"):
        ContinuationProblem(sl_field, "alpha")
    for eps in (0.0, -0.1):
        with pytest.raises(ConfigError, match="eps"):
            ContinuationProblem(sl_field, "mu", eps)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
SL = ["continuation", "--field", "stabilitylab.examples:stuart_landau", "--param", "mu"]


def test_cli_on_a_field(tmp_path):
    out = tmp_path / "cont.zarr"
    res = CliRunner().invoke(cli, SL + ["--range", "-0.3:0.2", "--ds", "0.03", "--k", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "neimark_sacker" in res.output and "hopf" in res.output and "UNSTABLE(2)" in res.output
    assert out.with_suffix(".png").stat().st_size > 0
    ds = store.read(out)
    assert sorted(ds["special_kind"].values) == ["hopf", "neimark_sacker"]
    assert "continuation" in ds.attrs["command"] or ds.attrs["command"]
    res = CliRunner().invoke(cli, SL + ["--range", "-0.3:0.2", "--ds", "0.03", "--k", "4", "--out", str(out)])
    assert res.exit_code == 0 and "resuming" in res.output


@pytest.mark.parametrize("args, match", [
    (["--range", "0.2:0.2"], "empty range"),
    (["--range", "a:b"], "must be numbers"),
    (["--range", "0.2"], "START:END"),
    (["--range", "0.2:-0.3"], "--descending"),
    (["--range", "-0.3:0.2", "--eps", "0"], "--eps must be > 0"),
    (["--range", "-0.3:0.2", "--eps", "-1"], "--eps must be > 0"),
    (["--alpha", "0.2:1.0"], "--alpha is the range of alpha"),
    ([], "give the range of mu"),
])
def test_cli_bad_input_is_one_line(args, match, tmp_path):
    res = CliRunner().invoke(cli, SL + args + ["--out", str(tmp_path / "x.zarr")])
    assert res.exit_code == 2, res.output
    assert match in res.output and res.output.count("\n") == 1 and "Traceback" not in res.output


def test_cli_unknown_knob(tmp_path):
    res = CliRunner().invoke(cli, ["continuation", "--field", "stabilitylab.examples:fold", "--param", "nope",
                                   "--range", "0:1", "--out", str(tmp_path / "x.zarr")])
    assert res.exit_code == 2 and "unknown knob 'nope'" in res.output and "p" in res.output


# ------------------------------------------------------------------------------------------------
# the shipped thick checkpoint
# ------------------------------------------------------------------------------------------------
THICK_EPS = 0.3  # ε_crit of the leading pair falls below 0.3 inside α ∈ [0.2, 1]: a Neimark–Sacker


def _relax(fld, alpha, z0, steps=3000):
    return relax_euler(fld.with_params(alpha=alpha), THICK_EPS, steps, z0=z0.reshape(fld.shape), tol=1e-10)


def test_thick_checkpoint_alpha_range_cross_checked_by_relaxation(tmp_path):
    """`--alpha 0.2:1.0` end to end on the shipped checkpoint (interrupted and resumed). Where the
    branch is stable, long Euler relaxation from the input converges to the continued fixed point;
    past the located Neimark–Sacker point it does not, and a tiny push off the fixed point grows."""
    out = tmp_path / "cont.zarr"
    args = ["continuation", "--ckpt", "default.pt", "--alpha", "0.2:1.0", "--eps", str(THICK_EPS), "--ds", "0.4", "--ds-max", "0.4",
            "--k", "4", "--method", "natural", "--out", str(out)]
    res = CliRunner().invoke(cli, args + ["--max-points", "2"])
    assert res.exit_code == 0, res.output
    fld = load("default.pt")
    mid = torch.as_tensor(store.read(out)["restart_x"].values)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "resuming" in res.output, res.output
    branch = Branch.from_dataset(store.read(out))
    assert branch.complete and np.allclose(branch.params, [0.2, 0.6, 1.0], atol=1e-12)
    assert (branch.column("n_unstable_J") == 0).all()
    assert list(branch.column("n_unstable_M")) == [0, 0, 2]
    assert kinds(branch) == [("neimark_sacker", "M")]
    ns, = branch.specials
    assert 0.6 < ns.param < 1.0 and abs(abs(ns.eig) - 1) < 1e-6 and ns.precision < LOCATE
    end = torch.as_tensor(store.read(out)["restart_x"].values)
    z_mid, z_end = mid[:-1].to(fld.dtype), end[:-1].to(fld.dtype)
    # stable (α = 0.6): relaxation from the input finds the continued fixed point
    rel = _relax(fld, float(mid[-1]), fld.z0)
    assert rel.converged, rel.reason
    np.testing.assert_allclose(rel.z.reshape(-1).numpy(), z_mid.numpy(), atol=1e-7)
    # unstable (α = 1.0): relaxation does not settle, and a push of 1e-6 off z* grows
    assert not _relax(fld, 1.0, fld.z0).converged
    push = 1e-6 * torch.randn(z_end.shape, generator=torch.Generator().manual_seed(0), dtype=fld.dtype)
    drift = _relax(fld, 1.0, z_end + push, steps=400).z.reshape(-1) - z_end
    assert float(drift.norm()) > 10 * float(push.norm())
    back = _relax(fld, float(mid[-1]), z_mid + push, steps=400).z.reshape(-1) - z_mid
    assert float(back.norm()) < 0.1 * float(push.norm())
