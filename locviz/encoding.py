"""Residues to tensors, and the long-sequence policy.

Sequences become small integer tokens (one per residue); the model turns tokens
into feature vectors with a fixed lookup table built here (one-hot, BLOSUM62
rows, or both). Keeping the table out of the data means a data set of 11,000
proteins stays a few MB of ``uint8`` and the encoding is named, not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from locviz.sequences import STANDARD_RESIDUES, UNKNOWN_RESIDUES

UNKNOWN_TOKEN = len(STANDARD_RESIDUES)  # 20
PAD_TOKEN = UNKNOWN_TOKEN + 1  # 21
VOCAB_SIZE = PAD_TOKEN + 1

_TOKEN_OF = np.full(256, 255, dtype=np.uint8)
for _i, _aa in enumerate(STANDARD_RESIDUES):
    _TOKEN_OF[ord(_aa)] = _i
for _aa in UNKNOWN_RESIDUES:
    _TOKEN_OF[ord(_aa)] = UNKNOWN_TOKEN

ENCODINGS = ("onehot", "blosum62", "onehot+blosum62")


def tokenize(sequence: str) -> np.ndarray:
    """Cleaned sequence (see :mod:`locviz.sequences`) to ``uint8`` tokens."""
    codes = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
    tokens = _TOKEN_OF[codes]
    if (tokens == 255).any():
        bad = sequence[int(np.argmax(tokens == 255))]
        raise ValueError(f"residue {bad!r} is not in the alphabet; clean sequences with locviz.sequences.parse")
    return tokens


@cache
def _blosum62_rows() -> np.ndarray:
    """BLOSUM62 rows for the 20 residues plus X (unknown), scaled to about [-1, 1]."""
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    letters = STANDARD_RESIDUES + "X"
    rows = np.array([[matrix[a][b] for b in STANDARD_RESIDUES] for a in letters], dtype=np.float32)
    return rows / 4.0


def feature_table(encoding: str) -> np.ndarray:
    """``(VOCAB_SIZE, n_features)`` lookup table; the padding row is all zeros."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    parts = []
    if "onehot" in encoding:
        onehot = np.zeros((VOCAB_SIZE, UNKNOWN_TOKEN + 1), dtype=np.float32)
        onehot[np.arange(UNKNOWN_TOKEN + 1), np.arange(UNKNOWN_TOKEN + 1)] = 1.0
        parts.append(onehot)
    if "blosum62" in encoding:
        blosum = np.zeros((VOCAB_SIZE, len(STANDARD_RESIDUES)), dtype=np.float32)
        blosum[: UNKNOWN_TOKEN + 1] = _blosum62_rows()
        parts.append(blosum)
    table = np.concatenate(parts, axis=1)
    table[PAD_TOKEN] = 0.0
    return table


@dataclass(frozen=True)
class LengthPolicy:
    """How a long protein is cut before it reaches the model.

    ``max_length=None`` keeps the whole sequence. Otherwise a longer sequence
    keeps its first ``max_length // 2`` and last ``max_length - max_length // 2``
    residues, as DeepLoc does: sorting signals sit mostly at the termini.
    """

    max_length: int | None = 1000

    def crop(self, sequence: str) -> tuple[str, np.ndarray, str | None]:
        """(kept sequence, 0-based original positions of kept residues, note or None)."""
        n = len(sequence)
        if self.max_length is None or n <= self.max_length:
            return sequence, np.arange(n), None
        head = self.max_length // 2
        tail = self.max_length - head
        positions = np.concatenate([np.arange(head), np.arange(n - tail, n)])
        unseen = f"residue {head + 1} was" if n - tail == head + 1 else f"residues {head + 1}-{n - tail} were"
        note = (
            f"{n} residues is longer than the model's {self.max_length}: residues 1-{head} and "
            f"{n - tail + 1}-{n} were used; {unseen} not seen by the model"
        )
        return sequence[:head] + sequence[n - tail :], positions, note

    def describe(self) -> str:
        if self.max_length is None:
            return "whole sequence"
        head = self.max_length // 2
        return f"first {head} and last {self.max_length - head} residues of longer proteins"

    def to_dict(self) -> dict:
        return {"max_length": self.max_length}

    @classmethod
    def from_dict(cls, data: dict) -> LengthPolicy:
        return cls(max_length=data.get("max_length"))


def pad_batch(token_arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token arrays with ``PAD_TOKEN``: (tokens ``(B, T)`` int64, lengths ``(B,)``)."""
    lengths = np.array([len(t) for t in token_arrays], dtype=np.int64)
    out = np.full((len(token_arrays), int(lengths.max())), PAD_TOKEN, dtype=np.int64)
    for i, t in enumerate(token_arrays):
        out[i, : len(t)] = t
    return out, lengths
