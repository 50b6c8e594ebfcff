"""Low-complexity segments, found as SEG does (Wootton & Federhen 1993): one definition for the whole package.

The motif logos skip windows inside such segments (poly-E runs otherwise top the logo grid), and the
support verdict counts a protein made mostly of them as unlike the training proteins. Every
``SEG_WINDOW``-residue window's Shannon entropy (bits, over the 20 residues plus "unknown") is
computed; a run of overlapping windows at or below ``SEG_EXTEND_BITS`` that holds at least one window
at or below ``SEG_TRIGGER_BITS`` is a segment (SEG's trigger/extension, without its final trimming).
"""

from __future__ import annotations

import numpy as np

from locviz.encoding import UNKNOWN_TOKEN, tokenize

SEG_WINDOW = 12
SEG_TRIGGER_BITS = 2.2  # SEG's K1
SEG_EXTEND_BITS = 2.5  # SEG's K2


def _plogp_table(window: int) -> np.ndarray:
    """``-c/w * log2(c/w)`` for c = 0..w, so a window's entropy is a table lookup and a sum."""
    c = np.arange(window + 1) / window
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, -c * np.log2(np.where(c > 0, c, 1.0)), 0.0)


def low_complexity_mask(
    sequence: str | np.ndarray,
    window: int = SEG_WINDOW,
    trigger: float = SEG_TRIGGER_BITS,
    extend: float = SEG_EXTEND_BITS,
) -> np.ndarray:
    """(L,) bool: residues in low-complexity segments, found as SEG does (see the module docstring).

    Every ``window``-residue window's Shannon entropy (bits, over the 20 residues plus
    "unknown") is computed; a run of overlapping windows at or below ``extend`` bits that
    holds at least one window at or below ``trigger`` bits is a segment, and every residue
    it covers is masked. Sequences shorter than ``window`` have no segments.
    """
    tokens = tokenize(sequence) if isinstance(sequence, str) else np.asarray(sequence)
    n = len(tokens)
    if n < window:
        return np.zeros(n, dtype=bool)
    symbols = np.minimum(tokens.astype(np.int64), UNKNOWN_TOKEN)
    onehot = np.zeros((n + 1, UNKNOWN_TOKEN + 1), dtype=np.int32)
    onehot[np.arange(1, n + 1), symbols] = 1
    cum = onehot.cumsum(axis=0)
    counts = cum[window:] - cum[:-window]  # (n - window + 1, 21)
    entropy = _plogp_table(window)[counts].sum(axis=1)
    low = entropy <= extend + 1e-9
    run_start = low & ~np.concatenate([[False], low[:-1]])
    run_id = np.cumsum(run_start)
    triggered = np.unique(run_id[entropy <= trigger + 1e-9])
    starts = np.flatnonzero(low & np.isin(run_id, triggered))
    cover = np.zeros(n + 1, dtype=np.int64)
    np.add.at(cover, starts, 1)
    np.add.at(cover, starts + window, -1)
    return np.cumsum(cover)[:n] > 0


def low_complexity_share(sequence: str) -> float:
    """Share of the residues of ``sequence`` inside low-complexity segments (0 for sequences under a window)."""
    mask = low_complexity_mask(sequence)
    return float(mask.mean()) if len(mask) else 0.0
