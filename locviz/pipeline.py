"""What ``locviz predict`` does to each chunk of proteins, in one place for the single process and the cluster.

Why: the single-process command (:func:`locviz.cli.cmd_predict`) and every cluster partition
(:mod:`locviz.cluster.worker`) must write the same table; when a step or a column is added here,
both get it, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from locviz import homology, signals
from locviz.calibration import LEVELS
from locviz.card import display_name
from locviz.regions import attended_regions

if TYPE_CHECKING:
    from locviz.encoding import LengthPolicy
    from locviz.predict import Prediction, Predictor
    from locviz.sequences import ProteinRecord


MEMBER_COLUMNS = ("member_agreement", "member_spread")
"""How far the ensemble's members agree with its call (:attr:`~locviz.prediction.Prediction.member_agreement`,
``"k/M"``; :attr:`~locviz.prediction.Prediction.member_spread`, the range of the call's probability over them):
what the app's whiskers and member columns show. Empty for a single network (the ``-fast`` students)."""

TABLE_REGIONS, TABLE_REGION_WIDTH = 3, 9
"""``attended_regions``: up to 3 non-overlapping 9-residue windows holding the most attention, each more than its
length's share (the app's "Most-attended regions" at its default width; the app can show more and wider)."""

CHUNK = 2048
"""Records read and predicted at a time by ``locviz predict`` and by each cluster worker (one rule, one size)."""
EVIDENCE_COLUMNS = ("known_location", "signals", "attended_regions", "signal_conflicts", "organism", "notes")
"""Filled for every protein by :func:`annotate` (``known_location`` and ``organism`` by the
:class:`~locviz.predict.Predictor`): the location the training data gives this very protein (the same sequence:
the call is then recall, not prediction), the known sorting signals, the sentences naming each signal
the call contradicts (the app's warnings), the organism the probabilities were restricted to, and what was done
to the input (residues cleaned, a long protein cut to the model's window); ``attended_regions`` are the
most-attended windows, ``start-end (share of attention)``, best first."""


def extra_columns(neighbours: bool) -> tuple[str, ...]:
    """The table's columns after ``p_<class>``: the support verdict and its reasons, :data:`MEMBER_COLUMNS`, the
    homology evidence (``--neighbours``), then :data:`EVIDENCE_COLUMNS`."""
    return ("support", "support_reasons", *MEMBER_COLUMNS, *(homology.COLUMNS if neighbours else ()),
            *EVIDENCE_COLUMNS)  # fmt: skip


FLAGS = ("cropped", "warned", "excluded", "known")
"""What the end-of-run notes count: proteins cut to the model's window, read with a change (cleaned), with most of
their probability in compartments the organism cannot have, and in the model's training data. ``warned`` is known
when a record is read (:func:`locviz.sequences.take_chunk`), the rest when it is predicted (:func:`flagged`)."""


def flagged(prediction: Prediction) -> set[str]:
    """The :data:`FLAGS` a prediction raises (all but ``warned``)."""
    flags = set()
    if not prediction.seen.all():
        flags.add("cropped")
    if prediction.extra.get("organism_warning"):
        flags.add("excluded")
    if prediction.extra.get("known_location") is not None:
        flags.add("known")
    return flags


def run_notes(counts: dict[str, int], policy: LengthPolicy, organism: str, model: str) -> list[str]:
    """The notes and warnings ``locviz predict`` prints after a run, single process or cluster, from the counts
    of :data:`FLAGS`; ``policy`` is the model's long-sequence policy (what it saw of a long protein)."""
    notes = []
    if counts.get("cropped"):
        notes.append(f"note: {counts['cropped']} record(s) longer than {policy.max_length} residues: the model saw "
                     f"the {policy.describe()} (attention is empty for the rest)")  # fmt: skip
    if counts.get("warned"):
        notes.append(f"note: {counts['warned']} record(s) were cleaned (ambiguous residues encoded as unknown, "
                     "lower case read as upper case, digits or trailing '*' removed; the notes column says "
                     "which)")  # fmt: skip
    if counts.get("excluded"):
        notes.append(f"warning: {counts['excluded']} protein(s) had more than half of the model's probability in "
                     f"compartments organism '{organism}' cannot have; their support is low and support_reasons "
                     "says where the probability was: check the organism")  # fmt: skip
    if counts.get("known"):
        notes.append(f"note: {counts['known']} protein(s) are in {model}'s training data (known_location): their "
                     "calls are recall, not prediction; leave them out when measuring accuracy")  # fmt: skip
    return notes


