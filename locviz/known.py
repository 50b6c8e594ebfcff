"""What the shipped data already says about a protein: its annotated location, and where that comes from.

Three sources, in this order: the app's example proteins (matched by sequence, MultiLoc labels read as the
model's classes), the model's reference set (the annotated proteins it was trained on) holding this very
sequence, and a reference entry with the protein's accession but another sequence (a variant or an isoform of
a training protein). Only the second is the table's ``known_location`` (the call is then recall, not
prediction); the others are context the app shows beside the call, and :func:`locviz.known_location` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from locviz.datasets import location_in
from locviz.examples import Example, by_accession, by_sequence
from locviz.homology import RefEntry, Reference
from locviz.prediction import Prediction
from locviz.sequences import ProteinRecord


@dataclass(frozen=True)
class KnownLocation:
    """A protein's annotated location (one of the model's class ids where the source's label maps to one)."""

    location: str
    source: str  # where it comes from, in words
    kind: str  # "example", "trained_on" (this very sequence) or "accession" (only the name: another sequence)
    example: Example | None = None  # kind "example": the example itself (fold, organism, annotation)
    entry: RefEntry | None = None  # kinds "trained_on" and "accession": the reference entry


def reference_source(entry: RefEntry) -> str:
    """``DeepLoc 1.0 training data (fold 3)``: the data set and fold of a reference entry."""
    data = {"multiloc": "MultiLoc", "deeploc": "DeepLoc 1.0"}.get(entry.dataset, entry.dataset)
    return f"{data} training data (fold {entry.fold})"


def known_location(
    record: ProteinRecord | Prediction, classes: Sequence[str], model_name: str, reference: Reference | None
) -> KnownLocation | None:
    """The protein's annotated location from the shipped data (see the module docstring), else None.

    ``classes`` and ``model_name`` are the model's the location is said for; ``reference`` its reference set
    (``Predictor.reference``; None: only the examples are looked at).
    """
    example = by_sequence(record.sequence)
    if example is not None:  # its MultiLoc label, as one of the model's classes (DeepLoc's names for deeploc)
        location = location_in(example.location, list(classes)) or example.location
        return KnownLocation(location, example.source, "example", example=example)
    if reference is None:
        return None
    same = reference.with_sequence(record.sequence)
    if same:
        source = f"{reference_source(same[0])}: model {model_name} was trained on it"
        return KnownLocation(same[0].location, source, "trained_on", entry=same[0])
    named = reference.named(record)
    if not named:
        return None
    entry = named[0]
    source = (f"{reference_source(entry)} as {entry.accession}, with another sequence (a variant or isoform: model "
              f"{model_name} trained on that entry, not on this sequence)")  # fmt: skip
    return KnownLocation(entry.location, source, "accession", entry=entry)


@dataclass(frozen=True)
class KnownProtein:
    """A protein of the shipped data: its sequence and the location the data set gives."""

    accession: str
    name: str
    location: str
    source: str
    sequence: str

    def fasta(self) -> str:
        body = "\n".join(self.sequence[i : i + 60] for i in range(0, len(self.sequence), 60))
        return f">{self.accession} {self.location}\n{body}\n"


def known_protein(accession: str, references: Iterable[Reference | None] = ()) -> KnownProtein | None:
    """The shipped protein with this accession: an example, else the first of ``references`` (read lazily, so a
    generator stops loading them at the first hit) that holds it. None when none does."""
    try:
        e = by_accession(accession)
        return KnownProtein(e.accession, e.name, e.location, e.source, e.sequence)
    except KeyError:
        pass
    for reference in references:
        entries = reference.named(accession) if reference is not None else []
        if entries:
            entry = entries[0]
            sequence = reference.sequences[reference.entries.index(entry)]
            return KnownProtein(entry.accession, "", entry.location, reference_source(entry), sequence)
    return None
