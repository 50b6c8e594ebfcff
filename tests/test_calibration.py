"""Temperature scaling, ECE, the support verdict, and calibration wired through the card, Predictor and CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import HISTONE_H4, HUMAN_INSULIN, UBIQUITIN, tiny_config

from locviz import calibration, cli
from locviz.calibration import ClassCalls, HomologyHint, SupportThresholds, assess
from locviz.card import CalibrationCard, MemberTraining, ModelCard
from locviz.datasets import DEEPLOC_CLASSES, load_dataset
from locviz.encoding import LengthPolicy
from locviz.errors import BundleError, InputError
from locviz.examples import by_accession
from locviz.model import ConvLSTM, Ensemble
from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.sequences import ProteinRecord
from locviz.weights import load_bundle, read_card, save_bundle, update_card

THRESHOLDS = SupportThresholds(high=0.8, low=0.5)
ORDINARY = HUMAN_INSULIN  # 110 residues, ordinary composition


def sample_labels(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cumulative = probs.cumsum(axis=1)
    return (rng.random((len(probs), 1)) > cumulative).sum(axis=1).clip(0, probs.shape[1] - 1)


# ----------------------------------------------------------------------------- temperature and ECE
@pytest.mark.parametrize("objective", calibration.OBJECTIVES)
def test_fit_temperature_recovers_a_known_temperature(objective: str) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 6))
    labels = sample_labels(calibration.softmax(logits / 2.0), rng)  # the truth is 2x softer than the logits
    assert calibration.fit_temperature(logits, labels, objective) == pytest.approx(2.0, rel=0.05)
    # log-probabilities are logits up to a constant per row: the same answer
    logp = calibration.log_probabilities(calibration.softmax(logits))
    assert calibration.fit_temperature(logp, labels, objective) == pytest.approx(2.0, rel=0.05)


def test_top_label_loss_is_the_log_loss_of_the_top_probability_even_when_confidently_wrong() -> None:
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(0, 3, size=(500, 6)), rng.integers(0, 6, size=500)
    probs = calibration.softmax(logits / 1.5)
    top, right = probs.max(axis=1), probs.argmax(axis=1) == labels
    plain = -np.mean(np.where(right, np.log(top), np.log(1 - top)))
    assert calibration.top_label_loss(logits, labels, 1.5) == pytest.approx(plain, rel=1e-9)
    # p(top) = 1 / (1 + 2 e^-1000): 1 - p(top) underflows in floating point, the loss must not
    wrong = calibration.top_label_loss(np.array([[100.0, 0.0, 0.0]]), np.array([1]), 0.1)
    assert wrong == pytest.approx(1000 - np.log(2), rel=1e-12)


def test_the_top_label_objective_calibrates_what_users_read_where_nll_overshoots() -> None:
    """A label-smoothed model (mass spread evenly over the other classes): NLL sharpens it to fit that spread and
    overstates the top class; the top-label objective fits the top class's probability itself (lower ECE)."""
    rng = np.random.default_rng(0)
    truth = calibration.softmax(rng.normal(0, 3, size=(20_000, 10)))
    labels = sample_labels(truth, rng)
    smoothed = calibration.log_probabilities(0.9 * truth + 0.1 / 10)
    ece = {objective: calibration.expected_calibration_error(
        calibration.softmax(smoothed / calibration.fit_temperature(smoothed, labels, objective)), labels)
        for objective in calibration.OBJECTIVES}  # fmt: skip
    assert ece["top-label"] < 0.7 * ece["nll"] < calibration.expected_calibration_error(np.exp(smoothed), labels)
    with pytest.raises(InputError, match="objective must be one of top-label, nll"):
        calibration.fit_temperature(smoothed, labels, "ece")


def test_ece_is_near_zero_for_a_calibrated_set_and_large_for_an_overconfident_one() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5) * 0.7, size=50_000)
    labels = sample_labels(probs, rng)
    assert calibration.expected_calibration_error(probs, labels) < 0.01
    sharpened = calibration.scale(probs, 0.4)  # same calls, far more confident
    assert calibration.expected_calibration_error(sharpened, labels) > 0.1


