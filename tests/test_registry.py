"""The method registry: every registered method follows the plug-in rules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from damoc.errors import ConfigError
from damoc.registry import KINDS, Registry, registry

ALL_METHODS = [(kind, name) for kind in KINDS for name in registry(kind).names()]


@pytest.mark.parametrize(("kind", "name"), ALL_METHODS)
def test_every_method_follows_the_plugin_rules(kind: str, name: str) -> None:
    cls = registry(kind).get(name)
    params = cls.Params
    assert issubclass(params, BaseModel)
    assert params.model_config.get("frozen"), f"{kind} {name}: Params must be frozen"
    assert params.model_config.get("extra") == "forbid", f"{kind} {name}: Params must forbid unknown keys"
    assert (cls.__doc__ or "").strip(), f"{kind} {name}: class docstring missing"
    registry(kind).build(name, {})  # defaults alone are valid


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ConfigError, match="unknown scorer 'nope'; available: angular, block_influence"):
        registry("scorer").get("nope")


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown method kind"):
        registry("nope")


def test_double_registration_refused() -> None:
    reg: Registry[object] = Registry("filter")

    class A:
        class Params(BaseModel):
            pass

    reg.register("a")(A)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(A)
