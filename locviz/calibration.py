"""Calibrated confidence, its measurement (ECE, reliability) and the per-protein ``support`` verdict.

Temperature scaling (Guo et al. 2017): a temperature ``T`` divides logits
before the softmax, so ``p_T ∝ p ** (1 / T)``: one model's ranking of classes is
unchanged; only how sure it says it is changes. Temperatures are fitted on
**out-of-sample** predictions by :data:`TEMPERATURE_OBJECTIVE` (the top class's
probability as a forecast of the call being right, not the NLL), read
from the card (``training[k].validation_fold``, ``train_folds``); a test fold is
never used.

How the ensemble is calibrated (:class:`Calibrator`, the one place member outputs
become the distribution users see): each member's logits are divided by its own
temperature ``T_k``, fitted on the fold that member was validated on; the
members' softmaxes are averaged; the average is divided by an ensemble
temperature ``T``. Averaging makes an ensemble softer than its members, and
only one member is out-of-fold for any protein, so ``T`` can only be fitted on
a *calibration fold* that none of the averaged members trained or was validated
on (``locviz calibrate --calibration-fold F``: DeepLoc fold 7, which the new
members 4-6 leave out). That sub-ensemble is smaller than the shipped one, whose
average is a little softer still; the card says so. Without a calibration fold
``T`` is 1 and the card says the ensemble-level correction is missing. ECE after
calibration is reported cross-fitted (each half of a fold scaled by the
temperature fitted on the other half). Members at different temperatures can
reorder a near-tie between classes, so the calibrated call is the one
``locviz evaluate`` scores (it applies the same :class:`Calibrator`). Cards
written before this (method ``temperature``: one ``T`` on the averaged
distribution, fitted on members) still load and behave as they did.

The ``support`` verdict (high / medium / low) combines the calibrated
confidence (thresholds chosen on the same out-of-fold predictions so that
"high" calls are at least 90 % right), agreement between members,
out-of-distribution signs of the sequence and, when the caller passes it,
homology support (the best hit in the reference set, :class:`HomologyHint`).
Each verdict comes with short sentences saying why. A sequence unlike every
training protein (very short, many unknown residues, mostly low-complexity or
of very unusual composition) is always **low**, its reasons first: the model's
confidence says nothing about input it has never seen the like of. A protein's
own reference entry (it is training data) is never counted as homology support,
and a hit covering under half of the query confirms nothing. A call of a class
whose cross-validated MCC is under 0.5 carries a note with that figure
(:func:`class_mcc_of`, read from the card).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from locviz import batching, organisms
from locviz.card import CalibrationCard
from locviz.complexity import low_complexity_share
from locviz.composition import RANDOM_LETTERS_BAYES_FACTOR, TRAINING_FLAGGED, random_letters_bayes_factor
from locviz.datasets import TEST_FOLD, LabelledSet
from locviz.encoding import tokenize
from locviz.errors import BundleError, DatasetError, InputError
from locviz.metrics import per_class_mcc
from locviz.model import Ensemble
from locviz.prediction import Prediction
from locviz.sequences import STANDARD_RESIDUES, UNKNOWN_RESIDUES

if TYPE_CHECKING:
    from locviz.weights import ModelBundle

N_BINS = 15
"""Equal-width confidence bins for ECE and the reliability diagram."""
TEMPERATURE_BOUNDS = (0.05, 20.0)
EPS = 1e-12

LEVELS = ("low", "medium", "high")
HIGH_TARGET = 0.90  # "high" calls must be at least this often right in cross-validation
LOW_CEILING = 0.50  # "low" calls: below the confidence where calls are right at most half the time
MIN_CALLS = 20  # a threshold is judged on at least this many calls

# Out-of-distribution signs. The percentiles quoted are of the 11,085 DeepLoc training proteins,
# measured with this module's own functions (composition_bits, low_complexity_share, ...).
OOD_SHORT = 50  # a protein shorter than this is unlike the training set: 41 training proteins (0.4 %) are shorter
MAX_LENGTH = 5000  # 6 training proteins are longer; the model sees only the first and last 500 residues
MAX_LOW_COMPLEXITY = 0.57  # share of residues in SEG low-complexity segments; 99th percentile of training: 0.565
MIN_COMPOSITION_BITS = 3.5  # entropy of the residue composition; 0.5th percentile of training: 3.47
MAX_ONE_RESIDUE = 0.25  # share of the most common residue; 99.5th percentile of training: 0.26
MAX_UNKNOWN = 0.02  # share of X/B/Z/J/U/O; 99.9th percentile of training: 0.008
HOMOLOGY_SUPPORT_IDENTITY = 0.40  # DeepLoc's homology partition threshold; above it location usually transfers
HOMOLOGY_FAR_IDENTITY = 0.25  # below: the twilight zone of sequence similarity (Rost 1999)
HOMOLOGY_MIN_COVERAGE = 0.50  # a hit over less of the query (one shared domain) says little about the whole protein
NOT_SEARCHED = ("Not yet checked against the annotated reference proteins (no homology search was run): with no "
                "relative among them the verdict would be at most medium.")
"""The reason given when the caller ran no homology search: the verdict lacks that check, and says so."""
WEAK_CLASS_MCC = 0.50  # a call of a class below this cross-validated MCC carries a note with the figure
MIXED_CALLS_PRECISION = 0.80  # a call of a class whose cross-validated calls were right less often names the others


# ----------------------------------------------------------------------------- temperature
def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``log p`` (clipped at 1e-12): logits up to a constant per row, which softmax ignores."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), EPS, 1.0))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def scale(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (classes on the last axis) as if the logits had been divided by ``temperature``."""
    check_temperature(temperature)
    if temperature == 1.0:
        return np.asarray(probabilities, dtype=np.float64)
    return softmax(log_probabilities(probabilities) / temperature)


