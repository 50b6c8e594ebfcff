"""The functions that keep evaluation honest, tested directly on small hand-made cases.

- :func:`locviz.homology.cross_validate`: each member predicts only its own validation fold, and that fold is
  out of the reference for the search (a protein never finds itself or a copy in its own fold);
- :func:`locviz.homology.cross_fitted_scores`: fold k is scored with parameters fitted on the other folds;
- the support levels' cross-validated accuracy (:func:`locviz.calibration._support_by_level`): fold k's
  thresholds come from the other folds, and a sequence unlike the training proteins counts as "low".
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import UBIQUITIN, tiny_config

from locviz import batching, calibration, homology
from locviz.card import MemberTraining, ModelCard
from locviz.datasets import MULTILOC_CLASSES, load_dataset
from locviz.encoding import LengthPolicy, tokenize
from locviz.homology import Combination, OutOfFoldEvidence, Reference
from locviz.model import ConvLSTM, Ensemble
from locviz.sequences import STANDARD_RESIDUES
from locviz.weights import load_bundle, save_bundle

RESIDUES = np.array(list(STANDARD_RESIDUES))


def _protein(rng: np.random.Generator, length: int = 150) -> str:
    return "M" + "".join(rng.choice(RESIDUES, length - 1))


def _variant(rng: np.random.Generator, sequence: str, share: float) -> str:
    residues = list(sequence)
    for i in rng.choice(np.arange(1, len(residues)), int(share * len(residues)), replace=False):
        residues[i] = rng.choice([r for r in STANDARD_RESIDUES if r != residues[i]])
    return "".join(residues)


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory):
    """A MultiLoc-shaped data set in folds 0-2 and a two-member bundle validated on folds 1 and 2.

    ``TWIN`` (fold 1) is an exact copy of ``ORIG`` (fold 1) under another accession, ``COUSIN`` (fold 2) a
    75 %-identity variant of it: out of fold, ``ORIG`` may only find ``COUSIN``.
    """
    folder = tmp_path_factory.mktemp("evaluation")
    rng = np.random.default_rng(21)
    rows, by_class = ["accession\tlocation\tfold"], {c: [] for c in MULTILOC_CLASSES}
    for k, location in enumerate(MULTILOC_CLASSES):
        for j in range(3):
            by_class[location].append((f"Q{k:02d}{j}", _protein(rng), j))
    orig = _protein(rng)
    by_class["ER"] += [("ORIG", orig, 1), ("TWIN", orig, 1), ("COUSIN", _variant(rng, orig, 0.25), 2)]
    data_dir = folder / "multiloc"
    data_dir.mkdir()
    for location, entries in by_class.items():
        (data_dir / f"{location}.fasta").write_text("".join(f">{a}\n{s}\n" for a, s, _ in entries))
        rows += [f"{a}\t{location}\t{fold}" for a, _, fold in entries]
    (data_dir / "folds.tsv").write_text("\n".join(rows) + "\n")
    data = load_dataset("multiloc", data_dir)
    torch.manual_seed(0)
    config = tiny_config(len(MULTILOC_CLASSES))
    training = tuple(MemberTraining(dataset="multiloc", train_folds=(3 - v,), validation_fold=v) for v in (1, 2))
    card = ModelCard(MULTILOC_CLASSES, config, LengthPolicy(200), training=training)
    bundle = load_bundle(save_bundle(folder / "tiny", Ensemble([ConvLSTM(config) for _ in training]), card), "cpu")
    reference = Reference.from_labelled(data, [1, 2], threads=1)
    yield data, bundle, reference
    reference.close()


# ------------------------------------------------------------------ cross_validate
def test_cross_validate_predicts_each_fold_with_its_own_member_only(setting) -> None:
    data, bundle, reference = setting
    ev = homology.cross_validate(bundle, data, reference)
    in_folds = data.subset([1, 2])
    assert sorted(ev.folds.tolist()) == sorted(int(data.folds[i]) for i in in_folds)  # never fold 0, the test fold
    oof = calibration.out_of_fold(bundle, data)
    for k, fold in enumerate((1, 2)):
        rows = np.flatnonzero(oof.folds == fold)
        tokens = [tokenize(data.records[i].sequence) for i in oof.indices[rows]]
        alone = batching.probabilities(Ensemble([bundle.model.members[k]]), tokens, bundle.device)
        np.testing.assert_allclose(ev.probabilities[rows], alone, rtol=1e-5, atol=1e-6)  # member k, nobody else
        ensemble = batching.probabilities(bundle.model, tokens, bundle.device)
        assert not np.allclose(ev.probabilities[rows], ensemble, atol=1e-4)  # (the ensemble has seen the fold)


def test_cross_validate_leaves_the_evaluated_fold_out_of_the_search(setting) -> None:
    data, bundle, reference = setting
    ev = homology.cross_validate(bundle, data, reference)
    oof = calibration.out_of_fold(bundle, data)
    ids = [data.records[i].id for i in oof.indices]
    orig = ids.index("ORIG")
    # ORIG's exact twin sits in its own fold, removed with it: the best hit is the 75 % cousin from fold 2
    assert 0.6 < ev.identity[orig] < 0.9, ev.identity[orig]
    assert MULTILOC_CLASSES[ev.hit_class[orig]] == "ER"
    assert ev.coverage is not None and ev.coverage[orig] > 0.9
    assert np.nanmax(ev.identity) < 0.99  # no protein finds itself or a copy of itself
    # the same search without leaving the fold out would have found the twin at 100 %
    whole = reference.search([data.records[oof.indices[orig]]])[0]
    assert whole[0].identity == pytest.approx(1.0)


# ------------------------------------------------------------------ cross_fitted_scores
def _evidence(n: int, rng: np.random.Generator) -> OutOfFoldEvidence:
    """Two folds that disagree: in fold 1 every hit's location is right, in fold 2 every hit's is wrong."""
    n_classes = 4
    labels = rng.integers(0, n_classes, n)
    probabilities = rng.dirichlet(np.ones(n_classes), n)
    folds = np.repeat([1, 2], n // 2)
    hit_class = np.where(folds == 1, labels, (labels + 1) % n_classes)
    identity = rng.uniform(0.5, 1.0, n)
    coverage = np.ones(n)
    return OutOfFoldEvidence(probabilities, labels, folds, hit_class, identity, coverage)


def test_cross_fitted_scores_score_each_fold_with_the_other_folds_fit() -> None:
    ev = _evidence(400, np.random.default_rng(5))
    full, scores = homology.cross_fitted_scores(ev)
    # what the card stores: the fit on every fold
    refit = homology.fit_combination(ev.probabilities, ev.labels, ev.hit_class, ev.identity, coverage=ev.coverage)
    assert (full.slope, full.midpoint, full.coverage) == (refit.slope, refit.midpoint, True)
    # the score: fold 1 with fold 2's parameters (which learnt to distrust hits) and the other way round
    expected = np.empty(len(ev.labels), dtype=bool)
    for fold, other in ((1, 2), (2, 1)):
        rows, fit_rows = ev.folds == fold, ev.folds == other
        part = homology.fit_combination(ev.probabilities[fit_rows], ev.labels[fit_rows], ev.hit_class[fit_rows],
                                        ev.identity[fit_rows], coverage=ev.coverage[fit_rows])  # fmt: skip
        mixed = part.combine(ev.probabilities[rows], ev.hit_class[rows], ev.identity[rows], ev.coverage[rows])
        expected[rows] = mixed.argmax(1) == ev.labels[rows]
    assert scores["combined"] == pytest.approx(expected.mean())
    in_sample = homology.scores(ev, full)["combined"]
    assert scores["combined"] < in_sample  # scoring on the fitted proteins themselves would flatter the call
    assert scores["combined_note"] == "each fold scored with parameters fitted on the other folds"


def test_coverage_scales_the_combined_weight() -> None:
    with_coverage = Combination(10.0, 0.5, coverage=True)
    assert with_coverage.weight(0.95, 0.1) == pytest.approx(0.1 * with_coverage.weight(0.95, 1.0))
    assert with_coverage.weight(None, 1.0) == 0.0
    fitted_without = Combination(10.0, 0.5)  # a card fitted before coverage entered: weights as fitted
    assert fitted_without.weight(0.95, 0.1) == fitted_without.weight(0.95)
    back = Combination.from_dict(with_coverage.to_dict())
    assert back.coverage and "times its query coverage" in with_coverage.to_dict()["method"]
    assert not Combination.from_dict({"slope": 1, "midpoint": 0.5}).coverage


# ------------------------------------------------------------------ the support levels
def test_support_levels_are_judged_with_thresholds_from_the_other_folds() -> None:
    rng = np.random.default_rng(9)
    n = 600
    confidence = rng.uniform(0.51, 1.0, n)  # two classes: the top one is class 0, right when the label is 0
    folds = np.repeat([1, 2], n // 2)
    # fold 1: right as often as confident; fold 2: right only above 0.9, so its own thresholds would differ
    correct = np.where(folds == 1, rng.random(n) < confidence, confidence > 0.9)
    probabilities = np.stack([confidence, 1 - confidence], axis=1)
    labels = np.where(correct, 0, 1)
    ordinary = UBIQUITIN  # a real protein (random letters are flagged like random letters)
    sequences = [ordinary] * n
    sequences[0] = "X" * 5 + "Q" * 100  # unlike any training protein: low, whatever its confidence
    oof = calibration.OutOfFold(probabilities, labels, folds, np.zeros(n, int), np.arange(n), sequences)
    accuracy, count = calibration._support_by_level(oof, probabilities)
    expected = np.empty(n, dtype=object)
    for fold, other in ((1, 2), (2, 1)):
        t = calibration.choose_thresholds(confidence[folds == other], correct[folds == other])
        for i in np.flatnonzero(folds == fold):
            expected[i] = t.level(float(confidence[i]))
    expected[0] = "low"
    for level in calibration.LEVELS:
        assert count[level] == int((expected == level).sum())
        if count[level]:
            assert accuracy[level] == pytest.approx(correct[expected == level].mean())
    own = calibration.choose_thresholds(confidence[folds == 1], correct[folds == 1])
    other = calibration.choose_thresholds(confidence[folds == 2], correct[folds == 2])
    assert own != other  # the two folds really ask for different thresholds: the test can tell them apart
