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
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

from locviz import signals as rules
from locviz.encoding import LengthPolicy
from locviz.errors import DatasetError
from locviz.sequences import ProteinRecord

SIGNAL_TYPES = ("signal_peptide", "pts1", "er_retention")
RULE_CLASSES = {
    "pts1": frozenset({"Peroxisome", "peroxisomal"}),
    "er_retention": frozenset({"Endoplasmic.reticulum", "ER"}),
}
"""Class ids (DeepLoc, MultiLoc) whose training proteins get the C-terminal rule annotations."""


@dataclass(frozen=True)
class Span:
    """One annotated signal: 1-based inclusive residues of the full sequence."""

    kind: str
    start: int
    end: int
    source: str


def read_signal_table(path: str | Path) -> dict[str, list[Span]]:
    """Accession → annotated spans of ``SIGNAL_TYPES`` from the signals TSV (other rows are skipped)."""
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
            if row["signal"] not in SIGNAL_TYPES:
                continue
            try:
                start, end = int(row["start"]), int(row["end"])
            except ValueError as exc:
                raise DatasetError(f"{path}, line {line}: start/end must be whole numbers") from exc
            out.setdefault(row["accession"], []).append(Span(row["signal"], start, end, "signals table"))
    return out


def rule_spans(sequence: str, class_id: str) -> list[Span]:
    """C-terminal PTS1 / ER-retention spans that the protein's own class makes credible."""
    found = []
    for kind, finder in (("pts1", rules.pts1), ("er_retention", rules.er_retention)):
        if class_id in RULE_CLASSES[kind]:
            hit = finder(sequence)
            if hit is not None:
                found.append(Span(kind, hit.start, hit.end, "rule on the training label"))
    return found


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
        spans = list((table or {}).get(record.id, []))
        spans += rule_spans(record.sequence, classes[int(labels[i])])
        spans = [s for s in spans if weights.get(s.kind, 0.0) > 0]
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


def residue_auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUROC of residues inside vs outside a signal, tied scores sharing their average rank."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
