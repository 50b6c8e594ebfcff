"""The Streamlit app, page by page, with Streamlit's AppTest (no browser, no server).

Tiny random bundles stand in for the shipped models: these tests check the
app's plumbing (input, errors, caching, figures, downloads), not the science.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import no_problems
from streamlit.testing.v1 import AppTest

from locviz import table
from locviz.datasets import MULTILOC_CLASSES
from locviz.examples import EXAMPLES, by_accession
from locviz.metrics import classification_report
from locviz.motifs import bundle_motifs_path, compute, save_motifs
from locviz.sequences import ProteinRecord
from locviz.weights import load_bundle, write_card

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
MOTIFS_PAGE = "pages/motifs.py"
CARD_PAGE = "pages/model_card.py"
TIMEOUT = 120


def add_motifs(folder: Path, name: str) -> Path:
    """Compute a motifs file for the tiny bundle ``name`` from the example proteins."""
    bundle = load_bundle(folder / f"{name}.json", device="cpu")
    records = [ProteinRecord(e.accession, e.sequence) for e in EXAMPLES]
    labels = [bundle.classes.index(e.location) for e in EXAMPLES] if name == "multiloc" else None
    motif_set = compute(bundle, records, labels=labels, reference="the 8 app examples (test bundle)")
    return save_motifs(motif_set, bundle_motifs_path(bundle))


def add_card_history(folder: Path) -> None:
    """Give the tiny multiloc card training history, metrics and commands, as a trained card has."""
    card_path = folder / "multiloc.json"
    card = json.loads(card_path.read_text())
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(MULTILOC_CLASSES), 200)
    preds = np.where(rng.random(200) < 0.6, labels, rng.integers(0, len(MULTILOC_CLASSES), 200))
    report = classification_report(labels, preds, MULTILOC_CLASSES)
    report.update({"dataset": "multiloc", "folds": [0], "member": None, "command": "locviz evaluate --folds 0"})
    card["metrics"] = {"test": report}
    card["training"] = [
        {
            "dataset": "multiloc", "train_folds": [f for f in (1, 2, 3, 4) if f != fold], "validation_fold": fold,
            "n_train": 3000, "n_validation": 1000, "best_epoch": 2, "epochs_run": 3, "validation": {"accuracy": 0.5},
            "history": [{"epoch": e, "train_loss": 2.0 / e, "val_loss": 2.1 / e, "val_accuracy": 0.2 * e}
                        for e in (1, 2, 3)],
            "seconds": 60.0, "hardware": "test",
            "command": f"locviz train --dataset multiloc --data .devdata/multiloc --val-fold {fold} --out runs/m{fold}",
        }
        for fold in (1, 2)  # one entry per member of the tiny 2-member bundle
    ]  # fmt: skip
    card["ensemble_command"] = "locviz ensemble runs/m1 runs/m2 --out weights/multiloc"
    write_card(card_path, card)


@pytest.fixture(scope="session")
def app_weights(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny bundles with motifs files and a filled-in card, in a folder of their own."""
    folder = tmp_path_factory.mktemp("app_weights")
    for f in tiny_weights_dir.iterdir():
        shutil.copy(f, folder / f.name)
    add_card_history(folder)
    add_motifs(folder, "multiloc")
    add_motifs(folder, "deeploc")
    return folder


@pytest.fixture
def app(app_weights: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(app_weights))
    return AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()


def predict(at: AppTest, text: str) -> AppTest:
    at.text_area(key="seq_text").input(text)
    return at.button(key="predict").click().run()


def plotly_titles(at: AppTest) -> list[str]:
    """Titles of every plotly chart on the page (from the chart spec sent to the browser)."""
    titles = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        titles.append(spec["layout"]["title"]["text"])
    return titles


def open_filter_tab(at: AppTest) -> AppTest:
    """Click the 'First-layer filters' tab (its state lives under the tab group's key)."""
    at.session_state["result_tab"] = "First-layer filters"
    return at.run()


# ------------------------------------------------------------------ predict page
def test_paste_one_protein_shows_every_view(app: AppTest) -> None:
    example = by_accession("P07339")
    predict(app, example.fasta())
    no_problems(app)
    titles = plotly_titles(app)
    assert any("Attention along the sequence" in t for t in titles)
    assert any("Predicted localisation" in t for t in titles)
    assert any("Attention profile" in t for t in titles)
    assert not any("Filter activations" in t for t in titles)  # the filter tab is drawn when opened
    for chart in app.get("plotly_chart"):  # Streamlit's browser code would recolour these exact colours
        assert not re.search(r"#0000(?:[0-3][0-9]|40)\b", chart.proto.spec, re.IGNORECASE)
    labels = {m.label: m.value for m in app.metric}
    assert labels["Length"] == f"{len(example.sequence)} aa"
    assert labels["Known location"] == "lysosomal"
    pred = app.session_state["prediction"]
    assert pred.id == "P07339" and pred.filter_activations is not None
    assert labels["Predicted compartment"] == pred.label.replace("_", " ")
    captions = " ".join(c.value for c in app.caption)
    assert "averaged over the 2 ensemble members" in captions
    assert "ensemble member 0" in captions
    regions_table = app.dataframe[-1].value
    assert list(regions_table.columns[:4]) == ["rank", "start", "end", "share of attention"]
    assert regions_table["subsequence"].str.len().eq(9).all()
    download_labels = [b.label for b in app.download_button]
    counts = [download_labels.count(f) for f in ("PNG", "SVG", "PDF")]
    assert counts == [4, 4, 4]  # heatmap, profile, regions, signal track
    open_filter_tab(app)
    no_problems(app)
    titles = plotly_titles(app)
    assert any("Filter activations (ensemble member 0)" in t for t in titles)
    assert not any("Attention profile" in t for t in titles)
    assert [b.label for b in app.download_button].count("PNG") == 2  # probabilities and filter track


