"""The one window scanner: the best non-overlapping windows of a per-residue track.

The most-attended regions of a protein, where a filter fires, and the default
window of the what-if tools are all "slide a window, score it, keep the best
windows that do not overlap, only where the model saw every residue"; that
rule lives here once. Coordinates returned are 1-based inclusive on the full
sequence, as a biologist reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from locviz.errors import InputError
from locviz.prediction import Prediction


@dataclass
class Region:
    """A window of sequence (1-based inclusive) and the score that picked it."""

    start: int
    end: int
    score: float  # attention: share of all attention inside; filter: activation at the centre
    peak_position: int  # 1-based residue with the largest track value inside the window
    subsequence: str


AttentionRegion = Region  # the older name of attention windows (tests still use it); new code says Region


def _seen_windows(seen: np.ndarray, window: int) -> np.ndarray:
    """``usable[s]``: every residue of the window starting at 0-based ``s`` was seen by the model."""
    seen_count = np.concatenate([[0], np.cumsum(np.asarray(seen, dtype=np.int64))])
    return (seen_count[window:] - seen_count[:-window]) == window


def best_windows(scores: np.ndarray, window: int, n: int) -> list[int]:
    """0-based starts of the ``n`` best non-overlapping windows; ``scores[s]`` scores the window at ``s``.

    ``-inf`` marks a window that must not be chosen.
    """
    scores = np.array(scores, dtype=np.float64)
    starts: list[int] = []
    while len(starts) < n and len(scores):
        start = int(np.argmax(scores))
        if not np.isfinite(scores[start]):
            break
        starts.append(start)
        scores[max(0, start - window + 1) : start + window] = -np.inf
    return starts


def _region(track: np.ndarray, sequence: str, start: int, window: int, score: float) -> Region:
    inside = np.nan_to_num(track[start : start + window], nan=-np.inf)
    return Region(
        start=start + 1,
        end=start + window,
        score=float(score),
        peak_position=start + int(np.argmax(inside)) + 1,
        subsequence=sequence[start : start + window],
    )


def top_regions(prediction: Prediction, n: int = 5, window: int = 9) -> list[Region]:
    """The ``n`` non-overlapping windows of ``window`` residues holding the most attention, best first.

    ``score`` is the share of all attention inside the window. Only windows made
    entirely of residues the model saw count; a protein shorter than ``window``
    is one region.
    """
    if n < 1 or window < 1:
        raise InputError(f"n and window must be >= 1, got n={n}, window={window}")
    attention = np.nan_to_num(np.asarray(prediction.attention, dtype=np.float64), nan=0.0)
    seen = np.asarray(prediction.seen, dtype=bool)
    total = float(attention[seen].sum()) or 1.0
    window = min(window, len(attention))
    cumulative = np.concatenate([[0.0], np.cumsum(attention)])
    sums = cumulative[window:] - cumulative[:-window]
    scores = np.where(_seen_windows(seen, window), sums, -np.inf)
    return [
        _region(attention, prediction.sequence, s, window, sums[s] / total) for s in best_windows(scores, window, n)
    ]


def times_uniform(region: Region, prediction: Prediction) -> float:
    """An attention region's share against what uniform attention over the residues the model saw gives it (its
    length / residues seen): 1 is no more than its length, the app's "× uniform"."""
    n_seen = max(int(np.asarray(prediction.seen, dtype=bool).sum()), 1)
    return region.score / (len(region.subsequence) / n_seen)


def above_uniform(region: Region, prediction: Prediction) -> bool:
    """Whether ``region`` holds more attention than its length's share (:func:`times_uniform` > 1; even attention
    gives exactly 1, whatever the float noise): the test the app, the table and the figures share."""
    ratio = times_uniform(region, prediction)
    return ratio > 1.0 and not np.isclose(ratio, 1.0)


def attended_regions(prediction: Prediction, n: int = 5, window: int = 9) -> list[Region]:
    """:func:`top_regions` that are :func:`above_uniform`: the regions the model did attend to. The best windows of
    a protein whose attention is spread out can hold less than uniform; called "most attended" and shaded like the
    first, they would mislead. A protein no longer than ``window`` has none (its one window holds everything)."""
    return [r for r in top_regions(prediction, n, window) if above_uniform(r, prediction)]


def filter_hits(prediction: Prediction, filter_index: int, width: int, n: int = 5) -> list[Region]:
    """Where one first-layer filter fires most in this protein, best first.

    A hit is the ``width``-residue window centred where the filter's activation
    peaks (``score`` is that activation, > 0), inside the sequence and made of
    residues the model saw. Needs ``predict(..., with_filters=True)``.
    """
    if prediction.filter_activations is None:
        raise InputError("this prediction has no filter activations; predict with with_filters=True")
    n_filters = prediction.filter_activations.shape[0]
    if not 0 <= filter_index < n_filters:
        raise InputError(f"filter_index must be between 0 and {n_filters - 1}, got {filter_index}")
    if width < 1 or width % 2 == 0:
        raise InputError(f"width must be a positive odd number (the filter's width), got {width}")
    half = width // 2
    row = np.asarray(prediction.filter_activations[filter_index], dtype=np.float64)
    if len(row) < width:
        return []
    centre = row[half : len(row) - half]  # the activation at the centre of each window start
    ok = _seen_windows(prediction.seen, width) & np.isfinite(centre) & (centre > 0)
    scores = np.where(ok, centre, -np.inf)
    return [_region(row, prediction.sequence, s, width, centre[s]) for s in best_windows(scores, width, n)]
