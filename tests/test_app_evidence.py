"""The evidence beside each call on the Predict page: organism selector, support verdict, homology.

Streamlit's AppTest runs the real page with the shipped bundles on short real proteins from
:mod:`locviz.examples` (superoxide dismutase P00441, 153 aa; cathepsin D P07339, 412 aa), and the
shipped reference sets searched by DIAMOND. Downloads are checked by calling the very functions the
buttons were given, so the bytes are those a user gets.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from pathlib import Path

import pytest
from conftest import no_problems
from streamlit.testing.v1 import AppTest

from locviz import batching, calibration, cli
from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES
from locviz.examples import by_accession
from locviz.weights import read_card
from locviz_app import evidence, models

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
TIMEOUT = 300
SOD = by_accession("P00441")  # cytoplasmic; MultiLoc training fold 4, so in the multiloc reference set
CATD = by_accession("P07339")  # lysosomal; MultiLoc test fold 0, so not in the multiloc reference set


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(REPO / "weights"))
    monkeypatch.setattr(evidence, "_HITS", OrderedDict())  # every test starts with nothing searched
    return AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()


@pytest.fixture
def model_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per forward pass of a model from now on (the background warm-up finished first)."""
    for thread in threading.enumerate():
        if thread.name == "locviz-warm-up":
            thread.join(TIMEOUT)
    calls: list[int] = []
    original = batching.run

    def counting(*args, **kwargs):
        calls.append(1)
        yield from original(*args, **kwargs)

    monkeypatch.setattr(batching, "run", counting)
    return calls


def predict(at: AppTest, text: str, model: str = "multiloc") -> AppTest:
    at.selectbox(key="model_name_pick").select(model).run()
    at.text_area(key="seq_text").input(text)
    at.button(key="predict").click().run()
    no_problems(at)
    return at


def choose_organism(at: AppTest, organism: str) -> AppTest:
    at.selectbox(key="organism_pick").select(organism).run()
    no_problems(at)
    return at


def probability_table(at: AppTest):
    """The 'Probability of every ...' table: compartment → probability (%)."""
    frame = next(d.value for d in at.dataframe if list(d.value.columns[:2]) == ["compartment", "probability"])
    return dict(zip(frame["compartment"], frame["probability"], strict=True))


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# ------------------------------------------------------------------ organism
def test_animal_removes_plastid_without_running_the_model_again(app: AppTest, model_runs: list[int]) -> None:
    predict(app, SOD.fasta(), model="deeploc")
    assert model_runs, "predicting must run the model"
    assert "plastid" in probability_table(app)
    model_runs.clear()

    choose_organism(app, "animal")
    shown = probability_table(app)
    assert "plastid" not in shown and len(shown) == len(DEEPLOC_CLASSES) - 1
    assert sum(shown.values()) == pytest.approx(100.0, abs=1e-6)
    assert any("plastid" in i.value and "animal" in i.value for i in app.info), [i.value for i in app.info]
    assert app.session_state["prediction"].organism == "animal"

    choose_organism(app, "plant")  # plants have plastids: every compartment is back
    assert "plastid" in probability_table(app)
    assert not any("excluded for organism" in i.value for i in app.info)
    assert model_runs == [], "changing the organism must reuse the cached predictions"


def test_fungus_on_multiloc_excludes_chloroplast_and_lysosomal_in_every_view(app: AppTest) -> None:
    predict(app, SOD.fasta() + CATD.fasta())
    choose_organism(app, "fungus")
    shown = probability_table(app)
    assert "chloroplast" not in shown and "lysosomal" not in shown and "vacuolar" in shown
    summary = app.dataframe[0].value
    assert "lysosomal" not in set(summary["prediction"])  # cathepsin D cannot be called lysosomal in a fungus
    assert app.session_state["prediction"].probabilities[MULTILOC_CLASSES.index("lysosomal")] == 0.0


def test_organism_help_says_what_each_organism_allows(app: AppTest) -> None:
    help_text = app.selectbox(key="organism_pick").help
    assert help_text == evidence.organism_help(tuple(MULTILOC_CLASSES))
    deeploc = evidence.organism_help(tuple(DEEPLOC_CLASSES))
    assert "**animal** (" in deeploc and "9 of 10: all but plastid" in deeploc
    assert "**plant** (" in deeploc and "all 10 compartments" in deeploc


