"""The What-if page and the Predict page's known-signal track, with Streamlit's AppTest and the shipped model.

Uses the shipped ``multiloc`` bundle on superoxide dismutase (P00441, 153 aa, one of the app's
examples) and a 5-residue scan window, so each test runs in seconds on a CPU. Downloads are
checked by calling the very functions the buttons were given (recorded as Streamlit registers
them), so the bytes are those a user gets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import no_problems
from streamlit.testing.v1 import AppTest

from locviz import whatif
from locviz.examples import by_accession
from locviz.predict import load_model
from locviz.sequences import ProteinRecord
from locviz.signals import disagreements, find_signals

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
PREDICT_PAGE = "pages/predict.py"
WHATIF_PAGE = "pages/whatif.py"
TIMEOUT = 300
SOD = by_accession("P00441")  # superoxide dismutase [Cu-Zn], cytoplasmic, 153 aa; starts ATKAVCVLKGDGPV...


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(REPO / "weights"))
    return AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()


def predict_then_open_whatif(at: AppTest, text: str) -> AppTest:
    at.text_area(key="seq_text").input(text)
    at.button(key="predict").click().run()
    no_problems(at)
    return at.switch_page(WHATIF_PAGE).run()


def open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state["whatif_tab"] = label
    return at.run()


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly chart specs on the page by title text (bold markup and line breaks removed; the scan's colour-scale
    note after the comma left out)."""
    specs = (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    titles = ((s["layout"]["title"]["text"].replace("<b>", "").replace("</b>", "").replace("<br>", " "), s)
              for s in specs)  # fmt: skip
    return {t.split(", colour scale")[0]: s for t, s in titles}


def scan_window(at: AppTest, start: int, end: int) -> AppTest:
    at.number_input(key="scan_start").set_value(start)
    return at.number_input(key="scan_end").set_value(end).run()


def as_bytes(make: Callable[[], bytes | str]) -> bytes:
    data = make()
    return data.encode("utf-8") if isinstance(data, str) else data


# ------------------------------------------------------------------ what-if page
def test_without_a_prediction_the_page_points_to_predict(app: AppTest) -> None:
    app.switch_page(WHATIF_PAGE).run()
    no_problems(app)
    assert any(i.value.startswith("No protein yet") for i in app.info)
    links = app.get("page_link")
    assert len(links) == 1 and links[0].proto.page == "predict" and links[0].proto.label == "Go to Predict"
    assert not app.get("plotly_chart") and not app.button  # nothing to run yet


def test_scan_of_a_five_residue_window_draws_the_heatmap(app: AppTest) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    no_problems(app)
    assert app.metric[0].value == "P00441"
    assert any("Press **Run the scan**" in i.value and "380 single mutants" in i.value for i in app.info)  # 20 × 19
    if any(w.key == "scan_fast" for w in app.toggle):  # a shipped student: this test is of the full model's scan
        app.toggle(key="scan_fast").set_value(False).run()
    scan_window(app, 10, 14)
    app.button(key="scan_run").click().run()
    no_problems(app)
    spec = charts(app)["Saturation mutagenesis: Δp(cytoplasmic)"]
    heat, wild_type = spec["data"]
    limit = heat["zmax"]
    assert heat["zmin"] == -limit and limit in (0.05, 0.1, 0.2, 0.5, 1.0)  # a fixed step, never fitted to the scan
    assert any(f"fixed scale of ±{limit:g}" in c.value for c in app.caption)
    wt = SOD.sequence[9:14]
    assert heat["x"] == [f"{aa}{pos}" for pos, aa in enumerate(wt, start=10)]
    assert len(heat["y"]) == 20 and wild_type["y"] == list(wt)  # the wild type marked in its column
    scan = next(v for k, v in app.session_state["_whatif"].items() if k[1:] == ("scan", 10, 14))
    assert scan.delta.shape == (5, 20, 11)
    # the page shows predict(mutant) - predict(wild type): check one cell against two ordinary predictions
    predictor = load_model("multiloc", device="cpu")
    mutant = SOD.sequence[:13] + "N" + SOD.sequence[14:]  # V14N
    wild_p, mutant_p = (p.probabilities for p in predictor.predict([ProteinRecord("w", SOD.sequence),
                                                                     ProteinRecord("m", mutant)]))  # fmt: skip
    j = scan.substitutes.index("N")
    np.testing.assert_allclose(scan.delta[4, j], mutant_p - wild_p, atol=1e-5)
    # another class: drawn from the same scan, nothing predicted again
    stored = len(app.session_state["_whatif"])
    app.selectbox(key="scan_class").set_value("nuclear").run()
    no_problems(app)
    assert "Saturation mutagenesis: Δp(nuclear)" in charts(app)
    assert len(app.session_state["_whatif"]) == stored


def test_a_fast_student_draws_the_scan_and_the_ensemble_rescores_its_strongest_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``multiloc-fast`` installed beside ``multiloc`` the scan is drawn by it and re-scored, both named."""
    from conftest import make_tiny_bundle

    from locviz.datasets import MULTILOC_CLASSES

    for path in (REPO / "weights").glob("multiloc.*"):
        (tmp_path / path.name).symlink_to(path)
    make_tiny_bundle(tmp_path / "multiloc-fast", MULTILOC_CLASSES, members=1, seed=3)
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tmp_path))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    predict_then_open_whatif(at, SOD.fasta())
    assert at.toggle(key="scan_fast").value is True  # on by default
    assert any("with multiloc-fast (then 10 by multiloc)" in i.value for i in at.info)
    scan_window(at, 10, 14)
    at.button(key="scan_run").click().run()
    no_problems(at)
    results = at.session_state["_whatif"]
    scan = next(v for k, v in results.items() if k[1:5] == ("scan", 10, 14, "multiloc-fast") and "rescored" in k)
    assert scan.model == "multiloc-fast" and scan.rescored_by.model_name == "multiloc" and len(scan.rescored) == 10
    assert any("Heatmap drawn by multiloc-fast; its 10 strongest cells re-scored by multiloc" in c.value
               for c in at.caption)  # fmt: skip
    spec = charts(at)["Saturation mutagenesis: Δp(cytoplasmic)"]
    outlined = next(d for d in spec["data"] if d.get("name") == "re-scored by multiloc")
    assert len(outlined["x"]) == 10 and "by multiloc," in outlined["text"][0]
    # another class: the student's heatmap is reused, only its strongest cells for that class are re-scored
    drawn = [k for k in results if k[1:5] == ("scan", 10, 14, "multiloc-fast") and len(k) == 5]
    at.selectbox(key="scan_class").set_value("nuclear").run()
    no_problems(at)
    results = at.session_state["_whatif"]
    assert [k for k in results if k[1:5] == ("scan", 10, 14, "multiloc-fast") and len(k) == 5] == drawn
    assert any(k[-2:] == ("rescored", "nuclear") for k in results)
    assert "Saturation mutagenesis: Δp(nuclear)" in charts(at)


def test_starts_on_the_protein_shown_on_predict_and_keeps_the_window(app: AppTest) -> None:
    cathepsin = by_accession("P07339")
    app.text_area(key="seq_text").input(SOD.fasta() + cathepsin.fasta())
    app.button(key="predict").click().run()
    run = next(iter(app.session_state["_runs"].values()))
    app.selectbox(key=f"record_pick-{run.key}").set_value(1).run()  # the Predict page shows P07339
    app.switch_page(WHATIF_PAGE).run()
    no_problems(app)
    assert app.selectbox(key="whatif_protein").value == 1 and app.metric[0].value == "P07339"
    app.selectbox(key="whatif_protein").set_value(0).run()
    assert app.metric[0].value == "P00441"
    scan_window(app, 10, 14)
    app.switch_page(PREDICT_PAGE).run()
    app.selectbox(key=f"record_pick-{run.key}").set_value(1).run()
    app.switch_page(WHATIF_PAGE).run()
    no_problems(app)
    assert app.metric[0].value == "P07339"  # back on What if: the protein shown on Predict again
    app.selectbox(key="whatif_protein").set_value(0).run()
    assert (app.number_input(key="scan_start").value, app.number_input(key="scan_end").value) == (10, 14)


def test_a_window_over_100_residues_is_refused_with_the_reason(app: AppTest) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    scan_window(app, 10, 150)
    assert not app.exception
    assert [e.value for e in app.error] == [
        "the window 10-150 holds 141 residues; at most 100 can be scanned at once."
    ]  # fmt: skip
    app.button(key="scan_run").click().run()
    assert not app.exception and not app.get("plotly_chart")


def test_a_wrong_wild_type_residue_is_refused_naming_the_position(app: AppTest) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    open_tab(app, "Variants side by side")
    app.text_input(key="variant_text").input("K4T").run()
    app.button(key="variant_run").click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "position 4 is A, not K" in errors[0]
    assert not app.get("plotly_chart")


def test_a_correct_variant_shows_both_calls_and_the_change(app: AppTest) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    open_tab(app, "Variants side by side")
    app.text_input(key="variant_text").input("A4T + del1-3").run()  # + joins changes into one mutant
    app.button(key="variant_run").click().run()
    no_problems(app)
    labels = {m.label: m.value for m in app.metric}
    assert labels["Wild type"] == "cytoplasmic" and "Variant (A4T,del1-3)" in labels
    assert {"Wild type and variant", "Where the attention moved"} <= set(charts(app))
    (comparison,) = next(v for k, v in app.session_state["_whatif"].items() if k[1] == "compare")
    assert comparison.changed == [1, 2, 3, 4]
    predictor = load_model("multiloc", device="cpu")
    wild_p, mutant_p = (p.probabilities for p in predictor.predict([ProteinRecord("w", SOD.sequence),
                                                                     ProteinRecord("m", "T" + SOD.sequence[4:])]))
    np.testing.assert_allclose(comparison.delta, mutant_p - wild_p, atol=1e-5)
    table = app.dataframe[-1].value
    assert list(table.columns) == ["compartment", "wild type", "variant", "Δ (points)"]
    np.testing.assert_allclose(table["Δ (points)"].abs().max(), 100 * np.abs(mutant_p - wild_p).max(), atol=1e-3)


def test_comma_separated_variants_are_separate_mutants_unless_combined(app: AppTest, downloads: dict) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    open_tab(app, "Variants side by side")
    app.text_input(key="variant_text").input("del1-3, A4T, G10A").run()
    app.button(key="variant_run").click().run()
    no_problems(app)
    each = next(v for k, v in app.session_state["_whatif"].items() if k[1] == "compare")
    assert [c.label for c in each] == ["del1-3", "A4T", "G10A"]
    predictor = load_model("multiloc", device="cpu")
    wild_p, alone_p = (p.probabilities for p in predictor.predict([ProteinRecord("w", SOD.sequence),
                                                                    ProteinRecord("m", SOD.sequence[:3] + "T" +
                                                                                  SOD.sequence[4:])]))  # fmt: skip
    np.testing.assert_allclose(each[1].delta, alone_p - wild_p, atol=1e-5)  # A4T alone, not with the deletion
    summary = app.dataframe[0].value
    assert list(summary["mutant"]) == ["del1-3", "A4T", "G10A"]
    deltas = app.dataframe[1].value
    assert list(deltas.columns) == ["compartment", "del1-3", "A4T", "G10A"]
    figure = charts(app)["Wild type and variants"]
    assert len(figure["data"]) == 4  # the wild type and three mutants
    app.selectbox(key="variant_track_pick").set_value("G10A").run()
    no_problems(app)
    assert "G10A" in charts(app)["Where the attention moved"]["layout"]["title"]["subtitle"]["text"]
    rows = list(csv.reader(io.StringIO(as_bytes(downloads["P00441_multiloc_variants.csv"]).decode())))
    assert [r[1] for r in rows[1:]] == ["del1-3", "A4T", "G10A"]
    app.toggle(key="variant_combine").set_value(True).run()
    app.button(key="variant_run").click().run()
    no_problems(app)
    combined = app.session_state["_whatif"][next(reversed(app.session_state["_whatif"]))]
    assert [c.label for c in combined] == ["del1-3,A4T,G10A"]
    assert "Variant (del1-3,A4T,G10A)" in {m.label for m in app.metric}


def test_an_isoform_is_compared_through_an_alignment(app: AppTest) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    open_tab(app, "Variants side by side")
    app.radio(key="variant_mode").set_value("A second sequence (isoform)").run()
    isoform = SOD.sequence[:60] + SOD.sequence[70:]  # residues 61-70 spliced out
    app.text_area(key="variant_isoform").input(f">iso2\n{isoform}\n").run()
    app.button(key="variant_run").click().run()
    no_problems(app)
    (comparison,) = next(v for k, v in app.session_state["_whatif"].items() if k[1] == "compare")
    assert comparison.label == "aligned to iso2" and len(comparison.changed) == 10


def test_attribution_cross_check_reads_each_method(app: AppTest, downloads: dict) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    open_tab(app, "Attribution cross-check")
    app.button(key="attr_run").click().run()
    no_problems(app)
    name = next(n for n in downloads if "deletion-curves" in n and n.endswith(".csv"))  # `attribute --curves`
    curve_rows = list(csv.DictReader(io.StringIO(as_bytes(downloads[name]).decode())))
    assert list(curve_rows[0]) == list(whatif.DELETION_COLUMNS) and {r["id"] for r in curve_rows} == {"P00441"}
    readings = [m.value for m in app.markdown if "faithful here" in m.value]
    assert len(readings) == 3  # attention, occlusion, gradient × input
    assert all(("is faithful here" in r) != ("is not faithful here" in r) for r in readings)
    specs = charts(app)
    assert [t["name"] for t in specs["Attention and attributions"]["data"]] == ["attention", "occlusion",
                                                                               "gradient × input"]  # fmt: skip
    assert "Deletion curves" in specs
    assert not [c for c in app.caption if "Integrated gradients add up" in c.value]  # not asked for
    app.toggle(key="attr_ig").set_value(True).run()
    app.button(key="attr_run").click().run()
    no_problems(app)
    (margin,) = [c.value for c in app.caption if "Integrated gradients add up" in c.value]
    assert f"with {whatif.IG_STEPS} steps" in margin  # the Riemann sum's error is shown beside the scores


def test_downloads_are_valid_png_svg_pdf_and_csv(app: AppTest, downloads: dict) -> None:
    predict_then_open_whatif(app, SOD.fasta())
    scan_window(app, 10, 14)
    app.button(key="scan_run").click().run()
    open_tab(app, "Variants side by side")
    app.text_input(key="variant_text").input("A4T").run()
    app.button(key="variant_run").click().run()
    no_problems(app)
    magic = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<svg"}
    for figure in ("saturation-10-14-cytoplasmic", "variant-probabilities", "variant-attention"):
        for fmt, head in magic.items():
            data = as_bytes(downloads[f"P00441_multiloc_{figure}.{fmt}"])
            assert data.lstrip().startswith(head) or (fmt == "svg" and head in data[:400]), (figure, fmt)
            assert len(data) > 2_000
    scan_rows = list(csv.reader(io.StringIO(as_bytes(downloads["P00441_multiloc_saturation-10-14.csv"]).decode())))
    # multiloc-fast draws the scan and multiloc re-scores its strongest cells: both Δs, each named by its model
    assert scan_rows[0] == whatif.scan_columns(load_model("multiloc").classes, rescored=True)
    assert len(scan_rows) == 1 + 5 * 19  # one row per (position, substitute), the wild type left out
    by = scan_rows[0].index("rescored_by")
    assert {row[by] for row in scan_rows[1:]} == {"multiloc", ""}  # some cells re-scored, the rest not
    variant_rows = list(csv.reader(io.StringIO(as_bytes(downloads["P00441_multiloc_variant.csv"]).decode())))
    assert variant_rows[1][:4] == ["P00441", "A4T", "cytoplasmic", variant_rows[1][3]] and len(variant_rows) == 2


# ------------------------------------------------------------------ predict page: known-signal track
def test_signal_track_and_a_disagreement_on_the_predict_page(app: AppTest) -> None:
    """SOD with a C-terminal SKL: the rules find a PTS1, the model still says cytoplasmic, and the page says so."""
    text = f">SOD-SKL\n{SOD.sequence}SKL\n"
    app.text_area(key="seq_text").input(text)
    app.button(key="predict").click().run()
    no_problems(app)
    track = charts(app)["Known sorting signals"]
    hits = [t for t in track["data"] if "lines" in t.get("mode", "")]  # lines+markers; the lane keeper: markers
    assert len(hits) == 1 and hits[0]["y"] == ["PTS1", "PTS1"]
    pred = app.session_state["prediction"]
    expected = disagreements(pred, find_signals(pred.sequence))
    warnings = [w.value for w in app.warning]
    assert expected and len(warnings) == len(expected)  # the model calls it cytoplasmic: one conflict
    assert "PTS1 (SKL) is present (residues 154-156)" in warnings[0]
    assert any("PTS1 SKL (154-156)" in c.value for c in app.caption)


def test_each_what_if_table_names_the_command_that_writes_it(
    app: AppTest, downloads: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scan, variants and the attribution cross-check each say which `locviz` command writes their table; run as
    said, with the protein saved as protein.fasta, each command writes the page's download."""
    import shlex

    from locviz import cli

    def command() -> str:
        no_problems(app)
        (said,) = [c.value for c in app.caption if c.value.startswith(("The same table from the command line",
                                                                         "The same tables from the command line"))]
        return said.split("`")[-2]

    predict_then_open_whatif(app, SOD.fasta())
    scan_window(app, 10, 14)
    app.button(key="scan_run").click().run()
    commands = [command()]
    open_tab(app, "Variants side by side")
    app.text_input(key="variant_text").input("A4T, del1-3").run()
    app.button(key="variant_run").click().run()
    commands.append(command())
    open_tab(app, "Attribution cross-check")
    app.button(key="attr_run").click().run()
    commands.append(command())
    assert [c.split()[1] for c in commands] == ["scan", "mutate", "attribute"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "protein.fasta").write_text(SOD.fasta())
    for command in commands:
        assert cli.main(shlex.split(command)[1:] + ["--no-progress"]) == 0, command
    pairs = [("scan.csv", "P00441_multiloc_saturation-10-14.csv"), ("variants.csv", "P00441_multiloc_variants.csv"),
             ("variants-attention.csv", "P00441_multiloc_variants-attention.csv"),
             ("scores.csv", next(n for n in downloads if "attributions" in n and n.endswith(".csv"))),
             ("curves.csv", next(n for n in downloads if "deletion-curves" in n and n.endswith(".csv")))]
    for written, shown in pairs:
        by_cli = list(csv.reader((tmp_path / written).open(newline="")))
        by_page = list(csv.reader(io.StringIO(as_bytes(downloads[shown]).decode())))
        assert by_cli[0] == by_page[0] and len(by_cli) == len(by_page), written
        for row_cli, row_page in zip(by_cli[1:], by_page[1:], strict=True):
            for a, b in zip(row_cli, row_page, strict=True):
                try:
                    assert float(a) == pytest.approx(float(b), abs=1e-5), (written, a, b)
                except ValueError:
                    assert a == b, (written, a, b)
