"""What changes the call: saturation mutagenesis, variants, occlusion, gradient attribution, deletion curves.

Attention says where the model looked; these tools say what the call rests on,
by changing the sequence and predicting again. Everything but the gradients goes
through the shared runner (:meth:`locviz.predict.Predictor.predict`), so a Δ reported
here is exactly ``predict(mutant) - predict(wild type)`` of two ordinary calls (the
model is padding-invariant; batch composition changes float32 results by ~1e-7);
gradients need the input features (``ConvLSTM.embed``) and call the ensemble directly.

API (for the command line and the app; all coordinates 1-based inclusive on the full sequence):

* :func:`saturation_scan` → :class:`SaturationScan`: every single-residue substitution in a window of at
  most :data:`MAX_SCAN_WINDOW` residues (default: the :data:`DEFAULT_SCAN_WIDTH`-residue window holding
  the most attention); ``delta[i, j, c]`` = Δp of class ``c`` for ``substitutes[j]`` at ``positions[i]``
  (0 on the wild-type column, which is not run). ``SaturationScan.heatmap(cls)`` gives the 20 × W matrix.
* :func:`rescore`: a scan drawn by a fast student with its strongest cells predicted again by the full
  ensemble; both Δs kept, each named by its model (:func:`rescore_summary`). :func:`fast_scan` does both,
  with the ensemble's wild type choosing the default window and class.
* :func:`parse_variants` / :func:`apply_variants` / :func:`compare` → :class:`VariantComparison`:
  ``K128T``, ``del1-20`` (or ``del5``), ``ins45:AAA`` (insert after residue 45; ``ins0:`` before the
  first), or HGVS protein notation (``p.Lys128Thr``, ``p.K128T``, ``p.(Lys128Thr)``, ``p.Ala5_Leu9del``,
  ``p.Lys128_Ala129insGly``; residues it names are checked); several per mutant, all in wild-type
  coordinates. A second sequence (an isoform) is compared through a global alignment instead.
* :func:`occlusion_scan` and :func:`gradient_attribution` → :class:`Attribution`: one score per residue
  on the attention's axis (NaN where the model did not look).
* :func:`deletion_curve` → :class:`DeletionCurve`: P(call) after replacing the top-k residues of any
  per-residue score with X, against random residues, with a one-line reading. :func:`cross_check` runs
  every method and its curve, as the What if page's attribution cross-check.
* :func:`scan_table_bytes` / :func:`comparison_table_bytes` (and the writers the CLI streams to): the
  tables of ``locviz scan`` and ``locviz mutate``.

Cost. One mutant is one forward pass over the whole (cropped) protein: the BiLSTM carries every residue's
influence to both ends, so no part of the pass can be reused exactly through the shared runner. A
W-residue scan of an L-residue protein costs 19·W passes of length min(L, 1000). Exactly free: positions
the long-sequence policy cuts away (the model never sees them, so Δ is exactly 0 and they are not run)
and the wild-type column. ``benchmarks/whatif_speed.py`` prints the figures: with deeploc when it had 4 members, a
60-residue scan of a 1,000-residue protein is 1,140 passes, 47.5 CPU-seconds (about 25-30 s on 2 cores, far
from the 5 s target; a GPU or a model-level LSTM-state cache is what would close it, see benchmarks/README.md).
Callers that show progress pass ``callback``; callers that already hold the wild type's prediction pass
``wild=`` (and the ``organism`` it was made with) so it is not predicted again.

Removing residues. Occlusion and deletion curves *replace* residues by X, the unknown token the model
met in training for ambiguous residues, rather than deleting them: the length, the termini, the
long-sequence crop and every position stay where they were, so a drop in probability means "this
content mattered", not "the signal moved" (deleting 10 residues near the N-terminus moves a C-terminal
PTS1 nowhere but shifts everything after the deletion, and can change what the crop keeps). Deleting
a whole annotated signal is a variant (``del1-20``), which :func:`compare` handles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import torch
from Bio.SeqUtils import seq1, seq3

from locviz import signals
from locviz.card import display_name
from locviz.encoding import UNKNOWN_TOKEN, tokenize
from locviz.errors import InputError, check
from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.regions import top_regions
from locviz.sequences import ALLOWED_RESIDUES, MIN_LENGTH, STANDARD_RESIDUES, ProteinRecord, record_accession
from locviz.table import RowWriter, rows_bytes

__all__ = [
    "Attribution", "DeletionCurve", "SaturationScan", "Variant", "VariantComparison", "align_positions",
    "apply_variants", "attention_attribution", "attention_change_table_bytes", "attribution_columns",
    "attribution_rows", "attribution_table_bytes", "check_window", "check_window_shape", "compare", "compare_mutants",
    "comparison_table_bytes", "cross_check", "cross_check_methods", "default_window", "deletion_curve", "deletion_ks",
    "deletion_rows", "deletion_table_bytes", "delta_writer", "edit", "gradient_attribution", "is_faithful",
    "mutate_columns", "occlusion_scan", "occlusion_windows", "parse_variants", "saturation_scan", "scan_columns",
    "scan_summary", "scan_table_bytes", "split_mutants", "split_target", "target_mutants", "variants_label",
    "variants_as_given"
]  # fmt: skip

MAX_SCAN_WINDOW = 100
DEFAULT_SCAN_WIDTH = 20
SUBSTITUTES = STANDARD_RESIDUES  # the 20 residues every position is changed to, in this order
OCCLUSION_WINDOW = 9  # residues replaced at once: about a short sorting signal (KDEL, PTS1 plus context)
OCCLUSION_STRIDE = 3  # each residue is covered by window / stride = 3 occlusions; L/3 passes in all
IG_STEPS = 32
DELETION_KS = (1, 2, 5, 10, 20)
DELETION_MAX_SHARE = 0.25
"""The cross-check removes at most this share of the residues the model saw: past it, any k residues gone leave
too little of the protein for top against random to mean anything (a 15-residue peptide stops at k = 2)."""
FAITHFUL_SHARE = 0.1
"""A score is called faithful when removing its top-k residues lowers P(target) by at least this share of the
wild type's P(target) more than removing k random ones: 0.09 for a call at 0.9, 0.01 for a class at 0.1 (an
absolute margin could never be met by a class the model gives little)."""
GRADIENT_METHODS = ("gradxinput", "integrated_gradients")
METHOD_NAMES = {
    "attention": "attention",
    "occlusion": "occlusion",
    "gradxinput": "gradient × input",
    "integrated_gradients": "integrated gradients",
}


# ----------------------------------------------------------------------------- helpers
def _predict_one(predictor: Predictor, record: ProteinRecord, organism: str = "any") -> Prediction:
    return predictor.predict([record], organism=organism)[0]


def _wild(predictor: Predictor, record: ProteinRecord, wild: Prediction | None, organism: str | None
          ) -> tuple[Prediction, str]:  # fmt: skip
    """(the wild type's prediction, the organism the mutants are predicted for): ``wild`` if given, and by default
    its organism. A ``wild`` made for another organism than ``organism`` is refused: every Δ would include the
    organism's renormalisation (a fake drop of the excluded compartments' share at every mutant)."""
    if wild is None:
        organism = organism or "any"
        return _predict_one(predictor, record, organism), organism
    if organism is not None and organism != wild.organism:
        raise InputError(f"the wild type's prediction is for organism {wild.organism!r}, the mutants would be for "
                         f"{organism!r}: give organism={wild.organism!r}, or a wild type predicted for {organism!r}")
    return wild, wild.organism


def _class_index(predictor: Predictor, wild: Prediction, target: str | None) -> int:
    """The class scored: ``target`` if given, else the wild type's call."""
    if target is None:
        return int(np.argmax(wild.probabilities))
    check(
        target in predictor.classes,
        f"class {target!r} is not one of the model's classes ({', '.join(predictor.classes)})",
    )
    return predictor.classes.index(target)


def _with_residues(sequence: str, positions: Iterable[int], residue: str) -> str:
    """``sequence`` with the 0-based ``positions`` set to ``residue``."""
    chars = list(sequence)
    for i in positions:
        chars[i] = residue
    return "".join(chars)


def check_window_shape(start: int, end: int, limit: int = MAX_SCAN_WINDOW) -> None:
    """A 1-based inclusive window whatever the protein: start at least 1, end not before it, at most ``limit`` long
    (what is wrong with such a window is wrong for every protein, so ``locviz scan`` says it once).

    Raises:
        InputError: naming the bad bound.
    """
    check(start >= 1, f"window start must be at least 1 (1-based), got {start}")
    check(end >= start, f"window end must not be before its start {start}, got {end}")
    check(
        end - start + 1 <= limit,
        f"the window {start}-{end} holds {end - start + 1} residues; at most {limit} can be scanned at once",
    )