def test_reliability_bins() -> None:
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.55, 0.45], [0.45, 0.55]])
    labels = np.array([0, 1, 0, 1])
    rel = calibration.reliability(probs, labels, n_bins=15)
    assert len(rel.edges) == 16 and sum(rel.count) == 4
    # 0.95 falls in the last bin [0.933, 1] (right), 0.9 in [0.867, 0.933] (wrong), both 0.55 in [0.533, 0.6]
    assert rel.count[14] == 1 and rel.accuracy[14] == 1.0
    assert rel.count[13] == 1 and rel.accuracy[13] == 0.0
    assert rel.count[8] == 2 and rel.accuracy[8] == 1.0 and rel.confidence[8] == pytest.approx(0.55)
    assert rel.accuracy[0] is None and rel.count[0] == 0
    assert rel.ece == pytest.approx((abs(1 - 0.95) + abs(0.9 - 0.0) + 2 * abs(1 - 0.55)) / 4)
    assert calibration.Reliability.from_dict(json.loads(json.dumps(rel.to_dict()))).count == rel.count


def test_scale_keeps_the_call_and_softens_it() -> None:
    probs = np.array([[0.7, 0.2, 0.1]])
    soft = calibration.scale(probs, 2.0)
    assert soft.argmax() == 0 and soft.max() < 0.7 and soft.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(calibration.scale(probs, 1.0), probs)
    with pytest.raises(InputError, match="temperature"):
        calibration.scale(probs, 0.0)


def test_choose_thresholds_meets_the_target() -> None:
    rng = np.random.default_rng(2)
    confidence = rng.random(5000)
    correct = rng.random(5000) < confidence  # right as often as it is confident
    t = calibration.choose_thresholds(confidence, correct)
    assert correct[confidence >= t.high].mean() >= 0.9
    assert correct[confidence < t.low].mean() <= 0.5
    assert 0.8 <= t.high < 0.9 and t.low <= t.high  # calls >= t.high are right about (1 + t.high) / 2 of the time


# ----------------------------------------------------------------------------- the support verdict
def test_confident_ordinary_call_with_agreeing_members_is_high() -> None:
    verdict = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, ["Nucleus"] * 4)
    assert verdict.level == "high"
    assert verdict.reasons[0].startswith("Calibrated confidence 0.95 (high")
    assert "All 4 members call Nucleus." in verdict.reasons


def test_disagreeing_members_cap_the_verdict_at_medium() -> None:
    verdict = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, ["Nucleus", "Cytoplasm", "Cytoplasm", "Nucleus"])
    assert verdict.level == "medium"
    assert verdict.reasons[0] == ("Support is medium, not high as the calibrated confidence alone would make it: "
                                  "members disagree.")  # fmt: skip
    assert "Members disagree: 2 of 4 call Cytoplasm." in verdict.reasons
    # dissenters that differ among themselves are each counted (a user found "2 of 5 call Plastid" for 1 Plastid)
    verdict = assess(0.95, "Cytoplasm", ORDINARY, THRESHOLDS,
                     ["Cytoplasm", "Plastid", "Cytoplasm", "Nucleus", "Cytoplasm"])  # fmt: skip
    assert "Members disagree: 2 of 5 call other classes (1 Plastid, 1 Nucleus)." in verdict.reasons


@pytest.mark.parametrize(
    ("confidence", "hit", "level", "why"),
    [
        (0.60, "Nucleus", "high", "a similar annotated protein is in the same compartment"),
        (0.95, "Cytoplasm", "medium", "a similar annotated protein is in another compartment"),
    ],
)
def test_the_reason_that_moves_the_verdict_comes_first(confidence: float, hit: str, level: str, why: str) -> None:
    """A verdict other than the confidence's own level starts with what moved it (the first sentence used to give
    the confidence's level, contradicting the verdict beside it)."""
    verdict = assess(confidence, "Nucleus", ORDINARY, THRESHOLDS, ["Nucleus"] * 4, HomologyHint(0.9, hit, "P1", 0.9))
    base = "medium" if confidence < THRESHOLDS.high else "high"
    assert verdict.level == level
    alone = "as the calibrated confidence alone would make it"
    assert verdict.reasons[0] == f"Support is {level}, not {base} {alone}: {why}."
    unmoved = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, ["Nucleus"] * 4, HomologyHint(0.9, "Nucleus", "P1", 0.9))
    assert unmoved.level == "high" and unmoved.reasons[0].startswith("Calibrated confidence 0.95 (high")


