"""The README's Python example runs as written (ESM's habit: documentation that is executed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import HUMAN_INSULIN, REPO


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    (tmp_path / "proteins.fasta").write_text(f">insulin\n{HUMAN_INSULIN}\n>insulin_tail\n{HUMAN_INSULIN[24:]}\n")
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["insulin", "insulin_tail"]
    for line in lines:
        _, label, confidence, support = line.split()
        assert label != "Plastid"  # organism="animal" in the example
        assert 0 < float(confidence) <= 1 and support in ("high", "medium", "low")