def test_without_a_browser_image_downloads_are_off_and_say_why(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit would answer a failed export with "Failed to generate file" only: the page says it up front."""
    from locviz_app import downloads

    monkeypatch.setattr(downloads, "find_browser", lambda: None)
    predict(app, by_accession("P07339").fasta())
    no_problems(app)
    images = [b for b in app.download_button if b.label in ("PNG", "SVG", "PDF")]
    assert images and all(b.disabled for b in images)
    assert any("Image downloads are off: Static image export needs a Chrome or Chromium browser" in c.value
               for c in app.caption)  # fmt: skip
    assert not any(b.disabled for b in app.download_button if b.label not in ("PNG", "SVG", "PDF"))


def test_long_protein_note_and_heatmap(app: AppTest) -> None:
    """The tiny bundle keeps 200 residues: a 1,013-residue protein is cut and the app says where."""
    predict(app, by_accession("P09874").fasta())
    no_problems(app)
    infos = " ".join(i.value for i in app.info)
    assert "1013 residues is longer than the model's 200" in infos
    specs = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    spec = next(s for s in specs if "Attention along" in s["layout"]["title"]["text"])
    letters = next(t for t in spec["data"] if t.get("mode") == "text")
    sequence = by_accession("P09874").sequence  # residues 101-913 unseen: their whole rows are one gap row
    assert "".join(letters["text"]) == sequence[:120] + sequence[900:]
    gaps = [a["text"] for a in spec["layout"]["annotations"] if a.get("name") == "gap"]
    assert gaps == ["··· 813 residues not seen by the model (101–913) ···"]  # the whole run, partial rows too


def test_example_button_predicts_and_shows_known_location(app: AppTest) -> None:
    app.selectbox(key="example_pick").select("P04040").run()
    app.button(key="use_example").click().run()
    no_problems(app)
    assert app.text_area(key="seq_text").value.startswith(">P04040 peroxisomal")
    assert {m.label: m.value for m in app.metric}["Known location"] == "peroxisomal"
    assert any("Catalase" in c.value and "test fold" in c.value for c in app.caption)


def test_an_example_is_compared_with_a_deeploc_call_in_deeploc_names(app: AppTest) -> None:
    """MultiLoc's "peroxisomal" is DeepLoc's "Peroxisome": the deeploc model's call is compared with that."""
    app.selectbox(key="model_name_pick").select("deeploc").run()
    predict(app, by_accession("P04040").fasta())
    no_problems(app)
    pred = app.session_state["prediction"]
    assert pred.model_name == "deeploc" and {m.label: m.value for m in app.metric}["Known location"] == "peroxisome"
    caption = next(c.value for c in app.caption if c.value.startswith("Known location from"))
    agree = "✓ matches" if pred.label == "Peroxisome" else "differs from"
    assert "**peroxisomal**, peroxisome among deeploc's compartments" in caption and f"({agree} the" in caption


def test_many_records_summary_table_and_picking(app: AppTest) -> None:
    text = "".join(e.fasta() for e in EXAMPLES[:3])
    predict(app, text)
    no_problems(app)
    summary = app.dataframe[0].value
    assert list(summary["id"]) == [e.accession for e in EXAMPLES[:3]]
    assert {"id", "length", "prediction", "confidence"} <= set(summary.columns)
    assert list(summary["length"]) == [len(e.sequence) for e in EXAMPLES[:3]]
    picker = next(s for s in app.selectbox if s.label == "Protein shown below")
    assert app.session_state["prediction"].id == EXAMPLES[0].accession
    picker.set_value(2).run()
    no_problems(app)
    assert app.session_state["prediction"].id == EXAMPLES[2].accession
    assert app.session_state["prediction"].filter_activations is not None
    assert app.markdown.values.count(f"### {EXAMPLES[2].accession}") == 1


def test_bad_records_reported_rest_still_predicted(app: AppTest) -> None:
    text = (
        ">good\n" + EXAMPLES[4].sequence + "\n"
        ">has_stop\nMKTAYIAKQRQISFVKSHFSRQ*LEERLGLIEVQ\n"
        ">dna\nATGGCGTACGATCGATCGATGCTAGCTAGCTAGCATCGA\n"
        ">tiny\nMKT\n"
    )
    predict(app, text)
    assert not app.exception
    errors = " ".join(e.value for e in app.error)
    assert "a stop '\\*' is only allowed at the end" in errors  # escaped: the '*' survives Markdown
    errors = re.sub(r"\\(.)", r"\1", errors)  # the text as Markdown shows it
    assert "record 'has_stop', position 23" in errors
    assert "record 'dna'" in errors and "nucleotide" in errors
    assert "record 'tiny'" in errors and "at least 10" in errors
    assert app.session_state["prediction"].id == "good"
    assert any("Attention along the sequence" in t for t in plotly_titles(app))


@pytest.mark.parametrize(
    ("text", "expected", "n_predicted"),
    [
        ("   ", "Nothing to predict", 0),
        ("MKTAYIAK\n>second\nMKTAYIAKQRQISFV", "text before the first FASTA header (line 1)", 1),  # 'second' kept
        ("MKTAYIAKQRQ@SFVKSHFSRQ", "position 12", 0),
        (">x\nMKTAYIAKQRQISF\n>x\nMKTAYIAKQRQISF", "record 'x': duplicate record name", 1),
    ],
)
def test_bad_input_is_an_inline_error(app: AppTest, text: str, expected: str, n_predicted: int) -> None:
    predict(app, text)
    assert not app.exception
    assert any(expected in e.value for e in app.error), [e.value for e in app.error]
    assert bool(app.get("plotly_chart")) == bool(n_predicted)


def test_size_limits_give_clear_messages(app: AppTest) -> None:
    too_many = "".join(f">p{i}\nMKTAYIAKQRQISFVKSHFSRQ\n" for i in range(501))
    predict(app, too_many)
    no_problems(app)
    assert [w.value for w in app.warning if "501 records, at most 500 per run" in w.value]
    too_big = ">big\n" + "A" * 2_000_001
    predict(app, too_big)
    assert not app.exception
    assert any("at most 2 MB" in e.value for e in app.error)


def test_upload_fasta_file(app: AppTest) -> None:
    text = "".join(e.fasta() for e in EXAMPLES[3:5]).encode()
    app.file_uploader(key="upload").set_value(("two.fasta", text, "text/plain")).run()
    app.button(key="predict").click().run()
    no_problems(app)
    assert list(app.dataframe[0].value["id"]) == [EXAMPLES[3].accession, EXAMPLES[4].accession]
    assert any("uploaded file 'two.fasta'" in i.value for i in app.info)


def test_binary_upload_is_refused_clearly(app: AppTest) -> None:
    for data, says in ((b"\x1f\x8b\x08\x00\xff\xfe", "looks gzip-compressed but cannot be unpacked"),
                       (b"\x00\x01\x02binary", "'x.fasta' is a binary file, not text"),
                       ("é".encode("latin-1") + b"MKV", "'x.fasta', line 1: byte 0xE9 (column 1) is not UTF-8"),
                       ("\ufeff>a\nMKV".encode("utf-16"), "'x.fasta' is UTF-16 text: save it as UTF-8"),
                       (gzip.compress(b">a\nMKV" * 50)[:-12] + b"\x00" * 12, "cannot be unpacked")):  # fmt: skip
        app.file_uploader(key="upload").set_value(("x.fasta", data, "text/plain")).run()
        app.button(key="predict").click().run()
        assert not app.exception
        assert any(says in e.value for e in app.error), says


def test_gzip_upload_is_unpacked(app: AppTest) -> None:
    text = "".join(e.fasta() for e in EXAMPLES[3:5]).encode()
    app.file_uploader(key="upload").set_value(("two.fasta.gz", gzip.compress(text), "application/gzip")).run()
    app.button(key="predict").click().run()
    no_problems(app)
    assert list(app.dataframe[0].value["id"]) == [EXAMPLES[3].accession, EXAMPLES[4].accession]


def test_prediction_is_cached_per_input(app: AppTest) -> None:
    text = EXAMPLES[4].fasta()
    predict(app, text)
    run = next(iter(app.session_state["_runs"].values()))
    predict(app, text)
    no_problems(app)
    runs = app.session_state["_runs"]
    assert len(runs) == 1 and next(iter(runs.values())) is run
    app.selectbox(key="model_name_pick").select("deeploc").run()  # another model predicts the same text anew
    no_problems(app)
    assert len(app.session_state["_runs"]) == 2
    assert app.session_state["prediction"].classes[0] == "Nucleus"


def test_no_model_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tmp_path))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("No model bundle found" in e.value and "LOCVIZ_WEIGHTS" in e.value for e in at.error)


