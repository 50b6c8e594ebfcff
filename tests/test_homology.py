"""Homology evidence: the reference set, the DIAMOND search, the combined call and the --neighbours columns."""

from __future__ import annotations

import csv
import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_bundle

from locviz import cli, homology
from locviz.datasets import MULTILOC_CLASSES
from locviz.errors import BundleError, InputError
from locviz.homology import Combination, RefEntry, Reference
from locviz.sequences import STANDARD_RESIDUES, ProteinRecord
from locviz.weights import load_bundle, read_card, update_card

RESIDUES = np.array(list(STANDARD_RESIDUES))


def random_protein(rng: np.random.Generator, length: int = 180) -> str:
    return "M" + "".join(rng.choice(RESIDUES, length - 1))


def mutate(rng: np.random.Generator, sequence: str, share: float) -> str:
    """Substitute ``share`` of the positions (never the first) by another residue."""
    residues = list(sequence)
    for i in rng.choice(np.arange(1, len(residues)), int(share * len(residues)), replace=False):
        residues[i] = rng.choice([r for r in STANDARD_RESIDUES if r != residues[i]])
    return "".join(residues)


@pytest.fixture(scope="module")
def proteins() -> dict[str, str]:
    rng = np.random.default_rng(7)
    return {f"P{k:05d}": random_protein(rng) for k in range(6)}


@pytest.fixture(scope="module")
def reference(proteins: dict[str, str]) -> Reference:
    """Six unrelated proteins in three folds; P00005 is a 75 %-identity copy of P00000 in another fold."""
    rng = np.random.default_rng(11)
    seqs = dict(proteins)
    seqs["P00005"] = mutate(rng, proteins["P00000"], 0.25)
    locations = ["nuclear", "mitochondrial", "ER", "Golgi", "vacuolar", "cytoplasmic"]
    entries = tuple(RefEntry(acc, locations[k], "multiloc", 1 + k % 3) for k, acc in enumerate(seqs))
    ref = Reference(entries, tuple(seqs.values()), threads=1)
    yield ref
    ref.close()


def test_a_reference_protein_finds_itself_and_is_known(reference: Reference, proteins: dict[str, str]) -> None:
    record = ProteinRecord("query", proteins["P00001"])
    hits = reference.search([record])[0]
    assert hits[0].accession == "P00001"
    assert hits[0].identity == pytest.approx(1.0)
    assert hits[0].coverage == pytest.approx(1.0)
    assert hits[0].location == "mitochondrial" and hits[0].evalue < 1e-30
    assert [e.accession for e in reference.known(record)] == ["P00001"]
    named = ProteinRecord("sp|P00002|X_HUMAN", "MKV" * 20)  # its accession, another sequence: not trained on
    assert reference.known(named) == [] and [e.accession for e in reference.named(named)] == ["P00002"]


def test_a_mutated_copy_is_found_with_lower_identity(reference: Reference, proteins: dict[str, str]) -> None:
    query = mutate(np.random.default_rng(3), proteins["P00003"], 0.3)
    hits = reference.search([ProteinRecord("variant", query)])[0]
    assert hits and hits[0].accession == "P00003" and hits[0].location == "Golgi"
    assert 0.55 < hits[0].identity < 0.85
    assert reference.known(ProteinRecord("variant", query)) == []


def test_an_unrelated_sequence_gets_no_hit(reference: Reference) -> None:
    stranger = random_protein(np.random.default_rng(99))
    assert reference.search([ProteinRecord("stranger", stranger)]) == [[]]


def test_excluded_folds_and_ids_leave_the_search(reference: Reference, proteins: dict[str, str]) -> None:
    record = ProteinRecord("query", proteins["P00000"])  # fold 1; its 75 % copy P00005 is in fold 3
    assert reference.search([record])[0][0].accession == "P00000"
    without_fold = reference.search([record], exclude_folds=[1])[0]
    assert [h.accession for h in without_fold] == ["P00005"]
    assert without_fold[0].fold == 3 and without_fold[0].identity < 0.9
    assert reference.search([record], exclude_ids=["P00000", "P00005"]) == [[]]
    assert reference.search([record], exclude_folds=[1, 3]) == [[]]


def test_search_checks_its_options(reference: Reference) -> None:
    with pytest.raises(InputError, match="max_hits"):
        reference.search([ProteinRecord("q", "MKV" * 20)], max_hits=0)


