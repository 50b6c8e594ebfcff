"""How protein-like a residue composition is: the Bayes factor for "random letters".

Real proteins use residues unequally (L about 10 %, W about 1 %), but each protein in its own way (a
cysteine-rich toxin, a glycine-rich collagen). So a composition is judged against a Dirichlet-multinomial
prior over real proteins' compositions (mean :data:`PROTEIN_COMPOSITION`, the pooled frequencies of DeepLoc
folds 0-6; concentration :data:`CONCENTRATION`, fitted there by maximum likelihood: :func:`fit_prior`), and
the question "could this be uniformly random letters?" is the Bayes factor of equal use (every residue
1/20) against that prior. Unlike a chi-square test against equal use, it weighs how protein-like the
counts are as well as how even, so it can judge sequences from 50 residues (it flags most random strings
from about 150).

Measured (``python benchmarks/nonsense_inputs.py --data ../shared/data/deeploc --fit``): a Bayes factor
above :data:`RANDOM_LETTERS_BAYES_FACTOR` flags 8 of the 9,753 proteins of >= 50 residues in folds 0-6 and 0
of fold 7's 1,291; of random strings as long as fold-7 proteins, 5 of 12 of 50-99 residues, 3 of 7 of
100-149, 15 of 15 of 150-199 and 165 of 166 of 200-1,000.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from locviz.sequences import STANDARD_RESIDUES

PROTEIN_COMPOSITION = np.array([
    0.0680, 0.0185, 0.0523, 0.0678, 0.0396, 0.0625, 0.0237, 0.0510, 0.0630, 0.0953,
    0.0222, 0.0448, 0.0543, 0.0431, 0.0534, 0.0857, 0.0537, 0.0608, 0.0114, 0.0290,
])  # fmt: skip
"""Residue frequencies of DeepLoc folds 0-6 (the training proteins less calibration fold 7), in
:data:`STANDARD_RESIDUES` order."""
CONCENTRATION = 195.6
"""How closely single proteins follow :data:`PROTEIN_COMPOSITION` (the Dirichlet's total; fitted with it)."""
RANDOM_LETTERS_BAYES_FACTOR = 400.0
"""Flag a composition equal use explains this many times better than real proteins' compositions do
(ln 400 = 6.0; chosen as the round figure at which at most 0.1 % of training proteins are flagged)."""
MIN_RESIDUES = 50
"""Fewer standard residues are not judged: they say little about a composition (and a sequence under 50
residues carries the "very short" sign)."""
TRAINING_FLAGGED = (8, 9753)
"""(flagged, judged): DeepLoc folds 0-6 proteins of >= :data:`MIN_RESIDUES` residues over the Bayes factor (a test
re-measures it on the shipped reference set)."""

_INDEX = np.full(256, 20, dtype=np.intp)
_INDEX[np.frombuffer(STANDARD_RESIDUES.encode(), dtype=np.uint8)] = np.arange(20)


def residue_counts(sequence: str) -> np.ndarray:
    """Counts of the 20 standard residues (anything else is not counted)."""
    raw = np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)
    return np.bincount(_INDEX[raw], minlength=21)[:20]


def _log_dirichlet_multinomial(counts: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(counts | Dirichlet-multinomial(alpha)) for one order of the residues (the multinomial
    coefficient is left out: it is the same under every hypothesis compared here)."""
    from scipy.special import gammaln  # here, not at the top: importing scipy.special costs start-up half a second

    counts = np.asarray(counts, dtype=np.float64)
    n, total = counts.sum(axis=-1), alpha.sum()
    return gammaln(total) - gammaln(n + total) + (gammaln(counts + alpha) - gammaln(alpha)).sum(axis=-1)


def log_bayes_factor_random_letters(
    counts: np.ndarray, composition: np.ndarray = PROTEIN_COMPOSITION, concentration: float = CONCENTRATION
) -> np.ndarray | float:
    """ln of how much better equal use of the 20 residues explains ``counts`` than real proteins'
    compositions do (positive: random-letter-like). Works on one count vector or a stack of them."""
    counts = np.asarray(counts, dtype=np.float64)
    equal_use = counts.sum(axis=-1) * math.log(1 / 20)
    value = equal_use - _log_dirichlet_multinomial(counts, concentration * np.asarray(composition))
    return float(value) if np.ndim(value) == 0 else value


def random_letters_bayes_factor(sequence: str) -> float | None:
    """The Bayes factor for ``sequence``, or None when it has under :data:`MIN_RESIDUES` standard residues."""
    counts = residue_counts(sequence)
    if counts.sum() < MIN_RESIDUES:
        return None
    return math.exp(min(log_bayes_factor_random_letters(counts), 700.0))  # exp(700) is near float's limit


def fit_prior(counts: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, float]:
    """(mean composition, concentration) of the Dirichlet-multinomial that best explains proteins' residue
    counts (one row each): the mean is the pooled frequency, the concentration the maximum-likelihood one."""
    from scipy.optimize import minimize_scalar

    counts = np.asarray(counts, dtype=np.float64)
    composition = counts.sum(axis=0) / counts.sum()
    fit = minimize_scalar(lambda log_c: -_log_dirichlet_multinomial(counts, math.exp(log_c) * composition).sum(),
                          bounds=(0.0, 10.0), method="bounded")  # fmt: skip
    return composition, math.exp(fit.x)