def check_window(start: int, end: int, length: int, limit: int = MAX_SCAN_WINDOW) -> None:
    """A 1-based inclusive window inside a protein of ``length`` residues, at most ``limit`` long.

    Raises:
        InputError: naming the bad bound and the allowed range.
    """
    check(1 <= start <= length, f"window start must be between 1 and {length} (the protein's length), got {start}")
    check(start <= end <= length, f"window end must be between {start} (the start) and {length}, got {end}")
    check_window_shape(start, end, limit)


def default_window(wild: Prediction, width: int = DEFAULT_SCAN_WIDTH) -> tuple[int, int]:
    """The ``width``-residue window holding the most attention (1-based inclusive)."""
    region = top_regions(wild, n=1, window=width)[0]
    return region.start, region.end


# ----------------------------------------------------------------------- saturation scan
@dataclass
class SaturationScan:
    """Every single substitution in a window, and how each class probability moved."""

    wild: Prediction
    positions: np.ndarray  # (W,) int, 1-based
    wt: str  # (W,) wild-type residues
    delta: np.ndarray  # (W, 20, C) float64: p(mutant) - p(wild type); 0 on the wild-type column
    seen: np.ndarray  # (W,) bool: False where the model never sees the position (Δ exactly 0, not run)
    substitutes: str = SUBSTITUTES
    # the strongest cells predicted again by a slower, fuller model (:func:`rescore`): (i, j) -> Δp per class
    rescored: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    rescored_by: Prediction | None = None  # that model's prediction of the wild type (its name: model_name)
    rescored_class: str | None = None  # the class whose strongest cells were re-scored

    @property
    def model(self) -> str:
        """The model that drew the scan (every cell of :attr:`delta`)."""
        return self.wild.model_name

    @property
    def classes(self) -> list[str]:
        return self.wild.classes

    @property
    def id(self) -> str:
        return self.wild.id

    @property
    def default_class(self) -> str:
        """The class the scan is read for when none is named: the one its strongest cells were re-scored for (in a
        fast scan the full model's call, which the app shows), else the call of the model that drew it."""
        return self.rescored_class or self.wild.label

    def heatmap(self, cls: str | None = None) -> np.ndarray:
        """``(20, W)`` Δp of ``cls`` (default: :attr:`default_class`); rows follow :attr:`substitutes`."""
        return self.delta[:, :, self.classes.index(cls or self.default_class)].T

    def rows(self) -> Iterable[list]:
        """One row per (position, substitute), wild type → itself left out: ``id, position, wt, mut, dp_...``;
        a re-scored scan adds ``rescored_by`` and ``full_dp_...`` (empty on the cells not re-scored); ``organism``
        last."""
        blank = [None] * len(self.classes)
        for i, (pos, wt) in enumerate(zip(self.positions.tolist(), self.wt, strict=True)):
            for j, aa in enumerate(self.substitutes):
                if aa != wt:
                    row = [self.id, pos, wt, aa, *self.delta[i, j].tolist()]
                    if self.rescored_by is not None:
                        full = self.rescored.get((i, j))
                        row += [self.rescored_by.model_name if full is not None else None,
                                *(full.tolist() if full is not None else blank)]  # fmt: skip
                    yield [*row, self.wild.organism]

    def columns(self) -> list[str]:
        return scan_columns(self.classes, rescored=self.rescored_by is not None)


NEGLIGIBLE = 0.005
"""|Δp| below this (half a percentage point) is said in words to move the call by nothing worth reading."""


def scan_summary(scan: SaturationScan, cls: str | None = None, threshold: float = NEGLIGIBLE) -> str:
    """One or two sentences on a scan for ``cls``: the largest drop and rise, or that none reaches ``threshold``.

    A heatmap alone cannot say whether its strongest colour means 0.8 or 0.005; this says it in words. ``cls``
    defaults to :attr:`SaturationScan.default_class`.
    """
    cls = cls or scan.default_class
    z = scan.heatmap(cls)  # (20, W)
    shown = display_name(cls)
    low, high = np.unravel_index(np.argmin(z), z.shape), np.unravel_index(np.argmax(z), z.shape)

    def name(j: int, i: int) -> str:
        return f"{scan.wt[i]}{scan.positions[i]}{scan.substitutes[j]} ({100 * z[j, i]:+.1f} points)"

    largest = float(np.abs(z).max())
    if largest < threshold:
        return (
            f"No substitution of residues {scan.positions[0]}-{scan.positions[-1]} moves p({shown}) by more than "
            f"{100 * threshold:.1f} points (largest |Δp| {100 * largest:.2f} points): the call does not rest on "
            "any single residue here."
        )
    drop = f"largest drop of p({shown}): {name(*low)}" if z[low] < 0 else f"no substitution lowers p({shown})"
    rise = f"largest rise: {name(*high)}" if z[high] > 0 else "none raises it"
    return f"{drop[0].upper()}{drop[1:]}; {rise}."


def saturation_scan(
    predictor: Predictor,
    record: ProteinRecord,
    start: int | None = None,
    end: int | None = None,
    *,
    wild: Prediction | None = None,
    callback: Callable[[int], None] | None = None,
    organism: str | None = None,
) -> SaturationScan:
    """Predict every single-residue substitution at positions ``start``..``end`` (1-based inclusive).

    Without a window, the :data:`DEFAULT_SCAN_WIDTH`-residue window with the most attention is
    scanned. ``wild`` reuses a prediction of ``record`` already made; ``callback(n)`` is told how
    many mutants each batch finished (progress bars; 19 per position). ``organism`` is passed to
    :meth:`Predictor.predict` for the wild type and every mutant (default: ``wild``'s, else ``any``).

    Raises:
        InputError: the window is outside the protein or longer than :data:`MAX_SCAN_WINDOW`, or ``wild`` was made
            for another organism.
    """
    wild, organism = _wild(predictor, record, wild, organism)
    if start is None and end is None:
        start, end = default_window(wild)
    elif start is None or end is None:
        raise InputError("give both the window start and end, or neither (the most-attended window)")
    check_window(start, end, len(record.sequence))
    sequence = record.sequence
    positions = np.arange(start, end + 1)
    wt = sequence[start - 1 : end]
    seen = np.asarray(wild.seen[start - 1 : end], dtype=bool)
    delta = np.zeros((len(positions), len(SUBSTITUTES), len(wild.classes)))
    mutants, slots = [], []
    for i, pos in enumerate(positions.tolist()):
        if not seen[i]:
            continue  # cut by the long-sequence policy: the model input is unchanged, Δ = 0 exactly
        for j, aa in enumerate(SUBSTITUTES):
            if aa != wt[i]:
                mutants.append(ProteinRecord(f"{record.id}:{wt[i]}{pos}{aa}", _with_residues(sequence, [pos - 1], aa)))
                slots.append((i, j))
    predictions = predictor.iter_predict(mutants, callback=callback, organism=organism)
    for (i, j), pred in zip(slots, predictions, strict=True):
        delta[i, j] = pred.probabilities - wild.probabilities
    return SaturationScan(wild=wild, positions=positions, wt=wt, delta=delta, seen=seen)


def check_same_classes(full: str, full_classes: Sequence[str], fast: str, fast_classes: Sequence[str]) -> None:
    """Refuse to re-score a scan with a model of other classes (its Δs would not line up)."""
    if list(full_classes) != list(fast_classes):
        raise InputError(f"{full} predicts other classes than {fast} ({len(full_classes)} vs {len(fast_classes)}); "
                         "re-score with the ensemble the fast model was distilled from (e.g. deeploc for "
                         "deeploc-fast)")  # fmt: skip


RESCORE_TOP = 10
"""How many of a fast scan's strongest cells the full model predicts again by default (10 passes, ~1 s)."""


