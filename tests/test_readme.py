"""The README's config reference names every config key (so a new key cannot go undocumented)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from damoc.config import RunConfig

README = Path(__file__).resolve().parents[1] / "README.md"
INLINE = ("candidates", "task.train", "task.eval")  # documented inline in one row each


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = [a for a in (*getattr(field.annotation, "__args__", ()), field.annotation) if isinstance(a, type)]
        nested = next((a for a in sub if issubclass(a, BaseModel) and a.__name__ != "MethodSpec"), None)
        if nested is not None and path not in INLINE:
            out += leaf_keys(nested, path + ".")
        else:
            out.append(path)
    return out


def test_every_config_key_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [k for k in leaf_keys(RunConfig) if f"`{k}`" not in text]
    assert missing == [], f"README config reference lacks: {missing}"
