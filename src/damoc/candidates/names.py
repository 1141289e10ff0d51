"""Short candidate forms in a config: a bare string becomes an alias, a GGUF file, a folder or a hub id."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def candidate_from_yaml(item: Any) -> Any:
    """A bare string becomes an alias (no '/'), a .gguf file, an existing folder or a hub id."""
    if not isinstance(item, str):
        if isinstance(item, dict) and "name" not in item:
            src = next((item[k] for k in ("alias", "hf", "path", "gguf") if item.get(k)), None)
            if src is not None:
                return {**item, "name": _default_name(str(src))}
        return item
    if item.endswith(".gguf"):
        return {"name": _default_name(item), "gguf": item}
    if Path(item).is_dir():
        return {"name": _default_name(item), "path": item}
    if "/" in item:
        return {"name": _default_name(item), "hf": item}
    return {"name": item, "alias": item}


def _default_name(src: str) -> str:
    stem = Path(src.rstrip("/")).name
    return stem[: -len(".gguf")] if stem.endswith(".gguf") else stem