@pytest.mark.parametrize(
    ("sequence", "words"),
    [
        ("MKVLAAGIVGLLLA" * 3, "Very short (42 residues"),
        ("M" + "Q" * 120 + HISTONE_H4, "Low complexity"),
        (UBIQUITIN + "X" * 10, "Many unknown residues"),
        ("X" * 48, "Many unknown residues (100%"),
        ("MKVLAAGIVG" + "A" * 30 + HUMAN_INSULIN[:40], "Unusual composition"),
    ],
)
def test_a_sequence_unlike_the_training_proteins_is_low_with_the_reason_first(sequence: str, words: str) -> None:
    verdict = assess(0.97, "Nucleus", sequence, THRESHOLDS, ["Nucleus"] * 4, HomologyHint(0.9, "Nucleus", "P1", 0.9))
    assert verdict.level == "low"  # confidence 0.97, all members agree, a close homolog agrees: still low
    first_other = next(i for i, r in enumerate(verdict.reasons) if not calibration.ood_signs(sequence).count(r))
    assert any(r.startswith(words) for r in verdict.reasons[:first_other]), verdict.reasons
    assert verdict.reasons[first_other].startswith("Support is low because the sequence is unlike the proteins")


def test_a_very_long_protein_is_capped_at_medium_only() -> None:
    rng = np.random.default_rng(7)  # a protein's composition (PDI's), no repeats: length is its only sign
    sequence = "M" + "".join(rng.choice(list(by_accession("P07237").sequence), 5199))
    assert [s.kind for s in calibration.ood_checks(sequence)] == ["long"]
    verdict = assess(0.97, "Nucleus", sequence, THRESHOLDS, ["Nucleus"] * 4)
    assert verdict.level == "medium"
    assert verdict.reasons[0] == ("Support is medium, not high as the calibrated confidence alone would make it: the "
                                  "sequence is very long.")  # fmt: skip
    assert verdict.reasons[1].startswith("Calibrated confidence 0.97")
    assert any(r.startswith("Very long (5,200 residues") for r in verdict.reasons)


def test_ordinary_proteins_show_no_out_of_distribution_sign() -> None:
    for sequence in (HUMAN_INSULIN, UBIQUITIN, HISTONE_H4):
        assert calibration.ood_signs(sequence) == []


def test_homology_raises_lowers_or_flags_distance() -> None:
    agree = assess(0.6, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(0.62, "Nucleus", "P12345"))
    assert agree.level == "high"
    assert "Nearest annotated protein P12345 (62% identity) is in Nucleus too." in agree.reasons
    disagree = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(0.8, "Cytoplasm"))
    assert disagree.level == "medium"
    assert disagree.reasons[-1] == "Nearest annotated protein (80% identity) is in Cytoplasm, not Nucleus."
    far = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(None))
    assert far.level == "medium" and "No annotated reference protein is similar (no hit)." in far.reasons
    with pytest.raises(InputError, match="fraction 0-1"):
        HomologyHint(62.0, "Nucleus")
    with pytest.raises(InputError, match="coverage is a fraction 0-1"):
        HomologyHint(0.62, "Nucleus", coverage=95.0)


def test_a_verdict_without_a_homology_search_says_it_lacks_that_check() -> None:
    """Shuffled proteins got "high" from multiloc without --neighbours (benchmarks/nonsense_inputs.py): the verdict
    cannot know that no relative exists unless someone searched, so it says it did not."""
    unsearched = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, ["Nucleus"] * 4)
    assert unsearched.level == "high" and unsearched.reasons[-1] == calibration.NOT_SEARCHED
    assert "no homology search was run" in calibration.NOT_SEARCHED and "at most medium" in calibration.NOT_SEARCHED
    searched = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, ["Nucleus"] * 4, HomologyHint(None))
    assert calibration.NOT_SEARCHED not in searched.reasons and searched.level == "medium"


def test_a_hit_counts_as_the_organism_reads_its_compartment() -> None:
    """An animal lysosomal call beside a yeast vacuolar homologue is confirmed, not contradicted (the combined call
    reads the counterpart the same way); a chloroplast hit beside an animal call moves nothing."""
    hint = HomologyHint(0.8, "vacuolar", "YVAC1", 0.95)
    animal = assess(0.6, "lysosomal", ORDINARY, THRESHOLDS, None, hint, organism="animal")
    assert animal.level == "high"
    assert "Nearest annotated protein YVAC1 (80% identity over 95% of the query) is in vacuolar (lysosomal in " \
           "animals) too." in animal.reasons  # fmt: skip
    assert assess(0.6, "lysosomal", ORDINARY, THRESHOLDS, None, hint).level == "low"  # any organism: a contradiction
    chloroplast = dataclasses.replace(hint, location="chloroplast")
    plastid = assess(0.6, "mitochondrial", ORDINARY, THRESHOLDS, None, chloroplast, organism="animal")
    assert plastid.level == "medium"
    assert plastid.reasons[-1].endswith("is in chloroplast, which animals do not have: it neither confirms nor "
                                        "contradicts the call.")  # fmt: skip


