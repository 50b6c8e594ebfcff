"""The signal track in every output of ``locviz predict``: the ``signals`` column, ``--signals FILE``, the JSON,
and a GFF3 file that a strict reading of the GFF3 specification and a maintained parser (bcbio-gff) both accept,
whose signals are the app's track for the same protein."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from BCBio import GFF
from conftest import GFP, HUMAN_INSULIN

from locviz import cli, gff3, table
from locviz.errors import InputError
from locviz.examples import by_accession
from locviz.signals import RULES, find_signals
from locviz.whatif_figures import KIND_NAMES, signal_track

SOD1 = by_accession("P00441").sequence
PROTEINS = {
    "sp|P07237|PDIA1_HUMAN": by_accession("P07237").sequence,  # signal peptide and KDEL
    "ATP5B": by_accession("P06576").sequence,  # mitochondrial presequence
    "PARP1": by_accession("P09874").sequence,  # NLSs
    "GFP-SKL": GFP + "SKL",  # PTS1
    "SOD1+helix": SOD1[:60] + "LLIVALLAVFGLIVALLAV" + SOD1[60:],  # one TM helix
    "weird;id=1,&x%": HUMAN_INSULIN,  # every reserved character in the record id; signal peptide and NLS
    "SOD1": SOD1,  # no signal at all
}
SEQID = re.compile(r"^(?:[a-zA-Z0-9.:^*$@!+_?\-|]|%[0-9A-F]{2})+$")  # GFF3: escape what is not in this set
ATTRIBUTE = re.compile(r"^([^=;&,\t]+)=([^=;&\t]*)$")  # tag=value[,value]; reserved characters escaped


@pytest.fixture(autouse=True)
def tiny_weights(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    return tiny_weights_dir


@pytest.fixture(scope="module")
def fasta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gff3") / "proteins.fasta"
    path.write_text("".join(f">{pid} test protein\n{seq}\n" for pid, seq in PROTEINS.items()))
    return path


def predict(capsys: pytest.CaptureFixture, *args: str) -> None:
    code = cli.main(["predict", *args, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err


def read_gff3_strictly(text: str) -> dict[str, dict]:
    """Every rule of the GFF3 spec the file can break, checked by hand; returns seqid -> length and features."""
    lines = text.split("\n")
    assert lines[0] == "##gff-version 3" and lines[-1] == ""  # the version first; every line ends in a newline
    proteins: dict[str, dict] = {}
    for line in lines[1:-1]:
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", line), f"unescaped control character in {line!r}"
        if line.startswith("##"):
            directive, seqid, start, end = line.split(" ")
            assert directive == "##sequence-region" and start == "1" and SEQID.match(seqid), line
            assert seqid not in proteins, f"{seqid} declared twice"
            proteins[seqid] = {"length": int(end), "features": []}
            continue
        columns = line.split("\t")
        assert len(columns) == 9, f"{len(columns)} columns in {line!r}"
        seqid, source, kind, start, end, score, strand, phase, attributes = columns
        assert SEQID.match(seqid) and not seqid.startswith(">"), seqid
        assert seqid in proteins, f"{seqid}: feature before its ##sequence-region"
        assert source == "locviz" and strand == "." and phase == "."
        assert kind == gff3.CALL_TYPE or kind in gff3.SO_TYPES.values(), kind
        assert 1 <= int(start) <= int(end) <= proteins[seqid]["length"], line
        assert score == "." or 0 <= float(score) <= 1
        assert not re.search(r"%(?![0-9A-F]{2})", attributes), f"a bare % in {attributes!r}"
        tags = {}
        for part in attributes.split(";"):
            match = ATTRIBUTE.match(part)
            assert match, f"attribute {part!r} of {line!r} breaks tag=value with reserved characters escaped"
            tags[unquote(match[1])] = [unquote(v) for v in match[2].split(",")]
        feature = {"type": kind, "start": int(start), "end": int(end), "score": score, "attributes": tags}
        proteins[seqid]["features"].append(feature)
    return {unquote(seqid): protein for seqid, protein in proteins.items()}


def app_track(pid: str, sequence: str) -> list[tuple[str, int, int]]:
    """(kind name, start, end) of each bar of the Predict page's signal track (locviz_app.signals_view draws it)."""
    figure = signal_track(find_signals(sequence), len(sequence), pid)
    names = {v: k for k, v in KIND_NAMES.items()}
    bars = [t for t in figure.data if t.hoverinfo != "skip"]
    return sorted((names[t.y[0]], int(t.x[0] + 0.5), int(t.x[1] - 0.5)) for t in bars)


