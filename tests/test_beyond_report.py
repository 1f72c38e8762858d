"""The report pages of the lyapunov, fixed-points and pseudospectra stores (report --from)."""
import torch
from click.testing import CliRunner

from stabilitylab import store
from stabilitylab.cli import cli
from stabilitylab.dynamics.lyapunov_spectrum import lyapunov_spectrum
from stabilitylab.reference_fields import cubic, henon_product, jordan
from stabilitylab.report.kinds import kind_of
from stabilitylab.dynamics.all_roots import all_fixed_points, seeded_starts
from stabilitylab.spectral.pseudospectra import pseudospectra


def test_report_from_the_three_stores(tmp_path):
    fld = cubic(n=12)
    built = {
        "lyapunov": lyapunov_spectrum(henon_product(), eps=1.0, steps=200, burn=20, orbits=4),
        "fixed-points": all_fixed_points(fld, *seeded_starts(fld, 3, noise=0.8, seed=2), k=3, slow_points=False),
        "pseudospectra": pseudospectra(jordan(40), k=4, z=torch.zeros(40, dtype=torch.float64), grid=11, check_ncv=0),
    }
    paths = []
    for name, ds in built.items():
        path = store.write(ds, tmp_path / "runs" / f"{name}.zarr", name)
        assert kind_of(store.read(path)) == name.replace("-", "_")
        paths.append(str(path))
    res = CliRunner().invoke(cli, ["report", "--from", *paths, "--out", str(tmp_path / "r.pdf")])
    assert res.exit_code == 0, res.output
    assert "(4 pages)" in res.output and "Kaplan–Yorke dimension" in res.output
    assert "distinct fixed point(s)" in res.output and "Kreiss lower bounds" in res.output
    assert (tmp_path / "r.pdf").stat().st_size > 0