# ------------------------------------------------------------------ support verdict
def test_support_badge_and_reasons_beside_the_call(app: AppTest) -> None:
    predict(app, SOD.fasta())
    pred = app.session_state["prediction"]
    level = pred.extra["support"]
    assert level in calibration.LEVELS
    text = markdown_text(app)
    assert f":{evidence.SUPPORT_COLOURS[level]}-badge[{evidence.SUPPORT_ICONS[level]} {level}]" in text
    assert "- Calibrated confidence" in text
    assert "All 4 members call cytoplasmic." in text or "Members disagree" in text
    # homology is one of the reasons, but SOD is training data: its own reference entry is named, never counted
    assert "This protein is itself in the reference set (P00441, training data)" in text
    assert "Nearest annotated protein P00441" not in text and "Nearest other annotated protein" in text


def test_summary_table_has_support_and_search_all_fills_the_nearest_column(app: AppTest) -> None:
    text = "".join(f">sod{i}\n{SOD.sequence}\n" for i in range(9)) + "".join(
        f">catd{i}\n{CATD.sequence}\n" for i in range(8)
    )  # 17 proteins: more than are searched at once, so only the one shown is searched at first
    predict(app, text)
    summary = app.dataframe[0].value
    assert set(summary["support"]) <= set(calibration.LEVELS)
    assert (summary["nearest annotated protein"] == "not searched yet").any()  # cathepsin D: a word, not None
    app.button(key="search_all").click().run()
    no_problems(app)
    summary = app.dataframe[0].value
    assert summary["nearest annotated protein"].notna().all()
    assert set(summary.loc[summary["id"].str.startswith("sod"), "nearest annotated protein"]) == {
        "itself, in the reference set"
    }
    assert not [b for b in app.button if b.key == "search_all"], "nothing left to search: no button"


# ------------------------------------------------------------------ homology evidence
def test_known_protein_says_known_and_lists_the_hits(app: AppTest) -> None:
    predict(app, SOD.fasta())
    text = markdown_text(app)
    assert "known: cytoplasmic (P00441 is in the reference set, multiloc fold 4)" in text
    assert "Combined with homology: **cytoplasmic**" in text
    combined = next(m.proto for m in app.markdown if m.value.startswith("Combined with homology"))
    _, shipped = read_card(str(REPO / "weights" / "multiloc.json"))
    card = shipped.reference.combination  # the help says what the weight is and on which searches it was measured
    assert ("× c, with c the share of the protein" in combined.help) == bool(card.get("coverage"))
    assert f"DIAMOND {card['sensitivity']} mode" in combined.help
    assert ("This page searches in DIAMOND's default mode" in combined.help) == (card["sensitivity"] != "default")
    hits = next(d.value for d in app.dataframe if "accession" in d.value.columns)
    assert hits.iloc[0]["accession"] == "P00441" and hits.iloc[0]["identity"] == pytest.approx(100.0)
    assert set(hits.columns) == {"accession", "known location", "identity", "coverage", "E-value", "UniProt"}
    assert hits.iloc[0]["UniProt"] == "https://www.uniprot.org/uniprotkb/P00441/entry"  # name, organism: one click
    assert len(hits) <= 5


def test_a_variant_named_as_a_training_protein_is_not_called_one_the_model_trained_on(app: AppTest) -> None:
    pdi = by_accession("P07237").sequence  # in MultiLoc's training folds; the variant lacks its KDEL tail
    predict(app, f">sp|P07237|PDIA1_HUMAN without KDEL\n{pdi[:-4]}\n")
    no_problems(app)
    caption = next(c.value for c in app.caption if c.value.startswith("Known location from"))
    assert "with another sequence" in caption and "not on this sequence" in caption
    assert "was trained on it" not in caption


def test_protein_outside_the_reference_gets_its_closest_hit(app: AppTest) -> None:
    predict(app, CATD.fasta())
    text = markdown_text(app)
    assert "known:" not in text  # test fold: not in the multiloc reference set
    assert "Closest annotated protein" in text and "lysosomal" in text


