"""The package's import graph has no back-edges: each module imports only from lower layers (or
from its own unit). Every import counts, also the ones inside functions.

Layers, lowest first (a unit is a top-level module or subpackage of ``stabilitylab``; the CLI —
``cli.py``, ``__main__.py`` and ``commands/`` — is one unit):

0. ``errors``, ``invocation`` (the running command line), ``interrupts``, and the package itself (``__version__``); its ``__init__`` is the public facade and
   imports only ``errors`` and ``field`` (the rest lazily, by name)
1. ``field``, ``data``, ``store``, ``analyses`` — the Field contract, corpora, datasets on disk, the
   analyses' names (a table of names, importing nothing)
2. ``linear``, ``model``, ``examples``, ``state_io``, ``batches`` — operators on a Field, the equilibrium blocks, example fields, saved states, input batches from the user's data
3. ``checkpoint`` — blocks on disk as Fields
4. ``solvers`` — fixed points and linear solves
5. ``spectral`` — eigenvalues of J and M
6. ``continuation``, ``dynamics``, ``gradients`` — the analyses (siblings: none imports another)
7. ``parallel``, ``train``, ``cycles`` — sweeps of analyses over points; the trainer and its monitor; cycle branches past a boundary
8. ``report`` — figures, the battery and the PDF
9. the CLI — commands parse options, call the library and print
"""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stabilitylab"
LAYERS = [("errors", "", "invocation", "interrupts", "events"), ("field", "data", "store", "analyses"), ("linear", "model", "examples", "state_io", "batches"), ("checkpoint", "reference_fields"),
          ("solvers",), ("spectral",), ("continuation", "dynamics", "gradients"), ("parallel", "train", "cycles"),
          ("report", "drift"), ("cli",)]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}
CLI = {"cli", "__main__", "commands"}
DATA_DIRS: set = set()  # package data folders inside stabilitylab (none: checkpoints/ is top-level)


def unit(module: str) -> str:
    """``stabilitylab.spectral.spectrum`` → ``spectral``; the CLI's modules → ``cli``."""
    parts = module.split(".")[1:]
    name = parts[0] if parts else ""
    return "cli" if name in CLI else name


def imports(path: Path):
    """(line, imported module) of every import of ``stabilitylab`` in ``path``."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "stabilitylab":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "stabilitylab":
                continue
            if target == "stabilitylab":  # `from . import x`: x may be a submodule or an attribute
                for alias in node.names:
                    sub = PACKAGE / alias.name
                    yield node.lineno, (f"stabilitylab.{alias.name}" if sub.is_dir() or sub.with_suffix(".py").exists()
                                        else target)
            else:
                yield node.lineno, target


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield path, ".".join(parts)


def test_every_unit_has_a_layer():
    units = {unit(name) for _, name in modules()}
    assert units - set(LAYER) == set(), "place the new unit in LAYERS (tests/test_layers.py)"
    assert not {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name not in DATA_DIRS
                and p.name != "__pycache__" and not (p / "__init__.py").exists()}, "a code folder without __init__"


def test_the_facade_imports_only_the_base():
    assert {t for _, t in imports(PACKAGE / "__init__.py")} <= {"stabilitylab.errors", "stabilitylab.field"}


def test_no_import_runs_up_the_layers():
    bad = []
    for path, name in modules():
        mine = unit(name)
        if not mine:  # the facade: see above
            continue
        for line, target in imports(path):
            theirs = unit(target)
            if theirs != mine and LAYER[theirs] >= LAYER[mine]:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({mine}, layer {LAYER[mine]}) imports "
                           f"{target} ({theirs}, layer {LAYER[theirs]})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_the_checker_sees_a_back_edge(tmp_path):
    """The resolver is not vacuous: a relative import up into the CLI is resolved and flagged."""
    fake = tmp_path / "stabilitylab" / "report" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from ..commands.sweep import thing\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "stabilitylab"
    try:
        found = list(imports(fake))
    finally:
        PACKAGE = saved
    assert found == [(2, "stabilitylab.commands.sweep")]
    assert LAYER[unit(found[0][1])] > LAYER[unit("stabilitylab.report.x")]


#: library messages that still name a CLI option, to be reworded by their modules' owners
#: (neutral wording, with ``param=`` where the error is about one argument; see errors.py)
FLAG_MESSAGES_TO_REWORD = {"continuation/run.py": 1, "continuation/resume.py": 2, "dynamics/knockout.py": 2,
                           "dynamics/grid.py": 1, "store.py": 3, "field.py": 1}


def _raised_texts(path: Path):
    """The string pieces of every ``raise ...(...)`` in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            yield " ".join(c.value for c in ast.walk(node.exc) if isinstance(c, ast.Constant) and isinstance(c.value, str))


def test_library_errors_do_not_name_cli_options():
    found = {}
    for path, name in modules():
        if unit(name) == "cli":
            continue
        hits = sum(1 for text in _raised_texts(path) if re.search(r"(^|[\s(])--[a-z]", text))
        if hits:
            found[str(path.relative_to(PACKAGE))] = hits
    assert found == FLAG_MESSAGES_TO_REWORD
