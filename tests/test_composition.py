"""The random-letters Bayes factor: its constants re-fitted from the shipped reference set, and what it flags."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from conftest import REPO

from locviz import composition
from locviz.composition import (
    CONCENTRATION,
    MIN_RESIDUES,
    PROTEIN_COMPOSITION,
    RANDOM_LETTERS_BAYES_FACTOR,
    TRAINING_FLAGGED,
    fit_prior,
    log_bayes_factor_random_letters,
    random_letters_bayes_factor,
    residue_counts,
)
from locviz.sequences import STANDARD_RESIDUES, iter_fasta


def reference_counts(name: str, folds: set[str] | None = None) -> np.ndarray:
    """Residue counts of a shipped reference set's proteins (optionally of some folds only)."""
    with gzip.open(REPO / "weights" / f"{name}.reference.fa.gz", "rt") as handle:
        return np.array([residue_counts(raw) for _, description, raw in iter_fasta(handle)
                         if folds is None or any(f"fold={fold}" in description.split() for fold in folds)])  # fmt: skip


@pytest.fixture(scope="module")
def deeploc_training() -> np.ndarray:
    return reference_counts("deeploc", {str(fold) for fold in range(7)})


def test_the_shipped_constants_are_what_the_fit_gives_on_deeploc_folds_0_to_6(deeploc_training: np.ndarray) -> None:
    composition_fit, concentration = fit_prior(deeploc_training)
    np.testing.assert_allclose(composition_fit, PROTEIN_COMPOSITION, atol=6e-5)
    assert concentration == pytest.approx(CONCENTRATION, rel=0.002)
    judged = deeploc_training[deeploc_training.sum(axis=1) >= MIN_RESIDUES]
    flagged = int((log_bayes_factor_random_letters(judged) > np.log(RANDOM_LETTERS_BAYES_FACTOR)).sum())
    assert (flagged, len(judged)) == TRAINING_FLAGGED  # the figure the sign's sentence quotes


def test_another_data_sets_proteins_are_almost_never_flagged() -> None:
    """MultiLoc (plants and fungi too, another curation): the prior was not fitted on it."""
    counts = reference_counts("multiloc")
    judged = counts[counts.sum(axis=1) >= MIN_RESIDUES]
    flagged = (log_bayes_factor_random_letters(judged) > np.log(RANDOM_LETTERS_BAYES_FACTOR)).mean()
    assert len(judged) > 4000 and flagged < 0.002


@pytest.mark.parametrize(("length", "at_least"), [(80, 0.4), (150, 0.8), (300, 0.99)])
def test_random_letters_are_flagged_more_often_the_longer_they_are(length: int, at_least: float) -> None:
    rng = np.random.default_rng(length)
    strings = ["".join(rng.choice(list(STANDARD_RESIDUES), length)) for _ in range(200)]
    share = np.mean([random_letters_bayes_factor(s) > RANDOM_LETTERS_BAYES_FACTOR for s in strings])
    assert share >= at_least


def test_too_short_to_judge_and_unknown_residues_are_not_counted() -> None:
    assert random_letters_bayes_factor("ACDEFGHIKLMNPQRSTVWY" * 2) is None  # 40 residues: under MIN_RESIDUES
    assert random_letters_bayes_factor("ACDEFGHIKLMNPQRSTVWY" * 2 + "X" * 20) is None  # X is not a residue count
    assert residue_counts("AAXC").tolist() == [2, 1] + [0] * 18


def test_a_protein_like_composition_favours_proteins_by_a_wide_margin() -> None:
    counts = np.round(PROTEIN_COMPOSITION * 300)
    assert log_bayes_factor_random_letters(counts) < -10  # e^-10: proteins over equal use by 20,000 to 1
    assert composition.random_letters_bayes_factor("ACDEFGHIKLMNPQRSTVWY" * 10) > 1e6  # perfectly even
