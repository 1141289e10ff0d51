"""Named registries of interchangeable methods (filters, scorers, mergers, metrics, baselines).

Each method is one class in one file, registered under a snake_case name with a frozen pydantic
``Params`` model. Configs refer to methods as ``{method: NAME, params: {...}}``; :func:`build` checks
the name and the params and returns a ready instance, or raises :class:`ConfigError` saying what is
allowed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from damoc.errors import ConfigError

T = TypeVar("T")


class NoParams(BaseModel):
    """The ``Params`` of a method that takes no parameters (unknown keys are still refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# registry kind -> package whose import registers every method of that kind
_KIND_PACKAGES: dict[str, str] = {
    "filter": "damoc.data.filters",
    "compressor": "damoc.data.compressors",
    "scorer": "damoc.model.scorers",
    "merger": "damoc.model.mergers",
    "metric": "damoc.evaluation.metrics",
    "baseline": "damoc.selection.baselines",
}


class Registry(Generic[T]):
    """A name -> class table for one kind of method."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: register ``cls`` under ``name`` (which must be new)."""

        def wrap(cls: type[T]) -> type[T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if not isinstance(getattr(cls, "Params", None), type):
                raise TypeError(f"{self.kind} {name!r}: class {cls.__name__} has no Params model")
            cls.name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return wrap

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; a ConfigError lists what is available otherwise."""
        _load_kind(self.kind)
        if name not in self._items:
            raise ConfigError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none'}")
        return self._items[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        _load_kind(self.kind)
        return sorted(self._items)

    def describe(self) -> dict[str, str]:
        """name -> first line of the class docstring."""
        return {n: (self._items[n].__doc__ or "").strip().splitlines()[0] for n in self.names()}

    def build(self, name: str, params: Mapping[str, Any] | None = None, where: str = "") -> T:
        """Instantiate ``name`` with validated ``params``; ``where`` names the config key for errors."""
        cls = self.get(name)
        return cls(validate_params(cls, params or {}, where or f"{self.kind} {name}"))  # type: ignore[call-arg]


def validate_params(cls: type, params: Mapping[str, Any], where: str) -> BaseModel:
    """Validate ``params`` against ``cls.Params`` and turn pydantic errors into one readable ConfigError."""
    model: type[BaseModel] = cls.Params  # type: ignore[attr-defined]
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        allowed = ", ".join(f"{k} ({_field_doc(f)})" for k, f in model.model_fields.items()) or "none"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(params)'}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ConfigError(f"{where}.params: {problems}. Allowed params: {allowed}") from None


def _field_doc(field: Any) -> str:
    default = "" if field.is_required() else f"default {field.default!r}"
    return ", ".join(x for x in (field.description, default) if x)


_REGISTRIES: dict[str, Registry[Any]] = {}


def registry(kind: str) -> Registry[Any]:
    """The shared registry for ``kind`` (one of :data:`KINDS`)."""
    if kind not in _KIND_PACKAGES:
        raise ConfigError(f"unknown method kind {kind!r}; available: {', '.join(KINDS)}")
    return _REGISTRIES.setdefault(kind, Registry(kind))


def _load_kind(kind: str) -> None:
    # importing the package runs its method files' @register decorators
    importlib.import_module(_KIND_PACKAGES[kind])


KINDS: tuple[str, ...] = tuple(_KIND_PACKAGES)