def check_rescore(model: str, classes: Sequence[str], cls: str | None, top: int) -> None:
    """Refuse a re-scoring request before minutes of drawing are spent on it.

    Raises:
        InputError: ``top`` is not a positive whole number, or ``cls`` is not one of ``classes``.
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise InputError(f"the number of cells to re-score must be a whole number >= 1, got {top!r}")
    if cls is not None and cls not in classes:
        raise InputError(f"{cls!r} is not a class of {model}; choose one of {', '.join(classes)}")


def strongest_cells(scan: SaturationScan, cls: str | None = None, top: int = RESCORE_TOP) -> list[tuple[int, int]]:
    """The ``top`` cells ``(i, j)`` with the largest |Δp(cls)| (default class: the scan's call), strongest first;
    wild-type and unseen cells (Δ exactly 0) never count.

    Raises:
        InputError: ``top`` is not a positive whole number, or ``cls`` is not one of the scan's classes.
    """
    check_rescore(scan.model, scan.classes, cls, top)
    z = np.abs(scan.heatmap(cls).T)  # (W, 20)
    order = np.argsort(-z, axis=None, kind="stable")[:top]
    return [(int(i), int(j)) for i, j in zip(*np.unravel_index(order, z.shape), strict=True) if z[i, j] > 0]


def rescore(
    scan: SaturationScan,
    predictor: Predictor,
    record: ProteinRecord,
    *,
    cls: str | None = None,
    top: int = RESCORE_TOP,
    organism: str | None = None,
    callback: Callable[[int], None] | None = None,
    full_wild: Prediction | None = None,
) -> SaturationScan:
    """``scan`` with its ``top`` strongest cells for ``cls`` predicted again by ``predictor`` (the full ensemble).

    A fast student draws the whole heatmap in seconds; the cells a reader acts on are then checked by the
    model whose calls the rest of the app shows. Both Δs stay side by side (:meth:`SaturationScan.rows`,
    :func:`rescore_summary`), each named by its model. ``full_wild`` reuses ``predictor``'s prediction of the
    wild type (made with the same ``organism``; default: the organism the scan was made with).

    Raises:
        InputError: ``predictor`` has other classes than the scan's model, ``record`` is not the scanned protein,
            or ``organism`` is not the one the scan was made for.
    """
    check_same_classes(predictor.name, predictor.classes, scan.model, scan.classes)
    organism = scan.wild.organism if organism is None else organism
    check(organism == scan.wild.organism, f"the scan of {scan.id!r} was made for organism {scan.wild.organism!r}; "
          f"re-scoring it for {organism!r} would set side by side Δs of two normalisations: scan again")  # fmt: skip
    if record.sequence != scan.wild.sequence:
        raise InputError(f"record {record.id!r} is not the protein {scan.id!r} that was scanned")
    full_wild, organism = _wild(predictor, record, full_wild, organism)
    cls = cls or full_wild.label  # what the reader is shown is about the full model's call
    cells = strongest_cells(scan, cls, top)
    mutants = [
        ProteinRecord(f"{record.id}:{scan.wt[i]}{scan.positions[i]}{scan.substitutes[j]}",
                      _with_residues(record.sequence, [int(scan.positions[i]) - 1], scan.substitutes[j]))
        for i, j in cells
    ]  # fmt: skip
    predictions = predictor.iter_predict(mutants, callback=callback, organism=organism)
    rescored = {cell: pred.probabilities - full_wild.probabilities for cell, pred in zip(cells, predictions,
                                                                                          strict=True)}  # fmt: skip
    return SaturationScan(scan.wild, scan.positions, scan.wt, scan.delta, scan.seen, scan.substitutes, rescored,
                          full_wild, cls)  # fmt: skip


def fast_scan(
    drawer: Predictor,
    full: Predictor,
    record: ProteinRecord,
    start: int | None = None,
    end: int | None = None,
    *,
    cls: str | None = None,
    top: int = RESCORE_TOP,
    organism: str = "any",
    callback: Callable[[int], None] | None = None,
    wild: Prediction | None = None,
    full_wild: Prediction | None = None,
) -> SaturationScan:
    """The What if page's fast scan (the page runs the two steps apart, to draw once and re-score per class
    shown): ``drawer`` (a student) draws every cell, ``full`` re-scores the ``top`` strongest for ``cls``.

    What the reader is shown is about ``full``'s call, so its wild type picks the defaults: the window with the
    most of *its* attention and the class it calls (the student may call or attend elsewhere). ``wild`` and
    ``full_wild`` reuse the two models' predictions of ``record``, made with ``organism``.

    Raises:
        InputError: the models have other classes, ``cls`` or ``top`` is not valid, a reused prediction is
            not of ``record`` by its model, or the window is not valid.
    """
    check_same_classes(full.name, full.classes, drawer.name, drawer.classes)
    check_rescore(full.name, full.classes, cls, top)
    for given, model in ((wild, drawer), (full_wild, full)):
        if given is not None and (given.model_name != model.name or given.sequence != record.sequence):
            raise InputError(f"the prediction {given.id!r} by {given.model_name} is not {model.name}'s prediction "
                             f"of {record.id!r}; pass that one, or none")  # fmt: skip
    full_wild = full_wild or _predict_one(full, record, organism)
    if start is None and end is None:
        start, end = default_window(full_wild)
    scan = saturation_scan(drawer, record, start, end, wild=wild, callback=callback, organism=organism)
    return rescore(scan, full, record, cls=cls, top=top, organism=organism, full_wild=full_wild)


def rescore_agreement(scan: SaturationScan) -> tuple[int, int, int]:
    """Of the re-scored cells, for the class they were chosen for: (the full model moves p the same way as the
    heatmap, it moves p the other way by at least :data:`NEGLIGIBLE`, cells re-scored). The rest it hardly moves."""
    c = scan.classes.index(scan.default_class)
    cells = list(scan.rescored)
    same = sum(1 for i, j in cells if np.sign(scan.delta[i, j, c]) == np.sign(scan.rescored[i, j][c]))
    other = sum(1 for i, j in cells if np.sign(scan.delta[i, j, c]) != np.sign(scan.rescored[i, j][c])
                and abs(scan.rescored[i, j][c]) >= NEGLIGIBLE)  # fmt: skip
    return same, other, len(cells)


def rescore_warning(scan: SaturationScan) -> str | None:
    """Why the heatmap misrepresents the full model (it moves most re-scored cells the other way), or None.

    The student is a fast sketch of its ensemble; where the two disagree on the cells that matter most, a
    reader must not take the colours for the ensemble's. A change under :data:`NEGLIGIBLE` is no disagreement.
    The caller says how to draw it with the full model.
    """
    if scan.rescored_by is None:
        return None
    _, other, total = rescore_agreement(scan)
    if total == 0 or 2 * other <= total:
        return None
    shown = display_name(scan.default_class)
    return (f"{scan.model}'s heatmap is not a faithful picture of {scan.rescored_by.model_name} in this window: "
            f"{scan.rescored_by.model_name} moves p({shown}) the other way on {other} of the {total} strongest "
            "cells it re-scored")  # fmt: skip


def rescore_summary(scan: SaturationScan, cls: str | None = None) -> str:
    """Which model drew what, and whether the full model agrees on the strongest cells (same direction)."""
    if scan.rescored_by is None:
        return f"Every cell drawn by {scan.model}."
    full = scan.rescored_by
    cls = scan.rescored_class or cls or scan.wild.label  # the class its strongest cells were chosen for
    c = scan.classes.index(cls)
    shown = display_name(cls)
    cells = list(scan.rescored)
    same, _, _ = rescore_agreement(scan)
    text = (f"Heatmap drawn by {scan.model}; its {len(cells)} strongest cells re-scored by {full.model_name}: "
            f"{same} of {len(cells)} move p({shown}) the same way.")  # fmt: skip
    if cells:
        i, j = max(cells, key=lambda cell: abs(scan.rescored[cell][c]))
        name = f"{scan.wt[i]}{scan.positions[i]}{scan.substitutes[j]}"
        text += (f" Largest by {full.model_name}: {name} {100 * scan.rescored[i, j][c]:+.1f} points "
                 f"({scan.model}: {100 * scan.delta[i, j, c]:+.1f}).")  # fmt: skip
    if full.label != scan.wild.label:
        text += (f" The two models call the wild type differently: {scan.model} {display_name(scan.wild.label)}, "
                 f"{full.model_name} {display_name(full.label)}.")  # fmt: skip
    return text


# ------------------------------------------------------------------------------ variants
_SUB = re.compile(r"^([A-Z])(\d+)([A-Z])$")
_DEL = re.compile(r"^DEL(\d+)(?:-(\d+))?$")
_INS = re.compile(r"^INS(\d+):([A-Z]+)$")
VARIANT_HELP = (
    "write a substitution K128T, a deletion del1-20 (or del5) or an insertion ins45:AAA "
    "(inserts AAA after residue 45; ins0:AAA before the first), or HGVS protein notation: p.Lys128Thr, p.K128T, "
    "p.(Lys128Thr), p.Ala5_Leu9del, p.Lys128_Ala129insGly"
)
_HGVS_RESIDUE = r"([A-Za-z]{3}|[A-Za-z*])"  # a three-letter code (Lys, any case) or one letter (K)
_HGVS_SUB = re.compile(rf"^{_HGVS_RESIDUE}(\d+){_HGVS_RESIDUE}$")
_HGVS_DEL = re.compile(rf"^{_HGVS_RESIDUE}(\d+)(?:_{_HGVS_RESIDUE}(\d+))?del$", re.IGNORECASE)
_HGVS_INS = re.compile(rf"^{_HGVS_RESIDUE}(\d+)_{_HGVS_RESIDUE}(\d+)ins([A-Za-z]+)$", re.IGNORECASE)
_HGVS_UNSUPPORTED = (
    ("delins", "write the deletion and the insertion one by one, e.g. p.Cys28delinsTrpVal as del28 ins27:WV"),
    ("dup", "write a duplication as an insertion after its last residue, e.g. p.Gly4_Gln6dup of ...GLQ... as "
     "ins6:GLQ"),
    ("fs", "frameshifts are not predicted: give the translated mutant protein as a second sequence"),
    ("ext", "extensions are not predicted: give the extended protein as a second sequence"),
)


@dataclass(frozen=True)
class Variant:
    """One change in wild-type coordinates (1-based inclusive)."""

    kind: str  # "sub", "del" or "ins"
    start: int  # sub: the position; del: first deleted; ins: the residue the insertion follows (0 = N-terminus)
    end: int  # sub, ins: = start; del: last deleted
    wt: str = ""  # sub: the residue expected in the wild type
    new: str = ""  # sub: the new residue; ins: the inserted residues
    expect: tuple[tuple[int, str], ...] = field(default=(), compare=False)  # (position, residue) HGVS names
    notation: str = field(default="", compare=False)  # the text as written, when HGVS (p.Ala5_Leu9del)

    def __str__(self) -> str:
        if self.kind == "sub":
            return f"{self.wt}{self.start}{self.new}"
        if self.kind == "del":
            return f"del{self.start}" if self.start == self.end else f"del{self.start}-{self.end}"
        return f"ins{self.start}:{self.new}"


def _hgvs_residue(code: str, token: str) -> str:
    """One letter for a residue of HGVS text: three-letter codes through Biopython's ``seq1`` (Ter → ``*``)."""
    if len(code) == 1:
        return code.upper()
    one = seq1(code, undef_code="?")
    check(one != "?", f"variant {token!r}: {code!r} is not an amino-acid code (Ala, Arg ... Val, Ter, or one letter)")
    return one


