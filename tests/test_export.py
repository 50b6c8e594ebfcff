"""Exporters: real static images through kaleido + Chromium (CI installs chromium), CSV/JSON, names."""

from __future__ import annotations

import csv
import io
import json
import struct
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
import pytest
from conftest import synthetic_prediction

from locviz import export, figures, pipeline, signals, table
from locviz.datasets import MULTILOC_CLASSES
from locviz.examples import by_accession
from locviz.motifs import FilterMotif, MotifSet
from locviz.prediction import Prediction
from locviz.sequences import STANDARD_RESIDUES

CLASSES = list(MULTILOC_CLASSES)


def make_prediction(length: int = 150, seen_upto: int | None = 120, seed: int = 0, pid: str = "P12345") -> Prediction:
    return synthetic_prediction(length, seen_upto, seed, pid, n_filters=6, n_members=2, filter_member=0,
                                notes=("cropped",))


def make_motif() -> FilterMotif:
    freqs = np.random.default_rng(3).dirichlet(np.ones(20) * 0.5, size=4)
    return FilterMotif(2, 4, freqs, 5.0, ["ACDE"], [1.0], {})


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def assert_valid(data: bytes, fmt: str) -> None:
    if fmt == "png":
        png_size(data)
    elif fmt == "svg":
        root = ET.fromstring(data)
        assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg")
    else:
        assert data.startswith(b"%PDF") and b"%%EOF" in data[-1024:]


# ---------------------------------------------------------------- static images


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_plotly_figure_exports(fmt):
    fig = figures.attention_heatmap(make_prediction())
    data = export.figure_bytes(fig, fmt)
    assert_valid(data, fmt)
    if fmt == "svg":
        assert b"Attention along the sequence" in data and b"P12345" in data


def test_png_size_follows_layout_and_scale():
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout=dict(width=300, height=200))
    assert png_size(export.figure_bytes(fig, "png", scale=1)) == (300, 200)
    assert png_size(export.figure_bytes(fig, "PNG", scale=2)) == (600, 400)


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_matplotlib_logo_exports(fmt):
    data = export.figure_bytes(figures.sequence_logo(make_motif()), fmt)
    assert_valid(data, fmt)


def test_concurrent_exports_do_not_mix_up_figures():
    """Streamlit runs sessions in threads: each caller must get its own image back."""
    titles = [f"figure number {k}" for k in range(4)]
    figs = [go.Figure(go.Scatter(x=[0, k], y=[k, 0]), layout=dict(title=t, width=300, height=200)) for k, t in
            enumerate(titles)]  # fmt: skip
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda f: export.figure_bytes(f, "svg"), figs))
    for title, svg in zip(titles, results, strict=True):
        others = [t for t in titles if t != title]
        assert title.encode() in svg and not any(o.encode() in svg for o in others)


def test_unknown_format_and_object():
    fig = go.Figure()
    with pytest.raises(ValueError, match="png, svg, pdf"):
        export.figure_bytes(fig, "jpg")
    with pytest.raises(ValueError, match="scale"):
        export.figure_bytes(fig, "png", scale=0)
    with pytest.raises(TypeError, match="plotly or matplotlib"):
        export.figure_bytes("not a figure", "png")


