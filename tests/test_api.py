"""Everything beyond the call from Python (locviz.api): signals, homology evidence, scan, mutate, parse errors;
and variants in HGVS protein notation beside locviz's own."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import GFP, HUMAN_INSULIN, REPO

import locviz
from locviz import cli, homology, table, whatif
from locviz.errors import InputError
from locviz.examples import by_accession
from locviz.sequences import ProteinRecord
from locviz.whatif import Variant, edit, parse_variants

PDI = by_accession("P07237").sequence  # MLRRALLCLAVAALVRADAPEEEDHVLVLRKSNFAEALAAHKYLLVEFYAPWCGH...KDEL
WILD = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


@pytest.fixture(scope="module")
def tiny(tiny_weights_dir: Path) -> locviz.Predictor:
    return locviz.load_model(str(tiny_weights_dir / "multiloc"), device="cpu")


# ------------------------------------------------------------------------------------ HGVS
@pytest.mark.parametrize(
    ("hgvs", "ours"),
    [
        ("p.Lys2Thr", "K2T"), ("p.K2T", "K2T"), ("p.(Lys2Thr)", "K2T"), ("Lys2Thr", "K2T"), ("p.lys2thr", "K2T"),
        ("p.Ala4_Ile6del", "del4-6"), ("p.A4_I6del", "del4-6"), ("p.Ala4del", "del4"), ("p.(Ala4_Ile6del)", "del4-6"),
        ("p.Lys2_Thr3insGlyArg", "ins2:GR"), ("p.K2_T3insGR", "ins2:GR"), ("p.Lys2_Thr3insGly", "ins2:G"),
        ("p.lys2_thr3insgly", "ins2:G"),  # three-letter neighbours: three-letter insertion, whatever the case
        ("p.lys2_thr3insgl", "ins2:GL"),  # not three-letter codes: one letter each
    ],
)  # fmt: skip
def test_hgvs_means_the_same_change_as_our_notation(hgvs: str, ours: str) -> None:
    (parsed,), (expected,) = parse_variants(hgvs), parse_variants(ours)
    assert parsed == expected and str(parsed) == ours
    assert parsed.notation == hgvs
    assert edit(WILD, [parsed])[0] == edit(WILD, [expected])[0]


def test_hgvs_names_the_residues_it_expects_and_a_wrong_one_is_refused_with_position_and_residue() -> None:
    with pytest.raises(InputError, match=r"p\.Ala2Thr: position 2 is Lys \(K\), not Ala \(A\); check the numbering"):
        edit(WILD, parse_variants("p.Ala2Thr"))
    with pytest.raises(InputError, match=r"p\.Ala4_Leu6del: position 6 is Ile \(I\), not Leu \(L\)"):
        edit(WILD, parse_variants("p.Ala4_Leu6del"))  # the first residue is right, the last is not
    with pytest.raises(InputError, match=r"p\.Lys2_Ala3insG: position 3 is Thr \(T\), not Ala \(A\)"):
        edit(WILD, parse_variants("p.Lys2_Ala3insG"))
    with pytest.raises(InputError, match=r"p\.Lys99Thr: position 99 is outside the protein \(1-33\)"):
        edit(WILD, parse_variants("p.Lys99Thr"))
    with pytest.raises(InputError, match="position 2 is K, not A"):  # our own notation keeps its message
        edit(WILD, parse_variants("A2T"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p.Lys2_Ala4insG", "an insertion lies between two neighbouring residues"),
        ("p.Lys2Ter", "stop gain: the protein ends at residue 1; write del2-N"),
        ("p.K2*", "stop gain"),
        ("p.Cys28delinsTrpVal", "del28 ins27:WV"),
        ("p.Ala5_Leu9dup", "as an insertion after its last residue"),
        ("p.Arg97ProfsTer23", "frameshifts are not predicted"),
        ("p.Met1ext-5", "extensions are not predicted"),
        ("p.Lys2=", "names no change"),
        ("p.Foo2Thr", "'Foo' is not an amino-acid code"),
        ("p.Lys2", "is not understood; write a substitution K128T"),
    ],
)
def test_hgvs_forms_that_cannot_be_predicted_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse_variants(text)


@pytest.mark.parametrize("text", ["K2K", "p.Lys2Lys", "Lys2Lys"])
def test_a_substitution_by_the_same_residue_names_no_change(text: str) -> None:
    """As p.Lys2= does: a "mutant" identical to the wild type would be predicted and tabulated as a change."""
    with pytest.raises(InputError, match="names no change to predict: residue 2 is K already"):
        edit(WILD, parse_variants(text))


def test_our_notation_is_unchanged_beside_hgvs() -> None:
    assert parse_variants("K2T del4-6 ins0:MA") == [
        Variant("sub", 2, 2, "K", "T"), Variant("del", 4, 6), Variant("ins", 0, 0, "", "MA")
    ]  # fmt: skip
    assert all(v.notation == "" and v.expect == () for v in parse_variants("K2T del4-6 ins0:MA"))


# ------------------------------------------------------------------------------- the facade
def test_parse_errors_are_visible_not_silent() -> None:
    parsed = locviz.parse(">dna\n" + "ACGTTGCA" * 40 + f"\n>ok\n{HUMAN_INSULIN}\n")
    assert [r.id for r in parsed.records] == ["ok"]
    (problem,) = parsed.errors
    assert "record 'dna'" in str(problem) and "nucleotide" in str(problem)
    with pytest.raises(InputError, match="nucleotide"):  # a protein given as text to the facade raises
        locviz.find_signals("ACGTTGCA" * 40)
    with pytest.raises(InputError, match="give one protein here, not 2"):
        locviz.scan(None, f">a\n{HUMAN_INSULIN}\n>b\n{GFP}\n")  # type: ignore[arg-type]


def test_find_signals_takes_a_record_a_prediction_or_text(tiny: locviz.Predictor) -> None:
    record = ProteinRecord("pdi", PDI)
    (prediction,) = tiny.predict([record])
    expected = locviz.signals.find_signals(PDI)
    assert [s.kind for s in expected] == ["signal_peptide", "er_retention"]
    assert locviz.find_signals(record) == locviz.find_signals(prediction) == locviz.find_signals(PDI) == expected
    conflicts = locviz.signal_conflicts(prediction)
    assert conflicts == locviz.signals.disagreements(prediction, expected)


def test_scan_reuses_a_prediction_as_the_wild_type(tiny: locviz.Predictor) -> None:
    record = ProteinRecord("insulin", HUMAN_INSULIN)
    (wild,) = tiny.predict([record])
    counted: list[int] = []
    scan = locviz.scan(tiny, wild, 3, 4, callback=counted.append)
    assert sum(counted) == 2 * 19  # the mutants only: the wild type was not predicted again
    direct = whatif.saturation_scan(tiny, record, 3, 4)
    np.testing.assert_allclose(scan.delta, direct.delta, atol=1e-6)
    assert scan.heatmap().shape == (20, 2) and scan.wild is wild
    animal = locviz.scan(tiny, record, 3, 3, organism="animal")  # a record: the organism is the caller's
    assert animal.wild.organism == "animal"
    (restricted,) = tiny.predict([record], organism="animal")
    as_app = locviz.scan(tiny, restricted, 3, 3)  # the app's What if page: all compartments, whatever the organism
    assert as_app.wild.organism == "any" and as_app.wild is not restricted
    np.testing.assert_allclose(as_app.delta, direct.delta[:1], atol=1e-6)
    assert locviz.scan(tiny, restricted, 3, 3, organism="animal").wild is restricted
    [change] = locviz.mutate(tiny, restricted, "L3G")  # mutate too: all compartments unless organism= is given
    assert change.wild.organism == change.mutant.organism == "any"


def test_write_table_is_the_predict_commands_table(tiny: locviz.Predictor, tmp_path: Path, capsys) -> None:
    """From Python, the same file `locviz predict` writes: every column filled (signals, conflicts, notes)."""
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">pdi\n{PDI}\n>gfp\n{GFP}B\n")
    out = tmp_path / "cli.tsv"
    assert cli.main(["predict", str(fasta), "--model", str(tiny.bundle.card_path), "--out", str(out),
                            "--device", "cpu", "--no-progress"]) == 0  # fmt: skip
    predictions = tiny.predict(locviz.parse(fasta.read_text()).records)
    written = locviz.write_table(predictions, tmp_path / "api.tsv")
    assert written.read_text() == out.read_text()
    rows = written.read_text().splitlines()
    header = rows[0].split("\t")
    pdi, gfp = (dict(zip(header, r.split("\t"), strict=True)) for r in rows[1:])
    assert pdi["signals"].startswith("signal_peptide:1-") and "er_retention" in pdi["signals"]
    assert "encoded as unknown" in gfp["notes"] and "encoded as unknown" not in pdi["notes"]
    assert "were not seen by the model" in pdi["notes"]  # the tiny model's window is 200 residues
    assert gfp["notes"].split(table.LIST_SEPARATOR) == list(predictions[1].notes)  # a cell splits into its notes
    assert any(";" in note for p in predictions for note in p.notes)  # which "; " could not separate
    assert locviz.write_table(predictions, "-", fmt="json") == Path("-")  # standard output, left open
    printed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in printed["predictions"]] == ["pdi", "gfp"]
    print("standard output is still open")  # ValueError if write_table had closed it
    capsys.readouterr()
    full = json.loads(locviz.write_table(predictions, tmp_path / "a.json", with_attention=True).read_text())
    assert full["predictions"][0]["sequence"] == PDI and len(full["predictions"][0]["attention"]) == len(PDI)
    assert len(full["predictions"][0]["member_probabilities"]) == tiny.bundle.card.members  # the app's JSON download
    with pytest.raises(InputError, match="only JSON holds"):
        locviz.write_table(predictions, tmp_path / "a.tsv", with_attention=True)
    with pytest.raises(InputError, match="no predictions to write"):
        locviz.write_table([], tmp_path / "empty.tsv")
    restricted = tiny.for_organism(predictions[0], "plant")  # a new call: conflicts and evidence made afresh
    assert "signal_conflicts" not in restricted.extra and "signal_conflicts" in predictions[0].extra
    other_model = dataclasses.replace(predictions[1], model_name="multiloc-fast")  # same classes, another model
    with pytest.raises(InputError, match="'gfp' was predicted by 'multiloc-fast'"):
        locviz.write_table([predictions[0], other_model], tmp_path / "two_models.tsv")
    with pytest.raises(InputError, match="'gfp' was predicted by 'multiloc-fast', not .*: search with the model"):
        locviz.neighbours(tiny, [other_model])  # the combined call is fitted for one model's probabilities
    predictions[0].extra.update(dict.fromkeys(homology.COLUMNS))  # one protein searched, the other not
    with pytest.raises(InputError, match="1 of 2 predictions carry homology evidence"):
        locviz.write_table(predictions, tmp_path / "mixed.tsv")
    assert locviz.top_regions is locviz.regions.top_regions  # the Predict page's most-attended windows


def test_mutate_in_hgvs_equals_our_notation(tiny: locviz.Predictor) -> None:
    record = ProteinRecord("insulin", HUMAN_INSULIN)  # MALWMRLL...: Leu7, Arg6
    [hgvs] = locviz.mutate(tiny, record, "p.Leu7Pro")
    [ours] = locviz.mutate(tiny, HUMAN_INSULIN, "L7P")
    assert hgvs.label == "p.Leu7Pro (L7P)" and ours.label == "L7P"  # as typed, with what it was read as
    np.testing.assert_allclose(hgvs.delta, ours.delta, atol=1e-6)
    assert hgvs.changed == [7]
    [deletion] = locviz.mutate(tiny, record, "p.Ala2_Leu7del")
    assert deletion.changed == [2, 3, 4, 5, 6, 7] and deletion.mutant.length == len(HUMAN_INSULIN) - 6
    separate = locviz.mutate(tiny, record, "L7P, p.Ala2_Leu7del")  # as the app and `locviz mutate`: two mutants
    assert [c.label for c in separate] == ["L7P", "p.Ala2_Leu7del (del2-7)"]
    as_list = locviz.mutate(tiny, record, ["L7P", "p.Ala2_Leu7del"])  # a list of texts: the same two mutants
    assert [c.label for c in as_list] == [c.label for c in separate]
    with pytest.raises(InputError, match="not a list of Variant and int"):
        locviz.mutate(tiny, record, [parse_variants("L7P")[0], 3])
    np.testing.assert_allclose(separate[0].delta, ours.delta, atol=1e-6)
    [both] = locviz.mutate(tiny, record, "R6A, L7P", combine=True)
    assert both.changed == [6, 7]
    with pytest.raises(InputError, match=r"position 6 is Arg \(R\), not Leu \(L\)"):
        locviz.mutate(tiny, record, "p.Leu6Pro")


def test_a_training_protein_is_flagged_without_a_search(tiny: locviz.Predictor, tmp_path: Path, capsys) -> None:
    """Every prediction says whether the model was trained on this very protein (no DIAMOND needed)."""
    predictor = locviz.load_model("multiloc", device="cpu")  # the shipped model and its reference set
    pdi, gfp = predictor.predict([ProteinRecord("P07237", PDI), ProteinRecord("gfp", GFP)])
    assert pdi.extra["known_location"] == "ER" and gfp.extra["known_location"] is None
    renamed = predictor.predict([ProteinRecord("my_protein", PDI)])[0]  # the same sequence under another name
    assert renamed.extra["known_location"] == "ER"
    variant = predictor.predict([ProteinRecord("sp|P07237|PDIA1_HUMAN", PDI[:-4])])[0]  # its name, not its sequence
    assert variant.extra["known_location"] is None
    assert predictor.for_organism(pdi, "animal").extra["known_location"] == "ER"  # not derived from the call
    # the Predict page's "Known location", from Python: an example, this very sequence trained on, or the accession
    assert locviz.known_location(predictor, PDI).kind == "example"
    trained = locviz.known_location(predictor, renamed)  # a reference-set protein under another name
    assert trained is not None and trained.location == "ER"
    by_name = locviz.known_location(predictor, variant)
    assert by_name is not None and by_name.kind == "accession" and "with another sequence" in by_name.source
    assert locviz.known_location(predictor, gfp) is None
    assert locviz.known_protein("P07237", predictor).sequence == PDI
    assert tiny.reference is None and tiny.predict([ProteinRecord("x", GFP)])[0].extra["known_location"] is None
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">P07237\n{PDI}\n>gfp\n{GFP}\n")
    assert cli.main(["predict", str(fasta), "--model", "multiloc", "--out", str(tmp_path / "o.tsv"), "--device",
                     "cpu", "--no-progress"]) == 0  # fmt: skip
    assert "1 protein(s) are in multiloc's training data (known_location)" in capsys.readouterr().err
    broken = tmp_path / "broken"  # a copy whose reference file is gone: predictions still come, with a warning
    broken.mkdir()
    for path in REPO.glob("weights/multiloc.*"):
        if not path.name.endswith(".reference.fa.gz"):
            shutil.copy(path, broken / path.name)
    without = locviz.load_model(str(broken / "multiloc"), device="cpu")
    with pytest.warns(UserWarning, match="known_location is left empty"):
        (call,) = without.predict([ProteinRecord("P07237", PDI)])
    assert call.extra["known_location"] is None and without.reference is None


@pytest.mark.skipif(shutil.which("diamond") is None, reason="DIAMOND (apt-get install diamond-aligner)")
def test_neighbours_gives_the_evidence_the_cli_writes() -> None:
    predictor = locviz.load_model("multiloc", device="cpu")  # the shipped model and its reference set
    records = [ProteinRecord("P07237", PDI), ProteinRecord("gfp", GFP)]
    predictions = predictor.predict(records)
    evidence = locviz.neighbours(predictor, predictions)
    assert [len(e.hits) <= homology.MAX_HITS for e in evidence] == [True, True]
    pdi, gfp = evidence
    assert pdi.known and pdi.known[0].accession == "P07237" and pdi.sentence.startswith("known: ")
    assert predictions[0].extra["nearest_id"] == "P07237" and predictions[0].extra["combined"] == pdi.combined_label
    assert pdi.combined is not None and abs(float(pdi.combined.sum()) - 1) < 1e-6
    cli_path = predictor.predict(records)  # what `locviz predict --neighbours` does
    homology.annotate(cli_path, homology.Reference.load(predictor.bundle), thresholds=predictor.support_thresholds)
    for api, from_cli in zip(predictions, cli_path, strict=True):
        for column in (*homology.COLUMNS, "support", "homology_sentence"):
            assert api.extra[column] == from_cli.extra[column], column
    assert gfp.sentence == predictions[1].extra["homology_sentence"]
    fitted = homology.Reference.load(predictor.bundle, sensitivity=None)  # as `locviz predict --neighbours`
    assert fitted.sensitivity == predictor.bundle.card.reference.combination["sensitivity"] == "mid-sensitive"
    as_app = locviz.neighbours(predictor, predictor.predict(records[:1]), search_mode="default")  # the app's mode
    assert as_app[0].known and as_app[0].known[0].accession == "P07237"
    assert locviz.api._REFERENCES[predictor]["default"].sensitivity == "default"
    assert set(locviz.api._REFERENCES[predictor]) == {"default", "mid-sensitive"}  # one database per mode


def test_predict_text_takes_the_organism_as_predict_does(tiny: locviz.Predictor) -> None:
    parsed, (animal,) = tiny.predict_text(f">gfp\n{GFP}\n", organism="animal")
    assert animal.organism == "animal" and animal.probabilities[list(animal.classes).index("chloroplast")] == 0
    assert [r.id for r in parsed.records] == ["gfp"]