def _hgvs_inserted(text: str, token: str, three_letter_flanks: bool) -> str:
    """Inserted residues: three-letter codes when capitalised so (``GlyArg``) or when the neighbours are written in
    three letters and the text reads as three-letter codes in any case (``p.lys2_thr3insgly``: one glycine), else one
    letter each (``GR``, ``p.Lys2_Thr3insG``). The table's ``variant`` column shows which reading was taken
    (``p.lys2_thr3insgly (ins2:G)``)."""
    triplets = [text[i : i + 3] for i in range(0, len(text), 3)]
    codes = len(text) % 3 == 0 and all(seq1(t, undef_code="?") != "?" for t in triplets)
    if re.fullmatch(r"(?:[A-Z][a-z]{2})+", text) or (three_letter_flanks and codes):
        return "".join(_hgvs_residue(t, token) for t in triplets)
    return text.upper()


def _parse_hgvs(token: str) -> Variant | None:
    """A variant in HGVS protein notation (``p.Lys128Thr``, ``p.K128T``, ``p.(Lys128Thr)``, ``p.Ala5_Leu9del``,
    ``p.Lys128_Ala129insGly``; a three-letter substitution also without ``p.``: ``Lys128Thr``), or None when
    ``token`` is not HGVS (``K128T``, ``del1-20``: locviz's own notation).

    Residues HGVS names (both ends of a deletion, both neighbours of an insertion) are kept in
    :attr:`Variant.expect` and checked against the sequence in :func:`_check_variants`.
    """
    text = token.strip()
    prefixed = text[:2].lower() == "p."
    body = text[2:] if prefixed else text
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]  # predicted consequence, p.(Lys128Thr): the same change
    deletion, insertion = _HGVS_DEL.match(body), _HGVS_INS.match(body)
    sub = None if deletion or insertion or body.lower().endswith("dup") else _HGVS_SUB.match(body)  # not by "del"
    if not prefixed and not (sub and len(sub[1]) == 3):
        return None  # K128T, del1-20, ins45:AAA: locviz's own notation
    if sub:
        pos, wt, new = int(sub[2]), _hgvs_residue(sub[1], token), _hgvs_residue(sub[3], token)
        check(new != "*", f"variant {token!r} is a stop gain: the protein ends at residue {pos - 1}; write "
              f"del{pos}-N (N the protein's length) to predict the shorter protein")  # fmt: skip
        return Variant("sub", pos, pos, wt, new, expect=((pos, wt),), notation=text)
    if m := deletion:
        first, last = int(m[2]), int(m[4] or m[2])
        check(last >= first, f"deletion {token!r} ends before it starts")
        ends = ((first, _hgvs_residue(m[1], token)),) + (((last, _hgvs_residue(m[3], token)),) if m[3] else ())
        return Variant("del", first, last, expect=ends, notation=text)
    if m := insertion:
        before, after = int(m[2]), int(m[4])
        check(after == before + 1, f"insertion {token!r}: an insertion lies between two neighbouring residues "
              f"(p.Lys{before}_Ala{before + 1}ins...), not {before} and {after}")  # fmt: skip
        flanks = ((before, _hgvs_residue(m[1], token)), (after, _hgvs_residue(m[3], token)))
        inserted = _hgvs_inserted(m[5], token, three_letter_flanks=len(m[1]) == 3)
        return Variant("ins", before, before, "", inserted, expect=flanks, notation=text)
    for word, advice in _HGVS_UNSUPPORTED:
        check(word not in body.lower(), f"variant {token!r}: {advice}")
    check(body not in ("?", "0", "=") and not body.endswith("="),
          f"variant {token!r} names no change to predict (unknown, no protein or synonymous)")  # fmt: skip
    raise InputError(f"variant {token!r} is not understood; {VARIANT_HELP}")


def _parse_one(token: str) -> Variant:
    if (hgvs := _parse_hgvs(token)) is not None:
        return hgvs
    text = token.strip().upper()
    if m := _SUB.match(text):
        return Variant("sub", int(m[2]), int(m[2]), m[1], m[3])
    if m := _DEL.match(text):
        first, last = int(m[1]), int(m[2] or m[1])
        check(last >= first, f"deletion {token!r} ends before it starts; write del{last}-{first}")
        return Variant("del", first, last)
    if m := _INS.match(text):
        return Variant("ins", int(m[1]), int(m[1]), "", m[2])
    raise InputError(f"variant {token!r} is not understood; {VARIANT_HELP}")


def parse_variants(text: str) -> list[Variant]:
    """Variants from text such as ``"K128T, del1-20 ins45:AAA"`` (separated by commas, semicolons, spaces or +),
    all of them; :func:`split_mutants` groups them into mutants.

    Raises:
        InputError: an empty text or a token that is no variant.
    """
    tokens = [t for t in re.split(r"[,;+\s]+", text or "") if t]
    check(bool(tokens), f"no variant given; {VARIANT_HELP}")
    return [_parse_one(t) for t in tokens]


def _check_variants(sequence: str, variants: Sequence[Variant]) -> None:
    """Positions in range, wild-type residues as stated, new letters valid, no two changes on one residue."""
    n = len(sequence)
    touched: dict[int, Variant] = {}
    for v in variants:
        for pos, residue in v.expect:  # the residues HGVS text names must be where it says
            check(1 <= pos <= n, f"{v.notation}: position {pos} is outside the protein (1-{n})")
            actual = sequence[pos - 1]
            check(
                actual == residue,
                f"{v.notation}: position {pos} is {seq3(actual)} ({actual}), not {seq3(residue)} ({residue}); "
                "check the numbering (1-based, on this sequence)",
            )
    for v in variants:
        bad = [c for c in v.new if c not in ALLOWED_RESIDUES]
        check(not bad, f"{v}: {bad[0] if bad else ''!r} is not an amino-acid letter")
        if v.kind == "ins":
            check(0 <= v.start <= n, f"{v}: an insertion follows a residue between 0 and {n}, got {v.start}")
            continue
        outside = v.start if v.start < 1 else v.end
        check(1 <= v.start and v.end <= n, f"{v}: position {outside} is outside the protein (1-{n})")
        if v.kind == "sub":
            check(v.new != v.wt, f"{v.notation or v} names no change to predict: residue {v.start} is {v.wt} already "
                  "(a synonymous change leaves the protein as it is)")  # fmt: skip
            actual = sequence[v.start - 1]
            check(
                actual == v.wt,
                f"{v}: position {v.start} is {actual}, not {v.wt}; check the numbering (1-based, on this sequence)",
            )
        for pos in range(v.start, v.end + 1):
            other = touched.get(pos)
            check(other is None, f"{v} and {other} both change residue {pos}; combine them into one change")
            touched[pos] = v
    for v in variants:
        gap = touched.get(v.start) if v.kind == "ins" else None
        if gap is not None and gap.kind == "del":
            check(v.start == gap.end, f"{v} falls inside the deletion {gap}; insert before or after it")