def test_corrupt_weights_are_an_inline_error(
    app_weights: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for f in app_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    weights = tmp_path / "multiloc.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"corrupt!")
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tmp_path))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    predict(at, EXAMPLES[4].fasta())
    assert not at.exception
    assert any("checksum mismatch" in e.value for e in at.error)


def test_unexpected_failure_is_a_message_not_a_traceback(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    from locviz import figures

    def broken(*args, **kwargs):
        raise RuntimeError("simulated drawing bug")

    monkeypatch.setattr(figures, "attention_heatmap", broken)
    predict(app, EXAMPLES[4].fasta())
    assert not app.exception
    assert any("Something went wrong" in e.value and "simulated drawing bug" in e.value for e in app.error)
    assert app.text_area(key="seq_text").value == EXAMPLES[4].fasta()  # the input is kept


# ------------------------------------------------------------------ predict page: what a newcomer meets (issue 9)
def all_messages(at: AppTest) -> list[str]:
    """Every error, warning and info text on the page."""
    return [m.value for kind in (at.error, at.warning, at.info) for m in kind]


def test_sidebar_pages_are_titled(app: AppTest) -> None:
    titles = [info.get("page_name") for info in app._registered_pages.values()]  # what st.navigation registered
    assert titles == ["Predict", "What if", "Filter motifs", "Model card"]
    assert "dashboard" not in titles


def test_page_scripts_have_no_bare_strings() -> None:
    """Streamlit's "magic" draws a bare string of a page script on the page (a constant's docstring became text
    above the Predict page's title); only the module docstring is exempt."""
    import ast

    from locviz_app import layout

    for script in ["dashboard.py", *(path for path, _, _ in layout.PAGES)]:
        body = ast.parse((REPO / script).read_text()).body
        bare = [n.lineno for n in body[1:] if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
        assert not bare, f"{script}: bare string(s) at line(s) {bare} would be shown on the page; make them comments"


def test_empty_box_placeholder_is_not_input(app: AppTest) -> None:
    box = app.text_area(key="seq_text")
    assert box.value == "" and box.placeholder.startswith("Paste a protein sequence or FASTA")
    assert not any(c in box.placeholder for c in ">\n")  # nothing that looks like a record


def test_upload_over_the_limit_says_so_once_and_offers_the_first_500(app: AppTest) -> None:
    seqs = [e.sequence[:60] for e in EXAMPLES]
    text = "".join(f">r{i}\n{seqs[i % len(seqs)]}\n" for i in range(600)).encode()
    app.file_uploader(key="upload").set_value(("big.fasta", text, "text/plain")).run()
    app.button(key="predict").click().run()
    no_problems(app)
    said = [m for m in all_messages(app) if "600 records" in m]
    assert len(said) == 1 and "at most 500 per run" in said[0]
    assert not any("No valid protein sequence" in m for m in all_messages(app))
    app.button(key="predict_first").click().run()
    no_problems(app)
    summary = app.dataframe[0].value
    assert len(summary) == 500 and list(summary["id"][:2]) == ["r0", "r1"] and summary["id"].iloc[-1] == "r499"
    assert not any("600 records" in m for m in all_messages(app))  # the offer is gone once used


@pytest.mark.parametrize("text", ["P07237", "sp|P07237|PDIA1_HUMAN", "  P07237\n"])
def test_pasted_accession_gets_one_message_and_the_shipped_sequence(app: AppTest, text: str) -> None:
    predict(app, text)
    assert not app.exception
    messages = all_messages(app)
    assert len(messages) == 1, messages
    assert "P07237" in messages[0] and "does not look accessions up" in messages[0]
    assert not any(w in messages[0] for w in ("digit", "residues", "No valid"))
    offer = next(b for b in app.button if b.key == "use_known_P07237")
    assert "Protein disulfide-isomerase" in offer.label
    offer.click().run()
    no_problems(app)
    assert app.session_state["prediction"].id == "P07237"
    assert app.session_state["prediction"].sequence == by_accession("P07237").sequence


def test_several_accessions_not_shipped(app: AppTest) -> None:
    predict(app, "Q9Y6K9, O43175 P07237")
    assert not app.exception
    messages = all_messages(app)
    assert len(messages) == 1 and "Q9Y6K9, O43175, P07237 looks like accessions" in messages[0]
    assert [b.key for b in app.button if b.key.startswith("use_known")] == ["use_known_P07237"]


def test_cleaning_notice_is_shown_once(app: AppTest) -> None:
    numbered = "1 " + EXAMPLES[4].sequence[:60] + "\n61 " + EXAMPLES[4].sequence[60:120]
    predict(app, numbered)
    no_problems(app)
    notices = [m for m in all_messages(app) if "digit(s)" in m]
    assert len(notices) == 1, all_messages(app)


def test_filter_track_shows_a_few_labelled_rows_with_a_selector(app: AppTest) -> None:
    predict(app, by_accession("P07237").fasta())
    open_filter_tab(app)
    no_problems(app)
    spec = next(json.loads(c.proto.spec) for c in app.get("plotly_chart") if "Filter activations" in c.proto.spec)
    rows = spec["data"][1]["y"]
    pred = app.session_state["prediction"]
    assert len(rows) == min(8, pred.filter_activations.shape[0])
    assert all(re.fullmatch(r"f\d+ \(w=\d+\)", r) for r in rows)
    peaks = np.nanmax(pred.filter_activations, axis=1)
    assert [int(r[1:].split()[0]) for r in rows] == list(np.argsort(-peaks, kind="stable")[: len(rows)])
    heat = spec["data"][1]  # each filter on its own scale by default: 0 to 1 of its strongest reference activation
    assert heat["zmax"] == 1.0 and "strongest activation<br>in the reference set" in heat["colorbar"]["title"]["text"]
    picker = next(m for m in app.multiselect if m.key.startswith("track_filters-"))
    picker.set_value([int(rows[0][1:].split()[0]), 0] if rows[0] != "f0 (w=1)" else [0]).run()
    no_problems(app)
    spec = next(json.loads(c.proto.spec) for c in app.get("plotly_chart") if "Filter activations" in c.proto.spec)
    assert len(spec["data"][1]["y"]) == len(picker.value)


def test_download_labels_name_what_they_hold(app: AppTest) -> None:
    predict(app, by_accession("P07237").fasta())
    labels = [b.label for b in app.download_button if b.label not in ("PNG", "SVG", "PDF")]
    assert labels == [
        "Predictions, the protein (CSV)", "Predictions + attention, the protein (JSON)",
        "Attention per residue, P07237 (CSV)", "Filter activations, P07237 (CSV)",
    ]  # fmt: skip


def test_device_picker_when_pytorch_sees_a_gpu(app_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: pretend PyTorch sees one, check the picker offers it first, then predict on the CPU."""
    import torch

    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(app_weights))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    radio = at.radio(key="device_pick")
    assert radio.options == ["GPU (CUDA)", "CPU"] and radio.value == "cuda"
    radio.set_value("cpu").run()
    predict(at, EXAMPLES[4].fasta())
    no_problems(at)
    run = next(iter(at.session_state["_runs"].values()))
    assert run.device == "cpu" and str(ui_predictor(at, "cpu").bundle.device) == "cpu"
    assert any("on CPU" in c.value for c in at.caption)


def test_known_location_of_any_reference_protein(
    app_weights: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not only the 8 examples: a protein of the model's shipped reference set shows its known location."""
    from conftest import UBIQUITIN

    from locviz.homology import RefEntry, Reference
    from locviz.weights import update_card

    for f in app_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    reference = Reference((RefEntry("P0CG48", "cytoplasmic", "multiloc", 2),), (UBIQUITIN,))
    path = tmp_path / "multiloc.reference.fa.gz"
    reference.write(path)
    section = reference.section(path, tmp_path, ["test"], "test")
    update_card(tmp_path / "multiloc.json", lambda card: card.replace(reference=section))
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tmp_path))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    predict(at, ">my_ubiquitin\n" + UBIQUITIN)  # matched by sequence, whatever the record is called
    no_problems(at)
    assert {m.label: m.value for m in at.metric}["Known location"] == "cytoplasmic"
    assert any("MultiLoc training data (fold 2)" in c.value and "trained on it" in c.value for c in at.caption)
    predict(at, "P0CG48")  # an accession of the reference set: its sequence is offered
    next(b for b in at.button if b.key == "use_known_P0CG48").click().run()
    no_problems(at)
    assert at.session_state["prediction"].sequence == UBIQUITIN


def ui_predictor(at: AppTest, device: str):
    from locviz_app import models

    return models.get_predictor(at.session_state["model_name"], device)


# ------------------------------------------------------------------ figures the Predict page draws
def test_region_labels_never_overlap_in_a_long_protein() -> None:
    from conftest import synthetic_prediction

    from locviz import figures
    from locviz.regions import top_regions

    pred = synthetic_prediction(length=5000, seen_upto=None, seed=3)
    attention = np.full(5000, 1e-5)
    for centre in (100, 130, 160, 2000, 2030, 4900, 4960):  # close neighbours, as in real profiles
        attention[centre - 4 : centre + 5] = 1e-2
    pred.attention = attention / attention.sum()
    regions = top_regions(pred, n=7, window=9)
    fig = figures.attention_profile(pred, regions)
    labels = [a for a in fig.layout.annotations if a.name == "region rank"]
    assert sorted(int(a.text) for a in labels) == list(range(1, 8))
    min_gap = figures.LABEL_GAP * pred.length
    for a in labels:
        for b in labels:
            if a is not b and a.y == b.y:
                assert abs(a.x - b.x) >= min_gap, (a.text, b.text)
    assert len({a.y for a in labels}) >= 2  # the neighbours were moved to a second lane


def test_probability_subtitle_is_short_enough_for_half_a_page() -> None:
    from conftest import synthetic_prediction

    from locviz import figures

    fig = figures.probability_bar(synthetic_prediction(n_members=4))
    subtitle = fig.layout.title.subtitle.text
    assert len(subtitle) <= 45, subtitle  # a half-width column holds about 55 characters at 13 px
    assert "whiskers: range over the 4 members" in fig.layout.xaxis.title.text


# ------------------------------------------------------------------ motifs page
def test_motifs_page_shows_logos_and_table(app: AppTest, downloads: dict) -> None:
    app.switch_page(MOTIFS_PAGE).run()
    no_problems(app)
    assert app.title[0].value == "Filter motifs"
    table = app.dataframe[0].value
    assert len(table) == 12 and {"filter", "width", "IC (bits)"} <= set(table.columns)
    assert list(table["strongest z"]) == sorted(table["strongest z"], reverse=True)  # default: class association
    assert len(app.image) == 2  # the chosen filter's logo + one gallery page, drawn as one image
    png = app.image[0].proto.imgs[0].url
    assert png  # served by Streamlit's media manager
    chosen = app.session_state["motif_pick"]  # its logo and its class-association bar download, each in 3 formats
    for figure in ("logo", "class-association"):
        assert {n.rsplit(".", 1)[1] for n in downloads if f"filter{chosen}_multiloc_{figure}." in n} >= {
            "png", "svg", "pdf"}, figure
    app.selectbox(key="motif_sort").select("association with lysosomal").run()
    no_problems(app)
    table = app.dataframe[0].value
    assert list(table["assoc. lysosomal"]) == sorted(table["assoc. lysosomal"], reverse=True)


def test_open_filter_from_prediction(app: AppTest) -> None:
    predict(app, by_accession("P07237").fasta())
    open_filter_tab(app)
    chosen = app.selectbox(key="track_filter_pick").value
    app.button(key="open_motif").click().run()
    no_problems(app)
    assert app.title[0].value == "Filter motifs"
    assert app.session_state["motif_pick"] == chosen
    assert any(m.value.startswith(f"### Filter {chosen} ") for m in app.markdown)
    hits = app.dataframe[-1].value  # where it fires in the current protein
    assert list(hits.columns) == ["start", "end", "activation", "window"]
    assert len(hits) >= 1 and (hits["activation"] > 0).all()
    seq = by_accession("P07237").sequence
    first = hits.iloc[0]
    assert seq[first["start"] - 1 : first["end"]] == first["window"]


def test_motifs_missing_says_how_to_create(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    at.switch_page(MOTIFS_PAGE).run()
    assert not at.exception
    assert any("no motifs file" in e.value and "locviz motifs --model" in e.value for e in at.error)


# ------------------------------------------------------------------ model card page
def test_model_choice_is_kept_across_pages(app: AppTest) -> None:
    app.selectbox(key="model_name_pick").select("deeploc").run()
    app.switch_page(CARD_PAGE).run()
    no_problems(app)
    assert app.title[0].value == "Model card: deeploc"
    assert {m.label: m.value for m in app.metric}["Compartments"] == "10"


def test_model_card_page(app: AppTest, app_weights: Path) -> None:
    app.switch_page(CARD_PAGE).run()
    no_problems(app)
    assert app.title[0].value == "Model card: multiloc"
    titles = plotly_titles(app)
    assert any("Confusion matrix" in t for t in titles)
    assert any("Training curves" in t for t in titles)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Compartments"] == "11" and metrics["Ensemble members"] == "2"
    card = json.loads((app_weights / "multiloc.json").read_text())
    assert metrics["Test accuracy"] == f"{card['metrics']['test']['accuracy']:.3f}"
    summary = next(d.value for d in app.dataframe if "Gorodkin MCC" in getattr(d.value, "columns", []))
    assert summary.loc[0, "Gorodkin MCC"] == pytest.approx(card["metrics"]["test"]["gorodkin_mcc"])
    code = app.code[0].value
    assert "locviz train" in code and "locviz ensemble" in code and "locviz evaluate" in code
    # runnable in a clone: the data folder is $DATA (set to ../shared/data), not the trainer's scratch copy
    assert 'DATA=../shared/data' in code and '--data "$DATA/multiloc" --val-fold 1' in code
    assert ".devdata" not in code and ".devdata/multiloc" in app.code[1].value  # as recorded, in the expander
    assert any("plasma membrane" in m.value for m in app.markdown if m.value.startswith("**Classes:**"))
    per_class = next(d.value for d in app.dataframe if "compartment" in getattr(d.value, "columns", []))
    names = list(per_class["compartment"])
    assert "plasma membrane" in names and "plasma_membrane" not in names
    organisms = next(d.value for d in app.dataframe if "plant" in getattr(d.value, "columns", []))
    row = organisms.set_index("compartment").loc["chloroplast"]
    assert (row["animal"], row["plant"], row["any"]) == ("—", "✓", "✓")
    assert not any("Calibration" in m.value for m in app.markdown)  # no section without calibration in the card


def test_model_card_page_shows_calibration_and_reference(
    app_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from locviz.card import CalibrationCard, ReferenceCard
    from locviz.weights import update_card

    for f in app_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    bins = {"confidence": [0.35, 0.65, 0.92], "accuracy": [0.30, 0.55, 0.80], "count": [10, 30, 60]}
    calibration = CalibrationCard(
        "temperature", 1.7, "validation folds 1-2, each member on its own fold",
        {"ece_before": 0.081, "ece_after": 0.024, "n": 100, "reliability_before": bins,
         "reliability_after": {**bins, "accuracy": [0.34, 0.63, 0.9]}},
        "locviz calibrate --model multiloc --dataset multiloc --data ../shared/data/multiloc",
    )  # fmt: skip
    reference = ReferenceCard("multiloc.reference.fa.gz", "0" * 64, 4763, ("multiloc folds 1, 2, 3, 4",),
                              "locviz reference --dataset multiloc --data .devdata/multiloc")  # fmt: skip
    update_card(tmp_path / "multiloc.json", lambda c: c.replace(calibration=calibration, reference=reference))
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tmp_path))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    at.switch_page(CARD_PAGE).run()
    no_problems(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ECE before"] == "0.081" and metrics["ECE after"] == "0.024" and metrics["Temperature"] == "1.7"
    assert any("Reliability" in t for t in plotly_titles(at))
    assert any("4,763 proteins" in m.value for m in at.markdown)
    code = at.code[0].value
    assert "# calibration\nlocviz calibrate" in code and '--data "$DATA/multiloc"' in code
    assert "# reference set of annotated proteins" in code


# ------------------------------------------------------------------ exports (what the buttons deliver)
def test_every_export_is_a_valid_file(app: AppTest) -> None:
    from locviz import export, figures
    from locviz.motifs import load_bundle_motifs
    from locviz_app import downloads

    predict(app, by_accession("P00441").fasta())
    pred = app.session_state["prediction"]
    figs = {
        "probabilities": figures.probability_bar(pred),
        "heatmap": figures.attention_heatmap(pred, 60),
        "logo": lambda: figures.sequence_logo(load_bundle_motifs(load_bundle("multiloc", "cpu")).motifs[3]),
    }
    for name, fig in figs.items():
        png = downloads.export_bytes(fig, "png")
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
        svg = downloads.export_bytes(fig, "svg")
        assert b"<svg" in svg[:2000] and svg.rstrip().endswith(b"</svg>"), name
        pdf = downloads.export_bytes(fig, "pdf")
        assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:], name
    rows = list(csv.reader(io.StringIO(table.attention_bytes([pred]).decode())))
    assert rows[0][:3] == ["id", "position", "residue"] and len(rows) == pred.length + 1
    rows = list(csv.reader(io.StringIO(table.table_bytes([pred]).decode())))
    assert rows[1][0] == "P00441" and rows[1][2] == pred.label
    rows = list(csv.reader(io.StringIO(export.filters_csv(pred).decode())))
    assert len(rows[0]) == 2 + pred.filter_activations.shape[0]
    assert json.loads(table.table_bytes([pred], "json"))["predictions"][0]["id"] == "P00441"
    name = export.export_filename(pred.id, pred.model_name, "attention-heatmap", "svg")
    assert name == "P00441_multiloc_attention-heatmap.svg"


# ------------------------------------------------------------------ examples
def test_examples_are_the_data_sets_proteins() -> None:
    """Every example is byte-for-byte the MultiLoc record of its accession, with the data set's label and fold."""
    from Bio import SeqIO

    from locviz.sequences import parse

    data = REPO.parent / "shared" / "data" / "multiloc"
    folds = dict(line.split("\t")[0:3:2] for line in (data / "folds.tsv").read_text().splitlines()[1:])
    assert len({e.location for e in EXAMPLES}) == len(EXAMPLES)  # one compartment each
    assert any(900 <= len(e.sequence) <= 1100 for e in EXAMPLES)
    for example in EXAMPLES:
        records = {r.id: str(r.seq) for r in SeqIO.parse(data / f"{example.location}.fasta", "fasta")}
        assert records[example.accession] == example.sequence, example.accession
        assert int(folds[example.accession]) == example.fold
        parsed = parse(example.fasta())
        assert parsed.ok and parsed.records[0].sequence == example.sequence
    deeploc_ids = {line.split()[0][1:] for line in (data.parent / "deeploc" / "train.fasta").open() if line[0] == ">"}
    assert not deeploc_ids & {e.accession for e in EXAMPLES}  # as locviz.examples.IN_DEEPLOC_TRAINING says


# ------------------------------------------------------------------ motifs page: sort, flags, known motifs
# (the filter-motifs helper's block: issue 7 item 7 and the motif page's rough edges from issue 9)
@pytest.fixture(scope="session")
def planted_weights(app_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's tiny bundles, with two multiloc filters rewritten: a KDEL logo and a poly-E logo."""
    from locviz.known_motifs import match
    from locviz.motifs import load_motifs
    from locviz.sequences import STANDARD_RESIDUES

    folder = tmp_path_factory.mktemp("planted_weights")
    for f in app_weights.iterdir():
        shutil.copy(f, folder / f.name)
    path = folder / "multiloc.motifs.npz"
    motif_set = load_motifs(path)
    kdel, poly_e = [m for m in motif_set.motifs if m.width == 5][:2]
    for motif, letters in ((kdel, "GKDEL"), (poly_e, "EEEEE")):
        freqs = np.full((5, 20), 0.1 / 19)
        for j, aa in enumerate(letters):
            freqs[j, STANDARD_RESIDUES.index(aa)] = 0.9
        motif.frequencies = freqs
        motif.information_content = float(motif.ic_per_position().sum())
        motif.matches = match(freqs, seed=motif.index)
    save_motifs(motif_set, path)
    return folder


@pytest.fixture
def planted_app(planted_weights: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(planted_weights))
    return AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()


def test_motifs_page_sorts_by_association_and_shows_the_sort_column(planted_app: AppTest) -> None:
    at = planted_app.switch_page(MOTIFS_PAGE).run()
    no_problems(at)
    assert at.selectbox(key="motif_sort").value == "evidence: known motif first"
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["filter", "evidence"]  # the sorted column is never scrolled out of view
    assert table["evidence"].iloc[0] == "known signal"  # the planted KDEL leads
    assert table["known motif"].iloc[0].startswith("KDEL/HDEL")
    assert table["evidence"].iloc[-1] in ("composition-only", "never fired")
    assert at.session_state["motif_pick"] == table["filter"].iloc[0]
    assert any("match a known localisation motif at a false discovery rate of 5%" in c.value for c in at.caption)
    at.selectbox(key="motif_sort").select("class association (strongest class)").run()
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["filter", "strongest z"]
    assert list(table["strongest z"]) == sorted(table["strongest z"], reverse=True)
    at.selectbox(key="motif_pick").select(int(table["filter"].iloc[5])).run()
    at.selectbox(key="motif_sort").select("association with lysosomal").run()
    no_problems(at)
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["filter", "assoc. lysosomal"]
    assert list(table["assoc. lysosomal"]) == sorted(table["assoc. lysosomal"], reverse=True)
    top = int(table["filter"].iloc[0])
    assert at.session_state["motif_pick"] == top  # the open filter follows the sort
    assert any(m.value.startswith(f"### Filter {top} ") for m in at.markdown)
    assert any(c.value.startswith("Rank 1 of 12 by association with lysosomal") for c in at.caption)


def test_motifs_page_shows_known_motifs_and_composition_flags(planted_app: AppTest) -> None:
    at = planted_app.switch_page(MOTIFS_PAGE).run()
    table = at.dataframe[0].value.set_index("filter")
    kdel = [i for i, text in table["known motif"].items() if text.startswith("KDEL/HDEL at 2-5")]
    poly_e = [i for i, text in table["flags"].items() if "composition" in text]
    assert len(kdel) == 1 and poly_e
    assert (table.loc[table["width"] == 1, "flags"].str.contains("single residue")).all()
    at.selectbox(key="motif_pick").select(kdel[0]).run()
    no_problems(at)
    assert any(e.label.startswith("Known motifs: matches KDEL/HDEL") for e in at.expander)
    matches = next(d.value for d in at.dataframe if "known motif" in d.value.columns and "p" in d.value.columns)
    assert matches.iloc[0]["known motif"] == "KDEL/HDEL" and matches.iloc[0]["match"] == "yes"
    assert table.loc[kdel[0], "columns above chance"] == 5  # every planted column stands far above the dashed line
    chance = next(c.value for c in at.caption if "The dashed line: " in c.value)
    assert "random windows of the reference proteins" in chance and "5 of the filter's 5 columns carry more" in chance
    at.selectbox(key="motif_pick").select(poly_e[0]).run()
    assert any("Composition-only filter" in w.value for w in at.warning)
    at.toggle(key="motif_hide").set_value(True).run()
    no_problems(at)
    shown = set(at.dataframe[0].value["filter"])
    assert not shown & set(poly_e) and len(shown) == 12 - len(poly_e)
    assert at.session_state["motif_pick"] == at.dataframe[0].value["filter"].iloc[0]


def test_motifs_gallery_is_one_image_per_page(planted_app: AppTest) -> None:
    at = planted_app.switch_page(MOTIFS_PAGE).run()
    first = at.image[-1].proto.imgs[0].url
    at.pagination(key="logo_page").select(2).run()
    no_problems(at)
    assert len(at.image) == 2 and at.image[-1].proto.imgs[0].url != first



def test_a_fast_student_is_described_as_one_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped deeploc-fast: the Predict caption names its teacher; its card's calibration is its own."""
    for path in (REPO / "weights").glob("deeploc-fast.*"):
        (tmp_path / path.name).symlink_to(path)
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tmp_path))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    assert at.selectbox(key="model_name_pick").value == "deeploc-fast"
    predict(at, by_accession("P00441").fasta())
    no_problems(at)
    captions = " ".join(c.value for c in at.caption)
    assert "one network, distilled from deeploc (4 members" in captions and "ensemble member" not in captions
    at.switch_page(CARD_PAGE).run()
    no_problems(at)
    labels = {m.label: m.value for m in at.metric}
    assert "Temperature" in labels and "Ensemble temperature" not in labels and "ECE, raw" in labels
    captions = " ".join(c.value for c in at.caption)
    assert "One network (nothing is averaged)" in captions and "calibration fold" not in captions
