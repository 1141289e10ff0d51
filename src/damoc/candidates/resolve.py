"""Resolve a candidate (bundled alias / local folder / GGUF file / hub id) to a loadable checkpoint,
check it before loading anything, and load it safely (safetensors, no remote code by default).

Bundled models are prepared by :mod:`damoc.candidates.bundled`, whose public names are re-exported here.
Nothing heavy is imported at module import time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from damoc.candidates.bundled import (
    prepare_gguf,
    prepare_models,
)
from damoc.candidates.names import candidate_from_yaml
from damoc.config import CandidateSpec
from damoc.errors import ModelError
from damoc.progress import ProgressFn

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

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
        return ResolvedModel(source=prepare_gguf(Path(spec.gguf).expanduser(), cache_dir), kind="gguf", **common)
    assert spec.hf is not None
    return ResolvedModel(source=spec.hf, revision=spec.revision, kind="hf", **common)


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


def pick_dtype(device: torch.device, pref: str = "auto") -> torch.dtype:
    """``auto``: bfloat16 on CUDA, float32 on CPU (this project's CPUs have no bf16 speed-up); else ``pref``."""
    import torch

    if pref != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[pref]
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


def load_model(
    src: ResolvedModel | Path,
    device: str = "auto",
    *,
    for_training: bool = False,
    dtype: str = "auto",
    quantize: Literal["4bit"] | None = None,
) -> tuple[Any, Any]:
    """Load a resolved candidate (or a checkpoint folder) and its tokenizer.

    On CUDA a model larger than :data:`FIT_FRACTION` of one card's free memory is spread over the
    visible GPUs (and the CPU when they are full) with ``device_map="auto"``; otherwise the whole
    model goes to ``device``.

    Args:
        src: a :class:`ResolvedModel` or a local checkpoint folder.
        device: ``auto``, ``cpu`` or ``cuda``; the dtype follows (bf16 on CUDA, fp32 on CPU).
        for_training: leave the model in train mode (eval mode otherwise).
        dtype: ``auto`` (follows the device), ``float32``, ``bfloat16`` or ``float16``.
        quantize: ``4bit``: NF4 weights through bitsandbytes (CUDA only), computing in ``dtype``.

    Returns:
        (model, tokenizer); the tokenizer has a pad token (eos when it had none).

    Raises:
        ModelError: missing or corrupted weights, not a causal LM, loading failed, or 4-bit asked
            for without CUDA or bitsandbytes.
    """
    from transformers import AutoModelForCausalLM

    if isinstance(src, Path):
        src = ResolvedModel(name=src.name, source=src)
    source, kwargs = _source_kwargs(src)
    _require_causal_lm(source, kwargs)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dev, dtype)
    place = _placement(source, kwargs, dev, torch_dtype, quantize)
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, **place, **_weights_kwargs(src), **kwargs
        )
        tokenizer = load_tokenizer(source, **kwargs)
    except Exception as exc:
        raise ModelError(f"{source}: loading failed: {type(exc).__name__}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if "device_map" not in place:
        model.to(dev)
    model.train(for_training)
    return model, tokenizer


FIT_FRACTION = 0.8
"""A CUDA model whose weights take more than this share of one card's free memory is spread with
``device_map="auto"``: the rest is left for activations, LoRA optimizer states and the KV cache."""


def _placement(
    source: str, kwargs: dict[str, Any], dev: torch.device, dtype: torch.dtype, quantize: str | None
) -> dict[str, Any]:
    """from_pretrained's placement arguments: none (moved to ``dev`` after loading), a device map, 4-bit."""
    import importlib.util

    if quantize is not None:
        if dev.type != "cuda":
            raise ModelError(f"{source}: 4-bit loading needs a CUDA GPU (bitsandbytes' kernels); the device is {dev}")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ModelError(f"{source}: 4-bit loading needs the bitsandbytes package: pip install bitsandbytes")
        from transformers import BitsAndBytesConfig

        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
        fits = weights_bytes(source, kwargs, 0.5) <= FIT_FRACTION * _free_bytes(dev)
        return {"quantization_config": bnb, "device_map": {"": dev.index or 0} if fits else "auto"}
    if dev.type != "cuda":
        return {}
    need, free = weights_bytes(source, kwargs, dtype.itemsize), _free_bytes(dev)
    if need <= FIT_FRACTION * free:
        return {}
    log.info("%s: %.1f GB of weights > %.0f%% of one GPU's %.1f GB free: device_map=auto", source, need / 1e9,
             100 * FIT_FRACTION, free / 1e9)  # fmt: skip
    return {"device_map": "auto"}


def _free_bytes(dev: torch.device) -> int:
    import torch

    return int(torch.cuda.mem_get_info(dev)[0])


def weights_bytes(source: str, kwargs: dict[str, Any], bytes_per_param: float) -> int:
    """Bytes the model's parameters take at ``bytes_per_param``, counted on an empty (meta) model: no weights read."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(source, **kwargs)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=kwargs.get("trust_remote_code", False))
    model.tie_weights()  # not tied inside init_empty_weights: tied embeddings would count twice
    return int(count_parameters(model) * bytes_per_param)


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