def edit(sequence: str, variants: Sequence[Variant]) -> tuple[str, np.ndarray]:
    """(mutant sequence, ``map``): ``map[i]`` is the 0-based mutant index of wild-type residue ``i``, -1 if deleted.

    Raises:
        InputError: see :func:`apply_variants`.
    """
    _check_variants(sequence, variants)
    subs = {v.start: v.new for v in variants if v.kind == "sub"}
    deleted = {p for v in variants if v.kind == "del" for p in range(v.start, v.end + 1)}
    inserts: dict[int, str] = {}
    for v in variants:
        if v.kind == "ins":
            inserts[v.start] = inserts.get(v.start, "") + v.new
    out: list[str] = [inserts.get(0, "")]
    mapping = np.full(len(sequence), -1, dtype=np.int64)
    n_out = len(out[0])
    for pos, residue in enumerate(sequence, start=1):
        if pos not in deleted:
            mapping[pos - 1] = n_out
            out.append(subs.get(pos, residue))
            n_out += 1
        extra = inserts.get(pos, "")
        out.append(extra)
        n_out += len(extra)
    return "".join(out), mapping


def split_target(item: str, ids: Sequence[str]) -> tuple[str, list[Variant]]:
    """``"ID:K128T,del1-20"`` → (ID, variants); the ID may hold ':' (the longest known ID wins), and a UniProt
    record (``sp|P07237|PDIA1_HUMAN``) may be named by its accession (``P07237``) when only one record has it.

    Without a known ``ID:`` prefix the variants belong to the only record, if there is one.

    Raises:
        InputError: no record of that name (the names are listed), or bad variant text.
    """
    matches = [i for i in ids if item.startswith(f"{i}:")]
    if matches:
        rid = max(matches, key=len)
        return rid, parse_variants(item[len(rid) + 1 :])
    by_accession = [i for i in ids if record_accession(i) != i and item.startswith(f"{record_accession(i)}:")]
    if len(by_accession) == 1:  # P07237:K128T for the record sp|P07237|PDIA1_HUMAN
        rid = by_accession[0]
        return rid, parse_variants(item[len(record_accession(rid)) + 1 :])
    if by_accession:
        raise InputError(f"accession {record_accession(by_accession[0])} names {len(by_accession)} records "
                         f"({', '.join(by_accession)}); write the record's full name before the ':'")  # fmt: skip
    shown = ", ".join(list(ids)[:5]) + (" ..." if len(ids) > 5 else "")
    unknown = InputError(f"{item!r} names no record of the input; write ID:VARIANTS with ID one of {shown}")
    if len(ids) != 1:
        raise unknown
    try:
        return ids[0], parse_variants(item)
    except InputError:
        if ":" in item.split(",")[0] and not item.lower().startswith("ins"):
            raise unknown from None
        raise


def target_mutants(item: str, ids: Sequence[str], combine: bool = False) -> tuple[str, list[list[Variant]]]:
    """``"ID:del505-508,L7R"`` → (ID, [[del505-508], [L7R]]): the mutants of one ``locviz mutate`` item.

    The ID is found as :func:`split_target` finds it; the rest is read by :func:`split_mutants`.

    Raises:
        InputError: see :func:`split_target`.
    """
    rid, _ = split_target(item, ids)
    named = next((name for name in (rid, record_accession(rid)) if item.startswith(f"{name}:")), None)
    text = item[len(named) + 1 :] if named is not None else item
    return rid, split_mutants(text, combine)


def variants_label(variants: Sequence[Variant]) -> str:
    """The variants in locviz's notation (``K128T,del1-20``): no spaces, for mutant ids."""
    return ",".join(str(v) for v in variants)


def variants_as_given(variants: Sequence[Variant]) -> str:
    """The variants as the user wrote them, each HGVS text beside the change it was read as
    (``p.(Leu7Pro) (L7P)``): the table's ``variant`` column, which rows are matched to their input by."""
    return ",".join(f"{v.notation} ({v})" if v.notation else str(v) for v in variants)


def apply_variants(record: ProteinRecord, variants: Sequence[Variant] | str) -> ProteinRecord:
    """The mutant of ``record``: every variant applied, all in the wild type's coordinates.

    Raises:
        InputError: a position outside the protein, a wild-type residue that is not there (the message
            names the position and the residue actually there), two changes on one residue, or a mutant
            shorter than the :data:`locviz.sequences.MIN_LENGTH` residues a prediction needs.
    """
    if isinstance(variants, str):
        variants = parse_variants(variants)
    check(bool(variants), "no variant given")
    sequence, _ = edit(record.sequence, variants)
    label = variants_label(variants)
    check(
        len(sequence) >= MIN_LENGTH,
        f"{record.id} with {label} keeps {len(sequence)} residues; at least {MIN_LENGTH} are needed",
    )
    return ProteinRecord(f"{record.id}:{label}", sequence, record.description, record.notes)


_NOT_IN_BLOSUM62 = str.maketrans("UOJ", "XXX")  # residues BLOSUM62 has no row for, aligned as unknown


def align_positions(wild: str, other: str) -> np.ndarray:
    """``map[i]``: index in ``other`` aligned to residue ``i`` of ``wild`` (-1: a gap), by global alignment.

    Biopython's PairwiseAligner, BLOSUM62, gap open -10 / extend -0.5 (the EMBOSS needle defaults).
    """
    from Bio import Align
    from Bio.Align import substitution_matrices

    aligner = Align.PairwiseAligner(mode="global", open_gap_score=-10.0, extend_gap_score=-0.5)
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    alignment = aligner.align(wild.translate(_NOT_IN_BLOSUM62), other.translate(_NOT_IN_BLOSUM62))[0]
    mapping = np.full(len(wild), -1, dtype=np.int64)
    for (a0, a1), (b0, b1) in zip(*alignment.aligned, strict=True):
        mapping[a0:a1] = np.arange(b0, b1)
    return mapping


@dataclass
class VariantComparison:
    """Wild type and mutant side by side, on the wild type's axis."""

    label: str  # the variants ("K128T,del1-20") or "aligned sequence"
    wild: Prediction
    mutant: Prediction
    position_map: np.ndarray  # (L_wild,) int: 0-based mutant index of each wild-type residue, -1 if gone
    delta: np.ndarray  # (C,) p(mutant) - p(wild type)
    delta_attention: np.ndarray  # (L_wild,) mutant - wild attention; NaN where deleted or unseen
    changed: list[int]  # 1-based wild-type positions substituted or deleted
    insertions: list[tuple[int, str, float]] = field(default_factory=list)  # (after position, residues, attention)

    @property
    def classes(self) -> list[str]:
        return self.wild.classes

    @property
    def delta_of_call(self) -> float:
        """Δp of the wild type's call: how far the mutant moves away from (−) or towards (+) what was called."""
        return float(self.delta[self.classes.index(self.wild.label)])

    def row(self) -> list:
        """The ``locviz mutate`` row (:func:`mutate_columns`): the two calls, their confidences, the mutant's support
        and the known signals its call contradicts (a signal peptide deleted, the call still Extracellular), Δp."""
        conflicts = signals.disagreements(self.mutant, signals.find_signals(self.mutant.sequence))
        return [self.wild.id, self.label, self.wild.label, self.mutant.label, round(self.wild.confidence, 6),
                round(self.mutant.confidence, 6), self.mutant.extra.get("support"), list(conflicts),
                *self.delta.tolist(), self.wild.organism]  # fmt: skip


    def attention_rows(self) -> Iterator[list[Any]]:
        """The numbers behind the Δ-attention track (:data:`ATTENTION_CHANGE_COLUMNS`), one row per residue of the
        alignment in mutant order: a wild-type residue with the mutant residue it became (empty when deleted), an
        inserted residue with no wild-type side. Attention is empty where that model did not look (a long
        protein's middle), so a Δ is only given where both looked."""
        wild_att = _seen_attention(self.wild)
        mutant_att = _seen_attention(self.mutant)
        last = -1  # the mapping only ever moves forward (an alignment): what it skips in the mutant was inserted
        for i, j in enumerate(self.position_map.tolist()):
            if j >= 0:
                for k in range(last + 1, j):
                    yield self._attention_row(None, k, wild_att, mutant_att)
                last = j
            yield self._attention_row(i, j if j >= 0 else None, wild_att, mutant_att)
        for k in range(last + 1, len(self.mutant.sequence)):  # inserted after the last kept residue
            yield self._attention_row(None, k, wild_att, mutant_att)

    def _attention_row(self, i: int | None, j: int | None, wild_att: np.ndarray, mutant_att: np.ndarray) -> list:
        a_wt = None if i is None else _number(wild_att[i])
        a_mut = None if j is None else _number(mutant_att[j])
        delta = None if a_wt is None or a_mut is None else round(a_mut - a_wt, 8)
        return [self.wild.id, self.label, None if i is None else i + 1, None if i is None else self.wild.sequence[i],
                None if j is None else j + 1, None if j is None else self.mutant.sequence[j], a_wt, a_mut, delta]


