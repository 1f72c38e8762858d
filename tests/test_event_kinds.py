"""The kind table: every special-point kind declared once, and a new event type is one module plus
one registration line (proved here with a test-only event on Hopf curves)."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

import stabilitylab
from stabilitylab import Field, events
from stabilitylab.continuation import ContinuationOptions, ContinuationProblem, continuation
from stabilitylab.continuation.curve import CurveOptions, curve
from stabilitylab.continuation.curve_figure import figure
from stabilitylab.events import curves

PACKAGE = Path(stabilitylab.__file__).parent


def literal_tables(path: Path):
    """(line, kind names) of every module-level literal dict / tuple / list / set naming ≥ 2 kinds."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for sub in ast.walk(node.value):
                if isinstance(sub, (ast.Dict, ast.Tuple, ast.List, ast.Set)):
                    items = sub.keys if isinstance(sub, ast.Dict) else sub.elts
                    named = {k.value for k in items if isinstance(k, ast.Constant) and k.value in events.KINDS}
                    if len(named) >= 2:
                        yield node.lineno, named


def test_no_module_outside_the_kind_table_keeps_a_table_of_kinds():
    # the example fields are named after the bifurcation they show (fold, flip): names, not kinds
    skip = {"events", "examples"}
    bad = [f"{path.relative_to(PACKAGE)}:{line}: {sorted(names)}"
           for path in PACKAGE.rglob("*.py") if not skip & set(path.relative_to(PACKAGE).parts)
           for line, names in literal_tables(path)]
    assert not bad, "tables of kind names outside stabilitylab/events:\n" + "\n".join(bad)


def test_the_checker_sees_a_table(tmp_path):
    src = tmp_path / "x.py"
    src.write_text('STYLE = {"hopf": "o", "fold": "v"}\n')
    assert list(literal_tables(src)) == [(1, {"hopf", "fold"})]


def test_every_kind_has_its_row_and_one_declaration():
    assert len(events.KINDS) >= 16
    for name, kind in events.KINDS.items():
        assert kind.name == name and kind.label and kind.marker and kind.color and kind.meaning
    with pytest.raises(ValueError, match="already declared"):
        events.register(events.Kind("hopf", "Hopf", "o", "r", "again", "fixed_point"))
    assert events.label("some_future_kind") == "some future kind"  # stores of later versions still render


def test_a_new_curve_event_is_one_registration(monkeypatch):
    """A test-only event, 'omega_one': ω passes 1 on a Hopf curve (κ = ω² − 1 changes sign); declared
    and registered in two lines, it is located, stored, labelled and drawn like the shipped ones."""
    monkeypatch.setattr(events, "KINDS", dict(events.KINDS))
    monkeypatch.setattr(curves, "EVENTS", list(curves.EVENTS))
    kind = events.register(events.Kind("omega_one", "ω = 1", "P", "tab:green", "the frequency passes 1", "curve"))
    curves.add(curves.CurveEvent(kind, "hopf", lambda m: m.kappa - 1.0))

    # Brusselator in R^4: Hopf curve b = 1 + a² with ω = a, so ω = 1 at a = 1, b = 2
    gen = torch.Generator().manual_seed(0)
    Q = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))[0]

    def force(z, a, b):
        y = Q.T @ z
        x, w = y[0:1], y[1:2]
        core = torch.cat([a - (b + 1) * x + x * x * w, b * x - x * x * w])
        return Q @ torch.cat([core, -torch.tensor([1.0, 2.0], dtype=torch.float64) * y[2:]])

    fld = Field(force, Q @ torch.tensor([0.8, 1.5 / 0.8, 0.0, 0.0], dtype=torch.float64), {"a": 0.8, "b": 1.5})
    br = continuation(ContinuationProblem(fld, "b", 0.1), ContinuationOptions(1.5, 1.8, ds=0.1))
    hopf = [i for i, sp in enumerate(br.specials) if sp.kind == "hopf"][0]
    cv = curve(fld, br.to_dataset(), hopf, "a", 0.7, 1.3, CurveOptions(0, 1, ds=0.05, ds_max=0.2)).to_dataset()
    assert list(cv["special_kind"].values) == ["omega_one"]
    assert float(cv["special_a"][0]) == pytest.approx(1.0, abs=1e-6)
    assert float(cv["special_b"][0]) == pytest.approx(2.0, abs=1e-6)
    assert math.isclose(float(cv["special_frequency"][0]), 1.0, abs_tol=1e-6)
    labels = figure(cv).axes[0].get_legend_handles_labels()[1]
    assert "ω = 1" in labels
