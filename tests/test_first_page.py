"""The first page is usable at once: the server imports what the pages import before it answers.

The timing itself is a benchmark (``python benchmarks/app_latency.py --first-page 5``: health check →
sequence box); this checks the structure that makes it fast and cannot drift silently: a module a page
starts importing is imported by the server before its health check, not by the first page run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = [REPO / "dashboard.py", *sorted((REPO / "pages").glob("*.py"))]


def page_imports() -> set[str]:
    """Modules of this project (and the heavy libraries) that dashboard.py and the pages import at the top."""
    names: set[str] = set()
    for script in SCRIPTS:
        for node in ast.parse(script.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)  # from locviz import figures
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] in ("locviz", "locviz_app", "pandas", "plotly", "torch")}


def test_the_server_imports_every_page_module_before_it_answers() -> None:
    code = (
        "import json, sys; from locviz_app.__main__ import import_app_modules; import_app_modules(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    wanted = page_imports()
    modules = {n for n in wanted if n in loaded or n.rsplit(".", 1)[0] in loaded}  # names may be functions
    assert {"locviz.figures", "locviz_app.layout", "pandas"} <= wanted  # the parse found the pages' imports
    assert modules == wanted, sorted(wanted - modules)


def test_the_model_warms_after_the_page_is_drawn() -> None:
    """dashboard.py starts the warm-up after the page ran (in ``finally``), never before it."""
    tree = ast.parse((REPO / "dashboard.py").read_text())
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "warm_up_in_background"
    ]
    tries = [n for n in tree.body if isinstance(n, ast.Try)]
    assert len(calls) == 1 and len(tries) == 1
    assert any(calls[0] is c for stmt in tries[0].finalbody for c in ast.walk(stmt))
    assert "run" in ast.unparse(tries[0].body[0])  # the page runs inside the try
