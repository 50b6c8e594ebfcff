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


# ------------------------------------------------------------------ every import declared
def _requirement_names(requirements: list[str]) -> set[str]:
    """``"scipy>=1.10"`` → ``scipy``; names normalised as pip does (``Foo_Bar`` = ``foo-bar``)."""
    import re

    return {re.split(r"[\s<>=!~;\[]", r.strip(), maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _third_party_imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level module -> files importing it, for every module not in the standard library or the project."""
    import sys

    own = {"locviz", "locviz_app", "locviz_weights", "locviz_dashboard", "conftest", "tests", "benchmarks"}
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_third_party_import_is_declared_in_pyproject() -> None:
    """A fresh virtualenv gets only what pyproject.toml declares (scipy was missing once: CI passed only because
    the machine's own Python had it). Run-time code needs a run-time dependency; tests may use the test extra."""
    import importlib.metadata

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]  # an extra other than test declares one feature's run-time needs
    runtime = _requirement_names(project["dependencies"])
    runtime |= {name for extra, reqs in extras.items() if extra != "test" for name in _requirement_names(reqs)}
    test_extra = runtime | _requirement_names(project["optional-dependencies"]["test"])
    distributions = importlib.metadata.packages_distributions()  # module -> the distributions providing it
    harness = REPO / "locviz_app" / "server.py"  # drives the app in headless Chromium for tests and benchmarks
    runtime_code = [p for d in ("locviz", "locviz_app", "pages") for p in (REPO / d).rglob("*.py") if p != harness]
    runtime_code.append(REPO / "dashboard.py")
    test_code = [*(REPO / "tests").glob("*.py"), harness]
    problems = []
    for code, declared, what in ((runtime_code, runtime, "dependencies"), (test_code, test_extra, "test extra")):
        for module, files in sorted(_third_party_imports(code).items()):
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            if module == "tomli":  # imported only on Python 3.10, where tomllib is missing
                dists = dists or {"tomli"}
            if not dists & declared:
                problems.append(f"{module} (distribution {sorted(dists) or 'not installed'}), imported by "
                                f"{', '.join(sorted(files))}, is not in pyproject.toml's {what}")  # fmt: skip
    assert not problems, "\n".join(problems)


def test_requirement_names_are_read_as_pip_reads_them() -> None:
    assert _requirement_names(["scipy>=1.10", "tomli>=2; python_version < '3.11'", "Foo_Bar[x]==1"]) == {
        "scipy", "tomli", "foo-bar"
    }  # fmt: skip


# ------------------------------------------------------------------ help texts say what the code does
def _help(command: str) -> str:
    import contextlib
    import io

    import pytest

    from locviz import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.build_parser().parse_args([command, "--help"])
    return " ".join(out.getvalue().split())


def test_calibrate_help_says_members_are_scaled_before_averaging_and_calls_can_change() -> None:
    """The code (locviz.calibration.Calibrator) scales each member, averages, then scales the average."""
    text = _help("calibrate")
    assert "before the members are averaged" in text and "a call can change" in text
    assert "--calibration-fold" in text and "never trained on fold F" in text


def test_predict_help_names_what_the_table_holds() -> None:
    from locviz import pipeline

    text = _help("predict")
    assert "calibrated" in text and "restricted to --organism" in text
    assert "Plastid outside plants" not in text  # the default model (multiloc) has no class called Plastid
    assert "reasons" in text and "organism applied" in text
    assert {"support_reasons", "organism"} <= set(pipeline.extra_columns(neighbours=False))
    assert all(column in text for column in ("known_location", "signal_conflicts", "notes"))
    assert "own reference entry is named but never counted" in text
