"""Where attention should look: annotated sorting signals as per-residue targets for training.

Two sources, both applied to **training** proteins only (a validation protein is never supervised,
so attention measured on it says what the model learned, not what it was told):

* ``../shared/data/signals/deeploc_train_signals.tsv`` (signal peptides from SignalP 6.0's curated set,
  C-terminal PTS1 and ER retention), matched by accession;
* the rules of :mod:`locviz.signals` on the protein's **training label**: a C-terminal PTS1
  ``[SAC][KRH][LM]`` (Gould et al. 1989) on a peroxisomal protein, a C-terminal ``[KHR]DEL``
  (Munro & Pelham 1987) on an ER protein. The label gates the rule, so an SKL ending on a
  cytosolic protein is not taught as a peroxisomal signal.

The loss follows DeepLoc 2.0's attention regularisation (Thumuluri et al. 2022): the KL divergence from a
uniform distribution over the annotated residues to the attention distribution, weighted per signal type,
averaged over the batch (0 when all attention sits evenly on the signal).

Attention that *finds* a signal does not make the call *depend* on it, so a second term (the deletion
lever) trains on copies with the annotated signal deleted: the copy is scored by the unlikelihood
``-log(1 - p(label))`` of the class the signal routes to, because the classic experiments say where such
a protein does **not** go (a secreted protein without its signal peptide stays in the cytosol, von Heijne
1990; a peroxisomal protein without its PTS1, Gould et al. 1989; an ER protein without KDEL is secreted,
Munro & Pelham 1987), not where it ends up. Only classes the signal routes count (:data:`DELETION_CLASSES`).
The same experiments ran the other way, which gives a third term (the insertion lever): a cytosolic protein
with SKL appended is imported into peroxisomes (Gould et al. 1989), a secreted protein with KDEL appended
is kept in the ER (Munro & Pelham 1987); such copies are trained toward that class (:data:`INSERTIONS`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from locviz import signals as rules
from locviz.card import SIGNAL_SHORT
from locviz.encoding import LengthPolicy, tokenize
from locviz.errors import DatasetError
from locviz.sequences import ProteinRecord

SIGNAL_TYPES = tuple(SIGNAL_SHORT)  # signal_peptide, pts1, er_retention
RULE_CLASSES = {
    "pts1": frozenset({"Peroxisome", "peroxisomal"}),
    "er_retention": frozenset({"Endoplasmic.reticulum", "ER"}),
}
"""Class ids (DeepLoc, MultiLoc) whose training proteins get the C-terminal rule annotations."""
DELETION_CLASSES = {
    "signal_peptide": frozenset({"Extracellular", "Endoplasmic.reticulum", "Lysosome/Vacuole",
                                 "extracellular", "ER", "lysosomal", "vacuolar"}),  # fmt: skip
    **RULE_CLASSES,
}
"""Classes a deleted signal must leave. Membrane and Golgi proteins are left out for signal peptides: a
transmembrane helix can act as a signal anchor, so without the peptide they may still reach a membrane."""


@dataclass(frozen=True)
class Span:
    """One annotated signal: 1-based inclusive residues of the full sequence."""

    kind: str
    start: int
    end: int
    source: str


NO_SIGNAL_PEPTIDE = "no_signal_peptide"
"""The table's curated negatives (SignalP 6.0: no signal peptide in the first 70 residues), kept as empty spans
so that the signal-peptide rule is never applied against them."""


def read_signal_table(path: str | Path) -> dict[str, list[Span]]:
    """Accession → spans of ``SIGNAL_TYPES`` and curated negatives from the signals TSV (other rows skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing signal annotations {path}; pass ../shared/data/signals/deeploc_train_signals.tsv")
    out: dict[str, list[Span]] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        need = {"accession", "signal", "start", "end"}
        if not need <= set(reader.fieldnames or []):
            raise DatasetError(f"{path}: needs columns {sorted(need)}; found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            if row["signal"] not in (*SIGNAL_TYPES, NO_SIGNAL_PEPTIDE):
                continue
            try:
                start, end = int(row["start"]), int(row["end"])
            except ValueError as exc:
                raise DatasetError(f"{path}, line {line}: start/end must be whole numbers") from exc
            out.setdefault(row["accession"], []).append(Span(row["signal"], start, end, "signals table"))
    return out


RULE_FINDERS = {"pts1": rules.pts1, "er_retention": rules.er_retention}
"""The C-terminal rules of :mod:`locviz.signals` by signal type."""


def rule_spans(sequence: str, class_id: str) -> list[Span]:
    """C-terminal PTS1 / ER-retention spans that the protein's own class makes credible."""
    found = []
    for kind, finder in RULE_FINDERS.items():
        if class_id in RULE_CLASSES[kind]:
            hit = finder(sequence)
            if hit is not None:
                found.append(Span(kind, hit.start, hit.end, "rule on the training label"))
    return found


def annotated_spans(record: ProteinRecord, class_id: str, table: Mapping[str, list[Span]] | None) -> list[Span]:
    """The table's spans for ``record`` plus the rule spans its class makes credible."""
    return [*(table or {}).get(record.id, []), *rule_spans(record.sequence, class_id)]


@dataclass
class AttentionTarget:
    """Per-residue target for one protein, in the coordinates the model sees (after cropping)."""

    mask: np.ndarray  # (L_seen,) bool: annotated residues
    weight: float  # the signal type's weight (largest when several types overlap one protein)
    kinds: tuple[str, ...]


def build_targets(
    records: Sequence[ProteinRecord],
    labels: np.ndarray,
    classes: Sequence[str],
    indices: np.ndarray,
    policy: LengthPolicy,
    table: Mapping[str, list[Span]] | None,
    weights: Mapping[str, float],
) -> dict[int, AttentionTarget]:
    """Targets for the proteins at ``indices`` (training proteins only) that carry an annotated signal.

    Table spans and label-gated rule spans are merged per protein (a span both sources give counts once);
    residues the length policy cuts away are dropped from the mask, and a protein none of whose annotated
    residues are seen gets no target.
    """
    out: dict[int, AttentionTarget] = {}
    for i in indices:
        record = records[int(i)]
        spans = [s for s in annotated_spans(record, classes[int(labels[i])], table) if weights.get(s.kind, 0.0) > 0]
        if not spans:
            continue
        full = np.zeros(len(record.sequence), dtype=bool)
        for s in spans:
            full[max(s.start, 1) - 1 : min(s.end, len(record.sequence))] = True
        _, positions, _ = policy.crop(record.sequence)
        mask = full[positions]
        if not mask.any():
            continue
        kinds = tuple(sorted({s.kind for s in spans}))
        out[int(i)] = AttentionTarget(mask, max(weights[k] for k in kinds), kinds)
    return out


def attention_loss(attention: torch.Tensor, batch_targets: Sequence[AttentionTarget | None]) -> torch.Tensor | None:
    """Mean over the batch of ``weight * KL(uniform over the signal || attention)``; None when no protein has one.

    Proteins without a target add 0 but count in the mean, so the term's scale does not depend on how
    many annotated proteins a batch happens to hold.
    """
    rows, masks, weights = [], [], []
    for row, target in enumerate(batch_targets):
        if target is None:
            continue
        mask = torch.zeros(attention.shape[1], dtype=attention.dtype, device=attention.device)
        mask[: len(target.mask)] = torch.from_numpy(target.mask.astype(np.float32)).to(attention.device)
        rows.append(row)
        masks.append(mask / mask.sum())
        weights.append(target.weight)
    if not rows:
        return None
    q = torch.stack(masks)
    a = attention[torch.tensor(rows, device=attention.device)]
    kl = (torch.xlogy(q, q) - q * torch.log(a.clamp_min(1e-8))).sum(1)
    w = torch.tensor(weights, dtype=attention.dtype, device=attention.device)
    return (w * kl).sum() / attention.shape[0]


@dataclass(frozen=True)
class Deletion:
    """A protein with one annotated signal deleted, as tokens the model sees (after the length policy)."""

    tokens: np.ndarray
    kind: str
    share: float = 1.0  # 1 / the number of copies made from one deletion (bare and start-Met variants)


def deleted_sequences(sequence: str, span: Span, start_methionine: bool) -> list[str]:
    """``sequence`` without ``span``; for an N-terminal signal peptide also with a start Met put back.

    The bare deletion is what ``locviz whatif``'s ``del1-22`` makes (a slice here: :func:`locviz.whatif.edit`
    carries the variant grammar and sits above the predictor in the import order); the Met variant is the
    construct an experimentalist would build, so a model cannot learn "no leading Met" for "no signal peptide".
    """
    deleted = sequence[: max(span.start, 1) - 1] + sequence[span.end :]
    out = [deleted]
    if start_methionine and span.kind == "signal_peptide" and span.start <= 1 and not deleted.startswith("M"):
        out.append("M" + deleted)
    return [d for d in out if d]


def build_deletions(
    records: Sequence[ProteinRecord],
    labels: np.ndarray,
    classes: Sequence[str],
    indices: np.ndarray,
    policy: LengthPolicy,
    table: Mapping[str, list[Span]] | None,
    kinds: Sequence[str] = SIGNAL_TYPES,
    training: bool = True,
) -> dict[int, list[Deletion]]:
    """Signal-deleted copies of the proteins at ``indices`` whose class the deleted signal routes to.

    Spans come from :func:`annotated_spans` (both sources giving one span count once). ``training`` adds
    two things a measurement must not have: the start-Met variant of each signal-peptide deletion (the two
    variants share the deletion's weight), and signal peptides found by :func:`locviz.signals.signal_peptide`
    (von Heijne's h-region and (-3,-1) rules: 94 % of SignalP 6.0's peptides found, cleavage within 6 residues
    for 93 % of them) on proteins whose training label is a class in :data:`DELETION_CLASSES` and that the
    table does not list as curated negatives; for DeepLoc member 0 that is ~1,100 proteins beside the table's
    ~170. Measuring (``training=False``) deletes the table's and the C-terminal rules' spans only.
    """
    out: dict[int, list[Deletion]] = {}
    for i in indices:
        record, class_id = records[int(i)], classes[int(labels[i])]
        spans = annotated_spans(record, class_id, table)
        if training and not any(s.kind in ("signal_peptide", NO_SIGNAL_PEPTIDE) for s in spans):
            found = rules.signal_peptide(record.sequence)
            if found is not None:
                spans.append(Span("signal_peptide", found.start, found.end, "rule on the training label"))
        unique = {(s.kind, s.start, s.end): s for s in spans if s.kind in kinds}
        copies = []
        for span in unique.values():
            if class_id not in DELETION_CLASSES[span.kind]:
                continue
            variants = deleted_sequences(record.sequence, span, start_methionine=training)
            copies += [Deletion(tokenize(policy.crop(seq)[0]), span.kind, 1 / len(variants)) for seq in variants]
        if copies:
            out[int(i)] = copies
    return out


@dataclass(frozen=True)
class Insertion:
    """A protein with a sorting signal added, and the class the classic experiment puts it in."""

    tokens: np.ndarray
    kind: str
    label: int


INSERTIONS = {
    "pts1": ("SKL", frozenset({"Cytoplasm", "cytoplasmic"}), ("Peroxisome", "peroxisomal")),
    "er_retention": ("KDEL", frozenset({"Extracellular", "extracellular"}), ("Endoplasmic.reticulum", "ER")),
}
"""Signal type -> (C-terminal residues appended, donor classes, the class the copy is trained toward)."""


def build_insertions(
    records: Sequence[ProteinRecord],
    labels: np.ndarray,
    classes: Sequence[str],
    indices: np.ndarray,
    policy: LengthPolicy,
    kinds: Sequence[str],
    per_kind: int,
    seed: int = 0,
) -> dict[int, list[Insertion]]:
    """Copies of up to ``per_kind`` donor proteins per signal type (a seeded sample) with the signal appended.

    Donors are training proteins of the kind's donor classes that do not end in the signal already (a
    secreted donor for KDEL must also carry a signal peptide by :func:`locviz.signals.signal_peptide`,
    since only a protein that enters the ER can be retained there).
    """
    out: dict[int, list[Insertion]] = {}
    rng = np.random.default_rng(seed)
    for kind in kinds:
        suffix, donors, targets = INSERTIONS[kind]
        target = next((classes.index(c) for c in targets if c in classes), None)
        finder = RULE_FINDERS[kind]
        pool = [
            int(i) for i in indices
            if classes[int(labels[i])] in donors and finder(records[int(i)].sequence) is None
            and (kind != "er_retention" or rules.signal_peptide(records[int(i)].sequence) is not None)
        ]  # fmt: skip
        if target is None or not pool:
            continue
        for i in sorted(rng.choice(pool, size=min(per_kind, len(pool)), replace=False).tolist()):
            tokens = tokenize(policy.crop(records[i].sequence + suffix)[0])
            out.setdefault(i, []).append(Insertion(tokens, kind, target))
    return out


def deletion_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, ``-log(1 - p(label))``: small once the deleted copy no longer looks like its class.

    Computed as ``logsumexp(all logits) - logsumexp(the other logits)``, which keeps its gradient (and its
    precision) where ``p(label)`` is close to 1: the copies that most need it.
    """
    others = logits.masked_fill(F.one_hot(labels, logits.shape[1]).bool(), float("-inf"))
    return torch.logsumexp(logits, 1) - torch.logsumexp(others, 1)


def residue_auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUROC of residues inside vs outside a signal, tied scores sharing their average rank."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
