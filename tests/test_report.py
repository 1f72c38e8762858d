"""``stabilitylab report``: the battery on a tiny trainer-style checkpoint, the PDF's pages and
verdict against the datasets, ``--from`` equal to the battery, reuse, and absent sections."""
import re
import shutil
from dataclasses import replace

import numpy as np
import xarray as xr
import pytest
import torch
from click.testing import CliRunner
from pypdf import PdfReader

from stabilitylab import store
from stabilitylab.checkpoint import load, save
from stabilitylab.cli import cli
from stabilitylab.data import corpus_from_spec
from stabilitylab.model import make_block
from stabilitylab.report import battery, drift, kinds
from stabilitylab.report.kinds import TITLES
from stabilitylab.train import TrainConfig
from stabilitylab.train.monitor import MODES, SCALARS
from stabilitylab.train.record import LOOP_SCALARS, RENAMED, to_dataset




def _monitor(cfg: TrainConfig):
    """A monitor.zarr in the trainer's layout (synthetic values): EP crosses |μ| = 1, BPTT does not."""
    history = {}
    for rule, rate in (("ep", 0.03), ("bptt", 0.01)):
        rows = []
        for i, step in enumerate((0, 2, 4)):
            mu = 0.97 + rate * i
            lam = complex((mu - 1) / cfg.eps, 1.0)
            rows.append({**dict.fromkeys((*SCALARS, *LOOP_SCALARS), np.nan), "step": step,
                         "val_ce": 3.6 - 0.1 * i, "force_residual": 0.2, "leading_re_J": lam.real, "max_abs_mu": mu,
                         "min_eps_crit": 0.2 - 0.05 * i, "numerical_abscissa": 2.0,
                         "eig_J": torch.tensor([lam, lam.conjugate()] + [np.nan] * (MODES - 2), dtype=torch.complex128),
                         "eig_M": torch.tensor([1 + cfg.eps * lam] + [np.nan] * (MODES - 1), dtype=torch.complex128)})
        history[rule] = rows
    return to_dataset(history, store.provenance(command="test", train_config=cfg.to_dict(), eps=cfg.eps))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """RUN/ep/s0004.pt (a tiny thick block with the trainer's provenance) and RUN/monitor.zarr."""
    run = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(C=8, H=2, T=4)
    corpus = corpus_from_spec(None)
    block = make_block(cfg.block_config(corpus.vocab_size), 1)
    save(run / "ep" / "s0004.pt", block, step=4, rule="ep", data=corpus.describe(),
         provenance={"train_config": cfg.to_dict()})
    store.write(_monitor(cfg), run / "monitor.zarr", "train-monitor")
    return run


