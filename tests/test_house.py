"""The shape of the house: imports inside ``locviz`` point one way, and the app's glue is split by job."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level (``if TYPE_CHECKING`` blocks included:
    a circle through type hints is still a circle in the design)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((REPO / package).glob("*.py")):
        name = package if path.stem == "__init__" else f"{package}.{path.stem}"
        body = list(ast.parse(path.read_text(encoding="utf-8")).body)
        body += [n for block in body if isinstance(block, ast.If) for n in block.body]
        deps: set[str] = set()
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
                deps |= {f"{package}.{a.name}" for a in node.names} if node.module == package else {node.module}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith(f"{package}.")}
        graph[name] = deps - {package, name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                found.append(path[path.index(dep) :] + [dep])
            elif dep in graph and dep not in state:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_locviz_has_no_import_circle() -> None:
    graph = _imports("locviz")
    assert _cycles(graph) == []
    for annotator in ("locviz.calibration", "locviz.organisms", "locviz.homology"):
        assert "locviz.prediction" in graph[annotator]
        assert "locviz.predict" not in graph[annotator], f"{annotator} imports predict: the old circle is back"
    assert graph["locviz.prediction"] == set()  # the ground floor imports nothing of the package


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_prediction_is_one_type_everywhere() -> None:
    import locviz
    import locviz.predict
    import locviz.prediction

    assert locviz.Prediction is locviz.predict.Prediction is locviz.prediction.Prediction


def test_app_glue_has_no_import_circle_and_no_catch_all_module() -> None:
    graph = _imports("locviz_app")
    assert _cycles(graph) == []
    assert "locviz_app.support" not in graph  # split by job: layout, models, inputs, runs, evidence, charts, downloads
    for path in (REPO / "locviz_app").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, f"{path.name} is growing into a catch-all"
    science = _imports("locviz")
    assert not any(dep.startswith("locviz_app") for deps in science.values() for dep in deps)
