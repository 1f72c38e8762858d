"""Checkpoints: save/load blocks with their config, never unpickling code.

A checkpoint is ``torch.save`` of a plain dict (tensors, str, numbers, lists, dicts only)::

    {"format": "stabilitylab.checkpoint", "version": 1, "config": {...BlockConfig...},
     "state_dict": {name: tensor}, "step": int, "rule": str | None, "data": {...corpus...},
     "monitor": {...}, "provenance": {...}}

read back with ``torch.load(weights_only=True)``. The original research format (a dict with an
``allp`` list of tensors in parameter order and no config) is imported with a config given by the
user: parameters are matched in :data:`RESEARCH_ORDER`.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import warnings
from dataclasses import dataclass, field as dc_field
from importlib import resources
from pathlib import Path

import torch

from .batches import batch_for
from .data import GENERATED
from .errors import CheckpointError, ConfigError, did_you_mean
from .invocation import DEFAULT_CHECKPOINT
from .field import Field
from .model import BLOCKS, BlockConfig, EquilibriumBlock, block_field

FORMAT = "stabilitylab.checkpoint"
VERSION = 1
#: the shipped checkpoints: the top-level ``checkpoints/`` folder, installed as the package
#: ``stabilitylab.checkpoints`` (setup.py), found by importlib.resources in a checkout and a wheel alike
SHIPPED_DIR = Path(str(resources.files(f"{__package__}.checkpoints")))

#: parameter order of the research format's ``allp`` list (thick block)
RESEARCH_ORDER = ("tok_emb", "pos_emb", "ln1_w", "ln1_b", "WQ", "WK", "WV", "WO",
                  "ln2_w", "ln2_b", "W1", "b1", "W2", "b2", "W_head")


@dataclass
class Checkpoint:
    """A checkpoint's contents, validated."""

    config: BlockConfig
    state_dict: dict
    step: int = 0
    rule: str | None = None
    data: dict = dc_field(default_factory=dict)
    monitor: dict = dc_field(default_factory=dict)
    provenance: dict = dc_field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None

    def block(self) -> EquilibriumBlock:
        """The block, in the (widest) dtype its weights were saved in, whatever torch's default
        dtype is: loading never rounds the stored weights."""
        dtype = functools.reduce(torch.promote_types, (t.dtype for t in self.state_dict.values()))
        blk = BLOCKS[self.config.mode](self.config).to(dtype)
        blk.load_state_dict(self.state_dict)
        return blk


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(path: str | Path | None) -> Path:
    """A checkpoint path: as given, else a shipped checkpoint of that file name, else the default."""
    if path is None:
        path = os.environ.get("STABILITYLAB_CHECKPOINT", DEFAULT_CHECKPOINT)
    p = Path(path)
    if p.exists():
        return p
    shipped = SHIPPED_DIR / p.name
    if not p.parent.parts and shipped.is_file():
        return shipped
    names = shipped_names()
    hint = f" (shipped: {', '.join(names)})" if names else ""
    raise CheckpointError(f"checkpoint {path} not found{hint}" + did_you_mean(p.name, names))


def shipped_names() -> list[str]:
    """The file names of the shipped checkpoints (each one resolves by its name alone)."""
    return sorted(q.name for q in SHIPPED_DIR.glob("*.pt")) if SHIPPED_DIR.is_dir() else []