def _seen_attention(pred: Prediction) -> np.ndarray:
    """Attention per residue, NaN where the model did not look."""
    return np.where(np.asarray(pred.seen, bool), np.asarray(pred.attention, float), np.nan)


def _number(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 8)


def _changes(wild: str, mutant: str, mapping: np.ndarray) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Changed wild-type positions (1-based) and insertions as (after position, mutant start, mutant end)."""
    changed = [i + 1 for i, j in enumerate(mapping.tolist()) if j < 0 or mutant[j] != wild[i]]
    insertions, expected = [], 0
    for i, j in enumerate(mapping.tolist()):
        if j < 0:
            continue
        if j > expected:
            insertions.append((i, expected, j))  # mutant residues expected..j-1 sit before wild residue i + 1
        expected = j + 1
    if expected < len(mutant):
        insertions.append((len(wild), expected, len(mutant)))
    return changed, insertions


def compare(
    predictor: Predictor,
    wild: ProteinRecord,
    mutant: ProteinRecord | Sequence[Variant] | str,
    variants: Sequence[Variant] | None = None,
    organism: str = "any",
) -> VariantComparison:
    """Predict ``wild`` and ``mutant`` and line them up on the wild type's residues.

    ``mutant`` is variant text (``"K128T del1-20"``), a list of :class:`Variant`, or a second sequence
    (an isoform, a mutant made elsewhere). With variants the residue mapping is exact; for a second
    sequence it comes from a global alignment (:func:`align_positions`).

    Raises:
        InputError: see :func:`apply_variants`.
    """
    if isinstance(mutant, str):
        mutant = parse_variants(mutant)
    if not isinstance(mutant, ProteinRecord):
        variants = list(mutant)
        mutant = apply_variants(wild, variants)
    if variants:
        sequence, mapping = edit(wild.sequence, variants)
        check(sequence == mutant.sequence, "the mutant sequence is not the wild type with these variants")
        label = variants_as_given(variants)
    else:
        mapping = align_positions(wild.sequence, mutant.sequence)
        label = f"aligned to {mutant.id}"
    wild_pred, mutant_pred = predictor.predict([wild, mutant], organism=organism)
    return _line_up(wild, wild_pred, mutant, mutant_pred, mapping, label)


def _line_up(
    wild: ProteinRecord, wild_pred: Prediction, mutant: ProteinRecord, mutant_pred: Prediction, mapping: np.ndarray,
    label: str,
) -> VariantComparison:  # fmt: skip
    """Two predictions on the wild type's residues: Δ per class, Δ attention, changed and inserted residues."""
    kept = mapping >= 0
    delta_att = np.full(len(wild.sequence), np.nan)
    delta_att[kept] = mutant_pred.attention[mapping[kept]] - wild_pred.attention[kept]
    changed, spans = _changes(wild.sequence, mutant.sequence, mapping)
    mutant_att = np.nan_to_num(mutant_pred.attention, nan=0.0)
    insertions = [(after, mutant.sequence[a:b], float(mutant_att[a:b].sum())) for after, a, b in spans]
    return VariantComparison(
        label=label,
        wild=wild_pred,
        mutant=mutant_pred,
        position_map=mapping,
        delta=mutant_pred.probabilities - wild_pred.probabilities,
        delta_attention=delta_att,
        changed=changed,
        insertions=insertions,
    )


MUTANTS_HELP = (
    "commas separate mutants (del505-508, L7R: two mutants, each beside the wild type); + joins changes into one "
    "mutant (del505-508+L7R)"
)


def split_mutants(text: str, combine: bool = False) -> list[list[Variant]]:
    """Mutants from variant text: commas, semicolons or spaces separate mutants, ``+`` joins changes into one.

    ``"del505-508, L7R"`` is two mutants and ``"del505-508+L7R"`` one with both; ``combine`` makes one
    mutant of every change (as :func:`compare` does with text).

    Raises:
        InputError: an empty text or a token that is no variant.
    """
    joined = re.sub(r"\s*\+\s*", "+", (text or "").strip())
    items = [t for t in re.split(r"[,;\s]+", joined) if t.strip("+")]
    check(bool(items), f"no variant given; {VARIANT_HELP}")
    mutants = [[_parse_one(t) for t in item.split("+") if t] for item in items]
    return [[v for m in mutants for v in m]] if combine else mutants


def compare_mutants(
    predictor: Predictor,
    wild: ProteinRecord,
    mutants: Sequence[Sequence[Variant]] | str,
    *,
    combine: bool = False,
    organism: str | None = None,
    wild_prediction: Prediction | None = None,
) -> list[VariantComparison]:
    """The wild type beside each of several mutants, all predicted in one batch (the wild type once).

    ``mutants`` is text (:func:`split_mutants`: ``"del505-508, L7R"`` is two mutants, or one with
    ``combine``) or lists of :class:`Variant`, one list per mutant. ``wild_prediction`` reuses a
    prediction of ``wild`` made with the same ``organism``.

    Raises:
        InputError: see :func:`apply_variants`; every mutant is checked before anything is predicted.
    """
    groups = split_mutants(mutants, combine) if isinstance(mutants, str) else [list(m) for m in mutants]
    if combine and not isinstance(mutants, str):
        groups = [[v for m in groups for v in m]]
    check(bool(groups), "no mutant given")
    records = [apply_variants(wild, variants) for variants in groups]
    if wild_prediction is not None:
        wild_prediction, organism = _wild(predictor, wild, wild_prediction, organism)
    predictions = predictor.predict(([] if wild_prediction else [wild]) + records, organism=organism or "any")
    wild_pred = wild_prediction or predictions.pop(0)
    return [
        _line_up(wild, wild_pred, record, pred, edit(wild.sequence, variants)[1], variants_as_given(variants))
        for variants, record, pred in zip(groups, records, predictions, strict=True)
    ]


# ------------------------------------------------------------------- per-residue attribution
@dataclass
class Attribution:
    """One score per residue of the full sequence for one class; NaN where the model did not look."""

    method: str  # "attention", "occlusion", "gradxinput", "integrated_gradients"
    target: str  # the class scored
    scores: np.ndarray  # (L,) float64: larger = more support for ``target``
    wild: Prediction
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return METHOD_NAMES.get(self.method, self.method)

    def completeness_note(self) -> str | None:
        """Integrated gradients should add up to P(protein) − P(all X); how far off they are is the margin to read
        single residues with. None for the other methods."""
        if "difference" not in self.settings:
            return None
        total, difference = self.settings["sum"], self.settings["difference"]
        off = abs(total - difference)
        return (f"Integrated gradients add up to {total:+.3f}; the difference they split, P(protein) − P(all X), "
                f"is {difference:+.3f}: {off:.3f} off ({off / max(abs(difference), 1e-9):.0%}) with "
                f"{self.settings['steps']} steps; read single residues with that margin.")  # fmt: skip


def attention_attribution(wild: Prediction) -> Attribution:
    """The attention itself as an :class:`Attribution`, so every method goes through the same tools."""
    return Attribution("attention", wild.label, np.asarray(wild.attention, dtype=np.float64), wild)


def occlusion_windows(length: int, seen: np.ndarray, window: int, stride: int) -> list[tuple[int, int]]:
    """0-based half-open windows every ``stride`` residues, the last flush with the end; wholly unseen ones left out."""
    window = min(window, length)
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return [(s, s + window) for s in starts if seen[s : s + window].any()]


def occlusion_scan(
    predictor: Predictor,
    record: ProteinRecord,
    window: int = OCCLUSION_WINDOW,
    stride: int = OCCLUSION_STRIDE,
    *,
    target: str | None = None,
    wild: Prediction | None = None,
    callback: Callable[[int], None] | None = None,
    organism: str | None = None,
) -> Attribution:
    """Per residue: the mean drop in P(``target``) when a ``window`` containing it is replaced by X.

    Windows start every ``stride`` residues over the full length (the last one flush with the
    C-terminus), so each residue is covered by about ``window / stride`` occlusions and the scan
    costs about ``L / stride`` forward passes. X (unknown) instead of deletion keeps every position
    in place (see the module notes). ``target`` defaults to the wild type's call.

    Raises:
        InputError: ``window`` or ``stride`` below 1, or ``target`` not a class of the model.
    """
    check(window >= 1, f"occlusion window must be >= 1 residue, got {window}")
    check(stride >= 1, f"occlusion stride must be >= 1 residue, got {stride}")
    wild, organism = _wild(predictor, record, wild, organism)
    c = _class_index(predictor, wild, target)
    seen = np.asarray(wild.seen, dtype=bool)
    spans = occlusion_windows(len(record.sequence), seen, window, stride)
    mutants = [ProteinRecord(f"{record.id}:X{a + 1}-{b}", _with_residues(record.sequence, range(a, b), "X"))
               for a, b in spans]
    total = np.zeros(len(seen))
    count = np.zeros(len(seen))
    predictions = predictor.iter_predict(mutants, callback=callback, organism=organism)
    for (a, b), pred in zip(spans, predictions, strict=True):
        total[a:b] += wild.probabilities[c] - pred.probabilities[c]
        count[a:b] += 1
    scores = np.full(len(seen), np.nan)
    ok = seen & (count > 0)
    scores[ok] = total[ok] / count[ok]
    return Attribution("occlusion", predictor.classes[c], scores, wild, {"window": window, "stride": stride})