def report(*args):
    res = CliRunner().invoke(cli, ["report", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.output


def pages(pdf) -> list[str]:
    """Each page's text with whitespace normalised."""
    return [" ".join(p.extract_text().split()) for p in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def built(run_dir, tmp_path_factory):
    """The quick battery on the tiny checkpoint: (pdf, its folder, the command's output)."""
    pdf = tmp_path_factory.mktemp("reports") / "tiny.pdf"
    out = report("--ckpt", run_dir / "ep" / "s0004.pt", "--quick", "--out", pdf)
    return pdf, pdf.with_suffix(""), out


def test_battery_stores_every_stage_and_renders_one_page_each(built):
    pdf, folder, out = built
    for i, stage in enumerate(battery.STAGES, start=1):
        if stage == "cycles":  # the tiny model stays stable along its quick continuation: nothing to follow
            assert f"[{i}/{len(battery.STAGES)}] {battery.TITLES[stage]}: skipped (the continuation finds no" in out
            continue
        assert f"[{i}/{len(battery.STAGES)}] {battery.TITLES[stage]}: done" in out
        assert kinds.kind_of(store.read(folder / f"{stage}.zarr")) == stage
    assert re.search(r"\[1/\d\] spectrum of J and M: done in [\d.]+ s ≈ [\d,]+ forward passes →", out)
    text = pages(pdf)
    shown = [k for k in kinds.SECTIONS if k != "cycles"]
    assert len(text) == 1 + len(shown) and text[0].startswith("Stability report: s0004.pt")
    for page, kind in zip(text[1:], shown):
        assert page.startswith(f"{shown.index(kind) + 2}. {TITLES[kind]}") and "Finding:" in page
    assert sorted(p.name for p in folder.glob("report-*.png")) == sorted(
        f"report-{k}.png" for k in ("summary", *shown))
    assert PdfReader(pdf).metadata.get("/CreationDate") is None


def test_verdict_matches_the_datasets(built):
    pdf, folder, _ = built
    summary = pages(pdf)[0]
    spec = store.read(folder / "spectrum.zarr")
    assert f"ε < {float(spec.min_eps_crit):.3g}" in summary
    assert f"max|μ| = {float(spec.max_abs_mu):.4g}" in summary
    cont = store.read(folder / "continuation.zarr")
    for i in range(cont.sizes["special"]):
        assert f"α = {float(cont.special_param[i]):.3g} is " in summary
    cyc = store.read(folder / "cycle.zarr")
    assert str(cyc["kind"].item()).replace("_", " ") in summary
    ko = store.read(folder / "knockout.zarr")
    assert f"Knocking out attention at ε = {ko.attrs['eps']:g}" in summary
    grads = store.read(folder / "gradients.zarr")
    aep = float(grads.cosine.sel(estimator="aep", estimator2="implicit", group="all"))
    assert f"AEP {aep:.4g}" in summary
    # the synthetic monitor: EP crosses |μ| = 1 at step 4, BPTT stays inside
    assert "EP moves max|μ| 0.97 → 1.03 by step 4, crossing |μ| = 1 at step 4" in summary
    assert "BPTT moves max|μ| 0.97 → 0.99 by step 4;" not in summary  # BPTT is last: ends with "."
    assert "BPTT moves max|μ| 0.97 → 0.99 by step 4." in summary
    # each finding on its section page is the verdict sentence
    for page in pages(pdf)[1:]:
        finding = page.split("Finding: ", 1)[1].split(" stabilitylab 0")[0]
        assert finding[:60] in summary


def test_from_stored_datasets_equals_the_battery(built, tmp_path):
    pdf, folder, _ = built
    again = tmp_path / "tiny.pdf"  # same name: the PDF metadata (title) is the same too
    out = report("--from", *sorted(folder.glob("*.zarr"), reverse=True), "--out", again)
    assert "report:" in out
    assert pages(again) == pages(pdf)
    assert again.read_bytes() == pdf.read_bytes()  # deterministic: no creation date
    assert sorted(p.name for p in again.with_suffix("").glob("*.png")) == sorted(
        p.name for p in folder.glob("report-*.png"))


def test_rerun_reuses_stored_results(built, run_dir):
    pdf, folder, _ = built
    out = report("--ckpt", run_dir / "ep" / "s0004.pt", "--quick", "--out", pdf)
    assert out.count(": reused ") == 7 and "computing" not in out


def test_other_settings_or_checkpoint_are_recomputed(built, run_dir, tmp_path):
    _, folder, _ = built
    fld = load(run_dir / "ep" / "s0004.pt")
    logs = []
    skip = [s for s in battery.STAGES if s != "spectrum"]
    shutil.copytree(folder / "spectrum.zarr", tmp_path / "spectrum.zarr")  # quick settings, the run's ε
    settings = replace(battery.Settings().quick(), eps=fld.meta["eps"])
    battery.run(fld, settings, tmp_path, skip=skip, log=logs.append)
    assert "reused" in logs[-1]
    for other, changed in ((fld, replace(settings, eps=0.2)), (fld.with_params(alpha=0.5), replace(settings, eps=0.2))):
        battery.run(other, changed, tmp_path, skip=skip, log=logs.append)
        assert "computing" in logs[-2] and "done" in logs[-1]
    assert store.read(tmp_path / "spectrum.zarr").attrs["eps"] == 0.2
    battery.run(fld.with_params(alpha=0.5), replace(settings, eps=0.2), tmp_path, skip=skip, log=logs.append)
    assert "reused" in logs[-1]


def test_drift_without_a_monitor_sweeps_the_run_snapshots(tmp_path):
    cfg = TrainConfig(C=8, H=2, T=4, rule="ep")
    corpus = corpus_from_spec(None)
    for step, seed in ((0, 1), (4, 2)):
        save(tmp_path / "run" / f"s{step:04d}.pt", make_block(cfg.block_config(corpus.vocab_size), seed), step=step,
             rule="ep", data=corpus.describe(), provenance={"train_config": cfg.to_dict()})
    logs = []
    others = [s for s in battery.STAGES if s != "drift"]
    done = battery.run(load(tmp_path / "run" / "s0004.pt"), battery.Settings().quick(), tmp_path / "rep",
                       skip=others, log=logs.append)
    assert "done" in logs[-1] and kinds.kind_of(done["drift"]) == "drift"
    per = drift.series(done["drift"])
    assert list(per) == ["ep"] and list(per["ep"].step.values) == [0, 4]
    assert np.isfinite(per["ep"].max_abs_mu.values).all()


def test_a_monitor_with_the_old_names_still_reads():
    """monitor.zarr files written before the monitor used the glossary's names (lead_re, omega, ...)."""
    new = _monitor(TrainConfig(C=8, H=2, T=4))
    old = new.rename({n: o for o, n in RENAMED.items() if n in new}).drop_attrs()
    assert "lead_re" in old and kinds.kind_of(old) == "drift"
    for rule, s in drift.series(old).items():
        ref = drift.series(new)[rule]
        assert s.leading_re_J.equals(ref.leading_re_J) and s.min_eps_crit.equals(ref.min_eps_crit)


def test_sections_are_absent_without_their_data(built, tmp_path):
    _, folder, _ = built
    pdf = tmp_path / "two.pdf"
    report("--from", folder / "cycle.zarr", folder / "spectrum.zarr", "--out", pdf)
    text = pages(pdf)
    assert len(text) == 3
    assert text[1].startswith("2. " + TITLES["spectrum"]) and text[2].startswith("3. " + TITLES["cycle"])
    summary = text[0]
    assert summary.count("•") == 2
    for kind in ("continuation", "eps_sweep", "knockout", "drift", "gradients"):
        assert TITLES[kind] not in " ".join(text)


def test_field_without_checkpoint_skips_what_does_not_apply(tmp_path):
    pdf = tmp_path / "sl.pdf"
    out = report("--field", "stabilitylab.examples:stuart_landau", "--quick", "--param", "mu", "--range=-0.2:0.1",
                 "--skip", "knockout", "--out", pdf)
    assert "training drift: skipped (a user field has no training run)" in out
    assert re.search(r"gradient fidelity: skipped \(gradcheck needs a checkpoint", out)
    text = pages(pdf)
    assert [t.split(" ", 1)[1][:20] for t in text[1:]] == [TITLES[k][:20] for k in
                                                           ("spectrum", "continuation", "cycles", "cycle", "eps_sweep")]
    summary = text[0]
    # the cycle branch starts before the first loss (the Euler map's Neimark–Sacker point) and ends on the
    # invariant circle |w| = r of z ← z + εF(z): |1 + ε(μ + iω − r²)| = 1, r² = μ + (1 − √(1 − ε²ω²))/ε
    branch = store.read(tmp_path / "sl" / "cycles.zarr")
    eps, mu = float(branch.attrs["eps"]), branch["mu"].values
    assert branch.attrs["start_kind"] == "neimark_sacker" and mu[0] < branch.attrs["start_param"] < mu[2] == 0.1
    assert list(branch["kind"].values[:3])[0] == "fixed_point" and branch["kind"].values[2] != "fixed_point"
    r = np.sqrt(0.1 + (1 - np.sqrt(1 - eps**2)) / eps)
    assert float(branch["amplitude"].values[2]) == pytest.approx(r, rel=1e-3)
    assert "the fixed point is lost between mu" in summary.lower()
    check_promises(text, ["spectrum", "continuation", "cycles", "cycle", "eps_sweep"])
    assert "No stable fixed point at any ε" in summary  # mu = 0.1 > 0: past the Hopf point
    cont = store.read(tmp_path / "sl" / "continuation.zarr")
    hopf = [float(p) for k, p in zip(cont.special_kind.values, cont.special_param.values) if k == "hopf"]
    assert len(hopf) == 1 and abs(hopf[0]) < 1e-6  # the known Hopf point mu = 0
    assert f"mu = {hopf[0]:.3g} is the Hopf point where stability is lost" in summary


def test_bad_inputs_are_one_line_errors(built, tmp_path):
    _, folder, _ = built
    res = CliRunner().invoke(cli, ["report", "--from", str(folder / "cycle.zarr"), str(folder / "cycle.zarr")])
    assert res.exit_code == 2 and "both cycle datasets" in res.output
    res = CliRunner().invoke(cli, ["report", "--from"])
    assert res.exit_code == 2 and "--from needs the datasets" in res.output
    res = CliRunner().invoke(cli, ["report", "--skip", "nope", "--out", str(tmp_path / "x.pdf")])
    assert res.exit_code == 2 and "Invalid value for '--skip'" in res.output


def test_nonnormality_phrase_shows_a_budgeted_growth_as_a_lower_bound():
    """The phrase says '≥ … (a lower bound)' when the growth's residual missed the tolerance, '='
    when it met it, and leaves out ‖A‖ where fast mode did not compute it (ω ≥ 0)."""
    from stabilitylab.report.text import nonnormality

    def ds(residual, norm_A):
        vals = dict(antisymmetry_ratio=0.3, numerical_abscissa=2.0, norm_A=norm_A, rho_bound=np.inf,
                    transient_growth=5.07, transient_growth_step=24, transient_growth_residual=residual,
                    max_abs_mu=0.95)
        return xr.Dataset({k: ((), v) for k, v in vals.items()}, attrs={"nonnormality_tol": 1e-3})

    short = nonnormality(ds(1.2, np.nan))
    assert "≥ 5.07 at k = 24 (a lower bound" in short and "‖A‖" not in short
    done = nonnormality(ds(1e-4, 4.06))
    assert "= 5.07 at k = 24" in done and "lower bound" not in done and "‖A‖ = 4.06" in done


def test_a_long_verdict_never_runs_into_the_contents_footer(monkeypatch):
    """Page 1 shrinks the verdict's font until its last line ends above the contents line."""
    import xarray as xr
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from stabilitylab.report import pages

    bullets = [("A long verdict sentence about the spectrum and the continuation, " * 4).strip()] * 14
    monkeypatch.setattr(pages.verdict, "verdict", lambda sections: bullets)
    sections = {k: xr.Dataset(attrs={"field_name": "test field"}) for k in ("spectrum", "continuation", "cycle")}
    fig = pages.summary_page(sections, 4, "footer")
    renderer = FigureCanvasAgg(fig).get_renderer()
    texts = {t.get_text()[:9]: t for t in fig.texts}
    body = next(t for t in fig.texts if t.get_text().startswith("•"))
    contents = texts["Contents:"]
    assert body.get_window_extent(renderer).y0 > contents.get_window_extent(renderer).y1
    assert body.get_fontsize() < 10.5  # it had to shrink


#: what each section's title promises, as text its page must show (axes, legends, table titles)
PROMISES = {
    "spectrum": ["Jacobian J", "Euler map M = I + εJ", "ε_crit", "λ of J", "μ = 1 + ελ"],
    "continuation": ["max Re λ of J", "max |μ| of M", "Re λ = 0", "|μ| = 1"],
    "cycles": ["amplitude", "sweep up", "sweep back down", "period (relaxation steps)", "rotation number"],
    "cycle": ["relaxation step", "force ‖F(z)‖/‖z‖", "tail"],
    "eps_sweep": ["Euler step ε", "predicted ε_crit", "attractor per step size", "force residual"],
    "knockout": ["knockout table", "max|μ| of M", "attractor"],
    "drift": ["EP", "BPTT", "training step", "max |μ| of M", "min ε_crit"],
    "gradients": ["BPTT", "implicit (exact)", "naive EP", "AEP", "tracking AEP", "cos vs implicit"],
}


def page_of(text: list[str], kind: str) -> str:
    """The page whose heading (after its number) is the section's title."""
    return next(p for p in text if p.split(" ", 1)[1].startswith(TITLES[kind]))


def check_promises(text: list[str], sections) -> None:
    for kind in sections:
        missing = [w for w in PROMISES[kind] if w not in page_of(text, kind)]
        assert not missing, f"page '{TITLES[kind]}' lacks {missing}"


def test_every_page_shows_what_its_title_promises(built):
    """The used-by check of `stabilitylab report`: each section page (found by its title) shows the
    quantities its title names — EP and BPTT both on the drift page, every estimator on the
    gradients page, J and M on the spectrum page — and the attractor page names what it found
    (the cycle-branch page: in the Stuart–Landau report below)."""
    pdf, folder, _ = built
    text = pages(pdf)
    assert set(PROMISES) == set(kinds.SECTIONS)
    check_promises(text, [k for k in kinds.SECTIONS if k != "cycles"])
    attractor = str(store.read(folder / "cycle.zarr")["kind"].item()).replace("_", " ")
    assert attractor in page_of(text, "cycle")