def test_written_file_reads_back_and_is_reproducible(reference: Reference, tmp_path: Path) -> None:
    sha_a = reference.write(tmp_path / "a.reference.fa.gz")
    sha_b = reference.write(tmp_path / "b.reference.fa.gz")
    assert sha_a == sha_b
    back = Reference.read(tmp_path / "a.reference.fa.gz", sha_a)
    assert back.entries == reference.entries and back.sequences == reference.sequences
    with pytest.raises(InputError, match="gzip"):
        reference.write(tmp_path / "plain.fasta")


def _bundle_with_reference(tmp_path: Path, reference: Reference, combination: Combination | None) -> Path:
    card_path = make_tiny_bundle(tmp_path / "multiloc", MULTILOC_CLASSES)
    reference.combination = combination
    path = tmp_path / f"multiloc{homology.REFERENCE_SUFFIX}"
    reference.write(path)
    section = reference.section(path, tmp_path, ("test proteins",), "pytest")
    update_card(card_path, lambda card: card.replace(reference=section))
    return card_path


def test_load_refuses_a_reference_whose_checksum_differs(tmp_path: Path, reference: Reference) -> None:
    card_path = _bundle_with_reference(tmp_path, reference, None)
    assert len(Reference.load(card_path)) == len(reference)
    path = tmp_path / f"multiloc{homology.REFERENCE_SUFFIX}"
    Reference(reference.entries[:2], reference.sequences[:2]).write(path)  # another file under the same name
    with pytest.raises(BundleError, match="checksum mismatch"):
        Reference.load(card_path)


def test_references_read_from_one_file_share_it_until_it_changes(tmp_path: Path, reference: Reference) -> None:
    card_path = _bundle_with_reference(tmp_path, reference, None)
    first, second = Reference.load(card_path), Reference.load(card_path, sensitivity="default")
    assert second.entries is first.entries  # parsed once per process (each Predictor reads the card's)
    assert second._by_sequence is first._by_sequence  # and indexed once
    assert second.sensitivity == "default" and first.sensitivity != "default"  # options stay per object
    path = tmp_path / f"multiloc{homology.REFERENCE_SUFFIX}"
    assert Reference.read(path).entries is Reference.read(path).entries
    Reference(reference.entries[:2], reference.sequences[:2]).write(path)
    assert len(Reference.read(path)) == 2  # rewritten on disk: read again
    with pytest.raises(BundleError, match="checksum mismatch"):
        Reference.load(card_path)  # and checked again
    subset = dataclasses.replace(first, entries=first.entries[:3], sequences=first.sequences[:3])
    assert subset.known(ProteinRecord("x", first.sequences[4])) == []  # a new reference gets its own index


def test_load_says_how_to_build_a_missing_reference(tmp_path: Path) -> None:
    card_path = make_tiny_bundle(tmp_path / "plain", MULTILOC_CLASSES)
    with pytest.raises(BundleError, match="locviz reference"):
        Reference.load(card_path)


def test_combination_trusts_close_hits_and_falls_back_to_the_model() -> None:
    c = Combination(slope=10.0, midpoint=0.5)
    model = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.7, 0.2, 0.1]])
    combined = c.combine(model, np.array([2, 2, -1]), np.array([0.95, 0.2, np.nan]))
    assert np.allclose(combined.sum(1), 1.0)
    assert combined.argmax(1).tolist() == [2, 0, 0]  # close hit wins; distant hit and no hit keep the model's call
    assert np.allclose(combined[2], model[2])


def test_fit_learns_to_trust_hits_that_are_right() -> None:
    rng = np.random.default_rng(0)
    n, classes = 600, 4
    labels = rng.integers(0, classes, n)
    identity = rng.uniform(0.2, 1.0, n)
    right = rng.random(n) < identity  # closer hits are right more often
    hit_class = np.where(right, labels, (labels + 1) % classes)
    model = np.full((n, classes), 0.25)  # a model that knows nothing
    fitted = homology.fit_combination(model, labels, hit_class, identity)
    assert fitted.weight(0.95) > 0.5 > fitted.weight(0.25)
    combined = fitted.combine(model, hit_class, identity).argmax(1)
    assert (combined == labels).mean() > 0.55