def _features_and_grad(
    predictor: Predictor, tokens: torch.Tensor, features: torch.Tensor, c: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(P(class c) per row, d P / d features) for a batch of feature tensors of one protein.

    P is the probability :meth:`Predictor.predict` reports (its :class:`~locviz.calibration.Calibrator`).
    """
    model = predictor.bundle.model
    features = features.detach().requires_grad_(True)
    lengths = torch.full((features.shape[0],), tokens.shape[1], dtype=torch.int64, device=features.device)
    batch_tokens = tokens.expand(features.shape[0], -1)
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN backward needs train mode
        members = model(batch_tokens, lengths, features=features).member_probabilities  # (M, B, C)
        probs = predictor.calibrator.torch_ensemble(members)[:, c]
        (grad,) = torch.autograd.grad(probs.sum(), features)  # not param.grad: safe beside other threads
    return probs.detach(), grad


def gradient_attribution(
    predictor: Predictor,
    record: ProteinRecord,
    method: str = "gradxinput",
    *,
    target: str | None = None,
    steps: int = IG_STEPS,
    wild: Prediction | None = None,
) -> Attribution:
    """Gradient of P(``target``) (as :meth:`Predictor.predict` reports it) w.r.t. the input features, per residue.

    ``gradxinput``: Σ_features gradient × input (Shrikumar et al. 2016). ``integrated_gradients``:
    Sundararajan et al. 2017, from a baseline of the same length made of X (the unknown residue, the
    same "no information" occlusion uses), ``steps`` midpoint Riemann steps; its scores add up to
    about P(target | protein) - P(target | all X) (``settings`` holds both, so the approximation error shows;
    more steps shrink it). Both are for the ensemble mean (members share the
    input features) and signed: > 0 supports ``target``. The model's eval mode is kept (no dropout).
    The probability is the calibrated one for ``organism="any"`` (no organism restriction). Runs outside
    the predictor's lock: ``torch.autograd.grad`` leaves the parameters' ``.grad`` untouched.

    Raises:
        InputError: an unknown ``method``, ``steps`` below 1, or ``target`` not a class of the model.
    """
    check(method in GRADIENT_METHODS, f"method must be one of {', '.join(GRADIENT_METHODS)}, got {method!r}")
    check(steps >= 1, f"steps must be >= 1, got {steps}")
    wild = wild or _predict_one(predictor, record)
    c = _class_index(predictor, wild, target)
    kept, positions, _ = predictor.bundle.length_policy.crop(record.sequence)
    device = predictor.device
    tokens = torch.from_numpy(tokenize(kept).astype(np.int64)).unsqueeze(0).to(device)  # (1, T)
    embed = predictor.bundle.model.members[0].embed  # every member has the same fixed feature table
    x = embed(tokens)  # (1, T, E)
    if method == "gradxinput":
        _, grad = _features_and_grad(predictor, tokens, x, c)
        per_residue = (grad * x).sum(-1)[0]
        settings: dict[str, Any] = {}
    else:
        baseline = embed(torch.full_like(tokens, UNKNOWN_TOKEN))
        total = torch.zeros_like(x)
        alphas = (torch.arange(steps, dtype=x.dtype, device=device) + 0.5) / steps
        for chunk in alphas.split(8):
            path = baseline + chunk.view(-1, 1, 1) * (x - baseline)  # (n, T, E)
            _, grad = _features_and_grad(predictor, tokens, path, c)
            total += grad.sum(0, keepdim=True)
        per_residue = ((x - baseline) * total / steps).sum(-1)[0]
        ends = predictor.predict([record, ProteinRecord(record.id, "X" * len(record.sequence))])
        difference = float(ends[0].probabilities[c] - ends[1].probabilities[c])
        # what the scores should add up to, beside what they do: the Riemann sum's error, for the reader to see
        settings = {"steps": steps, "baseline": "all X", "sum": float(per_residue.sum()), "difference": difference}
    scores = np.full(len(record.sequence), np.nan)
    scores[positions] = per_residue.detach().cpu().double().numpy()
    return Attribution(method, predictor.classes[c], scores, wild, settings)


# ---------------------------------------------------------------------------- deletion curve
@dataclass
class DeletionCurve:
    """P(call) after replacing a score's top-k residues with X, against k random residues."""

    method: str  # the score's id ("attention", "occlusion", "gradxinput", ...): the score table's column
    target: str
    ks: np.ndarray  # (K,) int
    p_wild: float
    p_top: np.ndarray  # (K,)
    p_random: np.ndarray  # (K,) mean over ``n_random`` draws
    p_random_sd: np.ndarray  # (K,)
    n_random: int
    reading: str

    @property
    def name(self) -> str:
        """The method in words ("gradient × input"), as figures and readings name it."""
        return METHOD_NAMES.get(self.method, self.method)

    @property
    def faithful(self) -> bool:
        """The reading at the largest k (:func:`is_faithful`)."""
        return is_faithful(self.p_wild, float(self.p_top[-1]), float(self.p_random[-1]))


def is_faithful(p_wild: float, p_top: float, p_random: float) -> bool:
    """Removing the top residues lowers P(target) at least :data:`FAITHFUL_SHARE` of ``p_wild`` more than removing
    as many random ones: the one rule of the curves, the readings, the tables and the page."""
    drop = p_random - p_top
    return bool(drop > 0 and drop >= FAITHFUL_SHARE * p_wild)  # nothing to lose is never "faithful"


def deletion_ks(n_seen: int) -> list[int]:
    """The :data:`DELETION_KS` a protein the model saw ``n_seen`` residues of is tested at (at most
    :data:`DELETION_MAX_SHARE` of them; k = 1 always)."""
    return [k for k in DELETION_KS if k == 1 or k <= DELETION_MAX_SHARE * n_seen]


def _reading(name: str, target: str, k: int, p_wild: float, p_top: float, p_random: float) -> str:
    if is_faithful(p_wild, p_top, p_random):
        return (
            f"{name} is faithful here: removing its top {k} residues drops P({target}) from {p_wild:.2f} "
            f"to {p_top:.2f}, random: {p_random:.2f}"
        )
    return (
        f"{name} is not faithful here: removing its top {k} residues moves P({target}) from {p_wild:.2f} "
        f"to {p_top:.2f}, against {p_random:.2f} for {k} random residues (faithful needs "
        f"{FAITHFUL_SHARE * p_wild:.2g} lower than random)"
    )


def deletion_curve(
    predictor: Predictor,
    record: ProteinRecord,
    scores: Attribution | Prediction | np.ndarray,
    ks: Sequence[int] | None = None,
    *,
    method: str | None = None,
    target: str | None = None,
    n_random: int = 5,
    seed: int = 0,
    wild: Prediction | None = None,
    organism: str | None = None,
) -> DeletionCurve:
    """P(``target``) after replacing the top-k residues by ``scores`` with X, beside k random residues.

    ``scores`` is an :class:`Attribution`, a :class:`Prediction` (its attention) or an array over the
    full sequence (NaN = not seen; only seen residues are removed); ``ks`` default: :func:`deletion_ks` of the
    scored residues. Random draws (``n_random`` per k,
    seeded) come from the seen residues too. The reading is taken at the largest k: faithful when
    the top residues lower P(target) at least :data:`FAITHFUL_SHARE` of its wild-type value more than random ones
    (:func:`is_faithful`).

    Raises:
        InputError: no k, a k below 1 or above the number of seen residues, or ``n_random`` below 1.
    """
    if isinstance(scores, Prediction):
        scores = attention_attribution(scores)
    if isinstance(scores, Attribution):
        method = method or scores.method
        target = target or scores.target
        wild = wild or scores.wild
        scores = scores.scores
    wild, organism = _wild(predictor, record, wild, organism)
    c = _class_index(predictor, wild, target)
    values = np.asarray(scores, dtype=np.float64)
    check(len(values) == len(record.sequence), f"scores has {len(values)} values for {len(record.sequence)} residues")
    usable = np.flatnonzero(np.asarray(wild.seen, dtype=bool) & np.isfinite(values))
    ks = np.array(sorted(set(int(k) for k in (deletion_ks(len(usable)) if ks is None else ks))))
    check(len(ks) > 0 and ks[0] >= 1, f"ks must be positive residue counts, got {ks.tolist()}")
    check(ks[-1] <= len(usable), f"k = {ks[-1]} is more than the {len(usable)} scored residues")
    check(n_random >= 1, f"n_random must be >= 1, got {n_random}")
    order = usable[np.argsort(-values[usable], kind="stable")]
    rng = np.random.default_rng(seed)
    picks = [order[:k] for k in ks] + [rng.choice(usable, size=k, replace=False) for k in ks for _ in range(n_random)]
    mutants = [ProteinRecord(f"{record.id}:del{n}", _with_residues(record.sequence, pick, "X"))
               for n, pick in enumerate(picks)]
    probs = np.array([p.probabilities[c] for p in predictor.predict(mutants, organism=organism)])
    p_top, p_random = probs[: len(ks)], probs[len(ks) :].reshape(len(ks), n_random)
    method = method or "score"
    target_name = predictor.classes[c]
    p_wild = float(wild.probabilities[c])
    p_random_last = float(p_random[-1].mean())
    name = METHOD_NAMES.get(method, method)
    reading = _reading(name, display_name(target_name), int(ks[-1]), p_wild, float(p_top[-1]), p_random_last)
    return DeletionCurve(
        method, target_name, ks, p_wild, p_top, p_random.mean(1), p_random.std(1), n_random, reading
    )


# ----------------------------------------------------------------------------------- tables
def scan_columns(classes: Sequence[str], rescored: bool = False) -> list[str]:
    """The scan table's columns; a re-scored scan adds who re-scored each cell and its Δ per class. ``organism``
    (last) is the one both wild type and mutants were restricted to: a Δp means nothing without it."""
    extra = ["rescored_by", *(f"full_dp_{c}" for c in classes)] if rescored else []
    return ["id", "position", "wt", "mut", *(f"dp_{c}" for c in classes), *extra, "organism"]


def mutate_columns(classes: Sequence[str]) -> list[str]:
    """The variant table's columns; ``organism`` (last) as in :func:`scan_columns`."""
    return ["id", "variant", "prediction_wt", "prediction_mut", "confidence_wt", "confidence_mut", "support_mut",
            "signal_conflicts_mut", *(f"dp_{c}" for c in classes), "organism"]  # fmt: skip


def delta_writer(handle: IO[str], fmt: str, columns: Sequence[str], *, model: str = "", kind: str = "") -> RowWriter:
    """The ``locviz scan`` / ``locviz mutate`` table writer (``kind`` is "scan", "mutate" or "attention_change" in
    the JSON)."""
    return RowWriter(handle, fmt, columns, meta={"table": kind, "model": model})


def scan_table_bytes(scans: Sequence[SaturationScan], fmt: str = "csv") -> bytes:
    """The scan table of ``locviz scan`` as bytes (the app's download)."""
    check(bool(scans), "no scan to write")
    check(len({tuple(s.columns()) for s in scans}) == 1, "scans of one table need the same columns (all re-scored "
          "or none)")  # fmt: skip
    rows = (row for scan in scans for row in scan.rows())
    meta = {"table": "scan", "model": scans[0].model}
    if scans[0].rescored_by is not None:
        meta["rescored_by"] = scans[0].rescored_by.model_name
    return rows_bytes(fmt, scans[0].columns(), rows, meta=meta)


def comparison_table_bytes(comparisons: Sequence[VariantComparison], fmt: str = "csv") -> bytes:
    """The variant table of ``locviz mutate`` as bytes (the app's download)."""
    check(bool(comparisons), "no comparison to write")
    first = comparisons[0]
    meta = {"table": "mutate", "model": first.wild.model_name}
    return rows_bytes(fmt, mutate_columns(first.classes), (c.row() for c in comparisons), meta=meta)


ATTENTION_CHANGE_COLUMNS = ("id", "variant", "position", "wt", "mutant_position", "mut", "attention_wt",
                            "attention_mut", "delta_attention")  # fmt: skip
"""The Δ-attention table (``locviz mutate --attention``, the What if page's download): one row per aligned residue
(:meth:`VariantComparison.attention_rows`)."""


def attention_change_table_bytes(comparisons: Sequence[VariantComparison], fmt: str = "csv") -> bytes:
    """The Δ-attention table of ``locviz mutate --attention`` as bytes (the app's download)."""
    check(bool(comparisons), "no comparison to write")
    meta = {"table": "attention_change", "model": comparisons[0].wild.model_name}
    rows = (row for comparison in comparisons for row in comparison.attention_rows())
    return rows_bytes(fmt, ATTENTION_CHANGE_COLUMNS, rows, meta=meta)


def attribution_columns(methods: Sequence[str]) -> list[str]:
    """The per-residue score table's columns: id, position, residue, target, one column per method."""
    return ["id", "position", "residue", "target", *methods]


def attribution_rows(attributions: Sequence[Attribution]) -> Iterator[list[Any]]:
    """One row per residue of one protein (NaN, written empty, where the model did not look)."""
    check(bool(attributions), "no attribution to write")
    wild = attributions[0].wild
    for i, residue in enumerate(wild.sequence):
        yield [wild.id, i + 1, residue, attributions[0].target, *(float(a.scores[i]) for a in attributions)]


def attribution_table_bytes(attributions: Sequence[Attribution], fmt: str = "csv") -> bytes:
    """The per-residue score table of one protein as bytes (the app's download; ``locviz attribute --out``)."""
    check(bool(attributions), "no attribution to write")
    meta = {"table": "attribution", "model": attributions[0].wild.model_name}
    columns = attribution_columns([a.method for a in attributions])
    return rows_bytes(fmt, columns, attribution_rows(attributions), meta=meta)


DELETION_COLUMNS = ("id", "method", "target", "k", "p_top_k", "p_random_mean", "p_random_sd", "n_random", "p_wild",
                    "faithful")  # fmt: skip
"""One row per (protein, method, k): P(target) with the top-k residues replaced by X, and with k random ones;
``faithful`` is the method's reading at its largest k (:attr:`DeletionCurve.faithful`), on each of its rows."""


def deletion_rows(curves: Sequence[DeletionCurve], protein_id: str) -> Iterator[list[Any]]:
    for c in curves:
        for k, top, rand, sd in zip(c.ks.tolist(), c.p_top, c.p_random, c.p_random_sd, strict=True):
            yield [protein_id, c.method, c.target, k, float(top), float(rand), float(sd), c.n_random,
                   float(c.p_wild), c.faithful]  # fmt: skip


def deletion_table_bytes(curves: Sequence[DeletionCurve], protein_id: str, fmt: str = "csv") -> bytes:
    """The deletion curves of one protein as bytes (the app's download; ``locviz attribute --curves``)."""
    return rows_bytes(fmt, DELETION_COLUMNS, deletion_rows(curves, protein_id), meta={"table": "deletion_curve"})


def cross_check_methods(integrated_gradients: bool = False) -> tuple[str, ...]:
    """The methods :func:`cross_check` scores with, in its order (the score table's method columns)."""
    return ("attention", "occlusion", "gradxinput", *(("integrated_gradients",) if integrated_gradients else ()))


def cross_check(
    predictor: Predictor,
    record: ProteinRecord,
    target: str | None = None,
    *,
    integrated_gradients: bool = False,
    wild: Prediction | None = None,
    callback: Callable[[int], None] | None = None,
) -> tuple[list[Attribution], list[DeletionCurve]]:
    """The What if page's attribution cross-check: attention, occlusion, gradient × input (and integrated
    gradients) for ``target`` (default: the call), and each one's deletion curve at the :func:`deletion_ks` the
    protein has residues for; over all the model's compartments, as the page. ``wild`` reuses the model's
    prediction of ``record`` (unrestricted: organism ``any``, as the gradients read it); ``callback(n)`` counts
    occlusion windows."""
    if wild is not None and wild.organism != "any":
        raise InputError(f"the cross-check reads all the model's compartments; give the unrestricted prediction "
                         f"(organism 'any'), not the one for {wild.organism!r}")  # fmt: skip
    wild = wild or _predict_one(predictor, record)
    target = target or wild.label
    attention = attention_attribution(wild)
    attention.target = target
    attributions = [attention, occlusion_scan(predictor, record, target=target, wild=wild, callback=callback)]
    gradients = cross_check_methods(integrated_gradients)[2:]
    attributions += [gradient_attribution(predictor, record, m, target=target, wild=wild) for m in gradients]
    ks = deletion_ks(int(np.sum(wild.seen)))
    curves = [deletion_curve(predictor, record, a, ks, target=target, wild=wild) for a in attributions]
    return attributions, curves