@dataclass
class CallTally:
    """How many calls a run made to each compartment and at each support level: the first look at a proteome
    (a tenth of it in the ER where a twentieth was expected is worth checking before anything else)."""

    labels: Counter[str] = field(default_factory=Counter)
    support: Counter[str] = field(default_factory=Counter)

    def add(self, labels: Iterable[str], support: Iterable[str | None]) -> None:
        self.labels.update(labels)
        self.support.update(level for level in support if level)

    def add_predictions(self, predictions: Iterable[Prediction]) -> None:
        for p in predictions:
            self.add([p.label], [p.extra.get("support")])

    def lines(self) -> list[str]:
        """``calls: Nucleus 4,210 (28.1%), …`` (most first) and ``support: high … (…%), medium …, low …``;
        nothing for a run of fewer than two calls."""
        n = sum(self.labels.values())
        if n < 2:
            return []
        calls = ", ".join(f"{display_name(label)} {k:,} ({k / n:.1%})" for label, k in self.labels.most_common())
        out = [f"calls: {calls}"]
        if self.support:
            total = sum(self.support.values())
            levels = ", ".join(f"{level} {self.support[level]:,} ({self.support[level] / total:.1%})"
                               for level in reversed(LEVELS))  # fmt: skip
            out.append(f"support: {levels}")
        return out


def attended_regions_cell(prediction: Prediction) -> list[str]:
    """The ``attended_regions`` cell: ``"start-end (share%)"`` for up to :data:`TABLE_REGIONS` windows that hold more
    attention than their length's share (:func:`locviz.regions.attended_regions`: fewer, or none, where attention
    is spread out or the protein is too short for them; none in one no longer than :data:`TABLE_REGION_WIDTH`)."""
    regions = attended_regions(prediction, TABLE_REGIONS, TABLE_REGION_WIDTH)
    return [f"{r.start}-{r.end} ({r.score:.0%})" if r.score >= 0.005 else f"{r.start}-{r.end} (<1%)" for r in regions]


def annotate(predictions: Sequence[Prediction]) -> None:
    """Store what :data:`EVIDENCE_COLUMNS` read in each prediction's ``extra`` (the signals are found once and kept
    where a caller stored them already)."""
    for pred in predictions:
        found = signals.track_of(pred)
        pred.extra["signals"] = found
        pred.extra["signal_conflicts"] = signals.disagreements(pred, found)
        pred.extra["notes"] = list(pred.notes)
        pred.extra["member_agreement"] = pred.member_agreement
        pred.extra["member_spread"] = pred.member_spread
        pred.extra["attended_regions"] = attended_regions_cell(pred)


def predict_chunk(
    predictor: Predictor,
    records: Sequence[ProteinRecord],
    *,
    organism: str = "any",
    reference: homology.Reference | None = None,
    on_hits: Callable[[list[Prediction], list[list[homology.Hit]]], None] | None = None,
) -> list[Prediction]:
    """The model's calls for ``records`` (input order), then the evidence the table's extra columns hold.
    ``on_hits`` receives the homology search's hits (every hit of every protein, best first), which the table's
    ``nearest_*`` columns keep only the best of."""
    predictions = predictor.predict(list(records), organism=organism)
    if reference is not None:
        hits = homology.annotate(predictions, reference, thresholds=predictor.support_thresholds)
        if on_hits is not None:
            on_hits(predictions, hits)
    annotate(predictions)
    return predictions
