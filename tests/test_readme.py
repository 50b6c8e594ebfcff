"""The README's Python example runs as written (ESM's habit: documentation that is executed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import HUMAN_INSULIN, REPO

from locviz.signals import find_signals


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    dna = "ACGT" * 75  # 300 nucleotides: rejected, and the example must say so
    fasta = f">insulin\n{HUMAN_INSULIN}\n>dna\n{dna}\n>insulin_tail\n{HUMAN_INSULIN[24:]}\n"
    (tmp_path / "proteins.fasta").write_text(fasta)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    tagged = {tag: [line for line in lines if line.startswith(tag)] for tag in
              ("rejected:", "signal:", "homology:", "scan:", "mutate:")}  # fmt: skip
    assert len(tagged["rejected:"]) == 1 and "record 'dna'" in tagged["rejected:"][0]
    assert "nucleotide" in tagged["rejected:"][0]
    calls = [line for line in lines if not any(line.startswith(tag) for tag in tagged)]
    assert [line.split()[0] for line in calls] == ["insulin", "insulin_tail"]
    for line in calls:
        _, label, confidence, support = line.split()
        assert label != "Plastid"  # organism="animal" in the example
        assert 0 < float(confidence) <= 1 and support in ("high", "medium", "low")
    expected = [f"signal: {s.kind} {s.start} {s.end}" for s in find_signals(HUMAN_INSULIN)]
    assert tagged["signal:"] == expected and "signal: signal_peptide 1 24" in expected  # insulin's signal peptide
    assert len(tagged["homology:"]) == 1
    assert re.search(r"(closest annotated protein|known:|no annotated protein)", tagged["homology:"][0])
    assert tagged["scan:"] == ["scan: (20, 5)"]
    assert [line.split(" ", 1)[1].startswith(label) for line, label in zip(tagged["mutate:"], ("p.Leu7Pro (L7P) ",
            "del1-24 "), strict=True)] == [True, True]  # the HGVS text as typed, with what it was read as
    table = (tmp_path / "calls.tsv").read_text().splitlines()  # the example's last line writes the command's table
    assert len(table) == 3 and table[0].split("\t")[-2:] == ["organism", "notes"] and "nearest_id" in table[0]


def test_readme_names_each_shipped_ensemble_s_member_count() -> None:
    """The README says how many networks each ensemble averages; a member shipped by the campaign must change it."""
    from locviz.weights import read_card

    found = re.search(r"`multiloc` (\d+) members, `deeploc` (\d+);", (REPO / "README.md").read_text())
    assert found, "the README's model paragraph names both member counts"
    for name, count in zip(("multiloc", "deeploc"), found.groups(), strict=True):
        assert read_card(str(REPO / "weights" / f"{name}.json"))[1].members == int(count), name


def test_readme_quotes_the_current_table_schema_version() -> None:
    from locviz.table import SCHEMA_VERSION

    text = (REPO / "README.md").read_text()
    assert f'{{"schema_version": {SCHEMA_VERSION},' in text and f"`schema_version` {SCHEMA_VERSION})" in text
    assert set(re.findall(r'"schema_version": (\d+)', text)) == {str(SCHEMA_VERSION)}


def test_the_submodules_the_readme_names_work_after_a_plain_import_locviz() -> None:
    import subprocess
    import sys

    named = sorted(set(re.findall(r"`locviz\.([a-z_]+)\.[a-z_]+", (REPO / "README.md").read_text())))
    assert {"motifs", "export", "figures", "whatif_figures"} <= set(named)
    code = "import locviz\n" + "".join(f"locviz.{name}\n" for name in named)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