def save(path: str | Path, block: EquilibriumBlock, *, step: int = 0, rule: str | None = None,
         data: dict | None = None, monitor: dict | None = None, provenance: dict | None = None) -> Path:
    """Write ``block`` with its config and metadata; atomic (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from . import __version__

    prov = {"stabilitylab": __version__, "torch": str(torch.__version__),
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **(provenance or {})}
    payload = {
        "format": FORMAT, "version": VERSION, "config": block.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in block.state_dict().items()},
        "step": int(step), "rule": rule, "data": data or {}, "monitor": monitor or {},
        "provenance": prov,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


#: torch's own chatter while refusing a damaged file (the CheckpointError says it better)
_LOAD_NOISE = ("Detected pickle protocol", "TypedStorage is deprecated")
_LOAD_BOILERPLATE = ("Weights only load failed", "Check the documentation", "Please file an issue")


def _torch_load(path: Path):
    try:
        with warnings.catch_warnings():
            for text in _LOAD_NOISE:
                warnings.filterwarnings("ignore", message=text, category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} not found") from None
    except Exception as exc:  # corrupt zip, truncated file, pickled code refused, ...
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        # torch says "Unsupported global: GLOBAL x.y" or "unsupported GLOBAL os.system whose module os is blocked"
        if any("unsupported global" in ln.lower() for ln in lines):
            reason = "it contains pickled Python objects, which stabilitylab refuses to execute"
        else:
            detail = next((ln for ln in lines if not ln.startswith(_LOAD_BOILERPLATE)), type(exc).__name__)
            reason = f"it is corrupt or truncated ({detail[:160]})"
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}; re-save it with "
                              "stabilitylab.save or re-download it") from None


def _check_state(config: BlockConfig, state: dict, path) -> dict:
    try:  # shapes only: a (corrupt) config with huge sizes must not allocate anything
        with torch.device("meta"):
            expected = BLOCKS[config.mode](config).state_dict()
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path}: its config {config} describes no buildable block ({exc})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: state_dict is not a mapping")
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        raise CheckpointError(f"checkpoint {path} does not match its {config.mode} config: "
                              f"missing {missing[:4]}, unexpected {extra[:4]}")
    for k, ref in expected.items():
        t = state[k]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"checkpoint {path}: {k} is not a tensor")
        if t.shape != ref.shape:
            raise CheckpointError(f"checkpoint {path}: {k} has shape {tuple(t.shape)} but the config "
                                  f"(C={config.C}, H={config.H}, T={config.T}, vocab={config.vocab}) "
                                  f"needs {tuple(ref.shape)}")
        if not t.is_floating_point() or t.layout != torch.strided:
            raise CheckpointError(f"checkpoint {path}: {k} is a {t.layout} {t.dtype} tensor, "
                                  "not a dense floating-point one")
        if not torch.isfinite(t).all():
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(f"checkpoint {path}: weight {k} has {bad} NaN/Inf entries; "
                                  "the training run that wrote it diverged — use an earlier snapshot")
    return {k: state[k] for k in expected}


def _is(value, expected) -> bool:
    """``value == expected`` for a value of any unpickled type (a tensor compares elementwise)."""
    return type(value) is type(expected) and value == expected


def _step(raw: dict) -> int:
    step = raw.get("step", 0)
    return step if type(step) is int else 0


def read(path: str | Path | None = None, config: BlockConfig | ResearchSpec | str | None = None) -> Checkpoint:
    """Read and validate a checkpoint (or a research-format file, given its :class:`ResearchSpec`).

    ``config`` may be ``--config`` text, parsed as the file needs (:func:`_config_for`)."""
    p = resolve(path)
    raw = _torch_load(p)
    sha = file_sha256(p)
    if not isinstance(raw, dict):
        raise CheckpointError(f"checkpoint {p} holds a {type(raw).__name__}, not a stabilitylab checkpoint")
    is_ours = _is(raw.get("format"), FORMAT)
    if isinstance(config, str):
        config = _config_for(config, "allp" in raw and not is_ours) if config else None
    if "allp" in raw and not is_ours:
        if config is None:
            raise CheckpointError(f"{p} is in the research format (an 'allp' list without a config); "
                                  f"pass the model config with every key stated, e.g. {RESEARCH_EXAMPLE}")
        names = raw.get("names") if isinstance(raw.get("names"), (list, tuple)) else None
        state = import_research(raw["allp"], config, p, names)
        return Checkpoint(config.config, state, step=_step(raw),
                          provenance={"imported_from": "research-allp", "eps": config.eps,
                                      "allp_order": list(names or config.order or RESEARCH_ORDER)},
                          path=str(p), sha256=sha)
    if not is_ours:
        raise CheckpointError(f"{p} is not a stabilitylab checkpoint (no format marker); "
                              "for a research-format file pass the model config")
    if not _is(raw.get("version"), VERSION):
        raise CheckpointError(f"{p} has checkpoint version {raw.get('version')}, this stabilitylab reads {VERSION}")
    try:
        cfg = BlockConfig.from_dict(raw.get("config"))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {p} has an invalid config: {exc}") from None
    except TypeError as exc:
        raise CheckpointError(f"checkpoint {p} has an invalid config: {exc}") from None
    if isinstance(config, ResearchSpec):
        config = config.config
    if config is not None and config != cfg:
        raise CheckpointError(f"checkpoint {p} config {cfg} differs from the one given {config}")
    state = _check_state(cfg, raw.get("state_dict"), p)
    meta = {key: raw.get(key) if raw.get(key) is not None else {} for key in ("data", "monitor", "provenance")}
    bad = [key for key, val in meta.items() if not isinstance(val, dict)]
    if bad or not isinstance(raw.get("rule"), (str, type(None))):
        raise CheckpointError(f"checkpoint {p} has malformed metadata ({', '.join(bad) or 'rule'}); "
                              "re-save it with stabilitylab.save")
    return Checkpoint(cfg, state, step=_step(raw), rule=raw.get("rule"),
                      path=str(p), sha256=sha, **meta)


def relaxation_eps(ck: Checkpoint) -> float | None:
    """The relaxation step ε the checkpoint was trained and deployed at (its training config's
    ``eps``, or the ``eps`` given when it was imported), or None when it records none."""
    eps = (ck.provenance.get("train_config") or {}).get("eps", ck.provenance.get("eps"))
    return float(eps) if isinstance(eps, (int, float)) and eps > 0 else None


#: --config keys a research-format import must state (no default can stand in for them: the
#: research code's defaults differ from stabilitylab's, e.g. qknorm off there)
RESEARCH_REQUIRED = ("C", "H", "T", "vocab", "c", "qknorm", "mode", "eps")
RESEARCH_EXAMPLE = "C=512,H=16,T=256,vocab=4096,c=1.0,qknorm=false,mode=thick,eps=0.1,order=research"


@dataclass(frozen=True)
class ResearchSpec:
    """How to read a research ``allp`` list: the model config, the ε it was trained at, and the
    order of the list (``None``: not confirmed — refused where shapes cannot place every tensor)."""

    config: BlockConfig
    eps: float
    order: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str) -> "ResearchSpec":
        """``--config`` text with every key of :data:`RESEARCH_REQUIRED`; ``order=research`` confirms
        :data:`RESEARCH_ORDER`, ``order=a/b/...`` gives another one."""
        items = dict(item.strip().partition("=")[::2] for item in text.split(",") if item.strip())
        missing = [k for k in RESEARCH_REQUIRED if k not in items]
        if missing:
            raise ConfigError(f"a research-format import needs {', '.join(missing)} in its config (the research "
                              f"code's defaults differ from stabilitylab's), e.g. {RESEARCH_EXAMPLE}")
        try:
            eps = float(items.pop("eps"))
        except ValueError:
            raise ConfigError(f"config eps has an invalid value {items.get('eps')!r}") from None
        if not eps > 0:
            raise ConfigError(f"config eps (the relaxation step it was trained at) must be > 0, got {eps:g}")
        order = items.pop("order", None)
        names = None if order is None else RESEARCH_ORDER if order == "research" else tuple(order.split("/"))
        if names is not None and sorted(names) != sorted(RESEARCH_ORDER):
            raise ConfigError(f"config order names {len(names)} tensors; it must be 'research' or a "
                              f"/-separated permutation of {'/'.join(RESEARCH_ORDER)}")
        return cls(BlockConfig.parse(",".join(f"{k}={v}" for k, v in items.items())), eps, names)


def _config_for(text: str, research: bool) -> BlockConfig | ResearchSpec:
    """``--config`` text as a file needs it: strict for a research file, else a BlockConfig to
    compare with the stored one (``eps``/``order`` only mean something for research files)."""
    if research:
        return ResearchSpec.parse(text)
    return BlockConfig.parse(",".join(i for i in text.split(",") if i.split("=")[0].strip() not in ("eps", "order")))


def _placement_problem(shapes: dict, order: tuple[str, ...] | None) -> str | None:
    """Why an unconfirmed order cannot be trusted: tensors of one shape that shapes cannot tell apart."""
    if order is not None:
        return None
    groups: dict = {}
    for name, shape in shapes.items():
        groups.setdefault(shape, []).append(name)
    same = [names for names in groups.values() if len(names) > 1]
    if not same:
        return None
    return "; ".join(f"{len(g)} tensors of shape {tuple(s)} ({', '.join(g)})"
                     for s, g in ((shapes[g[0]], g) for g in same))


#: slots that hold a LayerNorm gain (≈ 1 at init and in practice) and slots that hold biases (≈ 0)
_GAINS, _BIASES = ("ln1_w", "ln2_w"), ("ln1_b", "ln2_b", "b1", "b2")


def _implausible(state: dict) -> list[str]:
    """Slots whose values contradict their role (a gain that looks like a bias or the reverse)."""
    bad = []
    for name in _GAINS:
        m = float(state[name].double().mean())
        if not 0.25 < m < 4:
            bad.append(f"{name} (a LayerNorm gain) has mean {m:.3g}")
    for name in _BIASES:
        m = float(state[name].double().mean())
        if abs(m - 1) < 0.25 and float(state[name].double().std()) < 0.25:
            bad.append(f"{name} (a bias) looks like a gain (mean {m:.3g})")
    return bad


def import_research(allp, spec: ResearchSpec | BlockConfig, path="<allp>", names=None) -> dict:
    """Map a research ``allp`` list onto a thick block's state.

    The list is read in ``names`` (stored beside it in the file) or the spec's confirmed order;
    an unconfirmed order is refused where shapes alone cannot place every tensor (the expected
    order is printed), and a placement whose values contradict the roles (a LayerNorm gain with
    mean far from 1, a bias that looks like a gain) is refused in any case.
    """
    if not isinstance(spec, ResearchSpec):
        raise CheckpointError(f"{path} is in the research format: give its config with every key stated "
                              f"(qknorm, mode and eps have no safe default), e.g. {RESEARCH_EXAMPLE}")
    config = spec.config
    if config.mode != "thick":
        raise CheckpointError("research-format import supports the thick block only (mode=thick)")
    if not isinstance(allp, (list, tuple)):
        raise CheckpointError(f"{path}: 'allp' must be a list of tensors")
    if len(allp) != len(RESEARCH_ORDER):
        raise CheckpointError(f"{path}: 'allp' has {len(allp)} tensors, expected {len(RESEARCH_ORDER)} "
                              f"in the order {', '.join(RESEARCH_ORDER)}")
    order = tuple(names) if names is not None else spec.order
    state = _check_state(config, dict(zip(order or RESEARCH_ORDER, allp)), path)
    problem = _placement_problem({k: tuple(v.shape) for k, v in state.items()}, order)
    if problem:
        raise CheckpointError(f"{path}: the 'allp' order is ambiguous — {problem} cannot be placed by "
                              f"shape. Expected order: {', '.join(RESEARCH_ORDER)}. If the list is in "
                              "that order add order=research to its config; otherwise give "
                              "order=name/name/... in the list's order")
    bad = _implausible(state)
    if bad:
        raise CheckpointError(f"{path}: the 'allp' list does not look like the order "
                              f"{'/'.join(order or RESEARCH_ORDER)}: {'; '.join(bad)} — give its real "
                              "order with order=name/name/... in its config")
    return state


def recorded_data(ck: Checkpoint) -> str | None:
    """The training data the checkpoint records, when it can be read here (offline), else None."""
    spec = ck.data.get("source") if ck.data else None
    if not isinstance(spec, str):
        return None
    return spec if spec.startswith(GENERATED) or Path(spec).is_file() or Path(spec).is_dir() else None


def load(path: str | Path | None = None, *, batch_seed: int = 0, batch_size: int = 1,
         config: BlockConfig | ResearchSpec | str | None = None, device=None, dtype=torch.float64,
         data: str | None = None, split: str = "val") -> Field:
    """A checkpoint as a Field on a deterministic, seeded input batch (:mod:`stabilitylab.batches`).

    The batch is ``batch_size`` windows of ``data`` (a text, a nanoGPT folder, a token array) from
    ``split``; without ``data``, of the training data the checkpoint records when it is readable
    here, else uniform random tokens — ``field.meta['batch_synthetic']`` says so. The batch's
    source, hash, split, offsets, B and T go into ``field.meta`` (hence every dataset's attributes),
    its next-token targets into ``field.meta['batch_targets']`` (for gradient studies).
    """
    ck = read(path, config)
    block = ck.block().requires_grad_(False)  # analyses differentiate in z only
    spec = data if data is not None else recorded_data(ck)
    batch = batch_for(ck.config.vocab, ck.config.T, batch_size, batch_seed, spec, split)
    meta = {"source": "checkpoint", "checkpoint": ck.path, "checkpoint_sha256": ck.sha256,
            "step": ck.step, "rule": ck.rule or "", **batch.describe(), "batch_corpus": batch.source,
            "batch_data": "--data" if data is not None else "recorded in the checkpoint" if spec else "none",
            "batch_targets": None if batch.targets is None else batch.targets.tolist()}
    eps = relaxation_eps(ck)
    if eps is not None:
        meta["eps"] = eps
        meta["eps_origin"] = ("the eps given in the config at import" if "imported_from" in ck.provenance
                              else "the checkpoint's training ε")
    fld = block_field(block, batch.idx, name=Path(ck.path).name, meta=meta)
    return fld.to(device=device, dtype=dtype)
