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


def import_graph() -> dict[str, set[str]]:
    """Module -> damoc modules it imports, counting imports inside functions and TYPE_CHECKING blocks."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
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
