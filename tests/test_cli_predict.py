"""The predict / motifs / app sub-commands, called in-process through locviz.cli.main and once as a program."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import GFP, HISTONE_H4, HUMAN_INSULIN, REPO, UBIQUITIN

from locviz import cli, table
from locviz.card import display_name
from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES, sha256_of
from locviz.motifs import load_bundle_motifs
from locviz.predict import load_model
from locviz.sequences import parse
from locviz.weights import load_bundle
from locviz_app.server import wait_until_healthy

GOOD = f">insulin human insulin\n{HUMAN_INSULIN}\n>gfp\n{GFP[:120]}\n{GFP[120:]}\n>ubiquitin\n{UBIQUITIN}\n"
BAD_RECORD = ">broken\nMKVLLA!GGQQQQQQQQ\n"


@pytest.fixture(autouse=True)
def tiny_weights(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    return tiny_weights_dir


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_predict(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.main(["predict", *args, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_table(path: Path, delimiter: str) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_predict_tsv_matches_api(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    out = tmp_path / "out.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--model", "multiloc", "--out", str(out))
    assert code == 0, err
    assert "predicted 3 records" in err
    assert "1 record(s) longer than 200" in err  # GFP is cut by the tiny bundle's policy
    rows = read_table(out, "\t")
    classes = list(MULTILOC_CLASSES)
    head = ["id", "length", "prediction", "confidence"] + [f"p_{c}" for c in classes]
    assert list(rows[0])[: len(head)] == head  # then the columns other steps declare (table.py)
    assert [r["id"] for r in rows] == ["insulin", "gfp", "ubiquitin"]
    # what was done to the input is in the row, not only in the run's summary on stderr
    assert "were not seen by the model" in rows[1]["notes"] and rows[0]["notes"] == rows[2]["notes"] == ""
    expected = load_model("multiloc", device="cpu").predict(parse(GOOD).records)
    for row, pred in zip(rows, expected, strict=True):
        probs = np.array([float(row[f"p_{c}"]) for c in classes])
        np.testing.assert_allclose(probs, pred.probabilities, atol=2e-6)
        assert row["prediction"] == pred.label == classes[int(np.argmax(probs))]


def test_predict_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    code, _, _ = run_predict(capsys, str(fasta), "--model", "deeploc", "--out", str(tmp_path / "out.csv"))
    assert code == 0
    rows = read_table(tmp_path / "out.csv", ",")
    assert len(rows) == 3 and list(rows[0])[:5] == ["id", "length", "prediction", "confidence", "p_Nucleus"]
    assert [k for k in rows[0] if k.startswith("p_")] == [f"p_{c}" for c in DEEPLOC_CLASSES]
    assert rows[1]["length"] == str(len(GFP))
    code, _, _ = run_predict(capsys, str(fasta), "--model", "multiloc", "--out", str(tmp_path / "o.json"))
    assert code == 0
    document = json.loads((tmp_path / "o.json").read_text())
    assert document["schema_version"] == table.SCHEMA_VERSION and document["model"] == "multiloc"
    data = document["predictions"]
    assert [d["id"] for d in data] == ["insulin", "gfp", "ubiquitin"]
    head = ["id", "length", "prediction", "confidence"] + [f"p_{c}" for c in MULTILOC_CLASSES]
    assert list(data[0])[: len(head)] == head
    assert data[0]["confidence"] == max(v for k, v in data[0].items() if k.startswith("p_"))
    assert abs(sum(v for k, v in data[0].items() if k.startswith("p_")) - 1.0) < 1e-4
    code, _, _ = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.txt"), "--format", "csv")
    assert code == 0 and "," in (tmp_path / "o.txt").read_text().splitlines()[0]


def test_with_attention_writes_the_apps_json_download_and_only_json(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The Predict page's "Predictions + attention (JSON)": the same records from the command line as from
    locviz.write_table(..., with_attention=True), sequence, attention and member probabilities included."""
    import locviz

    fasta = write(tmp_path / "in.fasta", GOOD)
    out = tmp_path / "o.json"
    code, _, _ = run_predict(capsys, str(fasta), "--model", "multiloc", "--out", str(out), "--with-attention")
    assert code == 0
    records = json.loads(out.read_text())["predictions"]
    predictor = locviz.load_model("multiloc", device="cpu")
    python = locviz.write_table(predictor.predict(locviz.parse(GOOD).records), tmp_path / "p.json", with_attention=True)
    assert records == json.loads(python.read_text())["predictions"]
    assert records[0]["sequence"] == HUMAN_INSULIN and len(records[0]["attention"]) == len(HUMAN_INSULIN)
    assert len(records[0]["member_probabilities"]) == predictor.bundle.card.members
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"), "--with-attention")
    assert code == 1 and "only JSON holds" in err and "--attention FILE" in err and "Traceback" not in err
    assert not (tmp_path / "o.tsv").exists()