def test_a_training_label_is_read_through_the_organism_before_it_contradicts_the_call() -> None:
    """A training protein annotated vacuolar, predicted for an animal: lysosomal is its own label read for animals."""
    classes = ["lysosomal", "vacuolar", "nuclear"]
    n = len(ORDINARY)
    pred = Prediction("P1", ORDINARY, classes, np.array([0.7, 0.0, 0.3]), np.full(n, 1 / n), np.ones(n, bool), "m",
                      organism="animal", extra={"known_location": "vacuolar"})  # fmt: skip
    assert not any("contradicts its own label" in r for r in calibration.support_for(pred, THRESHOLDS).reasons)
    pred.extra["known_location"] = "nuclear"
    assert any("contradicts its own label" in r for r in calibration.support_for(pred, THRESHOLDS).reasons)


def test_a_confidence_just_under_a_cut_off_is_not_printed_as_on_it() -> None:
    reasons = assess(0.7996, "Nucleus", ORDINARY, THRESHOLDS, None).reasons  # high at 0.8
    assert reasons[0].startswith("Calibrated confidence 0.800 (medium: 0.50-0.80)")
    assert assess(0.7, "Nucleus", ORDINARY, THRESHOLDS, None).reasons[0].startswith("Calibrated confidence 0.70 (")


def test_percentages_never_round_into_identity_or_nothing() -> None:
    assert [calibration.percent(f) for f in (1.0, 0.999, 0.9996, 0.995, 0.994, 0.62, 0.001, 0.0)] == [
        "100%", "99.9%", "99.9%", "99.5%", "99%", "62%", "0.1%", "0%"]  # fmt: skip


def test_a_proteins_own_reference_entry_is_not_support() -> None:
    """Issue 12: the protein itself (identity 1.0, training data) never raises the verdict; only another hit can."""
    alone = assess(0.6, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(None, itself="P12345"))
    assert alone.level == "medium"  # as without homology, and capped: no *other* protein is similar
    assert any("itself in the reference set (P12345" in r and "not independent support" in r for r in alone.reasons)
    assert "No other annotated reference protein is similar (no hit)." in alone.reasons
    other = assess(0.6, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(0.7, "Nucleus", "Q1", 0.9, "P12345"))
    assert other.level == "high"  # an independent homolog still counts
    assert "Nearest other annotated protein Q1 (70% identity over 90% of the query) is in Nucleus too." in other.reasons


def test_a_hit_over_a_small_part_of_the_query_confirms_nothing() -> None:
    part = assess(0.6, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(0.95, "Nucleus", "Q1", coverage=0.2))
    assert part.level == "medium" and any("covers too little of the protein" in r for r in part.reasons)
    against = assess(0.95, "Nucleus", ORDINARY, THRESHOLDS, None, HomologyHint(0.95, "Cytoplasm", "Q1", coverage=0.2))
    assert against.level == "high"  # nor does it count against the call


def test_a_call_of_a_weak_class_carries_its_cross_validated_mcc() -> None:
    rules = SupportThresholds(high=0.8, low=0.5, class_mcc=(("Nucleus", 0.71), ("Peroxisome", 0.18)))
    weak = assess(0.95, "Peroxisome", ORDINARY, rules, None)
    assert "Weak class: Peroxisome had a cross-validated MCC of 0.18 (under 0.5)" in weak.text
    assert weak.level == "high"  # a note, not a penalty: the confidence thresholds were measured on every class
    assert "Weak class" not in assess(0.95, "Nucleus", ORDINARY, rules, None).text
    assert "Weak class" not in assess(0.95, "Golgi", ORDINARY, rules, None).text  # no figure: no note


def test_a_call_of_a_class_whose_calls_were_often_other_proteins_says_which() -> None:
    """Rare classes the model misses end up in another class's calls (peroxisomal proteins called cytoplasmic):
    a confident call of that class names them, from cross-validation."""
    mixed = ClassCalls("Cytoplasm", 100, 60, (("Nucleus", 30), ("Peroxisome", 8), ("Golgi", 1), ("Plastid", 1)))
    calls = (mixed, ClassCalls("Nucleus", 100, 95, (("a", 5),)), ClassCalls("Golgi", 10, 2, (("Nucleus", 8),)))
    rules = SupportThresholds(high=0.8, low=0.5, class_calls=calls)
    verdict = assess(0.95, "Cytoplasm", ORDINARY, rules, None)
    assert ("In cross-validation 60% of the 100 Cytoplasm calls were right; the wrong ones were mostly Nucleus (30), "
            "Peroxisome (8), Golgi (1) proteins.") in verdict.text  # fmt: skip
    assert verdict.level == "high"  # a note, like the weak-class one: the thresholds were measured on every class
    assert "In cross-validation" not in assess(0.95, "Nucleus", ORDINARY, rules, None).text  # 95 % right
    assert "In cross-validation" not in assess(0.95, "Golgi", ORDINARY, rules, None).text  # too few calls to say