def check_temperature(temperature: float) -> float:
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError(f"temperature must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


OBJECTIVE_TEXT = {
    "top-label": "so that the top class's probability best forecasts whether the call is right (top-label log-loss)",
    "nll": "by the negative log-likelihood of the whole distribution",
}
OBJECTIVES = tuple(OBJECTIVE_TEXT)
TEMPERATURE_OBJECTIVE = "top-label"
"""What a temperature minimises. ``top-label``: the log-loss of the top class's probability as a forecast of the
call being right, which is what users read and ECE measures; ``nll``: the whole distribution's NLL (Guo et al.
2017). Chosen by leave-one-fold-out cross-validation over the members' out-of-fold predictions
(``benchmarks/posthoc_adjustment.py``, 2026-12-02): DeepLoc ECE 0.0141 raw, 0.0224 with ``nll``, 0.0120 with
``top-label``; MultiLoc 0.0248, 0.0187, 0.0192. NLL sharpens label-smoothed members to fit their spread over
the other classes, and that overstates the top class."""


def top_label_loss(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean log-loss of the top class's probability under ``softmax(logits / temperature)`` against whether the
    top class is the label (the top class itself does not depend on the temperature).

    With ``l`` the log-sum-exp of the other logits minus the top one, ``p_top = 1 / (1 + e^l)``:
    ``-log p_top = log(1 + e^l)`` and ``-log(1 - p_top) = log(1 + e^l) - l``, exact even for a confident wrong call.
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    rows = np.arange(len(z))
    top = z.argmax(axis=1)
    others = z.copy()
    others[rows, top] = -np.inf
    peak = others.max(axis=1)
    rest = peak + np.log(np.exp(others - peak[:, None]).sum(axis=1)) - z[rows, top]  # l, stable
    loss_top = np.logaddexp(0.0, rest)
    right = top == np.asarray(labels)
    return float(np.mean(np.where(right, loss_top, loss_top - rest)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, objective: str = TEMPERATURE_OBJECTIVE) -> float:
    """The temperature that minimises ``objective`` (:data:`TEMPERATURE_OBJECTIVE`; searched on log T within
    0.05-20).

    ``logits`` may be log-probabilities (:func:`log_probabilities`); the result is the same.

    Raises:
        InputError: no rows, or labels that do not fit the logits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) == 0 or len(labels) != len(logits):
        raise InputError(f"need (N, C) logits with N >= 1 and N labels, got {logits.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise InputError(f"labels must be class indices 0-{logits.shape[1] - 1}")
    if objective not in OBJECTIVES:
        raise InputError(f"temperature objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    from scipy.optimize import minimize_scalar  # here, not at import: prediction never fits and starts faster

    loss = top_label_loss if objective == "top-label" else nll
    lo, hi = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(lambda t: loss(logits, labels, float(np.exp(t))), bounds=(lo, hi), method="bounded",
                             options={"xatol": 1e-5})  # fmt: skip
    return float(np.exp(result.x))


@dataclass(frozen=True)
class Calibrator:
    """Member probabilities ``(M, ..., C)`` → the ensemble's calibrated distribution (see the module docstring).

    ``member_temperatures`` (one per member, empty: all 1) scale each member before averaging;
    ``temperature`` scales the average. The identity calibrator leaves the plain ensemble mean.
    """

    member_temperatures: tuple[float, ...] = ()
    temperature: float = 1.0

    def __post_init__(self) -> None:
        for value in (*self.member_temperatures, self.temperature):
            check_temperature(value)

    @property
    def is_identity(self) -> bool:
        return self.temperature == 1.0 and all(t == 1.0 for t in self.member_temperatures)

    def member_temperature(self, member: int) -> float:
        return float(self.member_temperatures[member]) if self.member_temperatures else 1.0

    def members(self, member_probabilities: np.ndarray) -> np.ndarray:
        """Each member at its own temperature, ``(M, ..., C)`` float64."""
        probs = np.asarray(member_probabilities, dtype=np.float64)
        if not self.member_temperatures:
            return probs
        if len(self.member_temperatures) != len(probs):
            raise InputError(f"{len(probs)} members but {len(self.member_temperatures)} member temperatures")
        return np.stack([scale(p, t) for p, t in zip(probs, self.member_temperatures, strict=True)])

    def apply(self, member_probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each member at its own temperature ``(M, ..., C)``, the calibrated ensemble ``(..., C)``)."""
        members = self.members(member_probabilities)
        return members, scale(members.mean(axis=0), self.temperature)

    def ensemble(self, member_probabilities: np.ndarray) -> np.ndarray:
        """The calibrated ensemble distribution ``(..., C)``: members scaled, averaged, the average scaled."""
        return self.apply(member_probabilities)[1]

    def single(self, probabilities: np.ndarray, member: int) -> np.ndarray:
        """One member alone at its own temperature (the ensemble temperature undoes averaging, which a lone
        member never went through)."""
        return scale(probabilities, self.member_temperature(member))

    def rows(self, probabilities: np.ndarray, members: np.ndarray) -> np.ndarray:
        """:meth:`single` for rows ``(N, C)`` each predicted by member ``members[i]`` (out-of-fold predictions)."""
        out = np.asarray(probabilities, dtype=np.float64).copy()
        for k in np.unique(members):
            out[members == k] = self.single(out[members == k], int(k))
        return out

    def torch_ensemble(self, member_probabilities: torch.Tensor) -> torch.Tensor:
        """:meth:`ensemble` in torch, differentiable (gradient attributions of the reported probability)."""
        members = member_probabilities
        if self.member_temperatures:
            shape = (-1,) + (1,) * (members.dim() - 1)
            temps = torch.tensor(self.member_temperatures, dtype=members.dtype, device=members.device).view(shape)
            members = torch.softmax(torch.log(members.clamp_min(EPS)) / temps, dim=-1)
        mean = members.mean(0)
        if self.temperature != 1.0:
            mean = torch.softmax(torch.log(mean.clamp_min(EPS)) / self.temperature, dim=-1)
        return mean

    def describe(self) -> str:
        """In words, for help texts and captions."""
        if self.is_identity:
            return "not calibrated (the plain mean of the members)"
        if len(self.member_temperatures) == 1 and self.temperature == 1.0:  # one network (a fast student)
            return f"its logits divided by a temperature of {self.member_temperatures[0]:.2f}"
        parts = []
        if self.member_temperatures:
            parts.append("each member's logits divided by its own temperature ("
                         + ", ".join(f"{t:.2f}" for t in self.member_temperatures) + ") before averaging")
        if self.temperature != 1.0:
            parts.append(f"the average scaled by an ensemble temperature of {self.temperature:.2f}")
        return "; ".join(parts)


def no_ensemble_temperature(n_members: int) -> str:
    """Why a card has no ensemble temperature, in words (one network has nothing to average)."""
    if n_members == 1:
        return ("one network (nothing is averaged): its own temperature, fitted on its validation fold, is the "
                "whole calibration")  # fmt: skip
    return ("no calibration fold: every fold was trained on by all members but one, so the ensemble's own "
            "temperature (averaging makes it softer than its members) cannot be fitted honestly; the ensemble "
            "temperature is 1")  # fmt: skip


# ----------------------------------------------------------------------------- measuring calibration
@dataclass(frozen=True)
class Reliability:
    """Top-class reliability in equal-width confidence bins (the reliability diagram's numbers)."""

    edges: tuple[float, ...]  # n_bins + 1 bin edges from 0 to 1
    count: tuple[int, ...]  # proteins per bin
    confidence: tuple[float | None, ...]  # mean top-class probability per bin (None when empty)
    accuracy: tuple[float | None, ...]  # share of correct calls per bin (None when empty)

    @property
    def ece(self) -> float:
        """Expected calibration error: bin-weighted mean |accuracy - confidence|."""
        n = sum(self.count)
        gaps = [c * abs(a - m) for c, a, m in zip(self.count, self.accuracy, self.confidence, strict=True) if c]
        return float(sum(gaps) / n) if n else 0.0

    def to_dict(self) -> dict[str, list]:
        def rounded(values: Sequence[float | None]) -> list:
            return [None if v is None else round(float(v), 4) for v in values]

        return {"edges": rounded(self.edges), "count": list(self.count), "confidence": rounded(self.confidence),
                "accuracy": rounded(self.accuracy)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Reliability:
        return cls(tuple(data["edges"]), tuple(data["count"]), tuple(data["confidence"]), tuple(data["accuracy"]))


def reliability(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> Reliability:
    """Bin proteins by top-class probability (``n_bins`` equal-width bins; the last includes 1.0)."""
    if n_bins < 1:
        raise InputError(f"n_bins must be >= 1, got {n_bins}")
    probs = np.asarray(probabilities, dtype=np.float64)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    count, conf, acc = [], [], []
    for b in range(n_bins):
        inside = which == b
        count.append(int(inside.sum()))
        conf.append(float(confidence[inside].mean()) if inside.any() else None)
        acc.append(float(correct[inside].mean()) if inside.any() else None)
    return Reliability(tuple(float(e) for e in edges), tuple(count), tuple(conf), tuple(acc))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE of the top-class probability over ``n_bins`` equal-width bins."""
    return reliability(probabilities, labels, n_bins).ece


# ----------------------------------------------------------------------------- out-of-fold predictions
@dataclass
class OutOfFold:
    """Each protein of a member's validation fold, predicted by that member alone (uncalibrated)."""

    probabilities: np.ndarray  # (N, C) the validating member's softmax
    labels: np.ndarray  # (N,)
    folds: np.ndarray  # (N,) validation fold of each row
    members: np.ndarray  # (N,) which member predicted it
    indices: np.ndarray  # (N,) row in the data set
    sequences: list[str] = field(default_factory=list)  # full sequences (for the support verdict's sequence checks)


def validation_folds(bundle: ModelBundle, dataset: str) -> list[int]:
    """Member k's validation fold, for every member, from the card; never a test fold.

    Raises:
        BundleError: a member has no recorded validation fold, or it is the data set's test fold.
    """
    card = bundle.card
    folds = []
    for k in range(card.members):
        fold = card.member_validation_fold(k)
        if fold is None:
            raise BundleError(
                f"{bundle.card_path}: member {k} has no training[{k}].validation_fold; calibration needs each "
                "member's own validation fold (out-of-fold predictions)"
            )
        if fold == TEST_FOLD.get(dataset):
            raise BundleError(f"{bundle.card_path}: member {k} validated on {dataset}'s test fold {fold}; refusing")
        folds.append(fold)
    return folds


def out_of_fold(bundle: ModelBundle, data: LabelledSet, callback: Callable[[int], None] | None = None) -> OutOfFold:
    """Predict every member's validation fold with that member only.

    Raises:
        DatasetError: the data set's classes differ from the model's, or a fold is empty.
    """
    if list(data.classes) != bundle.classes:
        raise DatasetError(f"the model's classes {bundle.classes} are not {data.name}'s {list(data.classes)}")
    policy = bundle.length_policy
    parts = []
    for k, fold in enumerate(validation_folds(bundle, data.name)):
        idx = data.subset([fold])
        if len(idx) == 0:
            raise DatasetError(f"{data.name} has no proteins in fold {fold} (member {k}'s validation fold)")
        tokens = [tokenize(policy.crop(data.records[i].sequence)[0]) for i in idx]
        member = Ensemble([bundle.model.members[k]])
        probs = batching.probabilities(member, tokens, bundle.device, callback=callback)
        parts.append((probs, idx, fold, k))
    idx = np.concatenate([p[1] for p in parts])
    return OutOfFold(
        probabilities=np.concatenate([p[0] for p in parts]).astype(np.float64),
        labels=data.labels[idx],
        folds=np.concatenate([np.full(len(p[1]), p[2]) for p in parts]),
        members=np.concatenate([np.full(len(p[1]), p[3]) for p in parts]),
        indices=idx,
        sequences=[data.records[i].sequence for i in idx],
    )


def halves(n: int, seed: int = 0) -> np.ndarray:
    """A fixed random split of ``n`` rows into two halves (True / False), for cross-fitting within one fold."""
    first = np.zeros(n, dtype=bool)
    first[np.random.default_rng(seed).permutation(n)[: n // 2]] = True
    return first


def cross_fit(logp: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Each half of the rows scaled by the temperature fitted on the other half: (probabilities, (T_a, T_b)).

    A half with no rows (one protein) takes the temperature fitted on all of them.
    """
    first = halves(len(labels))
    out = np.empty_like(logp)
    temps = []
    for rows in (first, ~first):
        fit_rows = ~rows if (~rows).any() else rows
        temperature = fit_temperature(logp[fit_rows], labels[fit_rows])
        out[rows] = softmax(logp[rows] / temperature)
        temps.append(temperature)
    return out, (temps[0], temps[1])


def member_temperatures(oof: OutOfFold, n_members: int) -> tuple[float, ...]:
    """Member k's temperature, fitted on its own out-of-fold rows only."""
    logp = log_probabilities(oof.probabilities)
    return tuple(fit_temperature(logp[oof.members == k], oof.labels[oof.members == k]) for k in range(n_members))


def member_cross_fitted(oof: OutOfFold, n_members: int) -> tuple[np.ndarray, dict[int, tuple[float, float]]]:
    """Out-of-fold rows at their member's temperature, each half of a member's fold scaled by the other half's."""
    logp = log_probabilities(oof.probabilities)
    out = np.empty_like(oof.probabilities)
    halves_fitted = {}
    for k in range(n_members):
        rows = oof.members == k
        out[rows], halves_fitted[k] = cross_fit(logp[rows], oof.labels[rows])
    return out, halves_fitted


@dataclass
class EnsembleFold:
    """The ensemble of the members that never trained on one fold, predicting that fold (ensemble calibration)."""

    fold: int
    members: tuple[int, ...]  # member indices into the bundle
    member_probabilities: np.ndarray  # (len(members), N, C) raw softmax of each
    labels: np.ndarray  # (N,)


def members_without(card: Any, fold: int) -> tuple[int, ...]:
    """The members that neither trained on ``fold`` nor were validated on it (the card's ``training`` records):
    their average on ``fold`` is an ensemble nothing was fitted or chosen on."""
    return tuple(k for k, t in enumerate(card.training)
                 if t.train_folds and fold not in t.train_folds and t.validation_fold != fold)  # fmt: skip


def check_calibration_fold(card: Any, dataset: str, fold: int) -> tuple[int, ...]:
    """The members that will calibrate the ensemble on ``fold``; refuses a test fold or fewer than two.

    Raises:
        BundleError: it is ``dataset``'s test fold, or fewer than two members left it out.
    """
    if fold == TEST_FOLD.get(dataset):
        raise BundleError(f"fold {fold} is {dataset}'s test fold; calibration never fits on it")
    members = members_without(card, fold)
    if len(members) < 2:
        raise BundleError(
            f"fold {fold} cannot calibrate the ensemble: {len(members)} member(s) neither trained nor were validated "
            "on it (need at least 2; the card's training[k].train_folds and validation_fold say which folds each "
            "member used)"
        )
    return members


def ensemble_fold(bundle: ModelBundle, data: LabelledSet, fold: int,
                  callback: Callable[[int], None] | None = None) -> EnsembleFold:  # fmt: skip
    """Predict calibration fold ``fold`` with every member that never trained on it.

    Raises:
        BundleError: it is the test fold, or fewer than two members left it out (no ensemble to calibrate).
        DatasetError: the fold is empty.
    """
    members = check_calibration_fold(bundle.card, data.name, fold)
    idx = data.subset([fold])
    if len(idx) == 0:
        raise DatasetError(f"{data.name} has no proteins in fold {fold}")
    tokens = [tokenize(bundle.length_policy.crop(data.records[i].sequence)[0]) for i in idx]
    sub = Ensemble([bundle.model.members[k] for k in members])
    stacked = np.zeros((len(members), len(idx), len(bundle.classes)))
    for rows, result in batching.run(sub, tokens, bundle.device, callback=callback):
        stacked[:, rows] = result.member_probabilities
    return EnsembleFold(fold, members, stacked, data.labels[idx])


# ----------------------------------------------------------------------------- out-of-distribution signs
_TOKEN = np.full(256, 20, dtype=np.intp)  # standard residues 0-19; anything else (unknown) 20
_TOKEN[np.frombuffer(STANDARD_RESIDUES.encode(), dtype=np.uint8)] = np.arange(20)
_UNKNOWN = np.frombuffer(UNKNOWN_RESIDUES.encode(), dtype=np.uint8)


def _tokens(sequence: str) -> np.ndarray:
    return _TOKEN[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]


def _entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of count vectors along the last axis."""
    total = counts.sum(axis=-1, keepdims=True)
    p = counts / np.where(total > 0, total, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=-1)


def composition_bits(sequence: str) -> float:
    """Shannon entropy (bits) of the standard-residue composition (4.32 is uniform)."""
    return float(_entropy_bits(np.bincount(_tokens(sequence), minlength=21)[:20].astype(np.float64)))


@dataclass(frozen=True)
class OodSign:
    """One way a sequence is unlike the training proteins: ``kind`` and the sentence that says so."""

    kind: str  # "short", "long", "unknown", "low_complexity", "composition" or "even_composition"
    sentence: str

    @property
    def severe(self) -> bool:
        """Everything but length past the cut: the model still sees a long protein's termini as in training."""
        return self.kind != "long"


def ood_checks(sequence: str) -> list[OodSign]:
    """Each way ``sequence`` looks unlike the proteins the model was trained on (thresholds above)."""
    n = len(sequence)
    signs = []
    if n < OOD_SHORT:
        signs.append(OodSign("short", f"Very short ({n} residues, under {OOD_SHORT}): few such proteins were in "
                                      "training."))  # fmt: skip
    if n > MAX_LENGTH:
        signs.append(OodSign("long", f"Very long ({n:,} residues, over {MAX_LENGTH:,}): the model saw only its "
                                     "termini."))  # fmt: skip
    raw = np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)
    unknown = float(np.isin(raw, _UNKNOWN).mean()) if n else 0.0
    if unknown > MAX_UNKNOWN:
        signs.append(OodSign("unknown", f"Many unknown residues ({unknown:.0%} X/B/Z/J/U/O; training proteins "
                                        f"≤ {MAX_UNKNOWN:.0%})."))  # fmt: skip
    low = low_complexity_share(sequence)
    if low > MAX_LOW_COMPLEXITY:
        sentence = (f"Low complexity: {low:.0%} of residues lie in low-complexity stretches (training proteins "
                    f"≤ {MAX_LOW_COMPLEXITY:.0%}).")  # fmt: skip
        signs.append(OodSign("low_complexity", sentence))
    counts = np.bincount(_TOKEN[raw], minlength=21)[:20]
    bits = max(0.0, float(_entropy_bits(counts.astype(np.float64))))  # 0.0, never "-0.0 bits"
    top = counts.max() / max(n, 1)
    if not counts.any():
        signs.append(OodSign("composition", "Unusual composition: not one standard residue."))
    elif bits < MIN_COMPOSITION_BITS or top > MAX_ONE_RESIDUE:
        common = STANDARD_RESIDUES[int(counts.argmax())]
        signs.append(OodSign("composition", f"Unusual composition ({top:.0%} {common}; {bits:.1f} bits, training "
                                            f"proteins ≥ {MIN_COMPOSITION_BITS})."))  # fmt: skip
    elif (factor := random_letters_bayes_factor(sequence)) is not None and factor > RANDOM_LETTERS_BAYES_FACTOR:
        flagged, judged = TRAINING_FLAGGED
        signs.append(OodSign("even_composition", "Composition like random letters: equal use of the 20 residues "
                                                 f"explains it {_times(factor)} better than real proteins' "
                                                 "compositions do (proteins use L about ten times as often as W; "
                                                 f"{flagged} of {judged:,} DeepLoc training proteins exceed "
                                                 f"{RANDOM_LETTERS_BAYES_FACTOR:.0f} times)."))  # fmt: skip
    return signs


def _times(factor: float) -> str:
    """``"2,300 times"``, and past a million ``"over a million times"`` (the figure means nothing more there)."""
    return "over a million times" if factor > 1e6 else f"{factor:,.0f} times"


def ood_signs(sequence: str) -> list[str]:
    """The sentences of :func:`ood_checks`."""
    return [sign.sentence for sign in ood_checks(sequence)]


def ood_level(level: str, signs: Sequence[OodSign]) -> str:
    """The verdict after the sequence checks: low with any severe sign, at most medium for length alone."""
    if any(sign.severe for sign in signs):
        return "low"
    return _cap(level, "medium") if signs else level


# ----------------------------------------------------------------------------- the support verdict
@dataclass(frozen=True)
class HomologyHint:
    """The best hit in the reference set, as the homology search reports it (``None`` identity: no hit at all)."""

    identity: float | None  # fraction 0-1 of identical aligned residues
    location: str | None = None  # the hit's annotated class id
    accession: str = ""
    coverage: float | None = None  # fraction 0-1 of the query inside the alignment (None: not known)
    itself: str = ""  # the protein's own reference entry (its very sequence), never counted as support
    variant_of: str = ""  # an entry with its accession but another sequence (a variant's parent), not counted either

    def __post_init__(self) -> None:
        for name in ("identity", "coverage"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputError(f"homology {name} is a fraction 0-1 (e.g. 0.42), got {value!r}")


@dataclass(frozen=True)
class ClassCalls:
    """The cross-validated calls of one class: how many, how many right, and the true classes of the wrong ones
    (most first). A class the model rarely recognises ends up in the calls of another (peroxisomal proteins called
    cytoplasmic): this is where a confident call of that other class says so."""

    label: str
    calls: int
    right: int
    wrong_from: tuple[tuple[str, int], ...]

    @property
    def precision(self) -> float:
        return self.right / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class SupportThresholds:
    """Calibrated-confidence cut-offs of the verdict, chosen on out-of-fold predictions."""

    high: float = 0.90
    low: float = 0.50
    class_mcc: tuple[tuple[str, float], ...] = ()  # (class id, cross-validated MCC) from the card: weak-class notes
    class_calls: tuple[ClassCalls, ...] = ()  # how often each class's calls were right in cross-validation

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise InputError(f"support thresholds need 0 <= low <= high <= 1, got low {self.low}, high {self.high}")

    def level(self, confidence: float) -> str:
        return "high" if confidence >= self.high else ("medium" if confidence >= self.low else "low")

    def mcc(self, label: str) -> float | None:
        """The cross-validated MCC of class ``label``, or None when the card records none."""
        return dict(self.class_mcc).get(label)

    def calls(self, label: str) -> ClassCalls | None:
        """How the cross-validated calls of ``label`` went, or None when the card records none."""
        return next((c for c in self.class_calls if c.label == label), None)


@dataclass(frozen=True)
class Support:
    """The verdict and the sentences that explain it."""

    level: str  # one of LEVELS
    reasons: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.reasons)


def choose_thresholds(
    confidence: np.ndarray, correct: np.ndarray, high_target: float = HIGH_TARGET, low_ceiling: float = LOW_CEILING
) -> SupportThresholds:
    """Cut-offs on a 0.01 grid, each judged on at least :data:`MIN_CALLS` calls.

    ``high``: the lowest cut-off whose calls at or above it are at least ``high_target`` right;
    ``low``: the highest cut-off (not above ``high``) whose calls below it are at most ``low_ceiling`` right.
    """
    confidence, correct = np.asarray(confidence), np.asarray(correct, dtype=bool)
    grid = np.round(np.arange(0.05, 1.0, 0.01), 2)

    def share_right(rows: np.ndarray) -> float | None:
        return float(correct[rows].mean()) if rows.sum() >= MIN_CALLS else None

    high = next((t for t in grid if (share_right(confidence >= t) or 0.0) >= high_target), 1.0)
    lows = [t for t in grid if t <= high and (share_right(confidence < t) or 1.0) <= low_ceiling]
    return SupportThresholds(high=float(high), low=float(max(lows)) if lows else 0.0)


def _lower(level: str) -> str:
    return LEVELS[max(LEVELS.index(level) - 1, 0)]


def _raise(level: str) -> str:
    return LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]


def _cap(level: str, ceiling: str) -> str:
    return LEVELS[min(LEVELS.index(level), LEVELS.index(ceiling))]


def assess(
    confidence: float,
    label: str,
    sequence: str,
    thresholds: SupportThresholds,
    member_labels: Sequence[str] | None = None,
    homology: HomologyHint | None = None,
    warnings: Sequence[str] = (),
    organism: str = "any",
) -> Support:
    """The verdict for one call.

    Base level from the calibrated ``confidence``; homology at >= 40 % identity over at least half of
    the query raises it one level when the hit's location agrees and lowers it when it does not (the
    protein's own reference entry never counts); members that disagree on the top class, a very long
    sequence, or no reference protein within 25 % identity cap it at medium. A sequence unlike the
    training proteins (:meth:`OodSign.severe`) is low whatever the rest says, and its signs come first;
    so are ``warnings`` (most probability was in compartments the chosen organism cannot have, or the call
    contradicts the protein's own training label). A hit's annotation is read as ``organism`` reads the model's
    classes (:func:`locviz.organisms.annotation_in`): a vacuolar homologue of an animal protein speaks for
    lysosomal, a chloroplast one for nothing.
    """
    level = thresholds.level(confidence)
    shown = f"{confidence:.2f}"  # 0.7698 beside a cut-off of 0.77 reads as on it: one digit more then
    if shown in (f"{thresholds.high:.2f}", f"{thresholds.low:.2f}"):
        shown = f"{confidence:.3f}"
    bounds = {"high": f"at least {thresholds.high:.2f}", "medium": f"{thresholds.low:.2f}-{thresholds.high:.2f}",
              "low": f"below {thresholds.low:.2f}"}  # fmt: skip
    signs = ood_checks(sequence)
    severe = [s.sentence for s in signs if s.severe]
    if severe or warnings:
        why = "the sequence is unlike the proteins the model was trained on" if severe else "of the above"
        reasons = [*warnings, *severe, f"Support is low because {why}; its calibrated confidence {shown} "
                   f"({level} by itself: {bounds[level]}) does not make up for it."]  # fmt: skip
    else:
        reasons = [f"Calibrated confidence {shown} ({level}: {bounds[level]})."]
    reasons += [note for note in (weak_class_note(label, thresholds), mixed_calls_note(label, thresholds)) if note]
    base, moved = level, []  # what moved the verdict away from the confidence's own level, in words
    caps = []
    if member_labels is not None and len(member_labels) > 1:
        others = [m for m in member_labels if m != label]
        if others:
            reasons.append(f"Members disagree: {len(others)} of {len(member_labels)} call {_tally(others)}.")
            caps.append("members disagree")
        else:
            reasons.append(f"All {len(member_labels)} members call {label}.")
    reasons += [s.sentence for s in signs if not s.severe]
    if homology is None:
        reasons.append(NOT_SEARCHED)
    else:
        before_homology = level
        level, sentences, far = _homology(level, label, homology, organism)
        reasons += sentences
        if level != before_homology:
            raised = LEVELS.index(level) > LEVELS.index(before_homology)
            moved.append(f"a similar annotated protein is in {'the same' if raised else 'another'} compartment")
        caps += ["no similar annotated protein"] * far
    if caps and _cap(level, "medium") != level:
        level = _cap(level, "medium")
        moved += caps
    final = "low" if warnings else ood_level(level, signs)
    if final != level and not (severe or warnings):
        moved.append("the sequence is very long")  # the one sign that caps rather than sinks (OodSign.severe)
    if final != base and not (severe or warnings):  # the decisive reason first: why it is not the confidence's level
        reasons.insert(0, f"Support is {final}, not {base} as the calibrated confidence alone would make it: "
                       f"{'; '.join(moved)}.")  # fmt: skip
    return Support(final, tuple(reasons))


def _tally(labels: Sequence[str]) -> str:
    """``"Plastid"`` when every label is the same, else ``"other classes (2 Plastid, 1 Nucleus)"``, most first
    (ties in the members' order, which is fixed)."""
    counts = {lab: labels.count(lab) for lab in dict.fromkeys(labels)}
    if len(counts) == 1:
        return labels[0]
    ordered = sorted(counts, key=lambda lab: -counts[lab])
    return "other classes (" + ", ".join(f"{counts[lab]} {lab}" for lab in ordered) + ")"


def weak_class_note(label: str, thresholds: SupportThresholds) -> str | None:
    """The note beside a call of a class the model is weak on (cross-validated MCC under 0.5), else None."""
    mcc = thresholds.mcc(label)
    if mcc is None or mcc >= WEAK_CLASS_MCC:
        return None
    return (f"Weak class: {label} had a cross-validated MCC of {mcc:.2f} (under {WEAK_CLASS_MCC:.1f}); the model "
            f"often misses or mistakes this compartment.")  # fmt: skip


def mixed_calls_note(label: str, thresholds: SupportThresholds) -> str | None:
    """The note beside a call of a class whose cross-validated calls were often another class's proteins (under
    :data:`MIXED_CALLS_PRECISION` right), naming where the wrong ones came from; else None."""
    record = thresholds.calls(label)
    if record is None or record.calls < MIN_CALLS or record.precision >= MIXED_CALLS_PRECISION:
        return None
    sources = ", ".join(f"{cls} ({n})" for cls, n in record.wrong_from[:3])
    return (f"In cross-validation {record.precision:.0%} of the {record.calls} {label} calls were right; the wrong "
            f"ones were mostly {sources} proteins.")  # fmt: skip


def _homology(level: str, label: str, hint: HomologyHint, organism: str = "any") -> tuple[str, list[str], bool]:
    """(new level, sentences, far from every other reference protein)."""
    sentences = []
    if hint.itself:
        sentences.append(f"This protein is itself in the reference set ({hint.itself}, training data): its own "
                         "annotation is not independent support and is not counted.")  # fmt: skip
    elif hint.variant_of:
        sentences.append(f"Its accession {hint.variant_of} is in the reference set with another sequence (training "
                         "data for that entry): it is not counted as independent support.")  # fmt: skip
    other = "other " if hint.itself or hint.variant_of else ""
    if hint.identity is None or hint.identity < HOMOLOGY_FAR_IDENTITY:
        best = "no hit" if hint.identity is None else f"best identity {percent(hint.identity)}"
        return level, [*sentences, f"No {other}annotated reference protein is similar ({best})."], True
    covered = "" if hint.coverage is None else f" over {percent(hint.coverage)} of the query"
    who = (f"Nearest {other}annotated protein{' ' + hint.accession if hint.accession else ''} "
           f"({percent(hint.identity)} identity{covered})")  # fmt: skip
    if hint.identity < HOMOLOGY_SUPPORT_IDENTITY or hint.location is None:
        return level, [*sentences, f"{who} is too distant to confirm the call."], False
    if hint.coverage is not None and hint.coverage < HOMOLOGY_MIN_COVERAGE:
        return level, [*sentences, f"{who} covers too little of the protein to confirm the call."], False
    where, same = organisms.annotation_text(hint.location, organism), organisms.annotation_in(hint.location, organism)
    if same is None:
        return level, [*sentences, f"{who} is in {where}: it neither confirms nor contradicts the call."], False
    if same == label:
        return _raise(level), [*sentences, f"{who} is in {where} too."], False
    return _lower(level), [*sentences, f"{who} is in {where}, not {label}."], False


def percent(fraction: float) -> str:
    """A fraction 0-1 as a percentage that never reads "100%" unless it is 1 (99.96% identity is no identical
    protein: "99.9%") nor "0%" unless it is 0."""
    value = 100 * fraction
    if 0 < value < 0.5:
        return f"{math.ceil(round(value * 10, 6)) / 10:.1f}%"  # round first: 0.1 is 0.09999... in binary
    if 99.5 <= value < 100:
        return f"{floor_percent(fraction):.1f}%"
    return f"{value:.0f}%"


def floor_percent(fraction: float) -> float:
    """A fraction 0-1 as a percentage with one decimal, rounded down: a table's 0.1 % steps cannot show 99.96 %
    identity as 100.0."""
    return math.floor(round(1000 * fraction, 6)) / 10


def current_section(card: Any) -> CalibrationCard | None:
    """The card's calibration section, unless it was fitted for other weights (then it is stale: None)."""
    section = getattr(card, "calibration", None)
    if section is None:
        return None
    fitted_for = section.metrics.get("weights_sha256")
    return None if fitted_for and fitted_for != getattr(card, "weights_sha256", fitted_for) else section


def thresholds_of(card: Any) -> SupportThresholds:
    """The card's fitted thresholds, or the defaults (0.90 / 0.50) for an uncalibrated card, with the
    cross-validated MCC of each class (:func:`class_mcc_of`) for the weak-class notes."""
    section = current_section(card)
    stored = (section.metrics.get("support") or {}).get("thresholds") if section is not None else None
    records = {"class_mcc": tuple(class_mcc_of(card).items()), "class_calls": class_calls_of(card)}
    return SupportThresholds(**stored, **records) if stored else SupportThresholds(**records)


def class_mcc_of(card: Any) -> dict[str, float]:
    """Per-class MCC in cross-validation (:func:`cv_confusion`); empty when the card records none."""
    total = cv_confusion(card)
    if total is None:
        return {}
    classes = list(card.classes)
    return {c: round(float(m), 4) for c, m in zip(classes, per_class_mcc(total), strict=True)}


def class_calls_of(card: Any) -> tuple[ClassCalls, ...]:
    """Each class's cross-validated calls (:func:`cv_confusion`, rows true, columns called); empty without one."""
    total = cv_confusion(card)
    if total is None:
        return ()
    classes = list(card.classes)
    out = []
    for j, label in enumerate(classes):
        column = total[:, j]
        wrong = tuple((classes[i], int(column[i])) for i in np.argsort(-column, kind="stable") if i != j and column[i])
        out.append(ClassCalls(label, int(column.sum()), int(column[j]), wrong))
    return tuple(out)


def cv_confusion(card: Any) -> np.ndarray | None:
    """The confusion matrices of every member on its own validation fold (``training[k].validation``), added up:
    cross-validation (a test fold never enters). None when the card records none."""
    classes = list(getattr(card, "classes", ()))
    total = None
    for member in getattr(card, "training", ()):
        report = getattr(member, "validation", None) or {}
        matrix = report.get("confusion_matrix")
        if not matrix or list(report.get("classes", classes)) != classes:
            continue
        matrix = np.asarray(matrix, dtype=np.int64)
        if matrix.shape != (len(classes), len(classes)):
            continue
        total = matrix if total is None else total + matrix
    return total


def fitted_folds(card: Any) -> set[int]:
    """The folds the card's current temperatures were fitted on: each member's validation fold and, when the
    ensemble temperature was fitted, the calibration fold (an ECE measured there is not out of sample)."""
    section = current_section(card)
    if section is None:
        return set()
    folds = {t.validation_fold for t in getattr(card, "training", ()) if t.validation_fold is not None}
    return folds | ({section.calibration_fold} if section.calibration_fold is not None else set())


def calibrator_of(card: Any) -> Calibrator:
    """The card's :class:`Calibrator` (the identity when the card has no calibration section, or a stale one)."""
    section = current_section(card)
    if section is None:
        return Calibrator()
    return Calibrator(tuple(float(v) for v in section.member_temperatures), float(section.temperature))


def support_for(prediction: Prediction, thresholds: SupportThresholds, homology: HomologyHint | None = None) -> Support:
    """:func:`assess` for a :class:`~locviz.predict.Prediction` (its calibrated confidence and members)."""
    members = prediction.member_calls
    warnings = [w for w in (prediction.extra.get("organism_warning"),) if w]  # set by locviz.organisms.apply
    known = prediction.extra.get("known_location")  # a training protein's own label (locviz.predict)
    organism = prediction.organism
    if known is not None and organisms.annotation_in(known, organism) != prediction.label:
        warnings.append(f"This very protein is annotated {known} in the model's training data, not "
                        f"{prediction.label}: the call contradicts its own label.")  # fmt: skip
    return assess(prediction.confidence, prediction.label, prediction.sequence, thresholds, members, homology,
                  warnings, organism)  # fmt: skip


def annotate(prediction: Prediction, thresholds: SupportThresholds, homology: HomologyHint | None = None) -> Prediction:
    """Set ``extra['support']`` (the table column) and ``extra['support_reasons']`` (the sentences) in place."""
    verdict = support_for(prediction, thresholds, homology)
    prediction.extra["support"] = verdict.level
    prediction.extra["support_reasons"] = verdict.text
    return prediction


def calibrate_prediction(prediction: Prediction, calibrator: Calibrator) -> Prediction:
    """A copy with calibrated probabilities (:meth:`Calibrator.ensemble`); the raw mean stays in ``raw_probabilities``.

    ``member_probabilities`` become each member at its own temperature (their spread, as the verdict reads it).
    A prediction without member probabilities can only take the ensemble temperature.
    """
    raw = np.asarray(prediction.probabilities, dtype=np.float64)
    members = prediction.member_probabilities
    if members is None:
        probabilities = scale(raw, calibrator.temperature)
    else:
        members, probabilities = calibrator.apply(members)
    return dataclasses.replace(prediction, probabilities=probabilities, member_probabilities=members,
                               raw_probabilities=raw)  # fmt: skip


# ----------------------------------------------------------------------------- fitting everything
@dataclass
class CalibrationResult:
    """What ``locviz calibrate`` measured and what it stores."""

    calibrator: Calibrator
    member_halves: dict[int, tuple[float, float]]  # member -> temperatures fitted on each half of its fold
    ece_before: float  # members out-of-fold, raw
    ece_after: float  # members out-of-fold at their temperatures, cross-fitted
    nll_before: float
    nll_after: float  # cross-fitted
    accuracy: float
    n: int
    reliability_before: Reliability
    reliability_after: Reliability
    thresholds: SupportThresholds
    support_accuracy: dict[str, float | None]  # cross-fitted thresholds, per verdict level
    support_count: dict[str, int]
    fitted_on: str
    ensemble: dict[str, Any] | None = None  # the calibration fold's figures (None: no calibration fold)
    calibration_fold: int | None = None

    def section(self, command: str = "", weights_sha256: str = "") -> CalibrationCard:
        """The card section; ``weights_sha256`` ties it to the weights it was fitted for (stale if they change)."""
        metrics = {
            "weights_sha256": weights_sha256,
            "ece_before": round(self.ece_before, 4),
            "ece_after": round(self.ece_after, 4),
            "nll_before": round(self.nll_before, 4),
            "nll_after": round(self.nll_after, 4),
            "accuracy": round(self.accuracy, 4),
            "n": self.n,
            "n_bins": N_BINS,
            "temperature_objective": TEMPERATURE_OBJECTIVE,
            "member_temperature_halves": {str(k): [round(v, 4) for v in p] for k, p in self.member_halves.items()},
            "reliability_before": self.reliability_before.to_dict(),
            "reliability_after": self.reliability_after.to_dict(),
            "measured_on": "out-of-fold predictions of the network on its validation fold (cross-validation); ECE "
            "after with its temperature fitted on the other half of the fold"
            if len(self.calibrator.member_temperatures) == 1
            else "out-of-fold predictions of single members (cross-validation); ECE after with each member's "
            "temperature fitted on the other half of its fold",
            "ensemble": self.ensemble
            or {"fitted": False, "why": no_ensemble_temperature(len(self.calibrator.member_temperatures))},
            "support": {
                "thresholds": {"high": self.thresholds.high, "low": self.thresholds.low},
                "high_target": HIGH_TARGET,
                "accuracy": {k: None if v is None else round(v, 4) for k, v in self.support_accuracy.items()},
                "count": dict(self.support_count),
                "measured_on": "out-of-fold predictions; thresholds chosen on the other validation folds; "
                "confidence and sequence signs only (member agreement and homology cannot be cross-validated here)",
            },
        }
        c = self.calibrator
        return CalibrationCard(method="member-temperatures", temperature=round(c.temperature, 4),
                               fitted_on=self.fitted_on, metrics=metrics, command=command,
                               member_temperatures=tuple(round(v, 4) for v in c.member_temperatures),
                               calibration_fold=self.calibration_fold)  # fmt: skip


def _support_by_level(oof: OutOfFold, calibrated: np.ndarray) -> tuple[dict, dict]:
    """Accuracy and count per verdict level, thresholds for fold k chosen on the other folds."""
    confidence = calibrated.max(axis=1)
    correct = calibrated.argmax(axis=1) == oof.labels
    levels = np.empty(len(oof.labels), dtype=object)
    signs = [ood_checks(s) for s in oof.sequences]
    for fold in np.unique(oof.folds):
        rows = oof.folds == fold
        other = ~rows if (~rows).any() else rows
        t = choose_thresholds(confidence[other], correct[other])
        for i in np.flatnonzero(rows):
            levels[i] = ood_level(t.level(float(confidence[i])), signs[i])
    accuracy = {lv: (float(correct[levels == lv].mean()) if (levels == lv).any() else None) for lv in LEVELS}
    count = {lv: int((levels == lv).sum()) for lv in LEVELS}
    return accuracy, count


def fit_ensemble_temperature(fold: EnsembleFold, member_temps: Sequence[float]) -> tuple[float, dict[str, Any]]:
    """The ensemble temperature on a calibration fold, over its members at their own temperatures, and the
    figures: ECE of the raw average, of the members-only calibration, and cross-fitted with ``T`` (halves)."""
    temps = tuple(member_temps[k] for k in fold.members)
    averaged = Calibrator(temps).ensemble(fold.member_probabilities)
    raw = fold.member_probabilities.mean(axis=0)
    logp = log_probabilities(averaged)
    temperature = fit_temperature(logp, fold.labels)
    crossed, pair = cross_fit(logp, fold.labels)
    figures = {
        "fitted": True, "fold": fold.fold, "members": list(fold.members), "n": int(len(fold.labels)),
        "temperature": round(temperature, 4), "temperature_halves": [round(v, 4) for v in pair],
        "accuracy": round(float((crossed.argmax(1) == fold.labels).mean()), 4),
        "ece_raw_average": round(expected_calibration_error(raw, fold.labels), 4),
        "ece_member_temperatures": round(expected_calibration_error(averaged, fold.labels), 4),
        "ece_after": round(expected_calibration_error(crossed, fold.labels), 4),
        # does averaging more members still help? accuracy of the first k members' average, out of sample
        "accuracy_first_k_members": [round(float((fold.member_probabilities[:k].mean(0).argmax(1) == fold.labels)
                                                 .mean()), 4) for k in range(1, len(fold.members) + 1)],
        "mean_confidence_after": round(float(crossed.max(1).mean()), 4),
        "reliability_raw_average": reliability(raw, fold.labels).to_dict(),
        "reliability_after": reliability(crossed, fold.labels).to_dict(),
        "measured_on": f"fold {fold.fold}, predicted by the {len(fold.members)} members that never trained or were "
        "validated on it (their average: an out-of-sample ensemble); ECE after cross-fitted (each half scaled by "
        "the other half's T). The shipped ensemble averages more members, so its average is a little softer "
        "than the one T was fitted on",
    }  # fmt: skip
    return temperature, figures


def fit(bundle: ModelBundle, data: LabelledSet, callback: Callable[[int], None] | None = None,
        calibration_fold: int | None = None) -> CalibrationResult:  # fmt: skip
    """Out-of-fold predictions → member temperatures (and, on a calibration fold, the ensemble temperature),
    ECE before/after, support thresholds and their cross-validated accuracy."""
    oof = out_of_fold(bundle, data, callback=callback)
    n_members = bundle.card.members
    temps = member_temperatures(oof, n_members)
    ensemble_t, ensemble = 1.0, None
    if calibration_fold is not None:
        ensemble_t, ensemble = fit_ensemble_temperature(ensemble_fold(bundle, data, calibration_fold, callback), temps)
    calibrator = Calibrator(temps, ensemble_t)
    crossed, member_halves = member_cross_fitted(oof, n_members)
    shown = calibrator.rows(oof.probabilities, oof.members)  # calibrated members: the confidence scale users see
    correct = oof.probabilities.argmax(axis=1) == oof.labels
    accuracy, count = _support_by_level(oof, crossed)
    folds = ", ".join(f"member {k} on fold {f}" for k, f in enumerate(validation_folds(bundle, data.name)))
    fitted_on = (f"{data.name} validation folds, out-of-fold only ({folds}; {len(oof.labels)} proteins): one "
                 "temperature per member, on its own fold, applied to its logits before averaging; each fitted "
                 f"{OBJECTIVE_TEXT[TEMPERATURE_OBJECTIVE]}")
    if ensemble is not None:
        fitted_on += (f"; the ensemble temperature on fold {calibration_fold}, averaged over members "
                      f"{', '.join(map(str, ensemble['members']))} of {n_members} (none of them trained or was "
                      "validated on it), applied to the average of all members")  # fmt: skip
    return CalibrationResult(
        calibrator=calibrator,
        member_halves=member_halves,
        ece_before=expected_calibration_error(oof.probabilities, oof.labels),
        ece_after=expected_calibration_error(crossed, oof.labels),
        nll_before=nll(log_probabilities(oof.probabilities), oof.labels),
        nll_after=float(np.mean(-np.log(np.clip(crossed[np.arange(len(oof.labels)), oof.labels], EPS, 1)))),
        accuracy=float(correct.mean()),
        n=len(oof.labels),
        reliability_before=reliability(oof.probabilities, oof.labels),
        reliability_after=reliability(crossed, oof.labels),
        thresholds=choose_thresholds(shown.max(axis=1), shown.argmax(axis=1) == oof.labels),
        support_accuracy=accuracy,
        support_count=count,
        fitted_on=fitted_on,
        ensemble=ensemble,
        calibration_fold=calibration_fold,
    )


def summary(result: CalibrationResult) -> str:
    """The figures ``locviz calibrate`` prints (cross-validation, not a test set)."""
    t = result.thresholds
    c = result.calibrator
    lines = [
        f"out-of-fold proteins: {result.n} (accuracy {result.accuracy:.4f}; cross-validation, not a test set)",
        "member temperatures (each on its own fold; halves: " + "; ".join(
            f"{k}: {a:.3f}/{b:.3f}" for k, (a, b) in result.member_halves.items()) + "): "
        + ", ".join(f"{v:.4f}" for v in c.member_temperatures),
        f"members' ECE ({N_BINS} bins, top class): before {result.ece_before:.4f}, after {result.ece_after:.4f} "
        "(cross-fitted)",
        f"NLL (for reference; temperatures are fitted {OBJECTIVE_TEXT[TEMPERATURE_OBJECTIVE]}): before "
        f"{result.nll_before:.4f}, after {result.nll_after:.4f}",
    ]
    e = result.ensemble
    if e is None:
        lines.append("ensemble temperature: 1 (no --calibration-fold: averaging's softening is not corrected)")
    else:
        lines.append(f"ensemble temperature: {e['temperature']:.4f} on fold {e['fold']} (members "
                     f"{', '.join(map(str, e['members']))}, {e['n']} proteins): ECE raw average "
                     f"{e['ece_raw_average']:.4f}, members calibrated {e['ece_member_temperatures']:.4f}, "
                     f"after {e['ece_after']:.4f} (cross-fitted)")  # fmt: skip
        lines.append("  accuracy of the first k of these members averaged, k = 1, 2, ...: "
                     + ", ".join(f"{a:.4f}" for a in e["accuracy_first_k_members"])
                     + " (does the ensemble still gain?)")  # fmt: skip
    lines += [
        f"support thresholds: high >= {t.high:.2f}, low < {t.low:.2f} (calibrated confidence)",
        "support verdict, CV accuracy per level (thresholds from the other folds; a sequence unlike the training "
        "proteins is low, a very long one at most medium):",
    ]
    for level in reversed(LEVELS):
        acc = result.support_accuracy[level]
        lines.append(f"  {level:<6} {result.support_count[level]:6d} proteins  accuracy "
                     + ("-" if acc is None else f"{acc:.4f}"))  # fmt: skip
    return "\n".join(lines)
