"""The package's shape: no import cycle, a leaf config schema, small modules, picklable candidate jobs."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

from damoc.executors.base import CandidateJob

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "damoc"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(at_import_time: bool = False) -> dict[str, set[str]]:
    """Module -> damoc modules it imports, counting imports inside functions and TYPE_CHECKING blocks.

    ``at_import_time``: only the imports that run when the module is imported (its top-level
    statements), each with the packages above the imported module, which Python runs first: an
    ``import a.b.c`` runs ``a/__init__`` and ``a/b/__init__``. A cycle in that graph fails at import.
    """
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = (
            [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))] if at_import_time else ast.walk(tree)
        )
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        if at_import_time:
            deps |= {".".join(d.split(".")[:i]) for d in deps for i in range(2, d.count(".") + 1)}
        graph[name] = {d for d in deps if d in modules and d != name and not name.startswith(d + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the walk saw the package
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_no_cycle_when_modules_import() -> None:
    """Any module imported first works (``import damoc.jobs`` first once failed: jobs -> executors -> jobs)."""
    graph = import_graph(at_import_time=True)
    assert "damoc.executors" in graph["damoc.jobs"]  # the package of damoc.executors.base counts
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_config_schema_is_a_leaf() -> None:
    assert import_graph()["damoc.config"] <= {"damoc.errors"}
    assert import_graph()["damoc.reports"] <= {"damoc.config", "damoc.errors", "damoc.atomic"}


def test_no_module_over_400_lines() -> None:
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > 400} == {}


def test_every_stage_has_a_contract_and_an_entry_module() -> None:
    for stage in ("data", "model", "training", "evaluation", "selection"):
        assert (PACKAGE / stage / "base.py").is_file() and (PACKAGE / stage / "stage.py").is_file(), stage


def test_candidate_job_pickles(tmp_path: Path) -> None:
    from damoc.loading import parse_config

    cfg = parse_config(
        {"run_dir": str(tmp_path / "run"), "task": {"bundled": "world_facts"}, "candidates": ["smollm2-135m"]}
    )
    job = CandidateJob(cfg, tmp_path / "run", "smollm2-135m")
    assert pickle.loads(pickle.dumps(job)) == job
