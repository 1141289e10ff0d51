"""The plug-in base and the typed registries of interchangeable methods.

Each method is one class in one file: it subclasses :class:`Method`, declares its parameters as a
``Params`` subclass of :class:`MethodParams` (frozen, unknown keys refused) and is registered under a
snake_case name in the typed registry declared beside its kind's contract, e.g.
``@FILTERS.register("ifd")`` with ``FILTERS: Registry[Filter]`` in :mod:`damoc.data.base`. Configs
refer to methods as ``{method: NAME, params: {...}}``; :meth:`Registry.build` checks the name and the
params and returns a ready instance, or raises :class:`ConfigError` saying what is allowed.

:func:`registry` finds a kind's registry by name (``damoc ls``, config checks). This module imports
no contract module and no torch at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from damoc.errors import ConfigError

T = TypeVar("T")


class MethodParams(BaseModel):
    """Base of every method's ``Params``: unknown keys are errors and instances are frozen.

    A method without parameters keeps :attr:`Method.Params`, this class itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


NoParams = MethodParams
"""The ``Params`` of a method that takes no parameters (an alias of :class:`MethodParams`)."""


class ReferenceModelParams(MethodParams):
    """Params of a method that scores text with a small causal reference model (IFD, self-information).

    A method whose default differs redeclares just that field in its own ``Params`` subclass.
    """

    reference_model: str = Field(
        "smollm2-135m", min_length=1, description="scoring model: bundled alias, local folder, .gguf or hub id"
    )
    max_seq_len: int = Field(256, ge=8, description="longest scored sequence in tokens (prompt cut from the left)")
    batch_size: int = Field(32, gt=0, description="sequences per forward pass")


class Method:
    """Base of every plug-in method (filter, compressor, scorer, merger, metric, baseline, prescreen, executor, tracker).

    A subclass declares ``Params`` (a :class:`MethodParams` subclass) when it takes parameters and
    ``params: Params`` to type ``self.params``; it defines no ``__init__``. Its docstring's first line
    says what it does and cites its source (``damoc ls`` prints it). ``name`` is set on registration.
    """

    Params: ClassVar[type[MethodParams]] = MethodParams
    name: ClassVar[str]

    def __init__(self, params: MethodParams) -> None:
        self.params = params


class Registry(Generic[T]):
    """A name -> class table for one kind of method, typed by that kind's contract ``T``.

    Args:
        kind: the kind's name in configs and messages (``filter``, ``scorer``, ...).
        package: the package whose import registers every method of the kind (one import line per method).
    """

    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: register ``cls`` under ``name`` (which must be new)."""

        def wrap(cls: type[T]) -> type[T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if not (isinstance(cls, type) and issubclass(cls, Method)):
                raise TypeError(f"{self.kind} {name!r}: {cls!r} does not subclass damoc.registry.Method")
            if not (isinstance(cls.Params, type) and issubclass(cls.Params, MethodParams)):
                raise TypeError(f"{self.kind} {name!r}: {cls.__name__}.Params does not subclass MethodParams")
            cls.name = name
            self._items[name] = cls
            return cls

        return wrap

    def unregister(self, name: str) -> None:
        """Forget ``name`` (for tests that register a throwaway method)."""
        del self._items[name]

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; a ConfigError lists what is available otherwise."""
        self._load()
        if name not in self._items:
            raise ConfigError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none'}")
        return self._items[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load()
        return sorted(self._items)

    def describe(self) -> dict[str, str]:
        """name -> first line of the class docstring."""
        return {n: (self._items[n].__doc__ or "").strip().splitlines()[0] for n in self.names()}

    def build(self, name: str, params: Mapping[str, Any] | None = None, where: str = "") -> T:
        """Instantiate ``name`` with validated ``params``; ``where`` names the config key for errors."""
        cls = self.get(name)
        return cls(validate_params(cls, params or {}, where or f"{self.kind} {name}"))  # type: ignore[call-arg]

    def _load(self) -> None:
        # importing the package runs its method files' @register decorators
        importlib.import_module(self.package)


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


# kind -> (contract module, name of the typed registry declared there); imported only when asked for
_KIND_REGISTRIES: dict[str, tuple[str, str]] = {
    "filter": ("damoc.data.base", "FILTERS"),
    "compressor": ("damoc.data.base", "COMPRESSORS"),
    "scorer": ("damoc.model.base", "SCORERS"),
    "merger": ("damoc.model.base", "MERGERS"),
    "metric": ("damoc.evaluation.metrics.base", "METRICS"),
    "baseline": ("damoc.selection.baselines.base", "BASELINES"),
    "prescreen": ("damoc.selection.prescreens.base", "PRESCREENS"),
    "executor": ("damoc.executors.base", "EXECUTORS"),
    "tracker": ("damoc.tracking.base", "TRACKERS"),
}

KINDS: tuple[str, ...] = tuple(_KIND_REGISTRIES)


def registry(kind: str) -> Registry[Any]:
    """The typed registry of ``kind`` (one of :data:`KINDS`), as declared in its contract module.

    Code that knows its kind imports the registry itself (``from damoc.data.base import FILTERS``);
    this lookup by name serves ``damoc ls`` and the config checks.
    """
    if kind not in _KIND_REGISTRIES:
        raise ConfigError(f"unknown method kind {kind!r}; available: {', '.join(KINDS)}")
    module, attr = _KIND_REGISTRIES[kind]
    found: Registry[Any] = getattr(importlib.import_module(module), attr)
    return found
