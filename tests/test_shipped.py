"""The shipped trajectory tells the story it is shipped for (a regeneration that changes it is noticed):
EP's s3200.pt is past the Euler-map boundary at its training ε through a complex pair (Neimark–Sacker,
Re λ < 0: discretisation-only), BPTT at the same step and the stabilised EP lane are inside it, and the
α-continuation of s3200.pt from 0.2 to 1.0 starts stable and loses stability inside the range."""
import pytest

import stabilitylab as sl
from stabilitylab.spectral.spectrum import spectrum

#: (file, verdict, max|μ| at the training ε = 0.25, min ε_crit) measured when the trajectory was shipped
PINNED = [("s3200.pt", "discretisation-only-unstable", 1.0640654550863893, 0.15985284278660897),
          ("bptt-s3200.pt", "stable", 0.9465729774639399, 0.4838047140658598),
          ("ep+jacreg-s3200.pt", "stable", 0.8812501080713554, 1.261295770495291),
          ("s0000.pt", "stable", 0.7707663223895543, 1.2736116683564573)]


@pytest.mark.parametrize("name, verdict, mu, crit", PINNED)
def test_shipped_snapshots_keep_their_numbers(name, verdict, mu, crit):
    fld = sl.load(name)
    assert fld.meta["eps"] == 0.25
    ds = spectrum(fld, k=4, eps=fld.meta["eps"], diagnostics="none")
    assert ds.attrs["verdict"] == verdict
    assert float(ds.max_abs_mu) == pytest.approx(mu, abs=1e-6)
    assert float(ds.min_eps_crit) == pytest.approx(crit, abs=1e-6)
    if name == "s3200.pt":  # the leading multiplier is a complex pair, Re λ < 0 (the cycle dies as ε → 0)
        assert abs(complex(ds.eig_M.values[0]).imag) > 0.1 and float(ds.leading_re_J) < 0


def test_continuation_command_on_s3200_prints_the_crossing_pair_criticality_and_one_verdict(tmp_path, monkeypatch):
    """The used-by check `stabilitylab continuation --ckpt s3200.pt --alpha 0.2:1.0` at 80 columns:
    the branch starts stable and loses it inside the range at a Neimark–Sacker point; the table shows
    the crossing complex pair of M, the special point's criticality, one closing verdict; the last
    point is the range's end and no resume file is left (the dataset agrees with the print)."""
    from click.testing import CliRunner
    from rich.console import Console

    from stabilitylab import store
    from stabilitylab.cli import cli
    from stabilitylab.commands import common, continuation as command

    rec = Console(width=80, record=True, highlight=False)
    monkeypatch.setattr(common, "console", rec)
    monkeypatch.setattr(command, "console", rec, raising=False)
    out = tmp_path / "cont.zarr"
    res = CliRunner().invoke(cli, ["continuation", "--ckpt", "s3200.pt", "--alpha", "0.2:1.0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    printed = rec.export_text()
    ds = store.read(out)
    alpha = ds["alpha"].values
    assert alpha[0] == 0.2 and alpha[-1] == 1.0 and int(ds.n_unstable_M[0]) == 0 and int(ds.n_unstable_M[-1]) == 2
    assert [str(k) for k in ds.special_kind.values] == ["neimark_sacker"]
    at = float(ds.special_param[0])
    assert 0.2 < at < 1.0 and str(ds.special_criticality.values[0]) == "supercritical"
    assert "leading μ(M)" in printed and "0.8828+0.5941i" in printed  # the crossing pair at α = 1
    row = next(line for line in printed.splitlines() if "neimark_sacker" in line and "│ 0 │" in line)
    assert "supercritical" in row and f"{at:.6f}"[:7] in row
    verdicts = [line for line in printed.splitlines() if line.startswith("verdict:")]
    assert len(verdicts) == 1
    text = " ".join(printed.split())
    assert f"α = {at:.3f} is the Neimark–Sacker point where stability is lost" in text and "supercritical" in text
    assert max(len(line) for line in printed.splitlines()) <= 80
    assert not list(tmp_path.glob("*.resume.pt"))


def test_spectrum_command_on_s3200_prints_its_verdict_and_eps_crit(tmp_path, monkeypatch):
    """The used-by check of the README: `stabilitylab spectrum --ckpt s3200.pt` says, in its printed
    summary, what the pinned numbers above say (and the dataset agrees)."""
    from click.testing import CliRunner
    from rich.console import Console

    from stabilitylab import store
    from stabilitylab.cli import cli
    from stabilitylab.commands import common, spectrum as command

    rec = Console(width=100, record=True, highlight=False)
    monkeypatch.setattr(common, "console", rec)
    monkeypatch.setattr(command, "console", rec, raising=False)
    out = tmp_path / "sp.zarr"
    res = CliRunner().invoke(cli, ["spectrum", "--ckpt", "s3200.pt", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join((rec.export_text() + res.output).split())
    assert "ε_crit (smallest over all modes): 0.1599" in text
    assert "max|μ|=1.064" in text and "discretisation-only instability" in text
    assert "ε = 0.25 (the checkpoint's training ε" in text
    ds = store.read(out)
    assert ds.attrs["verdict"] == "discretisation-only-unstable"
    assert float(ds.min_eps_crit) == pytest.approx(PINNED[0][3], abs=1e-6)