def test_search_mode_needs_neighbours(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"), "--search-mode", "default")
    assert code == 1 and "add --neighbours" in err and not (tmp_path / "o.tsv").exists()


def test_bad_record_is_skipped_with_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD + BAD_RECORD + f">h4\n{HISTONE_H4}\n")
    out = tmp_path / "out.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out))
    assert code == 3
    assert "line 8: record 'broken', position 7: character '!'" in err
    assert "predicted 4 records" in err and "1 skipped" in err
    assert "Traceback" not in err
    assert [r["id"] for r in read_table(out, "\t")] == ["insulin", "gfp", "ubiquitin", "h4"]


def test_text_before_the_first_header_is_skipped_and_the_records_are_predicted(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fasta = write(tmp_path / "in.fasta", "exported from the lab notebook\n" + GOOD)
    out = tmp_path / "out.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out))
    assert code == 3 and "line 1: text before the first FASTA header (line 1) is not part of any record" in err
    assert [r["id"] for r in read_table(out, "\t")] == ["insulin", "gfp", "ubiquitin"]


def test_duplicate_across_chunks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD + f">insulin\n{HISTONE_H4}\n")
    out = tmp_path / "out.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out), "--chunk-size", "1")
    assert code == 3
    assert "record 'insulin': duplicate record name" in err
    assert len(read_table(out, "\t")) == 3


def test_stop_on_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD + BAD_RECORD + f">h4\n{HISTONE_H4}\n")
    out = tmp_path / "out.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out), "--stop-on-error")
    assert code == 1
    assert "record 'broken'" in err and "--stop-on-error" in err
    assert [r["id"] for r in read_table(out, "\t")] == ["insulin", "gfp", "ubiquitin"]


def test_failed_runs_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run_predict(capsys, str(tmp_path / "nope.fasta"), "--out", str(tmp_path / "o.tsv"))
    assert code == 1
    assert err.strip() == f"locviz predict: error: input file {tmp_path / 'nope.fasta'} does not exist"
    fasta = write(tmp_path / "in.fasta", GOOD)
    code, _, err = run_predict(capsys, str(fasta), "--model", str(tmp_path / "nomodel"), "--out", str(tmp_path / "o"))
    assert code == 1 and "no model card" in err and "Traceback" not in err
    only_bad = write(tmp_path / "bad.fasta", BAD_RECORD)
    code, _, err = run_predict(capsys, str(only_bad), "--out", str(tmp_path / "o.tsv"))
    assert code == 1 and "no record could be predicted" in err
    empty = write(tmp_path / "empty.fasta", "\n")
    code, _, err = run_predict(capsys, str(empty), "--out", str(tmp_path / "o.tsv"))
    assert code == 1 and "the input is empty" in err
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "no_dir" / "o.tsv"))
    assert code == 1 and "does not exist" in err
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "." / "in.fasta"), "--format", "tsv")
    assert code == 1 and "is the input file: writing the output there would destroy it" in err
    assert fasta.read_text() == GOOD



