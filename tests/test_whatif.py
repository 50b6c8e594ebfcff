"""What-if tools: variants, saturation scan, occlusion, gradients, deletion curves, and the scan/mutate commands.

Plumbing and exactness run on the tiny seeded bundles of conftest; one science check uses the shipped
deeploc model on a short real protein.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import GFP, HUMAN_INSULIN, UBIQUITIN

from locviz import cli, figures, whatif
from locviz.card import display_name
from locviz.errors import InputError
from locviz.predict import Predictor, load_model
from locviz.sequences import ProteinRecord

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture(scope="module")
def tiny(tiny_weights_dir: Path) -> Predictor:
    return load_model(str(tiny_weights_dir / "multiloc"), device="cpu")


@pytest.fixture(scope="module")
def deeploc() -> Predictor:
    return load_model("deeploc", device="cpu")


def insulin() -> ProteinRecord:
    return ProteinRecord("insulin", HUMAN_INSULIN)


# ----------------------------------------------------------------------------- variants
def test_parse_variants_reads_every_kind_and_writes_it_back() -> None:
    variants = whatif.parse_variants("K128T, del1-20 ins45:aaa;del5")
    assert [v.kind for v in variants] == ["sub", "del", "ins", "del"]
    assert [str(v) for v in variants] == ["K128T", "del1-20", "ins45:AAA", "del5"]
    assert (variants[3].start, variants[3].end) == (5, 5)


@pytest.mark.parametrize("text", ["", "K128", "128T", "del20-1", "ins45", "K12T3", "X"])
def test_parse_variants_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(InputError, match="variant|deletion"):
        whatif.parse_variants(text)


def test_apply_variants_works_in_wild_type_coordinates() -> None:
    wild = ProteinRecord("w", ALPHABET)
    mutant = whatif.apply_variants(wild, "C2W del5-7 ins10:GG ins0:M Y20A")
    # M + A W D E (FGH deleted) I K L GG M N P Q R S T V W A
    assert mutant.sequence == "MAWDEIKLGGMNPQRSTVWA"
    sequence, mapping = whatif.edit(wild.sequence, whatif.parse_variants("C2W del5-7 ins10:GG ins0:M Y20A"))
    assert sequence == mutant.sequence
    assert mapping[:4].tolist() == [1, 2, 3, 4] and mapping[4:7].tolist() == [-1, -1, -1]
    assert mapping[10] == 10  # M (wild 11) sits after the two inserted G


def test_wrong_wild_type_residue_is_refused_naming_position_and_actual_residue() -> None:
    with pytest.raises(InputError, match="position 3 is D, not K"):
        whatif.apply_variants(ProteinRecord("w", ALPHABET), "K3T")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("del15-30", "position 30 is outside the protein"),
        ("A0C", "position 0 is outside"),
        ("ins21:A ins22:A", "between 0 and 20"),
        ("C2W C2Y", "both change residue 2"),
        ("del2-5 ins3:AA", "inside the deletion"),
        ("del1-15", "at least 10 are needed"),
        ("ins2:A1", "not understood"),
    ],
)
def test_bad_variants_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        whatif.apply_variants(ProteinRecord("w", ALPHABET), text)


def test_split_target_takes_the_longest_record_name() -> None:
    assert whatif.split_target("sp|P1:x:K3T", ["sp|P1", "sp|P1:x"])[0] == "sp|P1:x"
    rid, variants = whatif.split_target("ins4:AA", ["only"])
    assert rid == "only" and str(variants[0]) == "ins4:AA"
    with pytest.raises(InputError, match="names no record"):
        whatif.split_target("P9:K3T", ["P1", "P2"])
    with pytest.raises(InputError, match="names no record of the input; write ID:VARIANTS with ID one of only"):
        whatif.split_target("P9:K3T", ["only"])
    uniprot = ["sp|P07237|PDIA1_HUMAN", "sp|P00441|SODC_HUMAN"]  # a UniProt record named by its accession
    rid, mutants = whatif.target_mutants("P07237:K128T,del1-20", uniprot)
    assert rid == "sp|P07237|PDIA1_HUMAN" and [[str(v) for v in m] for m in mutants] == [["K128T"], ["del1-20"]]
    with pytest.raises(InputError, match="accession P07237 names 2 records"):  # two with one accession: say so
        whatif.split_target("P07237:K128T", ["sp|P07237|PDIA1_HUMAN", "tr|P07237|OTHER"])


def test_compare_variant_matches_two_predict_calls_and_maps_positions(tiny: Predictor) -> None:
    wild = insulin()
    comparison = whatif.compare(tiny, wild, "L3A del10-14 ins50:KKK")
    mutant = whatif.apply_variants(wild, "L3A del10-14 ins50:KKK")
    p_wild, p_mutant = tiny.predict([wild])[0], tiny.predict([mutant])[0]
    np.testing.assert_allclose(comparison.delta, p_mutant.probabilities - p_wild.probabilities, atol=1e-5)
    assert comparison.changed == [3, 10, 11, 12, 13, 14]
    assert [(after, residues) for after, residues, _ in comparison.insertions] == [(50, "KKK")]
    assert np.isnan(comparison.delta_attention[9:14]).all()
    expected = p_mutant.attention[20] - p_wild.attention[25]  # wild residue 26 is mutant residue 21
    assert comparison.delta_attention[25] == pytest.approx(expected, abs=1e-6)
    assert comparison.row()[:2] == ["insulin", "L3A,del10-14,ins50:KKK"]


def test_compare_an_isoform_aligns_it_like_the_equivalent_deletion(tiny: Predictor) -> None:
    wild = insulin()
    isoform = ProteinRecord("isoform", HUMAN_INSULIN[:30] + HUMAN_INSULIN[40:])
    by_alignment = whatif.compare(tiny, wild, isoform)
    by_variant = whatif.compare(tiny, wild, "del31-40")
    assert by_alignment.changed == by_variant.changed == list(range(31, 41))
    np.testing.assert_array_equal(by_alignment.position_map, by_variant.position_map)
    np.testing.assert_allclose(by_alignment.delta, by_variant.delta, atol=1e-6)


def test_commas_separate_mutants_and_plus_or_combine_joins_them() -> None:
    two = whatif.split_mutants("del505-508, L7R")
    assert [whatif.variants_label(m) for m in two] == ["del505-508", "L7R"]
    joined = whatif.split_mutants("del505-508 + L7R, p.Lys128Thr;ins0:M")
    assert [whatif.variants_label(m) for m in joined] == ["del505-508,L7R", "K128T", "ins0:M"]
    assert [whatif.variants_label(m) for m in whatif.split_mutants("del505-508, L7R", combine=True)] == [
        "del505-508,L7R"
    ]
    with pytest.raises(InputError, match="no variant given"):
        whatif.split_mutants(" , + ")
    assert whatif.target_mutants("insulin:L3A,W4G", ["insulin"]) == ("insulin", [*whatif.split_mutants("L3A W4G")])
    assert whatif.target_mutants("L3A+W4G", ["insulin"], combine=False)[1] == whatif.split_mutants("L3A,W4G", True)


def test_each_mutant_is_compared_with_the_wild_type_alone(tiny: Predictor) -> None:
    wild = insulin()
    each = whatif.compare_mutants(tiny, wild, "L3A, del10-14")
    assert [c.label for c in each] == ["L3A", "del10-14"]
    for comparison, text in zip(each, ("L3A", "del10-14"), strict=True):
        alone = whatif.compare(tiny, wild, text)  # one mutant, predicted on its own
        np.testing.assert_allclose(comparison.delta, alone.delta, atol=1e-5)
        assert comparison.changed == alone.changed
    (both,) = whatif.compare_mutants(tiny, wild, "L3A, del10-14", combine=True)
    np.testing.assert_allclose(both.delta, whatif.compare(tiny, wild, "L3A del10-14").delta, atol=1e-5)
    assert both.label == "L3A,del10-14" and not np.allclose(both.delta, each[0].delta)
    wild_pred = tiny.predict([wild])[0]
    reused = whatif.compare_mutants(tiny, wild, [[whatif.Variant("sub", 3, 3, "L", "A")]], wild_prediction=wild_pred)
    assert reused[0].wild is wild_pred
    with pytest.raises(InputError, match="position 3 is L, not K"):
        whatif.compare_mutants(tiny, wild, "L3A, K3T")  # every mutant checked before anything is predicted


def test_scan_summary_says_when_nothing_moves_the_call(tiny: Predictor) -> None:
    from locviz import whatif_figures

    scan = whatif.saturation_scan(tiny, insulin(), 1, 4)
    cls = scan.wild.label
    largest = float(np.abs(scan.heatmap(cls)).max())
    quiet = dataclasses.replace(scan, delta=scan.delta * (0.004 / largest))  # every effect under half a point
    assert whatif.scan_summary(quiet, cls).startswith("No substitution of residues 1-4 moves p(")
    assert "by more than 0.5 points" in whatif.scan_summary(quiet, cls)
    loud = dataclasses.replace(scan, delta=scan.delta * (0.3 / largest))
    assert whatif.scan_summary(loud, cls).startswith("Largest drop of p(") or "largest rise" in whatif.scan_summary(
        loud, cls
    )
    quiet_fig, loud_fig = whatif_figures.scan_heatmap(quiet, cls), whatif_figures.scan_heatmap(loud, cls)
    assert (quiet_fig.data[0].zmin, quiet_fig.data[0].zmax) == (-0.05, 0.05)  # not stretched to ±0.004
    assert (loud_fig.data[0].zmin, loud_fig.data[0].zmax) == (-0.5, 0.5)
    assert "colour scale ±0.05" in quiet_fig.layout.title.text.replace("<br>", " ")
    assert "±0.5" in loud_fig.layout.title.text
    assert "No substitution" in quiet_fig.layout.title.subtitle.text
    assert "&lt;" not in quiet_fig.layout.title.subtitle.text  # a real line break, not an escaped tag
    assert [whatif_figures.scale_limit(x) for x in (0.0, 0.05, 0.051, 0.9, 3.0)] == [0.05, 0.05, 0.1, 1.0, 1.0]


# ------------------------------------------------------------------------ saturation scan
def test_scan_delta_is_predict_mutant_minus_predict_wild_type(tiny: Predictor) -> None:
    record = insulin()
    scan = whatif.saturation_scan(tiny, record, 5, 9)
    assert scan.delta.shape == (5, 20, len(tiny.classes)) and scan.wt == HUMAN_INSULIN[4:9]
    assert len(list(scan.rows())) == 5 * 19
    wild = tiny.predict([record])[0]
    for i, j in [(0, 0), (2, 7), (4, 19)]:
        pos, aa = 5 + i, whatif.SUBSTITUTES[j]
        if aa == scan.wt[i]:
            assert not scan.delta[i, j].any()  # the wild-type column is exactly zero
            continue
        mutant = tiny.predict([whatif.apply_variants(record, f"{scan.wt[i]}{pos}{aa}")])[0]
        np.testing.assert_allclose(scan.delta[i, j], mutant.probabilities - wild.probabilities, atol=1e-5)
    assert np.abs(scan.delta).max() > 0
    assert scan.heatmap("ER").shape == (20, 5)


def test_scan_defaults_to_the_most_attended_window(tiny: Predictor) -> None:
    record = insulin()
    wild = tiny.predict([record])[0]
    scan = whatif.saturation_scan(tiny, record)
    start = int(scan.positions[0])
    assert len(scan.positions) == whatif.DEFAULT_SCAN_WIDTH
    share = np.nansum(wild.attention[start - 1 : start - 1 + whatif.DEFAULT_SCAN_WIDTH])
    others = [np.nansum(wild.attention[s : s + whatif.DEFAULT_SCAN_WIDTH])
              for s in range(len(record) - whatif.DEFAULT_SCAN_WIDTH + 1)]
    assert share == pytest.approx(max(others))


def test_positions_the_model_never_sees_change_nothing_and_are_not_run(tiny: Predictor) -> None:
    long = ProteinRecord("long", (GFP * 2)[:300])  # the tiny bundle keeps residues 1-100 and 201-300
    calls: list[int] = []
    scan = whatif.saturation_scan(tiny, long, 95, 110, callback=calls.append)
    assert scan.seen.tolist() == [True] * 6 + [False] * 10
    assert not scan.delta[6:].any() and np.abs(scan.delta[:6]).max() > 0
    assert sum(calls) == 6 * 19


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [(0, 5, "start must be between 1 and 110"), (10, 5, "end must be between 10"), (1, 200, "end must be"),
     (1, 101, "at most 100")],
)
def test_scan_window_is_checked(tiny: Predictor, start: int, end: int, message: str) -> None:
    record = ProteinRecord("gfp", GFP) if end == 101 else insulin()
    with pytest.raises(InputError, match=message):
        whatif.saturation_scan(tiny, record, start, end)


# ------------------------------------------------------------------- attributions and curves
def test_occlusion_scores_live_on_the_attention_axis(tiny: Predictor) -> None:
    long = ProteinRecord("long", (GFP * 2)[:300])
    occlusion = whatif.occlusion_scan(tiny, long, window=9, stride=3)
    wild = tiny.predict([long])[0]
    assert occlusion.scores.shape == wild.attention.shape
    assert np.isnan(occlusion.scores[~wild.seen]).all() and np.isfinite(occlusion.scores[wild.seen]).all()
    # residues 1-9 form exactly the first window: their score is that one occlusion's drop
    first = tiny.predict([ProteinRecord("x", "X" * 9 + long.sequence[9:])])[0]
    c = int(np.argmax(wild.probabilities))
    assert occlusion.scores[0] == pytest.approx(wild.probabilities[c] - first.probabilities[c], abs=1e-6)
    assert occlusion.target == wild.label and occlusion.settings == {"window": 9, "stride": 3}


def test_occlusion_windows_cover_every_residue_once_stride_allows() -> None:
    seen = np.ones(20, dtype=bool)
    spans = whatif.occlusion_windows(20, seen, 9, 5)
    assert spans == [(0, 9), (5, 14), (10, 19), (11, 20)]
    assert whatif.occlusion_windows(5, np.ones(5, bool), 9, 3) == [(0, 5)]


def test_integrated_gradients_add_up_to_the_probability_difference(deeploc: Predictor) -> None:
    record = ProteinRecord("ubiquitin", UBIQUITIN)
    ig = whatif.gradient_attribution(deeploc, record, "integrated_gradients", steps=256)  # Riemann error ~1 %
    wild = deeploc.predict([record])[0]
    baseline = deeploc.predict([ProteinRecord("x", "X" * len(UBIQUITIN))])[0]
    c = deeploc.classes.index(ig.target)
    difference = wild.probabilities[c] - baseline.probabilities[c]
    assert abs(difference) > 0.05
    assert np.nansum(ig.scores) == pytest.approx(difference, rel=0.05, abs=2e-5)
    assert ig.settings["difference"] == pytest.approx(difference) and ig.settings["sum"] == pytest.approx(
        np.nansum(ig.scores))  # fmt: skip
    note = ig.completeness_note()
    assert f"is {difference:+.3f}" in note and "256 steps" in note


def test_cross_check_is_the_what_if_page_s(tiny: Predictor) -> None:
    """Attention, occlusion, gradient × input (and integrated gradients), each with its deletion curve."""
    record = ProteinRecord("gfp", GFP)
    wild = tiny.predict([record])[0]
    shown = next(c for c in tiny.classes if c != wild.label)
    attributions, curves = whatif.cross_check(tiny, record, shown, integrated_gradients=True, wild=wild)
    assert [a.method for a in attributions] == ["attention", "occlusion", "gradxinput", "integrated_gradients"]
    assert {a.target for a in attributions} == {shown} == {c.target for c in curves}
    assert [c.method for c in curves] == [a.method for a in attributions]  # ids, as the score table's columns
    assert [c.name for c in curves] == [a.name for a in attributions]
    assert list(curves[0].ks) == whatif.deletion_ks(int(np.sum(wild.seen)))
    assert whatif.deletion_ks(15) == [1, 2] and whatif.deletion_ks(80) == [1, 2, 5, 10, 20]  # a quarter at most
    alone = whatif.deletion_curve(tiny, record, attributions[2], n_random=2)  # the same rule without cross_check
    assert list(alone.ks) == whatif.deletion_ks(int(np.isfinite(attributions[2].scores).sum()))
    assert attributions[0].completeness_note() is None and attributions[3].completeness_note() is not None
    default, _ = whatif.cross_check(tiny, record)
    assert default[0].target == wild.label and len(default) == 3


def test_locviz_attribute_writes_the_cross_check_s_scores_and_curves(
    tmp_path: Path, tiny: Predictor, tiny_weights_dir: Path, monkeypatch, capsys
) -> None:
    """`locviz attribute` is :func:`whatif.cross_check` for every record: one row per residue and method score, and
    each method's deletion curve with its reading; the same numbers as the Python call."""
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta, scores, curves = tmp_path / "in.fasta", tmp_path / "scores.tsv", tmp_path / "curves.csv"
    fasta.write_text(f">gfp\n{GFP}\n>insulin\n{HUMAN_INSULIN}\n")
    assert cli.main(["attribute", str(fasta), "--out", str(scores), "--curves", str(curves), "--target", "nuclear",
                     "--no-progress"]) == 0  # fmt: skip
    rows = read_rows(scores)
    assert list(rows[0]) == ["id", "position", "residue", "target", "attention", "occlusion", "gradxinput"]
    assert [r["id"] for r in rows] == ["gfp"] * len(GFP) + ["insulin"] * len(HUMAN_INSULIN)
    assert "".join(r["residue"] for r in rows[: len(GFP)]) == GFP and {r["target"] for r in rows} == {"nuclear"}
    attributions, expected = whatif.cross_check(tiny, ProteinRecord("gfp", GFP), "nuclear")
    for a in attributions:
        written = np.array([float(r[a.method]) if r[a.method] else np.nan for r in rows[: len(GFP)]])
        np.testing.assert_allclose(written, a.scores, rtol=1e-4, atol=1e-7)
    with open(curves, newline="") as handle:
        curve_rows = [r for r in csv.DictReader(handle) if r["id"] == "gfp"]
    assert [(r["method"], int(r["k"])) for r in curve_rows] == [(c.method, int(k)) for c in expected for k in c.ks]
    assert {r["method"] for r in curve_rows} == {a.method for a in attributions} <= set(rows[0])  # joinable
    assert [r["faithful"] for r in curve_rows] == [str(c.faithful) for c in expected for _ in c.ks]
    np.testing.assert_allclose([float(r["p_top_k"]) for r in curve_rows], np.concatenate([c.p_top for c in expected]),
                               rtol=1e-4)  # fmt: skip
    assert "attributed 2 protein(s)" in capsys.readouterr().err
    assert cli.main(["attribute", str(fasta), "--out", str(scores), "--target", "Nucleus"]) == 1  # a deeploc name
    assert "is not a class of" in capsys.readouterr().err
    assert cli.main(["attribute", str(fasta), "--out", "-", "--curves", "-"]) == 1
    assert "both write standard output" in capsys.readouterr().err
    assert cli.main(["attribute", str(fasta), "--out", str(scores), "--curves", "-", "--format", "json",
                     "--no-progress"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["columns"] == list(whatif.DELETION_COLUMNS)  # --format: also '-'
    assert cli.main(["attribute", str(fasta), "--out", str(tmp_path / "s.json"), "--curves", str(curves),
                     "--no-progress"]) == 0  # fmt: skip
    assert curves.read_text().startswith("id,method,")  # a named second table: its own suffix (.csv), not .json


def test_delta_attention_track_shades_residues_the_variant_does_not_see(tiny: Predictor) -> None:
    """An insertion before a long protein's cut moves it: wild-type residues 91-100 fall out of the variant's view.
    Their Δ is missing, so their bars are shaded and counted, never drawn as an empty "no change"."""
    from locviz import whatif_figures

    long = ProteinRecord("long", (GFP * 2)[:300])  # the tiny bundle keeps residues 1-100 and 201-300
    comparison = whatif.compare(tiny, long, "ins10:AAAAAAAAAA")
    assert np.isnan(comparison.delta_attention[90:100]).all()
    track = whatif_figures.delta_attention_track(comparison)
    shaded = [(s.x0, s.x1) for s in track.layout.shapes if s.fillcolor == figures.UNSEEN_GREY]
    assert (90.5, 100.5) in shaded
    subtitle = track.layout.title.subtitle.text.replace("<br>", " ")
    assert "light grey: 10 residues the wild type or the variant did not see" in subtitle


def test_gradient_times_input_is_per_residue_and_nan_where_unseen(tiny: Predictor) -> None:
    long = ProteinRecord("long", (GFP * 2)[:300])
    gxi = whatif.gradient_attribution(tiny, long, target="nuclear")
    wild = tiny.predict([long])[0]
    assert gxi.target == "nuclear" and gxi.scores.shape == (300,)
    assert np.isnan(gxi.scores[~wild.seen]).all() and np.isfinite(gxi.scores[wild.seen]).all()
    with pytest.raises(InputError, match="method must be one of"):
        whatif.gradient_attribution(tiny, long, "saliency")
    with pytest.raises(InputError, match="not one of the model's classes"):
        whatif.gradient_attribution(tiny, long, target="Golgi apparatus")


def test_deletion_curve_removes_top_scored_residues_and_random_ones(tiny: Predictor) -> None:
    record = insulin()
    scores = np.zeros(len(record))
    scores[[4, 9, 20]] = [3.0, 2.0, 1.0]
    curve = whatif.deletion_curve(tiny, record, scores, ks=(1, 3), method="test score", n_random=3)
    c = tiny.classes.index(curve.target)
    masked = "".join("X" if i in (4, 9, 20) else a for i, a in enumerate(record.sequence))
    top3 = tiny.predict([ProteinRecord("m", masked)])[0]
    assert curve.p_top[1] == pytest.approx(top3.probabilities[c], abs=1e-6)
    assert curve.p_random.shape == (2,) and curve.n_random == 3
    assert curve.reading.startswith("test score is ") and "top 3 residues" in curve.reading
    assert curve.faithful == curve.reading.startswith("test score is faithful")
    with pytest.raises(InputError, match="more than the"):
        whatif.deletion_curve(tiny, record, scores, ks=(500,))


def test_faithful_is_measured_against_the_probability_there_was_to_lose() -> None:
    """A tenth of the wild type's P(target) beyond random: a class at 0.115 that top residues take to 0.046 against
    0.078 at random is read faithful (an absolute 0.1 could never be met); a call at 0.9 needs 0.09."""
    assert whatif.is_faithful(0.115, 0.046, 0.078)
    assert not whatif.is_faithful(0.115, 0.075, 0.078)
    assert whatif.is_faithful(0.9, 0.49, 0.59) and not whatif.is_faithful(0.9, 0.51, 0.59)
    assert not whatif.is_faithful(0.0, 0.0, 0.0)  # nothing to lose is never faithful


def test_removing_the_signal_peptide_by_occlusion_is_faithful_for_the_shipped_model(deeploc: Predictor) -> None:
    """Science check: deeploc calls insulin secreted, and the occlusion scan's top residues carry that call."""
    predictor = deeploc
    record = insulin()
    occlusion = whatif.occlusion_scan(predictor, record, window=9, stride=3)
    assert occlusion.target == "Extracellular"
    curve = whatif.deletion_curve(predictor, record, occlusion, ks=(5, 10))
    assert curve.faithful, curve.reading
    assert curve.p_top[-1] < curve.p_wild - 0.2


# ---------------------------------------------------------------------------------- CLI
def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_scan_mutate_and_predict_agree(tmp_path: Path, tiny_weights_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n")
    scan_out, mutate_out = tmp_path / "scan.tsv", tmp_path / "mutate.tsv"
    assert cli.main(["scan", str(fasta), "--model", "multiloc", "--start", "11", "--end", "30",
                     "--out", str(scan_out), "--no-progress"]) == 0
    rows = read_rows(scan_out)
    assert len(rows) == 380
    assert list(rows[0])[:4] == ["id", "position", "wt", "mut"] and list(rows[0])[4] == "dp_ER"
    pick = rows[123]
    variant = f"{pick['wt']}{pick['position']}{pick['mut']}"
    assert cli.main(["mutate", str(fasta), "--model", "multiloc", "--variants", f"insulin:{variant}",
                     "--out", str(mutate_out), "--no-progress"]) == 0
    (mutated,) = read_rows(mutate_out)
    assert mutated["variant"] == variant
    mutant_fasta = tmp_path / "mutant.fasta"
    mutant_fasta.write_text(f">m\n{whatif.apply_variants(ProteinRecord('insulin', HUMAN_INSULIN), variant).sequence}\n")
    predicted = []
    for source in (fasta, mutant_fasta):
        out = tmp_path / f"{source.stem}.tsv"
        assert cli.main(["predict", str(source), "--model", "multiloc", "--out", str(out), "--no-progress"]) == 0
        predicted.append(read_rows(out)[0])
    capsys.readouterr()
    for column in (c for c in pick if c.startswith("dp_")):
        by_predict = float(predicted[1]["p_" + column[3:]]) - float(predicted[0]["p_" + column[3:]])
        assert float(pick[column]) == pytest.approx(by_predict, abs=1e-4)
        assert float(mutated[column]) == pytest.approx(by_predict, abs=1e-4)
    assert mutated["prediction_wt"] == predicted[0]["prediction"]
    for column, source in (("confidence_wt", 0), ("confidence_mut", 1)):  # the mutant's call carries its own weight
        assert float(mutated[column]) == pytest.approx(float(predicted[source]["confidence"]), abs=1e-5)
    assert mutated["support_mut"] == predicted[1]["support"]
    assert mutated["signal_conflicts_mut"] == predicted[1]["signal_conflicts"]

    # --organism: both sides restricted as `locviz predict --organism animal` restricts them (the What if page's)
    animal = []
    for source in (fasta, mutant_fasta):
        out = tmp_path / f"{source.stem}-animal.tsv"
        assert cli.main(["predict", str(source), "--model", "multiloc", "--organism", "animal", "--out", str(out),
                         "--no-progress"]) == 0  # fmt: skip
        animal.append(read_rows(out)[0])
    assert cli.main(["scan", str(fasta), "--model", "multiloc", "--start", "11", "--end", "30", "--organism", "animal",
                     "--out", str(scan_out), "--no-progress"]) == 0  # fmt: skip
    assert cli.main(["mutate", str(fasta), "--model", "multiloc", "--variants", f"insulin:{variant}", "--organism",
                     "animal", "--out", str(mutate_out), "--no-progress"]) == 0  # fmt: skip
    pick_animal = next(r for r in read_rows(scan_out) if f"{r['wt']}{r['position']}{r['mut']}" == variant)
    (mutated_animal,) = read_rows(mutate_out)
    assert {float(r["dp_chloroplast"]) for r in read_rows(scan_out)} == {0.0}  # animals have none
    for column in (c for c in pick_animal if c.startswith("dp_")):
        by_predict = float(animal[1]["p_" + column[3:]]) - float(animal[0]["p_" + column[3:]])
        assert float(pick_animal[column]) == pytest.approx(by_predict, abs=1e-4)
        assert float(mutated_animal[column]) == pytest.approx(by_predict, abs=1e-4)
    assert mutated_animal["prediction_mut"] == animal[1]["prediction"]
    assert mutated_animal["organism"] == pick_animal["organism"] == animal[0]["organism"] == "animal"  # said, per row
    assert mutated["organism"] == "any"


def test_mutate_writes_one_row_per_mutant_unless_combined(
    tmp_path: Path, tiny_weights_dir: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n")
    base = ["mutate", str(fasta), "--model", "multiloc", "--no-progress", "--variants"]
    assert cli.main([*base, "insulin:L3A,del10-14", "W4G+L3A", "--out", str(tmp_path / "each.tsv")]) == 0
    assert [r["variant"] for r in read_rows(tmp_path / "each.tsv")] == ["L3A", "del10-14", "W4G,L3A"]
    assert cli.main([*base, "insulin:L3A,del10-14", "--combine", "--out", str(tmp_path / "one.tsv")]) == 0
    (combined,) = read_rows(tmp_path / "one.tsv")
    assert combined["variant"] == "L3A,del10-14"
    assert "predicted 3 mutant(s)" in capsys.readouterr().err


def test_mutate_refuses_a_wrong_wild_type_residue(tmp_path: Path, tiny_weights_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n")
    code = cli.main(["mutate", str(fasta), "--variants", "insulin:K3T", "--out", str(tmp_path / "o.tsv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "position 3 is L, not K" in err and "Traceback" not in err


def test_scan_skips_a_record_the_window_does_not_fit_and_a_bad_record(
    tmp_path: Path, tiny_weights_dir: Path, monkeypatch, capsys
) -> None:
    """As `locviz predict` skips a bad record, scan, mutate and attribute skip it (with its line) and the record a
    window does not fit, do the rest and exit 3; nothing usable at all is an error."""
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n>dna\n{'ACGT' * 10}\n>ub\n{UBIQUITIN}\n")
    out = tmp_path / "o.tsv"
    code = cli.main(["scan", str(fasta), "--start", "90", "--end", "100", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 3 and "record 'ub' (76 aa)" in err and f"{fasta}, line 3: record 'dna'" in err
    assert {r["id"] for r in read_rows(out)} == {"insulin"} and "2 skipped" in err
    assert cli.main(["scan", str(fasta), "--start", "200", "--end", "210", "--out", str(out)]) == 1
    assert "fits none of the proteins" in capsys.readouterr().err
    code = cli.main(["mutate", str(fasta), "--variants", "ub:K6R", "--out", str(out), "--no-progress"])
    assert code == 3 and [r["id"] for r in read_rows(out)] == ["ub"]
    assert "1 record(s) of the input skipped" in capsys.readouterr().err
    code = cli.main(["attribute", str(fasta), "--out", str(out), "--no-progress"])
    assert code == 3 and {r["id"] for r in read_rows(out)} == {"insulin", "ub"}
    capsys.readouterr()
    assert cli.main(["mutate", str(fasta), "--variants", "dna:A1T", "--out", str(out)]) == 1  # names a skipped one
    assert "record 'dna' was skipped" in capsys.readouterr().err
    one_good = tmp_path / "one_good.fasta"  # two records, one bad: an item without a name does not go to the other
    one_good.write_text(f">short\nACDE\n>ub\n{UBIQUITIN}\n")
    assert cli.main(["mutate", str(one_good), "--variants", "del1-3", "--out", str(out)]) == 1
    assert "names no record of the input; write ID:VARIANTS" in capsys.readouterr().err
    preamble = tmp_path / "preamble.fasta"  # text before the first header is skipped and counted, as predict does
    preamble.write_text(f"hello world\n>ub\n{UBIQUITIN}\n")
    assert cli.main(["scan", str(preamble), "--start", "1", "--end", "3", "--out", str(out), "--no-progress"]) == 3
    capsys.readouterr()
    assert cli.main(["scan", str(fasta), "--start", "5", "--end", "3", "--out", str(out)]) == 1
    err = capsys.readouterr().err  # a window wrong for every protein is said once, not once per protein
    assert "window end must not be before its start 5" in err and "skipped" not in err


def test_table_bytes_for_the_app(tiny: Predictor) -> None:
    scan = whatif.saturation_scan(tiny, insulin(), 1, 2)
    text = whatif.scan_table_bytes([scan], "csv").decode()
    assert text.splitlines()[0].startswith("id,position,wt,mut,dp_ER") and len(text.splitlines()) == 1 + 38
    document = whatif.comparison_table_bytes([whatif.compare(tiny, insulin(), "W4G")], "json").decode()
    assert '"schema_version"' in document and '"W4G"' in document


def test_figures_draw_every_result(tiny: Predictor) -> None:
    from locviz import signals, whatif_figures

    record = insulin()
    scan = whatif.saturation_scan(tiny, record, 1, 12)
    heat = whatif_figures.scan_heatmap(scan, "ER")
    assert np.asarray(heat.data[0].z).shape == (20, 12)
    assert len(heat.data[1].x) == 12  # one wild-type dot per position
    with pytest.raises(ValueError, match="not one of"):
        whatif_figures.scan_heatmap(scan, "Nucleus")
    comparison = whatif.compare(tiny, record, "W4G del20-25 ins60:KK")
    assert len(whatif_figures.comparison_probabilities(comparison).data) == 2
    track = whatif_figures.delta_attention_track(comparison)
    assert len(track.data[0].y) == len(record) and len(track.layout.shapes) == 1 + 6 + 1  # changed + insertion
    found = signals.find_signals(record.sequence)
    assert len(whatif_figures.signal_track(found, len(record), "insulin").data) == len(found) + 1
    gxi = whatif.gradient_attribution(tiny, record)
    lines = whatif_figures.attribution_tracks([whatif.attention_attribution(comparison.wild), gxi])
    assert np.nanmax(np.abs(lines.data[1].y)) == pytest.approx(1.0)
    curve = whatif.deletion_curve(tiny, record, gxi, ks=(1, 2), n_random=2)
    deletion = whatif_figures.deletion_curve_figure([curve], "insulin")
    assert curve.reading in deletion.layout.title.subtitle.text.replace("<br>", " ")  # wrapped, not cut


def test_a_wild_type_made_for_another_organism_is_refused_not_compared(tiny: Predictor) -> None:
    """Δ against a wild type restricted to another organism would be the renormalisation, at every mutant."""
    record = insulin()
    animal = tiny.predict([record], organism="animal")[0]
    with pytest.raises(InputError, match="wild type's prediction is for organism 'animal'.*give organism='animal'"):
        whatif.occlusion_scan(tiny, record, wild=animal, organism="any")
    with pytest.raises(InputError, match="give the unrestricted prediction"):
        whatif.cross_check(tiny, record, wild=animal)
    scan = whatif.saturation_scan(tiny, record, 1, 2, wild=animal)  # the organism defaults to the wild type's
    assert scan.wild is animal and np.all(scan.delta[:, :, tiny.classes.index("chloroplast")] == 0)
    (line,) = whatif.compare_mutants(tiny, record, "L7R", wild_prediction=animal)
    assert line.mutant.organism == "animal"


def test_organism_restriction_reaches_every_mutant(tiny: Predictor) -> None:
    record = insulin()
    scan = whatif.saturation_scan(tiny, record, 7, 8, organism="animal")
    wild = tiny.predict([record], organism="animal")[0]
    assert scan.wild.probabilities[tiny.classes.index("chloroplast")] == 0.0  # animals have no plastids
    assert not scan.delta[:, :, tiny.classes.index("chloroplast")].any()
    mutant = tiny.predict([whatif.apply_variants(record, f"{record.sequence[6]}7A")], organism="animal")[0]
    j = whatif.SUBSTITUTES.index("A")
    if record.sequence[6] != "A":
        np.testing.assert_allclose(scan.delta[0, j], mutant.probabilities - wild.probabilities, atol=1e-6)


# ----------------------------------------------------------------------------- fast scan, re-scored by the full model
def test_rescore_predicts_the_strongest_cells_again_with_the_full_model(tmp_path: Path, tiny: Predictor) -> None:
    """A scan drawn by one model (the student's role) keeps its Δs; the strongest cells get the other model's."""
    from conftest import make_tiny_bundle

    from locviz.datasets import MULTILOC_CLASSES

    full = load_model(str(make_tiny_bundle(tmp_path / "full", MULTILOC_CLASSES, members=3, seed=7)), device="cpu")
    record = insulin()
    scan = whatif.saturation_scan(tiny, record, 11, 20)
    rescored = whatif.rescore(scan, full, record, top=4)
    np.testing.assert_array_equal(rescored.delta, scan.delta)  # the fast model's heatmap is untouched
    shown = full.predict([record])[0].label  # by default, the cells that matter to the full model's call
    assert rescored.rescored_class == shown
    c = scan.classes.index(shown)
    magnitudes = np.abs(scan.delta[:, :, c])
    cells = list(rescored.rescored)
    assert len(cells) == 4 and cells == whatif.strongest_cells(scan, shown, top=4)
    assert min(magnitudes[i, j] for i, j in cells) >= np.sort(magnitudes, axis=None)[-4] - 1e-12
    i, j = cells[0]
    variant = f"{scan.wt[i]}{scan.positions[i]}{scan.substitutes[j]}"
    by_full = whatif.compare(full, record, variant)
    np.testing.assert_allclose(rescored.rescored[i, j], by_full.delta, atol=1e-5)
    summary = whatif.rescore_summary(rescored)
    assert f"Heatmap drawn by {tiny.name}" in summary and f"re-scored by {full.name}" in summary
    rows = list(rescored.rows())
    assert len(rows[0]) == len(rescored.columns()) and rescored.columns()[-len(scan.classes) - 2] == "rescored_by"
    marked = [r for r in rows if r[4 + len(scan.classes)] == full.name]
    assert len(marked) == 4 and all(r[-2] is None for r in rows if r not in marked)
    assert all(r[-1] == "any" for r in rows)  # the organism, last
    assert whatif.scan_table_bytes([rescored]).decode().splitlines()[0].endswith(f"full_dp_{scan.classes[-1]},organism")
    with pytest.raises(InputError, match="is not the protein"):
        whatif.rescore(scan, full, ProteinRecord("other", GFP))


def test_a_fast_scan_takes_its_window_and_class_from_the_full_model(tmp_path: Path, tiny: Predictor) -> None:
    """What the reader is shown is about the full model's call: its attention picks the window and its call the
    class, as on the app's What if page, through whatif.fast_scan, locviz.scan and `locviz scan --rescore-with`."""
    from conftest import make_tiny_bundle

    import locviz
    from locviz.datasets import MULTILOC_CLASSES

    full_card = make_tiny_bundle(tmp_path / "full", MULTILOC_CLASSES, members=2, seed=1)
    full = load_model(str(full_card), device="cpu")
    record = insulin()
    full_wild, student_wild = full.predict([record])[0], tiny.predict([record])[0]
    assert whatif.default_window(full_wild) != whatif.default_window(student_wild)  # the test can tell them apart
    assert full_wild.label != student_wild.label
    scan = whatif.fast_scan(tiny, full, record, top=3)
    assert (int(scan.positions[0]), int(scan.positions[-1])) == whatif.default_window(full_wild)
    assert scan.rescored_class == full_wild.label and scan.model == tiny.name and len(scan.rescored) == 3
    by_api = locviz.scan(tiny, student_wild, rescore_with=full, rescore_top=3)  # the student's call reused
    np.testing.assert_array_equal(by_api.positions, scan.positions)
    assert by_api.rescored_class == scan.rescored_class and list(by_api.rescored) == list(scan.rescored)
    fasta, out = tmp_path / "in.fasta", tmp_path / "scan.tsv"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n")
    assert cli.main(["scan", str(fasta), "--model", str(tiny.bundle.card_path), "--rescore-with", str(full_card),
                     "--rescore-top", "3", "--out", str(out), "--no-progress"]) == 0  # fmt: skip
    rows = read_rows(out)
    assert {int(r["position"]) for r in rows} == set(range(scan.positions[0], scan.positions[-1] + 1))
    with pytest.raises(InputError, match="is not a class of"):  # refused before the scan is drawn
        whatif.fast_scan(tiny, full, record, cls="Nucleus")
    with pytest.raises(InputError, match="is not full's prediction|is not .*'s prediction"):
        whatif.fast_scan(tiny, full, record, full_wild=student_wild)


def test_a_full_model_that_moves_most_strong_cells_the_other_way_is_a_warning(tmp_path: Path, tiny: Predictor) -> None:
    """The heatmap is the student's; where the ensemble moves most re-scored cells the other way, the reader is told.
    Moves under NEGLIGIBLE are no disagreement, and the class is the one the cells were chosen for."""
    from dataclasses import replace

    from conftest import make_tiny_bundle

    from locviz.datasets import MULTILOC_CLASSES

    full = load_model(str(make_tiny_bundle(tmp_path / "full", MULTILOC_CLASSES, members=2, seed=7)), device="cpu")
    record = insulin()
    scan = whatif.saturation_scan(tiny, record, 11, 14)
    shown = next(c for c in scan.classes if c != scan.wild.label)  # not the call: the class a reader picked
    scan = whatif.rescore(scan, full, record, cls=shown, top=4)
    assert scan.rescored_class == shown
    c = scan.classes.index(shown)
    cells = list(scan.rescored)

    def moved(*signs_and_sizes: tuple[int, float]) -> whatif.SaturationScan:
        rescored = {}
        for cell, (sign, size) in zip(cells, signs_and_sizes, strict=True):
            rescored[cell] = np.zeros(len(scan.classes))
            rescored[cell][c] = sign * np.sign(scan.delta[cell][c]) * size
        return replace(scan, rescored=rescored)

    agreeing = moved((1, 0.1), (1, 0.1), (1, 0.1), (1, 0.1))
    assert whatif.rescore_agreement(agreeing) == (4, 0, 4) and whatif.rescore_warning(agreeing) is None
    flipped = moved((-1, 0.1), (-1, 0.1), (-1, 0.1), (1, 0.1))
    assert whatif.rescore_agreement(flipped) == (1, 3, 4)
    warning = whatif.rescore_warning(flipped)
    assert warning is not None and f"moves p({display_name(shown)}) the other way on 3 of the 4" in warning
    assert whatif.rescore_warning(moved((-1, 0.1), (-1, 0.1), (1, 0.1), (1, 0.1))) is None  # half: no alarm
    assert whatif.rescore_warning(moved((-1, 0.001), (-1, 0.001), (-1, 0.001), (1, 0.1))) is None  # hardly moves
    assert whatif.rescore_warning(whatif.saturation_scan(tiny, record, 11, 14)) is None  # nothing re-scored


def test_rescore_refuses_a_model_with_other_classes(tiny: Predictor, tiny_weights_dir: Path) -> None:
    scan = whatif.saturation_scan(tiny, insulin(), 11, 12)
    other = load_model(str(tiny_weights_dir / "deeploc"), device="cpu")
    with pytest.raises(InputError, match="predicts other classes than .*; re-score with the ensemble"):
        whatif.rescore(scan, other, insulin())


def test_a_fast_scan_is_read_for_the_class_the_full_model_rescored(tiny: Predictor) -> None:
    """The app draws the full model's call; heatmap(), scan_summary and the figure default to it too, not to the
    student's own call (they disagree on some proteins)."""
    from locviz import whatif_figures

    scan = whatif.saturation_scan(tiny, insulin(), 11, 13)
    other = next(c for c in scan.classes if c != scan.wild.label)
    assert scan.default_class == scan.wild.label
    fast = dataclasses.replace(scan, rescored_class=other)
    assert fast.default_class == other
    np.testing.assert_array_equal(fast.heatmap(), scan.heatmap(other))
    assert f"p({display_name(other)})" in whatif.scan_summary(fast)
    assert display_name(other) in whatif_figures.scan_heatmap(fast).layout.title.text


def test_rescore_refuses_another_organism_than_the_scans(tiny: Predictor) -> None:
    scan = whatif.saturation_scan(tiny, insulin(), 11, 12)
    with pytest.raises(InputError, match="was made for organism 'any'; re-scoring it for 'animal'"):
        whatif.rescore(scan, tiny, insulin(), organism="animal")


def test_scan_command_rescores_with_a_second_model(tmp_path: Path, tiny_weights_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n")
    out = tmp_path / "scan.tsv"
    assert cli.main(["scan", str(fasta), "--model", "multiloc", "--rescore-with", str(tiny_weights_dir / "multiloc"),
                     "--rescore-top", "3", "--start", "11", "--end", "15", "--out", str(out), "--no-progress"]) == 0
    assert "re-scored by multiloc: 3 of 3 move" in capsys.readouterr().err  # the same model: the same Δs
    rows = read_rows(out)
    rescored = [r for r in rows if r["rescored_by"]]
    assert len(rows) == 95 and len(rescored) == 3
    for row in rescored:
        assert float(row["full_dp_ER"]) == pytest.approx(float(row["dp_ER"]), abs=1e-5)
    assert cli.main(["scan", str(fasta), "--model", "multiloc", "--rescore-with", "deeploc", "--out", str(out),
                     "--no-progress"]) == 1  # an input error: a message, no traceback
    assert "predicts other classes" in capsys.readouterr().err
    # the class whose strongest cells are re-scored, as the app's What if page picks it
    assert cli.main(["scan", str(fasta), "--model", "multiloc", "--rescore-with", str(tiny_weights_dir / "multiloc"),
                     "--rescore-top", "2", "--rescore-class", "nuclear", "--start", "11", "--end", "15", "--out",
                     str(out), "--no-progress"]) == 0  # fmt: skip
    scan = whatif.saturation_scan(load_model("multiloc", device="cpu"), ProteinRecord("insulin", HUMAN_INSULIN), 11, 15)
    chosen = {(int(r["position"]), r["mut"]) for r in read_rows(out) if r["rescored_by"]}
    expected = {(int(scan.positions[i]), scan.substitutes[j]) for i, j in whatif.strongest_cells(scan, "nuclear", 2)}
    assert chosen == expected
    capsys.readouterr()
    for extra, message in ((["--rescore-class", "nucleus"], "not a class of"),
                           (["--rescore-class", "nuclear"], "add --rescore-with"),
                           (["--rescore-top", "3"], "add --rescore-with")):  # fmt: skip
        rescore = ["--rescore-with", str(tiny_weights_dir / "multiloc")] if message != "add --rescore-with" else []
        assert cli.main(["scan", str(fasta), "--model", "multiloc", *rescore, *extra, "--out", str(out),
                         "--no-progress"]) == 1  # fmt: skip
        assert message in capsys.readouterr().err


def test_strongest_cells_skip_cells_that_did_not_move_and_refuse_a_bad_count(tiny: Predictor) -> None:
    scan = whatif.saturation_scan(tiny, insulin(), 11, 12)
    everything = whatif.strongest_cells(scan, top=1000)
    assert len(everything) == 38  # 2 positions x 19 substitutes; the wild-type cells (Δ exactly 0) never count
    with pytest.raises(InputError, match="whole number >= 1"):
        whatif.strongest_cells(scan, top=0)


def test_api_scan_rescores_with_a_second_model(tiny: Predictor) -> None:
    import locviz

    scan = locviz.scan(tiny, insulin(), 11, 13, rescore_with=tiny, rescore_top=5)
    assert scan.rescored_by is not None and len(scan.rescored) == 5
    for (i, j), full in scan.rescored.items():  # the same model: the same Δs
        np.testing.assert_allclose(full, scan.delta[i, j], atol=1e-5)
    other = locviz.scan(tiny, insulin(), 11, 13, rescore_with=tiny, rescore_top=3, rescore_class="lysosomal")
    assert other.rescored_class == "lysosomal"
    assert list(other.rescored) == whatif.strongest_cells(other, "lysosomal", 3)
    with pytest.raises(InputError, match="not a class of"):
        locviz.scan(tiny, insulin(), 11, 13, rescore_with=tiny, rescore_class="Lysosome")


def test_the_attention_change_table_is_the_track_s_numbers_residue_by_residue(tiny: Predictor, tmp_path: Path) -> None:
    """Every wild-type residue once and every mutant residue once, in mutant order; Δ as the track draws it; one
    side empty for a deleted or inserted residue; empty attention where the tiny model's 200-residue window did
    not reach (GFP is 238 residues)."""
    record = ProteinRecord("gfp", GFP)
    comparison = whatif.compare(tiny, record, "del3-5+ins10:GGG+H26A")
    rows = list(comparison.attention_rows())
    columns = whatif.ATTENTION_CHANGE_COLUMNS
    as_dicts = [dict(zip(columns, row, strict=True)) for row in rows]
    assert [r["position"] for r in as_dicts if r["position"] is not None] == list(range(1, len(GFP) + 1))
    mutant_positions = [r["mutant_position"] for r in as_dicts if r["mutant_position"] is not None]
    assert mutant_positions == list(range(1, len(comparison.mutant.sequence) + 1))  # in mutant order
    deleted = [r for r in as_dicts if r["mutant_position"] is None]
    inserted = [r for r in as_dicts if r["position"] is None]
    assert [r["position"] for r in deleted] == [3, 4, 5] and all(r["delta_attention"] is None for r in deleted)
    assert "".join(r["mut"] for r in inserted) == "GGG" and [r["mutant_position"] for r in inserted] == [8, 9, 10]
    assert next(r for r in as_dicts if r["position"] == 26)["mut"] == "A"
    for r in as_dicts:
        if r["position"] is not None and r["delta_attention"] is not None:
            assert r["delta_attention"] == pytest.approx(comparison.delta_attention[r["position"] - 1], abs=1e-7)
    unseen = [r for r in as_dicts if r["position"] is not None and r["attention_wt"] is None]
    assert unseen and len(unseen) == int((~np.asarray(comparison.wild.seen, bool)).sum())
    document = json.loads(whatif.attention_change_table_bytes([comparison], "json"))
    assert document["table"] == "attention_change" and len(document["rows"]) == len(rows)

    # the command line writes the same rows beside its variant table
    fasta = tmp_path / "gfp.fasta"
    fasta.write_text(f">gfp\n{GFP}\n")
    out, att = tmp_path / "variants.tsv", tmp_path / "attention.csv"
    assert cli.main(["mutate", str(fasta), "--model", str(tiny.bundle.card_path), "--variants",
                     "gfp:del3-5+ins10:GGG+H26A", "--out", str(out), "--attention", str(att), "--no-progress"]) == 0
    written = list(csv.reader(att.open(newline="")))
    assert written[0] == list(columns) and len(written) == 1 + len(rows)
    assert written[11][:6] == ["gfp", comparison.label, "", "", "8", "G"]  # inserted after residue 10


def test_an_interrupted_what_if_run_leaves_no_table_that_looks_complete(
    tmp_path: Path, tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """As locviz predict: the tables are PATH.partial until the run finishes (a JSON document closes itself, so an
    interrupted one would read as whole); a finished run names them PATH. The second table takes its own suffix."""
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">insulin\n{HUMAN_INSULIN}\n>ubiquitin\n{UBIQUITIN}\n")
    out, att = tmp_path / "v.json", tmp_path / "a.csv"
    args = ["mutate", str(fasta), "--model", "multiloc", "--variants", "insulin:L14T", "ubiquitin:K6R", "--out",
            str(out), "--attention", str(att), "--no-progress"]  # fmt: skip
    real, calls = whatif.compare_mutants, []

    def fail_on_the_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise InputError("stopped halfway")
        return real(*a, **k)

    monkeypatch.setattr(whatif, "compare_mutants", fail_on_the_second)
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert not out.exists() and not att.exists() and "stopped halfway" in err
    assert json.loads((tmp_path / "v.json.partial").read_text())["rows"]  # the rows written so far, kept aside
    assert f"the rows written so far are in {out}.partial" in err
    monkeypatch.setattr(whatif, "compare_mutants", real)
    assert cli.main(args) == 0
    assert len(json.loads(out.read_text())["rows"]) == 2 and att.read_text().startswith("id,variant,position")
    assert not (tmp_path / "v.json.partial").exists() and not (tmp_path / "a.csv.partial").exists()