# ------------------------------------------------------------------ downloads
def test_download_has_the_columns_and_values_of_the_cli(
    app: AppTest, downloads: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    predict(app, SOD.fasta())
    choose_organism(app, "animal")
    made = next(make for name, make in downloads.items() if name.endswith("predictions.csv"))
    data = made()
    from_app = data.decode() if isinstance(data, bytes) else data
    fasta = tmp_path / "sod.fasta"
    fasta.write_text(SOD.fasta())
    out = tmp_path / "sod.csv"
    model = str(REPO / "weights" / "multiloc.json")
    args = ["--format", "csv", "--organism", "animal", "--neighbours", "--search-mode", models.APP_SENSITIVITY,
            "--no-progress", "--device", "cpu"]  # fmt: skip
    code = cli.main(["predict", str(fasta), "--model", model, "--out", str(out), *args])
    assert code == 0, capsys.readouterr().err
    assert from_app.splitlines()[0].endswith(
        "support,support_reasons,member_agreement,member_spread,nearest_id,nearest_identity,nearest_coverage,"
        "nearest_evalue,nearest_location,combined,combined_confidence,known_location,signals,attended_regions,"
        "signal_conflicts,organism,notes"
    )
    assert from_app == out.read_text()
    assert next(csv.DictReader(io.StringIO(from_app)))["organism"] == "animal"  # the organism applied is in the file
    assert ",p_chloroplast," in from_app.splitlines()[0] and from_app.splitlines()[1].count(",0,") >= 2


def test_without_the_aligner_the_call_and_its_verdict_still_show(
    app: AppTest, downloads: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOCVIZ_DIAMOND", str(tmp_path / "no-diamond-here"))
    predict(app, CATD.fasta())  # not searched before in this test (fresh cache): DIAMOND would be needed
    assert any("No homology search" in i.value and "DIAMOND" in i.value for i in app.info)
    pred = app.session_state["prediction"]
    assert pred.extra["support"] in calibration.LEVELS and "nearest_id" not in pred.extra
    assert "- Calibrated confidence" in markdown_text(app)
    made = next(make for name, make in downloads.items() if name.endswith("predictions.csv"))
    data = made()
    header = (data.decode() if isinstance(data, bytes) else data).splitlines()[0]
    # as plain `locviz predict`: no empty homology columns pretending "no hit"
    assert header.endswith(",support,support_reasons,member_agreement,member_spread,known_location,signals,"
                           "attended_regions,signal_conflicts,organism,notes")  # fmt: skip
    assert "nearest_id" not in header
    caption = next(c.value for c in app.caption if c.value.startswith("The prediction tables are those of"))
    assert "`locviz predict --organism any`" in caption and "No homology columns: the search failed" in caption
    assert "the JSON adds `--with-attention`" in caption


# ------------------------------------------------------------------ issue 14: what a careful user trips over
def test_an_organism_that_removes_most_of_the_probability_is_a_warning_beside_the_call(app: AppTest) -> None:
    rca = by_accession("P10871")  # RuBisCO activase, chloroplastic
    predict(app, rca.fasta())
    assert not any("cannot have" in w.value for w in app.warning)
    choose_organism(app, "animal")
    warning = next(w.value for w in app.warning if "of the model's probability was in compartments" in w.value)
    assert warning.startswith("Organism animal: ") and "animals cannot have (most in chloroplast)" in warning
    assert app.session_state["prediction"].extra["support"] == "low"
    assert "- Organism animal: " in markdown_text(app)  # the first of the support reasons


def test_a_weak_class_call_shows_its_cross_validated_mcc(app: AppTest) -> None:
    """A protein the shipped model calls as one of its weak classes (MCC from the card, not written here)."""
    from conftest import DATA_ROOT

    from locviz.datasets import load_dataset
    from locviz.predict import load_model

    predictor = load_model(str(REPO / "weights" / "multiloc.json"), device="cpu")
    mcc = calibration.class_mcc_of(predictor.bundle.card)
    weak = {c for c, m in mcc.items() if m < calibration.WEAK_CLASS_MCC}
    data = load_dataset("multiloc", DATA_ROOT / "multiloc")
    candidates = [data.records[i] for i in data.subset([0]) if data.classes[int(data.labels[i])] in weak][:40]
    called = next(p for p in predictor.predict(candidates) if p.label in weak)
    predict(app, f">{called.id}\n{called.sequence}\n")
    assert app.session_state["prediction"].label == called.label
    note = f"Weak class: {called.label.replace('_', ' ')} had a cross-validated MCC of {mcc[called.label]:.2f}"
    assert note in markdown_text(app)


def test_what_if_has_the_organism_selector_and_restricts_its_headline(app: AppTest) -> None:
    rca = by_accession("P10871")
    predict(app, rca.fasta())
    choose_organism(app, "animal")
    app.switch_page("pages/whatif.py").run()
    no_problems(app)
    assert app.selectbox(key="organism_pick").value == "animal"  # kept across pages
    shown = {m.label: m.value for m in app.metric}["Predicted compartment"]
    assert shown != "chloroplast"
    assert any("animals cannot have" in w.value for w in app.warning)
