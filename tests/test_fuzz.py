"""Fuzzing the checkpoint loader: bad bytes and bad contents are refused with CheckpointError or
ConfigError (or load fine), and loading never executes pickled code."""
import io
import os
import pickle
import zipfile

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from stabilitylab import checkpoint
from stabilitylab.errors import CheckpointError, ConfigError
from stabilitylab.model import BlockConfig, make_block

# CI runs a fixed, bounded set of examples; STABILITYLAB_FUZZ_EXAMPLES=N fuzzes N random ones per test
_DEEP = os.environ.get("STABILITYLAB_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_DEEP or 100), derandomize=not _DEEP, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REFUSALS = (CheckpointError, ConfigError)
CFG = BlockConfig(vocab=26, C=8, H=2, T=4)


class Valid(tuple):
    """(directory, bytes of a valid tiny checkpoint, its payload dict), with a short repr."""

    def __repr__(self):
        return f"Valid({self[0]})"


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    path = checkpoint.save(root / "valid.pt", make_block(CFG, seed=3), step=7, rule="ep",
                           data={"source": "generated:seed=0"})
    return Valid((root, path.read_bytes(), torch.load(path, weights_only=True)))


def load_or_refuse(path) -> bool:
    """True if ``path`` loads as a Field, False if refused; anything else propagates (a bug)."""
    try:
        fld = checkpoint.load(path)
    except REFUSALS:
        return False
    assert fld.n == fld.z0.numel()
    return True


def _write(root, data: bytes, name="case.pt"):
    path = root / name
    path.write_bytes(data)
    return path


# -- bytes ---------------------------------------------------------------------------------------


@st.composite
def mutations(draw, size: int):
    """Byte flips, an optional truncation and an optional inserted run, as (kind, position, value)."""
    flips = draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, 255)), max_size=8))
    cut = draw(st.none() | st.integers(0, size))
    insert = draw(st.none() | st.tuples(st.integers(0, size), st.binary(min_size=1, max_size=64)))
    return flips, cut, insert


def _mutate(data: bytes, flips, cut, insert) -> bytes:
    buf = bytearray(data)
    for pos, val in flips:
        buf[pos] = val
    if insert is not None:
        buf[insert[0]:insert[0]] = insert[1]
    return bytes(buf[:cut] if cut is not None else buf)


@FUZZ
@given(st.data())
def test_mutated_checkpoint_bytes(valid, data):
    root, good, _ = valid
    flips, cut, insert = data.draw(mutations(len(good)))
    load_or_refuse(_write(root, _mutate(good, flips, cut, insert)))


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused(valid, blob):
    root, _, _ = valid
    assert not load_or_refuse(_write(root, blob))


def _member_mutation(good: bytes, member: str, edit) -> bytes:
    """The checkpoint zip with one member's bytes replaced by ``edit(bytes)``."""
    src, out = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            body = src.read(name)
            dst.writestr(name, edit(body) if name.endswith(member) else body)
    return out.getvalue()


@FUZZ
@given(st.data())
def test_mutated_pickle_inside_a_well_formed_archive(valid, data):
    """Past the zip layer: the pickle stream itself is corrupted (opcodes, lengths, memo indices)."""
    root, good, _ = valid
    pkl = zipfile.ZipFile(io.BytesIO(good)).read(next(n for n in zipfile.ZipFile(io.BytesIO(good)).namelist()
                                                     if n.endswith("data.pkl")))
    flips, cut, insert = data.draw(mutations(len(pkl)))
    blob = _member_mutation(good, "data.pkl", lambda body: _mutate(body, flips, cut, insert))
    load_or_refuse(_write(root, blob))


# -- contents (well-formed files whose payload is wrong) -----------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.floats(allow_nan=True)
           | st.text(max_size=12))
small_tensors = st.builds(
    lambda shape, dtype, fill: torch.full(shape, fill).to(dtype),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.bool, torch.complex64]),
    st.floats(allow_nan=True, allow_infinity=True, width=16))
values = st.recursive(scalars | small_tensors, max_leaves=6,
                      extend=lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3))
config_values = st.integers(-3, 2**40) | st.floats(allow_nan=True) | st.booleans() | st.text(max_size=8) | st.none()


@FUZZ
@given(st.data())
def test_fuzzed_payloads_saved_with_torch_save(valid, data):
    """Replace, drop or add top-level fields, config entries and state-dict tensors."""
    root, _, payload = valid
    fuzzed = {**payload, "config": dict(payload["config"]), "state_dict": dict(payload["state_dict"])}
    for key in data.draw(st.lists(st.sampled_from(sorted(payload)), max_size=3, unique=True)):
        if data.draw(st.booleans()):
            del fuzzed[key]
        else:
            fuzzed[key] = data.draw(values)
    if isinstance(fuzzed.get("config"), dict):
        for key in data.draw(st.lists(st.sampled_from([*CFG.to_dict(), "extra"]), max_size=3, unique=True)):
            fuzzed["config"][key] = data.draw(config_values)
    if isinstance(fuzzed.get("state_dict"), dict):
        for key in data.draw(st.lists(st.sampled_from(sorted(payload["state_dict"])), max_size=2, unique=True)):
            fuzzed["state_dict"][key] = data.draw(values)
    path = root / "payload.pt"
    torch.save(fuzzed, path)
    load_or_refuse(path)


# -- code execution ------------------------------------------------------------------------------


def _evil_pickles(marker) -> dict:
    """Pickles that run ``touch marker`` when unpickled by a trusting loader."""
    cmd = f"touch {marker}".encode()

    class Reduce:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return {
        "GLOBAL+REDUCE protocol 0": b"cos\nsystem\n(S'" + cmd + b"'\ntR.",
        "inside a payload dict": pickle.dumps({"format": checkpoint.FORMAT, "version": 1, "x": Reduce()}, protocol=2),
        "builtins.eval": b"cbuiltins\neval\n(S'__import__(\"os\").system(\"" + cmd + b"\")'\ntR.",
        "STACK_GLOBAL protocol 4": pickle.dumps(Reduce(), protocol=4),  # opcode torch cannot even parse
    }


@pytest.mark.parametrize("name", list(_evil_pickles("m")))
@pytest.mark.parametrize("container", ["raw file", "torch zip archive"])
def test_crafted_pickles_never_execute(valid, tmp_path, name, container):
    root, good, _ = valid
    marker = tmp_path / "PWNED"
    blob = _evil_pickles(marker)[name]
    if container == "torch zip archive":
        blob = _member_mutation(good, "data.pkl", lambda _body: blob)
    path = _write(tmp_path, blob)
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(path)
    assert not marker.exists()
    if "STACK_GLOBAL" not in name:
        assert "pickled Python objects" in str(err.value)


@pytest.mark.parametrize("C", [2**20, 2**40])
def test_a_huge_config_is_refused_without_allocating(valid, C):
    """Shapes are checked on the meta device: a config of terabytes costs nothing to refuse."""
    root, _, payload = valid
    torch.save({**payload, "config": {**payload["config"], "C": C, "H": 1}}, root / "huge.pt")
    with pytest.raises(CheckpointError, match="shape|buildable"):
        checkpoint.read(root / "huge.pt")


def test_a_corpus_path_that_is_not_a_regular_file_is_ignored(valid):
    """data.source naming a device (/dev/zero would never end) falls back to random tokens."""
    root, _, payload = valid
    torch.save({**payload, "data": {"source": "/dev/zero"}}, root / "dev.pt")
    assert checkpoint.load(root / "dev.pt").meta["batch_corpus"] == "uniform-random"