def test_evidence_sentences(reference: Reference, proteins: dict[str, str]) -> None:
    from conftest import synthetic_prediction

    pred = synthetic_prediction(length=180, seen_upto=None, pid="whatever")
    pred.sequence = proteins["P00002"]
    ev = homology.evidence(pred, reference)
    assert ev.sentence.startswith("known: ER (P00002 is in the reference set")
    assert ev.hits[0].accession == "P00002"
    pred.sequence = mutate(np.random.default_rng(5), proteins["P00004"], 0.3)
    ev = homology.evidence(pred, reference)
    assert ev.sentence.startswith("closest annotated protein P00004, ")
    found = re.search(r"P00004, \d\d% identity over (99(\.\d)?|100)% of the query, E = \de-\d\d: vacuolar — ",
                      ev.sentence)  # fmt: skip
    assert found, ev.sentence
    assert "too distant" not in ev.sentence  # ~70 % identity: a hit the support verdict counts
    distant = homology.Hit("P00004", "vacuolar", identity=0.36, coverage=0.9, evalue=1e-5, bitscore=50.0, fold=1)
    sentence = homology.describe("vacuolar", [distant], [])  # a user read "36 % ... agrees" beside "too distant"
    assert sentence.endswith("vacuolar — agrees with the model (too distant to confirm or contradict the call: the "
                             "support verdict counts hits of at least 40% identity over 50% of the query)")  # fmt: skip
    partial = homology.Hit("P00004", "vacuolar", identity=0.9, coverage=0.3, evalue=1e-5, bitscore=50.0, fold=1)
    one_domain = homology.describe("vacuolar", [partial], [])  # one shared domain
    assert "(covers too little of the query to confirm" in one_domain
    pred.sequence = random_protein(np.random.default_rng(42))
    assert homology.evidence(pred, reference).sentence.startswith("no annotated protein")


def test_a_variant_named_as_a_training_protein_is_reported_as_found_and_not_counted(
    reference: Reference, proteins: dict[str, str]
) -> None:
    """Its accession is in the reference with another sequence: the nearest protein is its real hit (not identity
    1 to itself), the sentence names the entry, and the support verdict does not count it."""
    from conftest import synthetic_prediction

    pred = synthetic_prediction(length=180, seen_upto=None, pid="sp|P00004|VAR_HUMAN")
    pred.sequence = mutate(np.random.default_rng(5), proteins["P00004"], 0.3)
    ev = homology.evidence(pred, reference)
    assert not ev.known and [e.accession for e in ev.variant_of] == ["P00004"]
    assert ev.hits[0].accession == "P00004" and ev.other_hits == tuple(h for h in ev.hits if h.accession != "P00004")
    assert "its accession P00004 is in the reference set with another sequence (vacuolar" in ev.sentence
    columns = homology.evidence_columns(ev)
    assert columns["nearest_id"] == "P00004" and columns["nearest_identity"] == round(ev.hits[0].identity, 4) < 0.9
    hint = columns["homology_hint"]
    assert hint.variant_of == "P00004" and hint.itself == "" and hint.accession != "P00004"
    from locviz.calibration import SupportThresholds, assess

    support = assess(0.95, pred.label, pred.sequence, SupportThresholds(), None, hint)
    assert any("Its accession P00004 is in the reference set with another sequence" in r for r in support.reasons)