def test_browser_discovery_and_missing_browser(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/opt/custom/chrome")
    assert export.find_browser() == "/opt/custom/chrome"
    monkeypatch.delenv("BROWSER_PATH")
    assert export.find_browser() is not None  # CI installs chromium; tests must not run without it

    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    session = export._KaleidoSession()  # a private session: the shared one keeps working
    with pytest.raises(export.ExportError, match="apt-get install chromium"):
        session.render(go.Figure().to_plotly_json(), dict(format="png", width=100, height=100, scale=1))
    assert not session.running


# ---------------------------------------------------------------- tables


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_predictions_csv():
    preds = [make_prediction(pid="A1"), make_prediction(80, None, seed=1, pid='weird,"id"')]
    text = table.table_bytes(preds).decode()
    header = text.splitlines()[0].split(",")
    assert header == ["id", "length", "prediction", "confidence", *(f"p_{c}" for c in CLASSES)]
    rows = read_csv(text.encode())
    assert len(rows) == 2
    assert rows[1]["id"] == 'weird,"id"' and rows[1]["length"] == "80"
    assert rows[0]["prediction"] == preds[0].label
    assert float(rows[0]["confidence"]) == pytest.approx(preds[0].confidence, rel=1e-5)
    assert sum(float(rows[0][f"p_{c}"]) for c in CLASSES) == pytest.approx(1.0, abs=1e-4)


def test_predictions_csv_refuses_mixed_models():
    other = make_prediction()
    other.classes = CLASSES[::-1]
    with pytest.raises(ValueError, match="one model at a time"):
        table.table_bytes([make_prediction(), other])


def test_attention_csv():
    pred = make_prediction()
    rows = read_csv(table.attention_bytes([pred]))
    assert list(rows[0]) == ["id", "position", "residue", "attention", "seen", "relative_to_uniform"]
    assert len(rows) == 150
    assert rows[0]["position"] == "1" and rows[0]["residue"] == pred.sequence[0]
    assert float(rows[9]["attention"]) == pytest.approx(pred.attention[9], rel=1e-5)
    assert float(rows[9]["relative_to_uniform"]) == pytest.approx(pred.attention[9] * 120, rel=1e-3)
    assert rows[130]["seen"] == "false" and rows[130]["attention"] == ""
    assert sum(float(r["attention"]) for r in rows if r["seen"] == "true") == pytest.approx(1.0, abs=1e-4)


def test_filters_csv():
    pred = make_prediction()
    rows = read_csv(export.filters_csv(pred, [4, 1]))
    assert list(rows[0]) == ["position", "residue", "f4", "f1"]
    assert len(rows) == 150
    assert float(rows[5]["f1"]) == pytest.approx(pred.filter_activations[1, 5], rel=1e-4)
    assert rows[140]["f4"] == ""
    assert list(read_csv(export.filters_csv(pred))[0])[2:] == [f"f{i}" for i in range(6)]
    with pytest.raises(ValueError, match="out of range"):
        export.filters_csv(pred, [6])


def test_logo_csv():
    motif = make_motif()
    rows = read_csv(export.logo_csv(motif))
    assert list(rows[0]) == ["position", *STANDARD_RESIDUES, "ic_bits"]
    assert len(rows) == 4
    assert sum(float(rows[2][r]) for r in STANDARD_RESIDUES) == pytest.approx(1.0, abs=1e-3)
    assert [float(r["ic_bits"]) for r in rows] == pytest.approx(motif.ic_per_position(), abs=1e-3)
    motif_set = MotifSet("multiloc", 0, ["a"], [motif], "ref", background=np.full(20, 0.05))
    chance = motif_set.chance(motif)  # one window: a random column can look like anything
    with_line = read_csv(export.logo_csv(motif, motif_set))
    assert list(with_line[0])[-2:] == ["chance_bits", "above_chance"]
    assert [float(r["chance_bits"]) for r in with_line] == pytest.approx([chance.upper_bits] * 4, abs=1e-3)
    assert [r["above_chance"] == "True" for r in with_line] == list(motif_set.above_chance(motif))


def test_predictions_json_is_strict_and_complete():
    pred = make_prediction()
    data = table.table_bytes([pred], "json", with_attention=True)
    document = json.loads(data, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert document["schema_version"] == table.SCHEMA_VERSION and document["model"] == "multiloc"
    record = document["predictions"][0]
    assert record["id"] == "P12345" and record["prediction"] == pred.label
    assert record[f"p_{pred.label}"] == pytest.approx(pred.confidence, rel=1e-5)
    assert len(record["attention"]) == 150 and record["attention"][130] is None
    assert record["attention"][3] == pytest.approx(pred.attention[3], rel=1e-5)
    assert len(record["member_probabilities"]) == 2 and record["filter_member"] == 0
    assert record["notes"] == ["cropped"] and record["sequence"] == pred.sequence


def test_signal_conflicts_and_notes_are_columns_in_every_format():
    """What the app warns about and what was done to the input reach the table, and Parquet keeps them as lists."""
    albumin = by_accession("P02768").sequence  # secreted: signal peptide 1-18
    note = "2 ambiguous residue(s) (X) encoded as unknown"
    pred = synthetic_prediction(length=len(albumin), seen_upto=None, notes=(note,))
    pred.sequence = albumin
    pred.probabilities = np.full(len(pred.classes), 0.01)
    pred.probabilities[pred.classes.index("nuclear")] = 0.9
    pipeline.annotate([pred])
    expected = signals.disagreements(pred, signals.find_signals(albumin))
    assert len(expected) == 1 and "signal peptide" in expected[0]  # a nuclear call against a signal peptide
    extra = pipeline.extra_columns(neighbours=False)
    text = table.table_bytes([pred], "csv", extra_columns=extra).decode()
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["signal_conflicts"] == expected[0] and row["notes"] == pred.notes[0]
    record = json.loads(table.table_bytes([pred], "json", extra_columns=extra, with_attention=True))["predictions"][0]
    assert record["signal_conflicts"] == expected and record["notes"] == list(pred.notes)
    arrow = table.arrow_table([pred], pred.classes, extra_columns=extra)
    assert arrow.schema.field("notes").type == pa.list_(pa.string())
    assert arrow.column("signal_conflicts").to_pylist() == [expected]
    rows = list(table.arrow_rows(arrow))
    assert rows[0][list(arrow.schema.names).index("notes")] == list(pred.notes)


def test_member_agreement_spread_and_attended_regions_are_columns_in_every_format():
    """The app's member whiskers and most-attended regions reach the table (schema 3); a single network has no
    member cells rather than a fake 1/1."""
    pred = synthetic_prediction(length=60, seen_upto=None, n_members=3)
    nuclear, cytoplasmic = pred.classes.index("nuclear"), pred.classes.index("cytoplasmic")
    members = np.full((3, len(pred.classes)), 0.01)
    members[:, nuclear] = [0.80, 0.70, 0.20]  # two members call nuclear, one cytoplasmic
    members[:, cytoplasmic] = [0.10, 0.20, 0.70]
    members /= members.sum(axis=1, keepdims=True)
    pred.member_probabilities, pred.probabilities = members, members.mean(axis=0)
    pred.attention = np.full(60, 0.1 / 51)
    pred.attention[40:49] = 0.9 / 9  # 90 % of the attention on residues 41-49
    pipeline.annotate([pred])
    spread = members[:, nuclear].max() - members[:, nuclear].min()
    assert pred.extra["member_agreement"] == "2/3" and pred.extra["member_spread"] == pytest.approx(spread)
    assert pred.extra["attended_regions"] == ["41-49 (90%)"]  # the next best hold less than their length's share
    focused = synthetic_prediction(length=2000, seen_upto=None)
    focused.attention = np.full(2000, (1 - 0.5 - 0.0048) / 1982)
    focused.attention[:9], focused.attention[99:108] = 0.5 / 9, 0.0048 / 9  # 0.48 %: above 9/2000, under 1 %
    assert pipeline.attended_regions_cell(focused) == ["1-9 (50%)", "100-108 (<1%)"]  # not shown as "0%"
    extra = pipeline.extra_columns(neighbours=False)
    row = next(csv.DictReader(io.StringIO(table.table_bytes([pred], "csv", extra_columns=extra).decode())))
    assert row["member_agreement"] == "2/3" and float(row["member_spread"]) == pytest.approx(spread, rel=1e-5)
    assert row["attended_regions"] == "41-49 (90%)"
    record = json.loads(table.table_bytes([pred], "json", extra_columns=extra))["predictions"][0]
    assert record["attended_regions"][0] == "41-49 (90%)" and record["member_agreement"] == "2/3"
    arrow = table.arrow_table([pred], pred.classes, extra_columns=extra)
    assert arrow.schema.field("member_spread").type == pa.float64()
    assert arrow.column("attended_regions").to_pylist()[0][0] == "41-49 (90%)"

    single = synthetic_prediction(length=60, seen_upto=None, n_members=1)
    pipeline.annotate([single])
    row = next(csv.DictReader(io.StringIO(table.table_bytes([single], "csv", extra_columns=extra).decode())))
    assert row["member_agreement"] == "" and row["member_spread"] == ""

    short = synthetic_prediction(length=12, seen_upto=None)  # one 9-residue window fits, none beside it
    short.attention = np.array([0.1] * 9 + [0.1 / 3] * 3)
    assert pipeline.attended_regions_cell(short) == ["1-9 (90%)"]
    short.attention = np.full(12, 1 / 12)  # spread evenly: no window is attended to
    assert pipeline.attended_regions_cell(short) == []
    short.attention = np.zeros(12)  # no attention anywhere: no made-up "0%" windows
    assert pipeline.attended_regions_cell(short) == []
    tiny = synthetic_prediction(length=6, seen_upto=None)  # shorter than the window: its one window holds it all
    assert pipeline.attended_regions_cell(tiny) == []


# ---------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("protein", "model", "figure", "ext", "expected"),
    [
        ("P12345", "multiloc", "attention heatmap", "svg", "P12345_multiloc_attention-heatmap.svg"),
        ("sp|P01308|INS_HUMAN", "deeploc", "attention_profile", ".PNG",
         "sp-P01308-INS-HUMAN_deeploc_attention-profile.png"),
        ("../../etc/passwd", "multiloc", "logo f12", "pdf", "etc-passwd_multiloc_logo-f12.pdf"),
        ("  ", "", "", "csv", "protein_model_figure.csv"),
        ("Protéine X/Y", "multi loc", "Filters", "csv", "Prot-ine-X-Y_multi-loc_filters.csv"),
    ],
)  # fmt: skip
def test_export_filename(protein, model, figure, ext, expected):
    assert export.export_filename(protein, model, figure, ext) == expected


def test_export_filename_is_bounded_and_needs_extension():
    name = export.export_filename("A" * 500, "multiloc", "attention", "svg")
    assert len(name) < 100 and name.endswith("_multiloc_attention.svg")
    with pytest.raises(ValueError, match="extension"):
        export.export_filename("P1", "m", "f", "..")
