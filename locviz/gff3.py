"""The prediction table as GFF3: one feature per call and one per known sorting signal, as SignalP 6 and TargetP 2
write theirs, so a genome browser or a pipeline that reads their files reads ours.

One protein looks like this (columns separated by tabs; ``.`` where a column does not apply)::

    ##gff-version 3
    ##sequence-region P07237 1 508
    P07237  locviz  polypeptide     1    508  0.91  .  .  prediction=ER;confidence=0.91;model=multiloc;...
    P07237  locviz  signal_peptide  1    17   .     .  .  Name=signal peptide;signal=signal_peptide;rule=...
    P07237  locviz  peptide_localization_signal  505  508  .  .  .  Name=KDEL;signal=er_retention;rule=...

* seqid is the record id (characters outside GFF3's seqid set percent-encoded), source ``locviz``;
* coordinates are 1-based inclusive on the full protein, as in :class:`locviz.signals.Signal`;
* type is a Sequence Ontology term (:data:`SO_TYPES`): the call is the whole ``polypeptide`` (SO:0000104)
  with the confidence as its score and the GO cellular component of the predicted compartment as its
  ``Ontology_term``; each signal of :func:`locviz.signals.find_signals` (the app's track) is a feature
  of its own. The rules give no probability, so a signal's score is ``.``;
* attributes (column 9) percent-encode ``; = & ,``, tab, newline, ``%`` and control characters
  (GFF3 1.26, "Description of the format"); locviz's own tags are lower case, as GFF3 reserves
  upper-case tags. Several disagreement sentences in ``Note`` are separated by commas, as GFF3 lists values.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import IO

from locviz import signals as signal_rules
from locviz.prediction import Prediction

__all__ = ["GO_TERMS", "SO_TYPES", "Gff3Writer", "escape", "escape_seqid", "feature_lines", "gff3_bytes"]

VERSION_LINE = "##gff-version 3"
SOURCE = "locviz"
CALL_TYPE = "polypeptide"  # SO:0000104
SO_TYPES = {
    "signal_peptide": "signal_peptide",  # SO:0000418
    "transmembrane": "transmembrane_polypeptide_region",  # SO:0001077
    "er_retention": "peptide_localization_signal",  # SO:0001527 ([KHR]DEL has no term of its own)
    "pts1": "peptide_localization_signal",  # SO:0001527 (nor has PTS1)
    "nls": "nuclear_localization_signal",  # SO:0001528
    "mito_presequence": "transit_peptide",  # SO:0000725 (a mitochondrial presequence is a transit peptide)
}
"""Sequence Ontology term of each :data:`locviz.signals.KINDS` (column 3)."""
GO_TERMS = {
    "nucleus": "GO:0005634", "cytoplasm": "GO:0005737", "extracellular": "GO:0005576",
    "mitochondrion": "GO:0005739", "plasma_membrane": "GO:0005886", "er": "GO:0005783", "plastid": "GO:0009536",
    "golgi": "GO:0005794", "lysosome_vacuole": "GO:0000323", "peroxisome": "GO:0005777",
}  # fmt: skip
"""GO cellular component of each compartment key of :func:`locviz.signals.compartment` (lysosome and vacuole:
"lytic vacuole", the term both fall under)."""
CALL_ATTRIBUTES = ("support", "combined", "nearest_id", "nearest_identity", "nearest_location")
"""Extra table columns written as attributes of the call when present (``Prediction.extra``)."""

_ALWAYS = {"\t": "%09", "\n": "%0A", "\r": "%0D", "%": "%25", **{chr(i): f"%{i:02X}" for i in (*range(32), 127)}}
_COLUMN9 = {**_ALWAYS, ";": "%3B", "=": "%3D", "&": "%26", ",": "%2C"}
_SEQID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:^*$@!+_?-|")


def _encode(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(c, c) for c in text)


def escape(value: object) -> str:
    """A column-9 tag or value with GFF3's reserved characters percent-encoded (``a;b`` → ``a%3Bb``)."""
    return _encode(str(value), _COLUMN9)


def escape_seqid(record_id: str) -> str:
    """Column 1: every character outside ``[a-zA-Z0-9.:^*$@!+_?-|]`` percent-encoded (UTF-8 bytes), no leading ``>``."""
    out = []
    for c in record_id:
        out.append(c if c in _SEQID_SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8")))
    return "".join(out)


def _number(value: float) -> str:
    return f"{float(value):.6g}"


def _attributes(pairs: Iterable[tuple[str, object]]) -> str:
    """``tag=value;...``; a list value becomes comma-separated values; empty values are left out."""
    parts = []
    for tag, value in pairs:
        if value is None or value == "" or value == []:
            continue
        values = value if isinstance(value, list) else [value]
        text = [_number(v) if isinstance(v, float) else str(v) for v in values]
        parts.append(f"{escape(tag)}={','.join(escape(t) for t in text)}")
    return ";".join(parts) if parts else "."


def _line(seqid: str, kind: str, start: int, end: int, score: str, attributes: str) -> str:
    return "\t".join((seqid, SOURCE, kind, str(start), str(end), score, ".", ".", attributes))


def feature_lines(pred: Prediction) -> list[str]:
    """The ``##sequence-region`` line, the call and one feature per signal of one prediction."""
    seqid = escape_seqid(pred.id)
    found = signal_rules.track_of(pred)
    compartment = signal_rules.compartment(pred.label)
    call = [
        ("Name", pred.label),
        ("prediction", pred.label),
        ("confidence", float(pred.confidence)),
        ("model", pred.model_name),
        ("organism", pred.organism),
        *((tag, pred.extra.get(tag)) for tag in CALL_ATTRIBUTES),
        ("Ontology_term", GO_TERMS.get(compartment or "")),
        ("Note", signal_rules.disagreements(pred, found)),
    ]
    lines = [
        f"##sequence-region {seqid} 1 {pred.length}",
        _line(seqid, CALL_TYPE, 1, pred.length, _number(pred.confidence), _attributes(call)),
    ]
    for s in found:
        pairs = [("Name", s.label), ("signal", s.kind), ("rule", signal_rules.RULES.get(s.kind)),
                 ("evidence", s.evidence)]  # fmt: skip
        lines.append(_line(seqid, SO_TYPES.get(s.kind, "polypeptide_region"), s.start, s.end, ".", _attributes(pairs)))
    return lines


class Gff3Writer:
    """Writes GFF3 protein by protein (streams like :class:`locviz.table.TableWriter`, same ``write``/``close``)."""

    def __init__(self, handle: IO[str]):
        self.handle = handle
        handle.write(VERSION_LINE + "\n")

    def write(self, preds: Iterable[Prediction]) -> None:
        for pred in preds:
            self.handle.write("\n".join(feature_lines(pred)) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.flush()


def gff3_bytes(preds: Sequence[Prediction]) -> bytes:
    """The whole GFF3 file as bytes (downloads); the same lines as ``locviz predict --format gff3``."""
    buffer = io.StringIO()
    writer = Gff3Writer(buffer)
    writer.write(preds)
    writer.close()
    return buffer.getvalue().encode("utf-8")
