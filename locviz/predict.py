"""Predictor: records in, :class:`Prediction` out (probabilities, attention, filters).

CONTRACT (written before the implementation; helpers implement against it):
the dataclasses below are fixed; ``Predictor`` and ``load_model`` are to be
implemented in this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