def test_a_file_that_cannot_be_read_is_an_error_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)

    def unreadable(handle):  # what a file without read permission does (tests run as root, who reads anything)
        raise PermissionError(13, "Permission denied", str(fasta))

    monkeypatch.setattr(cli, "iter_record_texts", unreadable)
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"))
    assert code == 1 and err.strip().endswith(f"locviz predict: error: cannot use {fasta}: Permission denied")


def test_raw_sequence_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw = write(tmp_path / "raw.txt", "\n" + HUMAN_INSULIN[:50] + "\n" + HUMAN_INSULIN[50:] + "\n")
    code, out, _ = run_predict(capsys, str(raw), "--out", "-")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("id\tlength\tprediction\tconfidence\tp_ER") and lines[1].startswith("sequence_1\t")


def test_standard_input_is_read_as_a_file_is(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UTF-8 with its byte-order mark dropped, whatever the locale; a byte that is not UTF-8 is a message."""
    out = tmp_path / "o.tsv"
    for data, says in ((b"\xef\xbb\xbf" + GOOD.encode(), None),
                       (GOOD.replace(">gfp", ">gfp prot\xe9ine").encode("latin-1"), "is not UTF-8 text")):  # fmt: skip
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")  # as in UTF-8 mode
        monkeypatch.setattr(sys, "stdin", stdin)
        code, _, err = run_predict(capsys, "-", "--out", str(out))
        if says is None:
            assert code == 0 and [r["id"] for r in read_table(out, "\t")] == ["insulin", "gfp", "ubiquitin"], err
        else:
            assert code == 1 and "the standard input is not UTF-8 text: save it as UTF-8" in err, err


def test_byte_order_mark_and_windows_line_ends(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = tmp_path / "win.fasta"
    fasta.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"))
    assert code == 0, err
    assert [r["id"] for r in read_table(tmp_path / "o.tsv", "\t")] == ["insulin", "gfp", "ubiquitin"]


def test_attention_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    att = tmp_path / "att.tsv"
    code, _, _ = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"), "--attention", str(att))
    assert code == 0
    rows = read_table(att, "\t")
    assert list(rows[0]) == ["id", "position", "residue", "attention", "seen", "relative_to_uniform"]
    records = parse(GOOD).records
    assert len(rows) == sum(len(r) for r in records)
    for record in records:
        mine = [r for r in rows if r["id"] == record.id]
        assert [int(r["position"]) for r in mine] == list(range(1, len(record) + 1))
        assert "".join(r["residue"] for r in mine) == record.sequence
        values = [float(r["attention"]) for r in mine if r["attention"]]
        assert abs(sum(values) - 1.0) < 1e-4
    gfp = [r for r in rows if r["id"] == "gfp"]
    assert [r["attention"] == "" for r in gfp] == [100 <= i < len(GFP) - 100 for i in range(len(GFP))]


def test_gzip_fasta_is_read_and_other_files_get_what_they_are(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    packed = tmp_path / "in.fasta.gz"
    packed.write_bytes(gzip.compress(GOOD.encode()))
    code, _, err = run_predict(capsys, str(packed), "--out", str(tmp_path / "o.tsv"))
    assert code == 0, err
    assert [r["id"] for r in read_table(tmp_path / "o.tsv", "\t")] == ["insulin", "gfp", "ubiquitin"]
    for name, data, says in (
        ("in.zip", b"PK\x03\x04rest", "in.zip is zip-compressed, not text: unpack it first (e.g. unzip"),
        ("in.bin", b"MKV\x00\x00\x01", "in.bin is a binary file, not text"),
        ("in.dat", b"ID   INS_HUMAN   Reviewed;  110 AA.\n", "a UniProt (SwissProt) flat file, not FASTA"),
        ("in.gp", b"LOCUS       NP_000198   110 aa   linear\n", "a GenBank/GenPept flat file, not FASTA"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        code, _, err = run_predict(capsys, str(path), "--out", str(tmp_path / "o2.tsv"))
        assert code == 1 and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "o2.tsv").exists() and not (tmp_path / "o2.tsv.partial").exists()


def test_damaged_gzip_latin1_and_utf16_files_are_messages_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    whole = gzip.compress((GOOD * 20).encode())
    latin = GOOD.replace(">gfp", ">gfp protéine").encode("latin-1")
    for name, data, says in (
        ("cut.fasta.gz", whole[: len(whole) // 2], "cut.fasta.gz looks gzip-compressed but cannot be unpacked"),
        ("latin.fasta", latin, "latin.fasta, line 3: byte 0xE9 (column 10) is not UTF-8; the file is in another "
                               "encoding (in Latin-1 that byte is 'é')"),
        ("latin.fasta.gz", gzip.compress(latin), "latin.fasta.gz, line 3: byte 0xE9 (column 10) is not UTF-8"),
        ("wide.fasta", GOOD.encode("utf-16"), "wide.fasta is UTF-16 text: save it as UTF-8"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        code, _, err = run_predict(capsys, str(path), "--out", str(tmp_path / "o.tsv"))
        assert code == 1 and says in err and "Traceback" not in err, err
        assert not (tmp_path / "o.tsv").exists()  # nothing that looks like a result


def test_a_run_that_predicts_nothing_writes_no_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    only_bad = write(tmp_path / "bad.fasta", BAD_RECORD)
    for extra in ((), ("--stop-on-error",)):
        code, _, err = run_predict(capsys, str(only_bad), "--out", str(tmp_path / "o.tsv"), *extra)
        assert code == 1 and "no record could be predicted" in err and "o.tsv was not written" in err
        assert not (tmp_path / "o.tsv").exists() and not (tmp_path / "o.tsv.partial").exists()


@pytest.mark.parametrize(
    ("out", "attention", "said"), [("same.tsv", "./same.tsv", "./same.tsv"), ("-", "-", "standard output")]
)
def test_two_outputs_in_one_file_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, out: str, attention: str,
    said: str,
) -> None:
    """Their rows would be written over each other, and the run would end with status 0."""
    fasta = write(tmp_path / "in.fasta", GOOD)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_predict(capsys, str(fasta), "--out", out, "--attention", attention)
    assert code == 1 and f"--out and --attention both write {said}; give each its own file" in err
    assert list(tmp_path.iterdir()) == [fasta]


def test_attention_table_refuses_json_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"), "--attention",
                               str(tmp_path / "att.json"))  # fmt: skip
    assert code == 1 and "cannot be written as '.json'" in err and ".csv" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [fasta]


def test_a_run_that_does_not_finish_leaves_no_file_that_looks_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    out, att = tmp_path / "o.json", tmp_path / "att.tsv"
    real, calls = cli.pipeline.predict_chunk, []

    def interrupted_after_one_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cli.pipeline, "predict_chunk", interrupted_after_one_chunk)
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out), "--attention", str(att), "--chunk-size", "1")
    assert code == 130
    assert not out.exists() and not att.exists()
    assert f"the rows written so far are in {out}.partial; {out} was not written" in err
    assert len(json.loads(Path(f"{out}.partial").read_text())["predictions"]) == 1  # the one chunk that finished
    monkeypatch.setattr(cli.pipeline, "predict_chunk", real)
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out), "--attention", str(att))
    assert code == 0 and len(json.loads(out.read_text())["predictions"]) == 3
    assert att.exists() and not Path(f"{att}.partial").exists() and "partial" not in err


def test_entry_point_subprocess(tmp_path: Path, tiny_weights_dir: Path) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD + BAD_RECORD)
    out = tmp_path / "out.json"
    env = dict(os.environ, LOCVIZ_WEIGHTS=str(tiny_weights_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "locviz.cli", "predict", str(fasta), "--out", str(out), "--no-progress"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert "record 'broken'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(json.loads(out.read_text())["predictions"]) == 3


def make_multiloc_folder(folder: Path) -> Path:
    """A miniature MultiLoc folder in the real layout (one FASTA per class, folds.tsv) with real sequences."""
    folder.mkdir()
    entries = [
        ("P01308", "extracellular", HUMAN_INSULIN, 1),
        ("P0CG48", "cytoplasmic", UBIQUITIN, 2),
        ("P62805", "nuclear", HISTONE_H4, 1),
        ("P42212", "cytoplasmic", GFP, 2),
        ("TESTFOLD", "nuclear", HISTONE_H4[::-1], 0),
    ]
    for location in MULTILOC_CLASSES:
        text = "".join(f">{acc}\n{seq}\n" for acc, loc, seq, _ in entries if loc == location)
        (folder / f"{location}.fasta").write_text(text)
    lines = ["accession\tlocation\tfold"] + [f"{acc}\t{loc}\t{fold}" for acc, loc, _, fold in entries]
    (folder / "folds.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_motifs_command(tmp_path: Path, tiny_weights_dir: Path, capsys: pytest.CaptureFixture) -> None:
    for suffix in (".json", ".safetensors"):
        shutil.copy(tiny_weights_dir / f"multiloc{suffix}", tmp_path / f"multiloc{suffix}")
    data = make_multiloc_folder(tmp_path / "multiloc_data")
    model = str(tmp_path / "multiloc")
    base = ["motifs", "--model", model, "--dataset", "multiloc", "--data", str(data), "--no-progress"]
    code = cli.main(base + ["--folds", "0", "1"])
    assert code == 1 and "test fold" in capsys.readouterr().err
    code = cli.main(base + ["--folds", "1", "2", "--top-k", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "12 filters of member 0" in out and "filters most specific to one class" in out
    assert "width  5:   4 filters" in out
    motifs_path = tmp_path / "multiloc.motifs.npz"
    card = json.loads((tmp_path / "multiloc.json").read_text())
    assert card["motifs_file"] == "multiloc.motifs.npz"
    assert card["motifs_sha256"] == sha256_of(motifs_path)
    assert card["motifs_reference"].startswith("4 multiloc proteins of folds 1, 2")
    motif_set = load_bundle_motifs(load_bundle(model, device="cpu"))
    assert max(len(m.top_windows) for m in motif_set.motifs) == 3
    assert set(motif_set.motifs[0].class_association) == {"extracellular", "cytoplasmic", "nuclear"}
    custom = tmp_path / "elsewhere" / "m.npz"
    assert cli.main(base + ["--folds", "1", "--out", str(custom)]) == 0
    card = json.loads((tmp_path / "multiloc.json").read_text())
    assert card["motifs_file"] == "elsewhere/m.npz"
    assert load_bundle_motifs(load_bundle(model, device="cpu")).reference.startswith("2 multiloc proteins")


def test_app_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(cli, "dashboard_path", lambda: tmp_path / "dashboard.py")
    assert cli.main(["app"]) == 1
    assert "dashboard.py is missing" in capsys.readouterr().err
    (tmp_path / "dashboard.py").write_text("")
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append((path, argv)))
    assert cli.main(["app", "--port", "8600", "--address", "127.0.0.1", "--headless"]) == 0
    path, argv = calls[0]
    assert path == sys.executable  # the process replaces itself: no child left behind when it is stopped
    assert argv == [
        sys.executable, "-m", "locviz_app", str(tmp_path / "dashboard.py"),
        "--server.port", "8600", "--server.address", "127.0.0.1", "--server.headless", "true",
    ]  # fmt: skip
    assert cli.main(["app", "--port", "70000"]) == 1
    assert "--port must be between 1 and 65535" in capsys.readouterr().err


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_stopping_locviz_app_by_its_pid_stops_the_server(tiny_weights_dir: Path, tmp_path: Path) -> None:
    """`python3 -m locviz app` is the server itself: SIGTERM to its PID leaves nothing listening."""
    from locviz_app.server import free_port

    port = free_port()
    env = dict(os.environ, LOCVIZ_WEIGHTS=str(tiny_weights_dir))
    log = open(tmp_path / "app.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "locviz", "app", "--port", str(port), "--address", "127.0.0.1", "--headless"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", proc, tmp_path / "app.log")
        assert port_open(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
        assert not port_open(port)
        with socket.socket() as sock:  # and the port can be taken again at once
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_every_subcommand_and_option_has_help() -> None:
    parser = cli.build_parser()
    missing = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{path} {name}")
                    walk(sub, f"{path} {name}")
                    sub.format_help()  # every %(default)s / %(choices)s expands
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "locviz")
    assert not missing, missing
    assert len(parser._subparsers._group_actions[0].choices) >= 6


def test_predict_final_line_names_the_attention_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "in.fasta", GOOD)
    out, att = tmp_path / "o.tsv", tmp_path / "att.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out), "--attention", str(att))
    assert code == 0
    assert err.strip().splitlines()[-1] == (
        f"predicted 3 records with multiloc; wrote {out} and {att} (attention per residue)"
    )


def test_predict_says_how_the_calls_fall_across_compartments_and_support(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The end-of-run lines count the table's own calls: a proteome's first sanity check."""
    fasta = write(tmp_path / "in.fasta", GOOD)
    out = tmp_path / "o.tsv"
    code, _, err = run_predict(capsys, str(fasta), "--out", str(out))
    assert code == 0
    rows = list(csv.DictReader(out.open(newline=""), delimiter="\t"))
    calls = Counter(display_name(r["prediction"]) for r in rows)
    (line,) = [x for x in err.splitlines() if x.startswith("calls: ")]
    listed = [part.rsplit(" (", 1)[0].rsplit(" ", 1) for part in line.removeprefix("calls: ").split(", ")]
    assert {name: int(k) for name, k in listed} == dict(calls)
    assert [int(k) for _, k in listed] == sorted(calls.values(), reverse=True)  # most first
    support = Counter(r["support"] for r in rows)
    (levels,) = [x for x in err.splitlines() if x.startswith("support: ")]
    assert levels.removeprefix("support: ").startswith(f"high {support['high']} (")
    single = write(tmp_path / "one.fasta", f">insulin\n{HUMAN_INSULIN}\n")
    _, _, err = run_predict(capsys, str(single), "--out", str(tmp_path / "one.tsv"))
    assert "calls: " not in err  # one protein: its row says it all


def test_accession_instead_of_sequence(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta = write(tmp_path / "acc.txt", "P07237\n")
    code, _, err = run_predict(capsys, str(fasta), "--out", str(tmp_path / "o.tsv"))
    assert code == 1
    assert "P07237 looks like an accession" in err and "does not look accessions up" in err
    assert "digit" not in err and "residues" not in err


def test_wheel_carries_the_weights_and_the_app(tmp_path: Path) -> None:
    """A regular (non-editable) install gets weights/ and the app: build the wheel from a clean copy and look."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    src = tmp_path / "src"
    for name in listed:
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "whl")], check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "whl").glob("locviz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p.name for p in (REPO / "weights").iterdir() if p.is_file() and not p.name.startswith(".")]
    assert {"multiloc.json", "multiloc.safetensors", "deeploc.json", "deeploc.safetensors"} <= set(shipped)
    assert {f"locviz_weights/{n}" for n in shipped} <= names
    pages = [f"locviz_dashboard/pages/{p.name}" for p in (REPO / "pages").glob("*.py")]
    assert {"locviz_dashboard/dashboard.py", "locviz_dashboard/.streamlit/config.toml", *pages} <= names
    assert "locviz_app/__main__.py" in names and "locviz/weights.py" in names


def test_weights_found_from_the_installed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from locviz import weights

    monkeypatch.delenv("LOCVIZ_WEIGHTS")
    assert weights.weights_dir() == REPO / "weights"  # the editable install maps locviz_weights onto weights/
    assert weights._installed_weights_dir() == REPO / "weights"
    monkeypatch.setenv("LOCVIZ_WEIGHTS", "/elsewhere")
    assert weights.weights_dir() == Path("/elsewhere")


def test_real_dashboard_path_is_next_to_package() -> None:
    assert cli.dashboard_path() == REPO / "dashboard.py"