def test_a_call_against_the_protein_s_own_training_label_is_low() -> None:
    pred = Prediction("q", HUMAN_INSULIN, ["Nucleus", "Cytoplasm"], np.array([0.05, 0.95]),
                      np.full(len(HUMAN_INSULIN), 1 / len(HUMAN_INSULIN)), np.ones(len(HUMAN_INSULIN), bool), "m",
                      extra={"known_location": "Nucleus"})  # fmt: skip
    verdict = calibration.support_for(pred, THRESHOLDS)
    assert verdict.level == "low"
    assert verdict.reasons[0] == ("This very protein is annotated Nucleus in the model's training data, not "
                                  "Cytoplasm: the call contradicts its own label.")  # fmt: skip
    pred.extra["known_location"] = "Cytoplasm"
    assert calibration.support_for(pred, THRESHOLDS).level == "high"


def test_class_mcc_is_read_from_the_members_validation_folds_added_up() -> None:
    """Cross-validated, never the test fold: each member's confusion matrix on its own validation fold, summed."""
    classes = ("a", "b")
    members = (
        MemberTraining(validation_fold=1, validation={"classes": list(classes), "confusion_matrix": [[8, 2], [1, 9]]}),
        MemberTraining(validation_fold=2, validation={"classes": list(classes), "confusion_matrix": [[5, 5], [0, 10]]}),
    )
    card = ModelCard(classes, tiny_config(2), LengthPolicy(200), training=members,
                     metrics={"test_fold0": {"per_class_mcc": {"a": -1.0, "b": -1.0}}})  # fmt: skip
    from locviz.metrics import per_class_mcc

    expected = per_class_mcc(np.array([[13, 7], [1, 19]]))
    assert calibration.class_mcc_of(card) == pytest.approx(dict(zip(classes, expected, strict=True)), abs=1e-4)
    assert calibration.thresholds_of(card).mcc("a") == pytest.approx(expected[0], abs=1e-4)
    assert calibration.thresholds_of(card).class_calls == (ClassCalls("a", 14, 13, (("b", 1),)),
                                                           ClassCalls("b", 26, 19, (("a", 7),)))  # fmt: skip
    assert calibration.class_mcc_of(ModelCard(classes, tiny_config(2), LengthPolicy(200))) == {}


def test_low_confidence_is_low() -> None:
    verdict = assess(0.3, "Golgi.apparatus", ORDINARY, THRESHOLDS, ["Golgi.apparatus"] * 2)
    assert verdict.level == "low" and "below 0.50" in verdict.reasons[0]


# ----------------------------------------------------------------------------- card, Predictor, CLI
def _trained_looking_bundle(folder: Path, validation_folds: tuple[int, ...]) -> Path:
    """A tiny deeploc-shaped bundle whose card says member k validated on validation_folds[k]."""
    torch.manual_seed(0)
    config = tiny_config(len(DEEPLOC_CLASSES))
    model = Ensemble([ConvLSTM(config) for _ in validation_folds])
    training = tuple(
        MemberTraining(dataset="deeploc", train_folds=tuple(f for f in range(4) if f != v), validation_fold=v)
        for v in validation_folds
    )
    card = ModelCard(DEEPLOC_CLASSES, config, LengthPolicy(200), training=training)
    return save_bundle(folder / "tinyloc", model, card)


def calibrate_by_hand(card_path: Path, temperature: float, member_temperatures: tuple[float, ...]) -> None:
    """Give the card a current calibration section with these temperatures (as if `locviz calibrate` had)."""
    section = CalibrationCard("member-temperatures", temperature, member_temperatures=member_temperatures,
                              metrics={"weights_sha256": read_card(card_path)[1].weights_sha256})  # fmt: skip
    update_card(card_path, lambda c: c.replace(calibration=section))


