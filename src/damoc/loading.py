"""Reading a run config: YAML, ``key.sub=value`` overrides, short forms, bundled-task defaults.

:func:`load_config` is what the CLI and :func:`damoc.run` callers use: it reads the file, applies the
overrides, fills in what the raw dict leaves to defaults (a candidate given as a bare string, a bundled
task's type and template), validates against the schema in :mod:`damoc.config` and runs the
:mod:`damoc.preflight` checks (methods, files, candidates), so a bad config fails before any stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from damoc.candidates.names import candidate_from_yaml
from damoc.config import RunConfig, TaskConfig
from damoc.errors import ConfigError


def load_config(path: Path | str, overrides: list[str] | None = None) -> RunConfig:
    """Read, override, validate and preflight-check a run config.

    Args:
        path: YAML file.
        overrides: ``dotted.key=value`` strings; values are parsed as YAML (``seed=3``, ``x=[a,b]``).

    Raises:
        ConfigError: naming the file, the key and what is allowed.
    """
    path = Path(path)
    raw = _read_yaml(path)
    for item in overrides or []:
        _apply_override(raw, item)
    cfg = parse_config(raw, source=str(path))
    from damoc.preflight import check_paths, check_selection_strategy, validate_methods

    try:
        validate_methods(cfg)
        check_selection_strategy(cfg)
        check_paths(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    from damoc.budget import apply_budget

    return apply_budget(cfg)


def parse_config(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a config dict (after :func:`prepare_raw`); every problem becomes one ConfigError line.

    Templates are compiled here too, so a syntax error is reported with the other config errors.
    """
    from damoc.preflight import check_template

    try:
        cfg = RunConfig.model_validate(prepare_raw(raw))
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        if not isinstance(exc, ValidationError):
            raise ConfigError(f"{source}: invalid config:\n  task.bundled: {exc}") from None
        raise ConfigError(f"{source}: invalid config:\n{format_errors(exc)}") from None
    try:
        check_template(cfg.task.template)
    except ConfigError as exc:
        raise ConfigError(f"{source}: invalid config:\n  task.template: {exc}") from None
    return cfg


def prepare_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw dict with short candidate forms expanded and a bundled task's card defaults filled in."""
    from damoc.tasks.load import with_bundled_defaults

    out = dict(raw)
    if isinstance(out.get("candidates"), list):
        out["candidates"] = [candidate_from_yaml(c) for c in out["candidates"]]
    if isinstance(out.get("task"), dict):
        out["task"] = with_bundled_defaults(out["task"])
    return out


def format_errors(exc: ValidationError) -> str:
    """One line per problem: ``key.path: message (got value)``, with allowed keys for unknown ones."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key; allowed here: {', '.join(_allowed_keys(err['loc']))}"
        elif err["type"] not in ("missing",):
            msg = f"{msg} (got {err.get('input')!r})"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        model = ann if isinstance(ann, type) else next((a for a in args if issubclass(a, BaseModel)), None)
    return sorted(model.model_fields) if model is not None else []


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return raw


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key.sub=value")
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            node = _list_item(node, part, key)
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    parsed = yaml.safe_load(value) if value else ""
    if isinstance(node, list):
        idx = int(parts[-1]) if parts[-1].isdigit() else -1
        if not 0 <= idx < len(node):
            raise ConfigError(f"override {item!r}: list index {parts[-1]!r} out of range")
        node[idx] = parsed
    else:
        node[parts[-1]] = parsed


def _list_item(node: list[Any], part: str, key: str) -> Any:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {key!r}: {part!r} is not a valid list index (length {len(node)})")
    return node[int(part)]


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def parse_task(raw: dict[str, Any]) -> TaskConfig:
    """A task section alone (e.g. ``{"bundled": "medical_qa"}``), with its bundled card's defaults."""
    from damoc.tasks.load import with_bundled_defaults

    try:
        return TaskConfig.model_validate(with_bundled_defaults(raw))
    except ValidationError as exc:
        raise ConfigError(f"task: invalid config:\n{format_errors(exc)}") from None
    except ValueError as exc:
        raise ConfigError(f"task.bundled: {exc}") from None
