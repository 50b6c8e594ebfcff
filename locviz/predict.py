"""Predictor: records in, :class:`Prediction` out (probabilities, attention, filters).

The model sees each protein after the bundle's long-sequence policy; everything
it returns is mapped back onto the full sequence here, so callers index arrays
by residue of the sequence they gave and never meet padding or cropping.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from locviz.encoding import tokenize
from locviz.sequences import ParseResult, ProteinRecord, parse
from locviz.train import make_batches, to_tensors
from locviz.weights import ModelBundle, load_bundle


@dataclass
class Prediction:
    """Everything the app and the command line show for one protein.

    Arrays indexed by residue have the length of the full cleaned ``sequence``.
    Residues the model did not see (cut by the long-sequence policy) are NaN in
    ``attention`` and ``filter_activations``.
    """

    id: str
    sequence: str  # cleaned full sequence
    classes: list[str]
    probabilities: np.ndarray  # (C,) float, sums to 1 (ensemble mean)
    attention: np.ndarray  # (L,) float; sums to 1 over seen residues; NaN where not seen
    seen: np.ndarray  # (L,) bool: residue was part of the model input
    model_name: str
    member_probabilities: np.ndarray | None = None  # (M, C)
    filter_activations: np.ndarray | None = None  # (n_filters, L) of the motif member; NaN where not seen
    filter_member: int | None = None  # which ensemble member the filters come from
    notes: list[str] = field(default_factory=list)  # parser warnings, long-sequence note

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    @property
    def length(self) -> int:
        return len(self.sequence)


@dataclass
class AttentionRegion:
    """A stretch of sequence the model attended to most (1-based inclusive coordinates)."""

    start: int
    end: int
    attention_sum: float  # fraction of all attention inside the region
    peak_position: int  # 1-based
    subsequence: str


class Predictor:
    """A loaded bundle plus batching; one instance may be shared between threads.

    Streamlit serves sessions from threads; the forward pass runs under a lock
    so concurrent requests queue instead of oversubscribing the CPU threads or
    GPU memory, while cropping, tokenising and mapping back run outside it.
    """

    def __init__(self, bundle: ModelBundle, batch_size: int = 32, max_batch_residues: int = 64_000):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_batch_residues < 1:
            raise ValueError("max_batch_residues must be at least 1")
        self._bundle = bundle
        self.batch_size = batch_size
        self.max_batch_residues = max_batch_residues
        self._lock = threading.Lock()
        bundle.model.eval()

    @property
    def bundle(self) -> ModelBundle:
        return self._bundle

    @property
    def name(self) -> str:
        return self._bundle.name

    @property
    def classes(self) -> list[str]:
        return self._bundle.classes

    @property
    def device(self) -> torch.device:
        return self._bundle.device

    def predict(self, records: Sequence[ProteinRecord], with_filters: bool = False) -> list[Prediction]:
        """One :class:`Prediction` per record, in input order.

        ``with_filters`` adds the first-layer filter activations of the
        ensemble's motif member (larger output: n_filters floats per residue).
        """
        if not records:
            return []
        policy = self._bundle.length_policy
        crops = [policy.crop(r.sequence) for r in records]
        tokens = [tokenize(kept) for kept, _, _ in crops]
        lengths = np.array([len(t) for t in tokens])
        if (lengths == 0).any():
            bad = records[int(np.argmax(lengths == 0))].id
            raise ValueError(f"record '{bad}' has an empty sequence; parse input with locviz.sequences.parse")
        classes = self.classes
        motif_member = self._bundle.model.motif_member if with_filters else None
        out: list[Prediction | None] = [None] * len(records)
        for idx in make_batches(lengths, self.batch_size, self.max_batch_residues):
            batch_tokens, batch_lengths = to_tensors([tokens[i] for i in idx], self.device)
            with self._lock, torch.inference_mode():
                result = self._bundle.model(batch_tokens, batch_lengths, return_filters=with_filters)
                probs = result.probabilities.float().cpu().numpy()
                attention = result.attention.float().cpu().numpy()
                members = result.member_probabilities.float().cpu().numpy()  # (M, B, C)
                filters = None
                if with_filters and result.filter_activations is not None:
                    filters = result.filter_activations.float().cpu().numpy()
            for b, i in enumerate(idx):
                record = records[i]
                _, positions, note = crops[i]
                n = len(positions)
                full_len = len(record.sequence)
                seen = np.zeros(full_len, dtype=bool)
                seen[positions] = True
                full_attention = np.full(full_len, np.nan)
                full_attention[positions] = attention[b, :n]
                full_filters = None
                if filters is not None:
                    full_filters = np.full((filters.shape[1], full_len), np.nan, dtype=np.float32)
                    full_filters[:, positions] = filters[b, :, :n]
                notes = list(record.notes) + ([note] if note else [])
                out[i] = Prediction(
                    id=record.id,
                    sequence=record.sequence,
                    classes=list(classes),
                    probabilities=probs[b].astype(np.float64),
                    attention=full_attention,
                    seen=seen,
                    model_name=self.name,
                    member_probabilities=members[:, b, :].astype(np.float64),
                    filter_activations=full_filters,
                    filter_member=motif_member,
                    notes=notes,
                )
        return [p for p in out if p is not None]

    def predict_text(
        self, text: str, max_records: int | None = None, with_filters: bool = False
    ) -> tuple[ParseResult, list[Prediction]]:
        """Parse raw or FASTA text and predict every valid record; the parse result carries the problems."""
        parsed = parse(text, max_records=max_records)
        return parsed, self.predict(parsed.records, with_filters=with_filters)


def load_model(
    name_or_path: str = "multiloc",
    device: str | torch.device = "auto",
    batch_size: int = 32,
    max_batch_residues: int = 64_000,
) -> Predictor:
    """Load a shipped model (``multiloc``, ``deeploc``) or a bundle path as a :class:`Predictor`.

    ``device="auto"`` picks CUDA when PyTorch sees a GPU, else the CPU; an
    explicit device is honoured (``BundleError`` if it is not available).
    """
    bundle = load_bundle(name_or_path, device=device)
    return Predictor(bundle, batch_size=batch_size, max_batch_residues=max_batch_residues)


def top_regions(prediction: Prediction, n: int = 5, window: int = 9) -> list[AttentionRegion]:
    """The ``n`` non-overlapping windows of ``window`` residues holding the most attention, best first.

    Only windows made entirely of residues the model saw are considered; for a
    protein shorter than ``window`` the whole sequence is the one region.
    """
    if n < 1 or window < 1:
        raise ValueError("n and window must be at least 1")
    attention = np.nan_to_num(np.asarray(prediction.attention, dtype=np.float64), nan=0.0)
    seen = np.asarray(prediction.seen, dtype=bool)
    total = float(attention[seen].sum()) or 1.0
    length = len(attention)
    window = min(window, length)
    cumulative = np.concatenate([[0.0], np.cumsum(attention)])
    sums = cumulative[window:] - cumulative[:-window]  # sums[s] covers residues s .. s+window-1
    seen_count = np.concatenate([[0], np.cumsum(seen)])
    usable = (seen_count[window:] - seen_count[:-window]) == window
    scores = np.where(usable, sums, -np.inf)
    regions: list[AttentionRegion] = []
    while len(regions) < n:
        start = int(np.argmax(scores))
        if not np.isfinite(scores[start]):
            break
        end = start + window  # exclusive
        peak = start + int(np.argmax(attention[start:end]))
        regions.append(
            AttentionRegion(
                start=start + 1,
                end=end,
                attention_sum=float(sums[start] / total),
                peak_position=peak + 1,
                subsequence=prediction.sequence[start:end],
            )
        )
        scores[max(0, start - window + 1) : end] = -np.inf
    return regions
