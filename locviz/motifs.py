"""Filter motifs: what each first-layer convolution filter has learnt, as a logo.

CONTRACT (written before the implementation; helpers implement against it):
the dataclasses below are fixed; ``compute``, ``save_motifs`` and
``load_motifs`` are to be implemented in this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FilterMotif:
    """One first-layer filter: its logo matrix and where it fires in the reference set."""

    index: int  # 0-based filter index in the first conv layer (grouped by width)
    width: int
    frequencies: np.ndarray  # (width, 20) position frequency matrix over STANDARD_RESIDUES; rows sum to 1
    information_content: float  # total bits over the window (max 4.32 * width)
    top_windows: list[str]  # highest-activating windows in the reference set, best first
    top_activations: list[float]
    class_association: dict[str, float] = field(default_factory=dict)  # class -> association score

    def ic_per_position(self) -> np.ndarray:
        """Bits per window position (log2(20) minus entropy)."""
        p = np.clip(self.frequencies, 1e-12, 1.0)
        return np.log2(20) + (p * np.log2(p)).sum(axis=1)


@dataclass
class MotifSet:
    """All filters' motifs for one model member, precomputed into ``NAME.motifs.npz``."""

    model_name: str
    member: int
    classes: list[str]
    motifs: list[FilterMotif]
    reference: str  # human-readable: which proteins the windows come from
    association_method: str = ""
