"""The README's "Add a method" example works as written: one file registers a working filter."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from damoc.context import StageContext
from damoc.data.base import FILTERS
from damoc.registry import Method, MethodParams, registry
from damoc.tasks.example import Example
from damoc.testing import readme_python_block

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- add-method-example -->"


def readme_example() -> str:
    """The Python code block right after the marker line in README.md."""
    return readme_python_block(ROOT / "README.md", MARKER)


def test_readme_example_registers_a_working_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "shortest" not in FILTERS.names(), "the README example must not ship in the package"
    module = types.ModuleType("damoc_readme_add_method_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(compile(readme_example(), "README.md (add-method-example)", "exec"), module.__dict__)
        cls = registry("filter").get("shortest")
        assert issubclass(cls, Method) and "__init__" not in vars(cls)
        assert issubclass(cls.Params, MethodParams)
        assert "shortest" in registry("filter").describe()

        method = registry("filter").build("shortest", {"keep_ratio": 0.5})
        examples = [
            Example(id="a", question="What is the boiling point of water at sea level?", answer="100 C"),
            Example(id="b", question="2+2?", answer="4"),
            Example(id="c", question="Who wrote it?", answer="Austen", context="A long passage about a novel."),
            Example(id="d", question="Capital of France?", answer="Paris"),
        ]
        assert method.select(examples, StageContext()) == [1, 3]
        assert registry("filter").build("shortest", {"keep_ratio": 0.25}).select(examples, StageContext()) == [1]
    finally:
        if "shortest" in FILTERS.names():
            FILTERS.unregister("shortest")
    assert "shortest" not in registry("filter").names()


def test_readme_names_the_one_import_line() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    init = (ROOT / "src/damoc/data/filters/__init__.py").read_text(encoding="utf-8")
    shipped = re.search(r"^from damoc\.data\.filters import (.+)$", init, re.MULTILINE)
    documented = re.search(r"^from damoc\.data\.filters import (.+, shortest)$", text, re.MULTILINE)
    assert shipped and documented, "README.md should show the filters package's import line with shortest added"
    assert {m.strip() for m in documented.group(1).split(",")} >= {m.strip() for m in shipped.group(1).split(",")}
