"""The method registry: every registered method follows the plug-in rules."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
from pydantic import BaseModel

from damoc.errors import ConfigError
from damoc.registry import KINDS, Method, MethodParams, ReferenceModelParams, Registry, registry

ALL_METHODS = [(kind, name) for kind in KINDS for name in registry(kind).names()]

# the typed registry each contract module declares, by kind
TYPED_REGISTRIES = {
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

CITATION = re.compile(r"\b(19|20)\d\d\b|arXiv|et al\.")
NO_PAPER = {
    ("executor", "local"),  # candidates one after another: plumbing, not a published method
}
"""Methods whose docstring legitimately cites no source."""


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
    with pytest.raises(
        ConfigError,
        match="unknown scorer 'nope'; available: angular, angular_all_tokens, angular_answer, block_influence, "
        "block_influence_answer, perplexity_drop",
    ):
        registry("scorer").get("nope")


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown method kind"):
        registry("nope")


def test_double_registration_refused() -> None:
    reg: Registry[object] = Registry("filter", "damoc.data.filters")

    class A(Method):
        """A throwaway method."""

    reg.register("a")(A)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(A)


def test_registration_needs_the_method_base_and_method_params() -> None:
    reg: Registry[object] = Registry("filter", "damoc.data.filters")

    class NotAMethod:
        class Params(MethodParams):
            pass

    class LooseParams(Method):
        class Params(BaseModel):
            pass

    with pytest.raises(TypeError, match=r"does not subclass damoc\.registry\.Method"):
        reg.register("a")(NotAMethod)
    with pytest.raises(TypeError, match="Params does not subclass MethodParams"):
        reg.register("b")(LooseParams)


@pytest.mark.parametrize(("kind", "name"), ALL_METHODS)
def test_every_method_subclasses_method_with_frozen_method_params(kind: str, name: str) -> None:
    cls = registry(kind).get(name)
    assert issubclass(cls, Method), f"{kind} {name}: does not subclass damoc.registry.Method"
    assert Method in cls.__bases__, f"{kind} {name}: must subclass Method directly (one level)"
    assert "__init__" not in vars(cls), f"{kind} {name}: defines its own __init__ (Method's is the only one)"
    assert cls.name == name
    assert issubclass(cls.Params, MethodParams), f"{kind} {name}: Params does not subclass MethodParams"
    assert cls.Params.model_config.get("frozen") is True
    assert cls.Params.model_config.get("extra") == "forbid"
    built = registry(kind).build(name, {})
    assert isinstance(built.params, cls.Params)


@pytest.mark.parametrize(("kind", "name"), ALL_METHODS)
def test_every_method_docstring_cites_its_source(kind: str, name: str) -> None:
    first_line = registry(kind).describe()[name]
    if (kind, name) in NO_PAPER:
        return
    assert CITATION.search(first_line), (
        f"{kind} {name}: the docstring's first line should cite a source (a year, 'arXiv' or 'et al.'), "
        f"or the method belongs in NO_PAPER: {first_line!r}"
    )


def test_no_paper_exemptions_are_registered_methods() -> None:
    assert set(ALL_METHODS) >= NO_PAPER


@pytest.mark.parametrize("kind", KINDS)
def test_registry_by_kind_is_the_typed_registry_of_the_contract(kind: str) -> None:
    module, attr = TYPED_REGISTRIES[kind]
    typed = getattr(importlib.import_module(module), attr)
    assert registry(kind) is typed
    assert typed.kind == kind


def test_every_kind_has_a_typed_registry() -> None:
    assert set(KINDS) == set(TYPED_REGISTRIES)


def test_reference_model_params_are_shared() -> None:
    users = [
        ("filter", "ifd"),
        ("filter", "hybrid"),
        ("compressor", "self_information"),
    ]
    for kind, name in users:
        params = registry(kind).get(name).Params
        assert issubclass(params, ReferenceModelParams), f"{kind} {name}"
        assert {"reference_model", "max_seq_len", "batch_size"} <= set(params.model_fields)
    # a method may override one default by redeclaring that field alone
    assert registry("compressor").get("self_information").Params().max_seq_len == 512
    assert registry("filter").get("ifd").Params().max_seq_len == ReferenceModelParams().max_seq_len


def test_registry_module_imports_no_contract_module_and_no_torch() -> None:
    contracts = sorted({module for module, _ in TYPED_REGISTRIES.values()})
    code = (
        "import sys, damoc.registry\n"
        f"watch = {[*contracts, 'torch']!r}\n"
        "print(','.join(m for m in watch if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "", f"import damoc.registry also imported: {out}"