def _tiny_deeploc_data(folder: Path, n: int = 80) -> Path:
    rng = np.random.default_rng(5)
    folder.mkdir()
    fasta, folds = [], ["accession\tlocation\tfold\tmembrane"]
    for i in range(n):
        location = DEEPLOC_CLASSES[i % len(DEEPLOC_CLASSES)]
        seq = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), int(rng.integers(60, 150))))
        fasta.append(f">ACC{i:04d} {location}\n{seq}")
        folds.append(f"ACC{i:04d}\t{location}\t{i % 4}\t")
    (folder / "train.fasta").write_text("\n".join(fasta) + "\n")
    (folder / "folds.tsv").write_text("\n".join(folds) + "\n")
    return folder


def test_calibrate_command_stores_the_section_and_predictor_applies_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    card_path = _trained_looking_bundle(tmp_path, (0, 1))
    data = _tiny_deeploc_data(tmp_path / "data")
    code = cli.main(["calibrate", "--model", str(card_path), "--dataset", "deeploc", "--data", str(data),
                     "--no-progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "out-of-fold proteins: 40" in printed and "members' ECE (15 bins, top class): before" in printed
    assert "ensemble temperature: 1 (no --calibration-fold" in printed
    _, card = read_card(card_path)
    section = card.calibration
    assert section.method == "member-temperatures" and section.temperature == 1.0
    assert len(section.member_temperatures) == 2 and all(t > 0 for t in section.member_temperatures)
    assert section.calibration_fold is None and section.metrics["ensemble"]["fitted"] is False
    assert section.metrics["n"] == 40 and sum(section.metrics["reliability_after"]["count"]) == 40
    assert "member 0 on fold 0, member 1 on fold 1" in section.fitted_on
    assert set(section.metrics["support"]["thresholds"]) == {"high", "low"}

    # the Predictor scales each member at its own temperature, then averages (the raw mean is kept)
    bundle = load_bundle(card_path, device="cpu")
    calibrated, raw = Predictor(bundle), Predictor(bundle, calibrated=False)
    record = [ProteinRecord("insulin", HUMAN_INSULIN)]
    p, q = calibrated.predict(record)[0], raw.predict(record)[0]
    np.testing.assert_allclose(p.raw_probabilities, q.probabilities, rtol=1e-6)
    temps = section.member_temperatures
    scaled = np.stack([calibration.scale(m, t) for m, t in zip(q.member_probabilities, temps, strict=True)])
    np.testing.assert_allclose(p.member_probabilities, scaled, rtol=1e-6)
    np.testing.assert_allclose(p.probabilities, scaled.mean(axis=0), rtol=1e-6)
    assert p.extra["support"] in calibration.LEVELS and p.extra["support_reasons"]


def test_a_single_network_is_not_told_its_ensemble_temperature_is_missing(tmp_path: Path) -> None:
    """A fast student is one network: its own temperature is its whole calibration, and the card says so."""
    card_path = _trained_looking_bundle(tmp_path, (0,))
    data = _tiny_deeploc_data(tmp_path / "data")
    assert cli.main(["calibrate", "--model", str(card_path), "--dataset", "deeploc", "--data", str(data),
                     "--no-progress"]) == 0  # fmt: skip
    _, card = read_card(card_path)
    why = card.calibration.metrics["ensemble"]["why"]
    assert why.startswith("one network") and "calibration fold" not in why
    assert len(card.calibration.member_temperatures) == 1
    assert calibration.calibrator_of(card).describe().startswith("its logits divided by a temperature of")


def test_calibrator_scales_members_before_averaging_and_the_average_after() -> None:
    rng = np.random.default_rng(3)
    members = calibration.softmax(rng.normal(0, 2, size=(3, 5, 4)))
    c = calibration.Calibrator((0.5, 1.0, 2.0), 1.5)
    expected = calibration.scale(np.stack([calibration.scale(m, t) for m, t in zip(members, (0.5, 1.0, 2.0),
                                                                               strict=True)]).mean(0), 1.5)  # fmt: skip
    np.testing.assert_allclose(c.ensemble(members), expected, rtol=1e-9)
    np.testing.assert_allclose(c.torch_ensemble(torch.from_numpy(members)).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(calibration.Calibrator().ensemble(members), members.mean(0))
    assert calibration.Calibrator().is_identity and not c.is_identity
    # a member alone takes only its own temperature (the ensemble's undoes averaging, which it never went through)
    np.testing.assert_allclose(c.rows(members[2], np.full(5, 2)), calibration.scale(members[2], 2.0), rtol=1e-9)
    with pytest.raises(InputError, match="3 members but 2 member temperatures"):
        calibration.Calibrator((1.0, 2.0)).ensemble(members)
    with pytest.raises(InputError, match="finite number > 0"):
        calibration.Calibrator((1.0, 0.0))


def test_an_old_single_temperature_card_still_scales_the_averaged_distribution() -> None:
    card = ModelCard(DEEPLOC_CLASSES, tiny_config(len(DEEPLOC_CLASSES)), LengthPolicy(200),
                     calibration=CalibrationCard("temperature", 3.0))  # fmt: skip
    c = calibration.calibrator_of(card)
    assert c == calibration.Calibrator((), 3.0)
    members = calibration.softmax(np.random.default_rng(0).normal(0, 2, size=(2, 10)))
    np.testing.assert_allclose(c.ensemble(members), calibration.scale(members.mean(0), 3.0))


def test_the_ensemble_temperature_is_fitted_on_a_fold_its_members_never_trained_on(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Members 1 and 2 left fold 3 out of training: their average on fold 3 is an out-of-sample ensemble."""
    torch.manual_seed(0)
    config = tiny_config(len(DEEPLOC_CLASSES))
    training = (MemberTraining(dataset="deeploc", train_folds=(2, 3), validation_fold=1),
                MemberTraining(dataset="deeploc", train_folds=(1,), validation_fold=2),
                MemberTraining(dataset="deeploc", train_folds=(2,), validation_fold=1))  # fmt: skip
    card = ModelCard(DEEPLOC_CLASSES, config, LengthPolicy(200), training=training)
    card_path = save_bundle(tmp_path / "tinyloc", Ensemble([ConvLSTM(config) for _ in training]), card)
    data = _tiny_deeploc_data(tmp_path / "data")
    bundle = load_bundle(card_path, device="cpu")
    assert calibration.members_without(bundle.card, 3) == (1, 2)
    assert calibration.members_without(bundle.card, 2) == ()  # 0 and 2 trained on fold 2, 1 was validated on it
    with pytest.raises(BundleError, match="fold 1 cannot calibrate the ensemble: 0 member"):
        calibration.fit(bundle, load_dataset("deeploc", data), calibration_fold=1)
    with pytest.raises(BundleError, match="fold 0 is multiloc's test fold"):
        calibration.check_calibration_fold(bundle.card, "multiloc", 0)

    assert cli.main(["calibrate", "--model", str(card_path), "--dataset", "deeploc", "--data", str(data),
                     "--calibration-fold", "3", "--no-progress"]) == 0  # fmt: skip
    assert "ensemble temperature:" in capsys.readouterr().out
    section = read_card(card_path)[1].calibration
    assert section.calibration_fold == 3 and section.metrics["ensemble"]["members"] == [1, 2]
    assert section.metrics["ensemble"]["n"] == 20 and section.temperature == section.metrics["ensemble"]["temperature"]
    assert len(section.metrics["ensemble"]["accuracy_first_k_members"]) == 2  # the out-of-sample ensemble-gain curve
    # the fitted temperature is the NLL optimum of the members' calibrated average on fold 3
    loaded = load_bundle(card_path, device="cpu")
    fold = calibration.ensemble_fold(loaded, load_dataset("deeploc", data), 3)
    temps = [section.member_temperatures[k] for k in (1, 2)]
    logp = calibration.log_probabilities(calibration.Calibrator(tuple(temps)).ensemble(fold.member_probabilities))
    best = calibration.nll(logp, fold.labels, section.temperature)
    low, high = calibration.TEMPERATURE_BOUNDS  # (an untrained model's optimum may sit on a bound)
    for other in (max(section.temperature * 0.8, low), min(section.temperature * 1.25, high)):
        assert calibration.nll(logp, fold.labels, other) >= best - 1e-6
    # the next calibrate (e.g. after a member changes) keeps the card's calibration fold
    assert cli.main(["calibrate", "--model", str(card_path), "--dataset", "deeploc", "--data", str(data),
                     "--no-progress"]) == 0  # fmt: skip
    assert read_card(card_path)[1].calibration.calibration_fold == 3


def test_evaluate_scores_the_calibrated_call_and_reports_its_ece(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    card_path = _trained_looking_bundle(tmp_path, (1, 2))
    data = _tiny_deeploc_data(tmp_path / "data")
    calibrate_by_hand(card_path, 1.0, (0.2, 5.0))
    out = tmp_path / "report.json"
    assert cli.main(["evaluate", "--model", str(card_path), "--dataset", "deeploc", "--data", str(data),
                     "--folds", "1", "--device", "cpu", "--json", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "ECE:" in printed and "note: fold(s) 1 are where the card's temperatures were fitted" in printed
    report = json.loads(out.read_text())
    assert report["calibration"]["ece"] != report["calibration"]["ece_uncalibrated"]  # the temperatures were applied
    bundle = load_bundle(card_path, device="cpu")
    dataset = load_dataset("deeploc", data)
    idx = dataset.subset([1])
    predictor = Predictor(bundle)
    calls = [p.label for p in predictor.predict([dataset.records[i] for i in idx])]
    right = np.mean([c == dataset.classes[dataset.labels[i]] for c, i in zip(calls, idx, strict=True)])
    assert report["accuracy"] == pytest.approx(right)  # the call locviz predict makes, calibrated
    assert set(report["calibration"]) == {"ece", "ece_uncalibrated", "mean_confidence", "calibrated", "calibrator",
                                          "note"}


def test_a_stale_calibration_is_not_applied(tmp_path: Path) -> None:
    card_path = _trained_looking_bundle(tmp_path, (0, 1))
    stale = CalibrationCard("temperature", 3.0, metrics={"weights_sha256": "0" * 64})
    update_card(card_path, lambda c: c.replace(calibration=stale))
    assert Predictor(load_bundle(card_path, device="cpu")).calibrator.is_identity
    fresh = CalibrationCard("temperature", 3.0, metrics={"weights_sha256": read_card(card_path)[1].weights_sha256})
    update_card(card_path, lambda c: c.replace(calibration=fresh))
    assert Predictor(load_bundle(card_path, device="cpu")).calibrator == calibration.Calibrator((), 3.0)


def test_calibration_refuses_cards_without_validation_folds_or_on_a_test_fold(
    tmp_path: Path, tiny_weights_dir: Path
) -> None:
    with pytest.raises(BundleError, match="no training\\[0\\].validation_fold"):
        calibration.validation_folds(load_bundle(tiny_weights_dir / "deeploc.json", device="cpu"), "deeploc")
    card_path = _trained_looking_bundle(tmp_path, (0, 1))
    with pytest.raises(BundleError, match="test fold 0"):
        calibration.validation_folds(load_bundle(card_path, device="cpu"), "multiloc")


def test_evaluate_one_member_applies_only_its_own_temperature(tmp_path: Path) -> None:
    card_path = _trained_looking_bundle(tmp_path, (1, 2))
    data = _tiny_deeploc_data(tmp_path / "data")
    calibrate_by_hand(card_path, 4.0, (0.5, 3.0))
    out = tmp_path / "report.json"
    assert cli.main(["evaluate", "--model", str(card_path), "--dataset", "deeploc", "--data", str(data),
                     "--folds", "2", "--member", "1", "--device", "cpu", "--json", str(out)]) == 0  # fmt: skip
    bundle = load_bundle(card_path, device="cpu")
    dataset = load_dataset("deeploc", data)
    idx = dataset.subset([2])
    records = [dataset.records[i] for i in idx]
    raw = np.stack([p.member_probabilities[1] for p in Predictor(bundle, calibrated=False).predict(records)])
    expected = calibration.expected_calibration_error(calibration.scale(raw, 3.0), dataset.labels[idx])
    assert json.loads(out.read_text())["calibration"]["ece"] == pytest.approx(expected, abs=1e-4)  # T = 4 not applied


def test_a_card_with_the_wrong_number_of_member_temperatures_is_refused(tmp_path: Path) -> None:
    card_path = _trained_looking_bundle(tmp_path, (0, 1))
    data = json.loads(card_path.read_text())
    data["calibration"] = {"method": "member-temperatures", "temperature": 1.0, "member_temperatures": [1.2]}
    card_path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="member_temperatures has 1 entries for 2 members"):
        read_card(card_path)


def test_attribution_gradients_see_the_probability_predict_reports(tmp_path: Path) -> None:
    """The gradient path (whatif._features_and_grad) goes through the same Calibrator as Predictor.predict."""
    from locviz import whatif
    from locviz.encoding import tokenize

    card_path = _trained_looking_bundle(tmp_path, (0, 1))
    calibrate_by_hand(card_path, 1.7, (0.4, 2.5))
    predictor = Predictor(load_bundle(card_path, device="cpu"))
    reported = predictor.predict([ProteinRecord("insulin", HUMAN_INSULIN)])[0].probabilities
    tokens = torch.from_numpy(tokenize(HUMAN_INSULIN).astype(np.int64)).unsqueeze(0)
    features = predictor.bundle.model.members[0].embed(tokens)
    for c in (0, 3):
        probs, _ = whatif._features_and_grad(predictor, tokens, features, c)
        assert float(probs[0]) == pytest.approx(reported[c], abs=1e-5)