def test_gff3_is_valid_and_its_signals_are_the_apps_track(
    fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    predict(capsys, str(fasta), "--out", str(tmp_path / "calls.gff3"))  # the suffix chooses GFF3
    text = (tmp_path / "calls.gff3").read_text(encoding="utf-8")
    proteins = read_gff3_strictly(text)
    assert list(proteins) == list(PROTEINS)
    predict(capsys, str(fasta), "--out", str(tmp_path / "calls.tsv"))
    with open(tmp_path / "calls.tsv", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle, delimiter="\t")}
    kinds_seen = set()
    for pid, protein in proteins.items():
        sequence = PROTEINS[pid]
        assert protein["length"] == len(sequence)
        call, *features = protein["features"]
        assert (call["type"], call["start"], call["end"]) == ("polypeptide", 1, len(sequence))  # one call first
        assert call["attributes"]["prediction"] == [rows[pid]["prediction"]]
        assert float(call["score"]) == pytest.approx(float(rows[pid]["confidence"]), rel=1e-5)
        found = [(f["attributes"]["signal"][0], f["start"], f["end"]) for f in features]
        assert sorted(found) == app_track(pid, sequence)
        assert found == [(s.kind, s.start, s.end) for s in find_signals(sequence)]  # and in the track's order
        for f, s in zip(features, find_signals(sequence), strict=True):
            assert f["type"] == gff3.SO_TYPES[s.kind] and f["score"] == "."
            assert f["attributes"]["evidence"] == [s.evidence] and f["attributes"]["rule"] == [RULES[s.kind]]
        kinds_seen.update(k for k, _, _ in found)
        assert rows[pid]["signals"] == " | ".join(f"{k}:{a}-{b}" for k, a, b in found)  # the table's column
    assert kinds_seen == set(gff3.SO_TYPES)  # every kind of signal went through the writer
    assert not proteins["SOD1"]["features"][1:]
    pdi = next(line for line in text.splitlines() if "\tsignal_peptide\t" in line and line.startswith("sp|P07237"))
    assert "%3B" in pdi and "%2C" in pdi  # the evidence "(ADA↓PE; -3 A, -1 A)" escaped, read back above
    assert "\nweird%3Bid%3D1%2C%26x%25\tlocviz\tpolypeptide\t" in text  # the record id escaped in column 1


def test_a_maintained_parser_reads_the_same_features(
    fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    predict(capsys, str(fasta), "--out", str(tmp_path / "calls.txt"), "--format", "gff3")
    with open(tmp_path / "calls.txt", encoding="utf-8") as handle:
        records = {unquote(r.id): r for r in GFF.parse(handle)}  # bcbio-gff leaves column 1 escaped
    assert set(records) == set(PROTEINS)
    for pid, record in records.items():
        sequence = PROTEINS[pid]
        assert len(record.seq) == len(sequence)  # from ##sequence-region
        call, *features = record.features
        assert call.type == "polypeptide" and int(call.location.end) == len(sequence)
        read = [(f.qualifiers["signal"][0], int(f.location.start) + 1, int(f.location.end), f.qualifiers["evidence"][0])
                for f in features]  # fmt: skip
        assert read == [(s.kind, s.start, s.end, s.evidence) for s in find_signals(sequence)]


def test_signals_file_and_json_carry_the_track(fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    predict(capsys, str(fasta), "--out", str(tmp_path / "calls.json"), "--signals", str(tmp_path / "sig.tsv"))
    document = json.loads((tmp_path / "calls.json").read_text())
    assert "signals" in document["columns"]
    with open(tmp_path / "sig.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == ["id", "type", "start", "end", "label", "rule", "evidence"]
    for row in document["predictions"]:
        expected = [s.to_json() for s in find_signals(PROTEINS[row["id"]])]
        assert row["signals"] == expected
        assert [(r["type"], int(r["start"]), int(r["end"]), r["label"], r["rule"], r["evidence"])
                for r in rows if r["id"] == row["id"]] == [tuple(e.values()) for e in expected]  # fmt: skip
    assert {r["type"] for r in rows} == set(gff3.SO_TYPES)


def test_escaping_by_the_letter_of_the_spec() -> None:
    assert gff3.escape("a;b=c&d,e\tf\ng\rh%i j") == "a%3Bb%3Dc%26d%2Ce%09f%0Ag%0Dh%25i j"  # spaces stay
    assert gff3.escape("\x01\x7f↓") == "%01%7F↓"  # control characters; other characters are never encoded
    assert gff3.escape_seqid("sp|P07237|PDIA1_HUMAN") == "sp|P07237|PDIA1_HUMAN"
    assert gff3.escape_seqid(">a b;c") == "%3Ea%20b%3Bc"
    assert gff3.escape_seqid("é") == "%C3%A9"


def test_gff3_is_a_prediction_format_only() -> None:
    assert table.format_for("out.gff3", None, table.PREDICTION_FORMATS) == "gff3"
    assert table.format_for("out.gff", None, table.PREDICTION_FORMATS) == "gff3"
    with pytest.raises(InputError, match=r"this table cannot be written as '\.gff3'"):
        table.format_for("out.gff3")  # scan, mutate and attention tables have no GFF3 form
    with pytest.raises(InputError, match=r"calls.xlsx: this table cannot be written as '\.xlsx'; name the file \.tsv"):
        table.format_for("calls.xlsx", None, table.PREDICTION_FORMATS)  # was written as TSV under that name
    assert [table.format_for(p) for p in ("-", "calls", "calls.txt", "calls.TSV", "./out.d/calls")] == ["tsv"] * 5
    with pytest.raises(InputError, match="format must be one of tsv, csv, json, got 'gff3'"):
        table.format_for("out.tsv", "gff3")


def test_unknown_format_is_refused_before_the_model_loads(
    fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit):  # argparse: exit status 2 with the choices
        cli.main(["predict", str(fasta), "--out", str(tmp_path / "x"), "--format", "gtf"])
    assert "gff3" in capsys.readouterr().err
