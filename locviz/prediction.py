"""The :class:`Prediction` type alone, on the ground floor of the package.

Everything that annotates a prediction (:mod:`locviz.calibration`, :mod:`locviz.organisms`,
:mod:`locviz.homology`, figures, tables) imports it from here, and :mod:`locviz.predict`
imports those annotators: with the type here and nothing else, no import runs in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    probabilities: np.ndarray  # (C,) float, sums to 1: calibrated ensemble, restricted to ``organism``
    attention: np.ndarray  # (L,) float; sums to 1 over seen residues; NaN where not seen
    seen: np.ndarray  # (L,) bool: residue was part of the model input
    model_name: str
    member_probabilities: np.ndarray | None = None  # (M, C)
    filter_activations: np.ndarray | None = None  # (n_filters, L) of the motif member; NaN where not seen
    filter_member: int | None = None  # which ensemble member the filters come from
    notes: list[str] = field(default_factory=list)  # parser warnings, long-sequence note
    extra: dict[str, Any] = field(default_factory=dict)  # table columns later steps add (see locviz.table)
    raw_probabilities: np.ndarray | None = None  # (C,) ensemble mean before calibration and organism restriction
    organism: str = "any"  # the organism the probabilities are restricted to (locviz.organisms)

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    @property
    def length(self) -> int:
        return len(self.sequence)

    @property
    def member_calls(self) -> list[str] | None:
        """Each ensemble member's own top class; None for a single network (nothing to agree or disagree)."""
        members = self.member_probabilities
        if members is None or len(members) < 2:
            return None
        return [self.classes[int(i)] for i in np.argmax(np.asarray(members), axis=1)]

    @property
    def member_agreement(self) -> str | None:
        """``"k/M"``: how many of the M members make the ensemble's call themselves (the table column)."""
        calls = self.member_calls
        return None if calls is None else f"{calls.count(self.label)}/{len(calls)}"

    @property
    def member_spread(self) -> float | None:
        """The range (max - min) of the call's probability over the members: the whisker the app draws on it."""
        if self.member_calls is None:
            return None
        column = np.asarray(self.member_probabilities, dtype=np.float64)[:, int(np.argmax(self.probabilities))]
        return float(column.max() - column.min())