def test_predict_neighbours_adds_the_columns(
    tmp_path: Path, reference: Reference, proteins: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    card_path = _bundle_with_reference(tmp_path, reference, Combination(10.0, 0.5))
    variant = mutate(np.random.default_rng(8), proteins["P00003"], 0.3)
    stranger = random_protein(np.random.default_rng(123))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">self\n{proteins['P00001']}\n>variant\n{variant}\n>stranger\n{stranger}\n")
    out = tmp_path / "out.tsv"
    code = cli.main(["predict", str(fasta), "--model", str(card_path), "--out", str(out), "--neighbours",
                     "--no-progress", "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = {r["id"]: r for r in csv.DictReader(out.open(), delimiter="\t")}
    assert set(homology.COLUMNS) <= set(next(iter(rows.values())))
    assert (rows["self"]["nearest_id"], float(rows["self"]["nearest_identity"])) == ("P00001", 1.0)
    assert rows["self"]["nearest_location"] == "mitochondrial" == rows["self"]["combined"]
    assert rows["variant"]["nearest_id"] == "P00003" and 0.55 < float(rows["variant"]["nearest_identity"]) < 0.85
    variant = rows["variant"]  # the app's hit details are columns too
    assert 0.9 < float(variant["nearest_coverage"]) <= 1.0 and 0 <= float(variant["nearest_evalue"]) < 1e-10
    assert 1 / len(MULTILOC_CLASSES) <= float(variant["combined_confidence"]) <= 1  # the combined call's probability
    assert rows["stranger"]["nearest_id"] == "" and rows["stranger"]["combined"] == rows["stranger"]["prediction"]
    assert rows["stranger"]["nearest_coverage"] == rows["stranger"]["nearest_evalue"] == ""
    plain = tmp_path / "plain.tsv"
    assert cli.main(["predict", str(fasta), "--model", str(card_path), "--out", str(plain), "--no-progress"]) == 0
    assert "nearest_id" not in plain.read_text().splitlines()[0]

    # --hits: every hit the search found (the app's hits list), best first; the table's nearest_* is the first
    hits_path = tmp_path / "hits.csv"
    code = cli.main(["predict", str(fasta), "--model", str(card_path), "--out", str(tmp_path / "again.tsv"),
                     "--neighbours", "--hits", str(hits_path), "--no-progress", "--device", "cpu"])  # fmt: skip
    assert code == 0 and "(homology hits)" in capsys.readouterr().err
    hits = list(csv.DictReader(hits_path.open(newline="")))
    assert list(hits[0]) == list(homology.HIT_COLUMNS) and {h["id"] for h in hits} <= {"self", "variant"}
    for protein in ("self", "variant"):
        mine = [h for h in hits if h["id"] == protein]
        assert [int(h["rank"]) for h in mine] == list(range(1, len(mine) + 1)) and len(mine) <= homology.MAX_HITS
        assert mine[0]["accession"] == rows[protein]["nearest_id"]
        assert float(mine[0]["identity"]) == float(rows[protein]["nearest_identity"])
        assert mine[0]["uniprot"] == homology.uniprot_url(mine[0]["accession"])
        assert [float(h["bitscore"]) for h in mine] == sorted((float(h["bitscore"]) for h in mine), reverse=True)
    assert cli.main(["predict", str(fasta), "--model", str(card_path), "--out", str(tmp_path / "x.tsv"), "--hits",
                     str(tmp_path / "h.tsv"), "--no-progress"]) == 1  # fmt: skip
    assert "add --neighbours" in capsys.readouterr().err and not (tmp_path / "h.tsv").exists()
    before = set(tmp_path.iterdir())  # no aligner: refused before any output (not even an empty .partial) is made
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCVIZ_DIAMOND", str(tmp_path / "no-diamond-here"))
        assert cli.main(["predict", str(fasta), "--model", str(card_path), "--out", str(tmp_path / "n.tsv"),
                         "--neighbours", "--hits", str(tmp_path / "nh.tsv"), "--no-progress"]) == 1  # fmt: skip
    assert "DIAMOND" in capsys.readouterr().err and set(tmp_path.iterdir()) == before


def _fake_multiloc(folder: Path, rng: np.random.Generator) -> dict[str, str]:
    """Two random proteins per MultiLoc compartment, folds 0-2 (0 is the test fold)."""
    folder.mkdir()
    rows, seqs = ["accession\tlocation\tfold"], {}
    for k, location in enumerate(MULTILOC_CLASSES):
        with open(folder / f"{location}.fasta", "w") as handle:
            for j in range(2):
                acc = f"Q{k:02d}{j}"
                seqs[acc] = random_protein(rng, 120)
                handle.write(f">{acc}\n{seqs[acc]}\n")
                rows.append(f"{acc}\t{location}\t{(k + j) % 3}")
    (folder / "folds.tsv").write_text("\n".join(rows) + "\n")
    return seqs


def test_reference_command_writes_the_file_and_the_card_section(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    seqs = _fake_multiloc(tmp_path / "data", np.random.default_rng(4))
    card_path = make_tiny_bundle(tmp_path / "model", MULTILOC_CLASSES)
    base = ["reference", "--model", str(card_path), "--dataset", "multiloc", "--data", str(tmp_path / "data"),
            "--no-fit", "--no-progress", "--device", "cpu"]  # fmt: skip
    assert cli.main([*base, "--folds", "0", "1"]) == 1
    assert "test fold" in capsys.readouterr().err
    assert cli.main([*base, "--folds", "1", "2"]) == 0
    _, card = read_card(card_path)
    assert card.reference is not None and card.reference.file == f"model{homology.REFERENCE_SUFFIX}"
    ref = Reference.load(load_bundle(card_path, device="cpu"))
    assert len(ref) == card.reference.n_proteins == sum(1 for k in range(11) for j in range(2) if (k + j) % 3)
    assert {e.fold for e in ref.entries} == {1, 2}
    assert ref.known(ProteinRecord("x", seqs["Q001"]))[0].location == "ER"


def test_a_missing_aligner_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCVIZ_DIAMOND", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("diamond") is None
    with pytest.raises(homology.SearchError, match="apt-get install diamond-aligner"):
        homology.diamond_program()


def test_the_combined_call_respects_the_organism(proteins: dict[str, str]) -> None:
    from locviz.datasets import DEEPLOC_CLASSES
    from locviz.prediction import Prediction

    sequence = proteins["P00001"]
    ref = Reference((RefEntry("PLAST1", "Plastid", "deeploc", 0),), (sequence,), threads=1,
                    combination=Combination(10.0, 0.5))  # fmt: skip
    probabilities = np.full(len(DEEPLOC_CLASSES), 1 / len(DEEPLOC_CLASSES))
    pred = Prediction("q", sequence, list(DEEPLOC_CLASSES), probabilities, np.full(len(sequence), 1 / len(sequence)),
                      np.ones(len(sequence), bool), "deeploc")  # fmt: skip
    assert homology.evidence(pred, ref).combined_label == "Plastid"
    pred.organism = "animal"
    ev = homology.evidence(pred, ref)
    assert ev.combined_label != "Plastid" and ev.combined[DEEPLOC_CLASSES.index("Plastid")] == 0
    assert ev.combined.sum() == pytest.approx(1.0)
    assert ev.sentence.startswith("known: plastid, which animals do not have (PLAST1")
    assert ev.sentence.endswith("— neither for nor against the call")
    ref.close()


def test_a_hit_is_read_as_the_organism_reads_the_classes() -> None:
    """A yeast vacuolar homologue of an animal protein speaks for lysosomal (as the combined call and the
    probabilities already read it); a chloroplast paralogue of an animal protein speaks for nothing."""
    vacuolar = homology.Hit("YVAC1", "vacuolar", identity=0.8, coverage=0.95, evalue=1e-40, bitscore=200.0, fold=1)
    sentence = homology.describe("lysosomal", [vacuolar], [], organism="animal")
    assert sentence.endswith("vacuolar (lysosomal in animals) — agrees with the model")
    assert homology.describe("lysosomal", [vacuolar], []).endswith("vacuolar — the model says lysosomal")
    plastid = dataclasses.replace(vacuolar, location="chloroplast")
    sentence = homology.describe("mitochondrial", [plastid], [], organism="animal")
    assert sentence.endswith("chloroplast, which animals do not have — neither for nor against the call")


def test_identity_and_evalue_are_never_rounded_into_what_they_are_not() -> None:
    """A point mutant of a 1,501-residue protein is not "100 % identical", and E = 0 is no "0e+00"."""
    near = homology.Hit("A1", "nuclear", identity=0.999, coverage=1.0, evalue=0.0, bitscore=3000.0, fold=1)
    sentence = homology.describe("nuclear", [near], [])
    assert "A1, 99.9% identity over 100% of the query, E = 0 (below what the search can report):" in sentence
    closer = dataclasses.replace(near, identity=0.99996)
    ev = homology.Evidence((closer,), (), "", None, None)
    assert homology.evidence_columns(ev)["nearest_identity"] == 0.9999  # the table's column is no identity either


@pytest.mark.parametrize(("name", "folds"), [("multiloc", {1, 2, 3, 4}), ("deeploc", set(range(8)))])
def test_shipped_reference_sets_match_their_cards(name: str, folds: set[int]) -> None:
    """The shipped files load with their checksums, hold the training folds only, and carry a current fit."""
    _, card = read_card(name)
    ref = Reference.load(name)
    assert len(ref) == card.reference.n_proteins
    assert {e.fold for e in ref.entries} == folds  # MultiLoc's test fold 0 is never in the reference
    assert set(ref.locations) == set(card.classes)
    assert ref.combination is not None, "fitted for other weights: rerun 'locviz reference' (see the card's command)"
    assert 0 < ref.combination.weight(0.3) < ref.combination.weight(0.9) < 1


def test_a_hung_diamond_is_killed_and_reported(tmp_path: Path) -> None:
    hung = tmp_path / "diamond"
    hung.write_text("#!/bin/sh\nsleep 30\n")
    hung.chmod(0o755)
    with pytest.raises(homology.SearchError, match="did not finish .*blastp within 0 s, twice"):
        homology._run([str(hung), "blastp"], timeout=0.3)
