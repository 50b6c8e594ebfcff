"""Filter motifs: what each first-layer convolution filter has learnt, as a logo.

For every filter of one ensemble member, the windows of a reference set where
it fires hardest are stacked into a position frequency matrix (the logo), and
the filter's per-protein maximum is compared between classes. The result is
precomputed into ``NAME.motifs.npz`` so the app needs no training data.

Three things keep logos honest:

* **Low-complexity masking.** Poly-E, poly-Q or Ser-rich stretches activate many
  filters hardest and, taken as "top windows", turn their logos into one tall
  letter repeated (38 bits of composition, no motif). Residues in low-complexity
  segments are found as SEG does (Wootton & Federhen 1993, Comput Chem 17:149):
  Shannon entropy of every 12-residue window; windows at or below 2.2 bits trigger
  a segment, which extends over the overlapping windows at or below 2.5 bits (SEG's
  default window, trigger and extension; SEG's final probability-based trimming is
  left out, so segments can be a few residues longer). A filter window whose
  residues are more than half low-complexity is not eligible as a top window.
* **A composition flag.** Some filters respond to composition whatever the
  masking (a hydrophobic or acidic detector); :attr:`FilterMotif.composition_only`
  flags them, from the logo and from how many of the filter's strongest windows
  (before masking) were low-complexity.
* **Known-motif matches.** Each logo is compared with a small set of known sorting
  signals (:mod:`locviz.known_motifs`, Tomtom-like) and the matches are stored, with
  Benjamini-Hochberg q-values over every comparison of the file (:func:`match_summary`
  says how many filters match at which false discovery rate). A filter that matches a
  positional signal (an NLS) is not flagged composition-only, and :func:`evidence_order`
  lists such filters first.

Width-1 filters see one residue; their logo is one letter. They also keep the
neighbours of their top windows (``CONTEXT_FLANK`` residues each side, taken from
the full protein) so a logo can show that residue in context.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from locviz.batching import DEFAULT_BATCH_SIZE, DEFAULT_MAX_RESIDUES, iter_batches
from locviz.complexity import SEG_EXTEND_BITS, SEG_TRIGGER_BITS, SEG_WINDOW, low_complexity_mask
from locviz.datasets import sha256_of
from locviz.encoding import UNKNOWN_TOKEN, tokenize
from locviz.errors import InputError
from locviz.known_motifs import BY_NAME as KNOWN_BY_NAME
from locviz.known_motifs import FDR, KNOWN_MOTIFS_VERSION, MotifMatch, best_match, correct, match
from locviz.known_motifs import METHOD as MATCH_METHOD
from locviz.sequences import STANDARD_RESIDUES, ProteinRecord
from locviz.table import LIST_SEPARATOR
from locviz.weights import BundleError, ModelBundle

MOTIFS_FORMAT_VERSION = 2
PSEUDOCOUNT = 0.05
"""Added to every (position, residue) count so rare residues are not exactly zero in a logo."""
CHANCE_QUANTILE = 0.95
"""A logo column above this quantile of random columns' bits is unlikely to be composition and sampling noise."""
CHANCE_DRAWS = 20_000
MAX_LOW_COMPLEXITY_SHARE = 0.5
"""A filter window with more than this share of its residues in low-complexity segments is not eligible."""
CONTEXT_FLANK = 4
"""Neighbours kept on each side of a width-1 filter's top windows."""
COMPOSITION_SHARE_MIN = 0.75
COMPOSITION_TOP2_MIN = 0.5
COMPOSITION_MIN_BITS = 0.5
COMPOSITION_MIN_WIDTH = 5
LOW_COMPLEXITY_LED_MIN = 0.5
COMPOSITION_RULE = (
    f"composition-only: either at least {LOW_COMPLEXITY_LED_MIN:.0%} of the filter's strongest windows (before "
    f"masking) lie in low-complexity segments, or (width >= {COMPOSITION_MIN_WIDTH}) the logo holds at least "
    f"{COMPOSITION_MIN_BITS} bits per column of which at least {COMPOSITION_SHARE_MIN:.0%} is the pooled residue "
    "composition (the same residues in every column, not a positional pattern) and its two commonest residues make "
    f"up at least {COMPOSITION_TOP2_MIN:.0%} of it. Narrower logos are not judged by the logo rule: in 1-3 columns "
    "a repeated residue is as likely a motif (GG, KxK). Not flagged: a logo that matches a known positional signal "
    "(NLS, KDEL/HDEL, PTS1, presequence; not the hydrophobic stretches), whose residues are its composition"
)
MASKING_METHOD = (
    f"SEG-like (Wootton & Federhen 1993): Shannon entropy of {SEG_WINDOW}-residue windows; <= {SEG_TRIGGER_BITS} "
    f"bits triggers a low-complexity segment, extended over overlapping windows <= {SEG_EXTEND_BITS} bits (no final "
    f"trimming); a filter window more than {MAX_LOW_COMPLEXITY_SHARE:.0%} low-complexity is not eligible"
)

EVIDENCE = ("known signal", "hydrophobic stretch", "no known motif", "composition-only", "never fired")
"""What :attr:`FilterMotif.evidence` means, strongest first (the default order of the filter list): matches a known
positional signal (NLS, KDEL/HDEL, PTS1, presequence); matches only a hydrophobic stretch (TM helix, SP h-region);
no known-motif match; composition-only; never fired in the reference set."""

ASSOCIATION_METHOD = (
    "z-score of class means: for each reference protein the filter's maximum activation over the "
    "residues the model sees; score per class = (mean over the class's proteins - mean over all "
    "proteins) / standard deviation over all proteins. Positive: the filter fires more strongly in "
    "that class than on average. Classes without reference proteins are left out."
)


def residue_composition(sequences: Iterable[str]) -> np.ndarray:
    """Frequencies of the 20 standard residues over ``sequences`` (other letters are not counted)."""
    counts: Counter[str] = Counter()
    for sequence in sequences:
        counts.update(sequence)
    total = np.array([counts[aa] for aa in STANDARD_RESIDUES], dtype=np.float64)
    if total.sum() == 0:
        raise InputError("no standard residues to take a composition from")
    return total / total.sum()


@dataclass(frozen=True)
class ChanceLevel:
    """What one logo column scores when its windows are random residues of the reference proteins.

    A logo stands on few windows (at most ``top_k``), so even random columns have bits: the reference's composition
    is not uniform (about 0.1 bit) and a sample of 100 residues spreads unevenly (about as much again). Letters of a
    column below ``upper_bits`` are what chance alone would draw that often.
    """

    n_windows: int
    mean_bits: float  # expected bits of a random column of n_windows residues
    upper_bits: float  # CHANCE_QUANTILE of those bits

    def describe(self) -> str:
        """``dashed line: 0.39 bits, what a column of 100 random windows ... (0.27 on average)``."""
        return (f"dashed line: {self.upper_bits:.2f} bits, what a column of {self.n_windows} random windows of the "
                f"reference proteins reaches in {CHANCE_QUANTILE:.0%} of draws ({self.mean_bits:.2f} on average)")


def chance_level(n_windows: int, background: Sequence[float], pseudocount: float = PSEUDOCOUNT) -> ChanceLevel:
    """Bits of a logo column made, like :func:`compute`'s, from ``n_windows`` residues drawn from ``background``
    (its pseudocount added): the mean and :data:`CHANCE_QUANTILE` over :data:`CHANCE_DRAWS` seeded draws."""
    return _chance_level(int(n_windows), tuple(float(x) for x in background), float(pseudocount))


@functools.lru_cache(maxsize=256)
def _chance_level(n_windows: int, background: tuple[float, ...], pseudocount: float) -> ChanceLevel:
    if n_windows < 1:
        return ChanceLevel(n_windows, math.nan, math.nan)
    p = np.asarray(background) / np.sum(background)
    counts = np.random.default_rng(0).multinomial(n_windows, p, size=CHANCE_DRAWS) + pseudocount
    freqs = counts / counts.sum(axis=1, keepdims=True)
    bits = np.log2(len(p)) + (freqs * np.log2(freqs)).sum(axis=1)
    return ChanceLevel(n_windows, float(bits.mean()), float(np.quantile(bits, CHANCE_QUANTILE)))


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
    context_windows: list[str] = field(default_factory=list)  # width 1: top windows +- CONTEXT_FLANK ('-' past ends)
    low_complexity_share: float = math.nan  # share of the strongest windows before masking that were low-complexity
    matches: list[MotifMatch] = field(default_factory=list)  # one per known motif that fits, best first

    def ic_per_position(self) -> np.ndarray:
        """Bits per window position (log2(20) minus entropy)."""
        p = np.clip(self.frequencies, 1e-12, 1.0)
        return np.log2(20) + (p * np.log2(p)).sum(axis=1)

    @property
    def consensus(self) -> str:
        """The most frequent residue at each window position."""
        return "".join(STANDARD_RESIDUES[i] for i in np.argmax(self.frequencies, axis=1))

    @property
    def strongest_association(self) -> tuple[str, float] | None:
        """(class, z-score) of the class this filter goes with most, or None without labels."""
        if not self.class_association:
            return None
        best = max(self.class_association, key=self.class_association.get)
        return best, self.class_association[best]

    def composition(self) -> tuple[float, float, float]:
        """(bits per column, share of them due to pooled composition, share of the two commonest residues).

        Mean column information splits exactly into composition and position:
        ``log2 20 - mean H(p_j) = (log2 20 - H(mean p)) + mean KL(p_j || mean p)``; a logo
        that is the same letters in every column has all its bits in the first term.
        """
        p = np.clip(np.asarray(self.frequencies, dtype=np.float64), 1e-12, 1.0)
        pooled = p.mean(axis=0)
        bits = float(np.log2(20) + (p * np.log2(p)).sum(axis=1).mean())
        composition_bits = float(np.log2(20) + (pooled * np.log2(pooled)).sum())
        share = composition_bits / bits if bits > 1e-9 else 0.0
        return bits, min(max(share, 0.0), 1.0), float(np.sort(pooled)[-2:].sum())

    @property
    def composition_led(self) -> bool:
        """The composition rule alone (:data:`COMPOSITION_RULE`, before the known-signal exemption)."""
        if self.low_complexity_share >= LOW_COMPLEXITY_LED_MIN:  # NaN (unknown) compares False
            return True
        if self.width < COMPOSITION_MIN_WIDTH:  # in a short logo a repeated residue is as likely a motif
            return False
        bits, share, top2 = self.composition()
        return bits >= COMPOSITION_MIN_BITS and share >= COMPOSITION_SHARE_MIN and top2 >= COMPOSITION_TOP2_MIN

    @property
    def positional_match(self) -> MotifMatch | None:
        """The best reported match to a known signal with a positional pattern (not a hydrophobic stretch)."""
        return best_match([m for m in self.matches if not KNOWN_BY_NAME[m.name].compositional])

    @property
    def composition_only(self) -> bool:
        """True when the filter reads composition rather than a motif (rule: :data:`COMPOSITION_RULE`).

        A basic cluster that matches the NLS is flagged by the low-complexity rule alone, yet it is the
        signal itself, so a match to a positional known signal clears the flag.
        """
        return self.composition_led and self.positional_match is None

    @property
    def flags(self) -> list[str]:
        """What to keep in mind reading the logo: ``composition`` (composition-only), ``single residue`` (width 1:
        no motif, only a residue preference) and ``never fired`` (no activation above zero: a flat logo)."""
        out = []
        if self.composition_only:
            out.append("composition")
        if self.width == 1:
            out.append("single residue")
        if not self.top_windows:
            out.append("never fired")
        return out

    @property
    def evidence(self) -> int:
        """Rank of the evidence that the filter learnt a sorting signal (0 strongest), see :data:`EVIDENCE`."""
        if not self.top_windows:
            return 4
        if self.composition_only:
            return 3
        if self.positional_match is not None:
            return 0
        return 1 if self.best_match is not None else 2

    @property
    def best_match(self) -> MotifMatch | None:
        """The most convincing reported known-motif match, or None."""
        return best_match(self.matches)

    def context_frequencies(self, pseudocount: float = PSEUDOCOUNT) -> np.ndarray | None:
        """(2 * CONTEXT_FLANK + 1, 20) frequencies of the residues around a width-1 filter's top windows, or None."""
        if not self.context_windows:
            return None
        return _pfm(self.context_windows, len(self.context_windows[0]), pseudocount)


@dataclass
class MotifSet:
    """All filters' motifs for one model member, precomputed into ``NAME.motifs.npz``."""

    model_name: str
    member: int
    classes: list[str]
    motifs: list[FilterMotif]
    reference: str  # human-readable: which proteins the windows come from
    association_method: str = ""
    masking_method: str = ""  # empty: top windows were not masked for low complexity
    match_method: str = ""  # empty: no known-motif comparison stored
    known_motifs_version: int = 0
    background: np.ndarray | None = None  # residue composition of the reference proteins (None: not known)
    pseudocount: float = PSEUDOCOUNT

    def chance(self, motif: FilterMotif) -> ChanceLevel | None:
        """The chance level of ``motif``'s logo columns (None without a background composition)."""
        if self.background is None:
            return None
        return chance_level(len(motif.top_windows), self.background, self.pseudocount)

    def above_chance(self, motif: FilterMotif) -> np.ndarray | None:
        """Per column of the filter's own width: more bits than :data:`CHANCE_QUANTILE` of random columns reach
        (None without a background composition or a window)."""
        chance = self.chance(motif)
        if chance is None or chance.n_windows == 0:
            return None
        return motif.ic_per_position() > chance.upper_bits

    def columns_above_chance(self, motif: FilterMotif) -> int | None:
        """How many of the filter's own columns are :meth:`above_chance`."""
        above = self.above_chance(motif)
        return None if above is None else int(above.sum())


def evidence_order(motif_set: MotifSet) -> list[int]:
    """Filter indices, strongest evidence of a learnt signal first (:data:`EVIDENCE`), then class association.

    Sorting by association alone puts long hydrophobic composition logos first (they separate membrane
    proteins best); a filter that matches an NLS or KDEL belongs above them.
    """

    def key(m: FilterMotif) -> tuple[int, float, int]:
        strongest = m.strongest_association
        return m.evidence, -(strongest[1] if strongest else -np.inf), m.index

    return [m.index for m in sorted(motif_set.motifs, key=key)]


SORTS = ("evidence", "assoc", "ic", "ic_per_position", "index")
"""Orders of :func:`sort_order` besides ``class:<class id>`` (association with one class)."""


def sort_order(motif_set: MotifSet, how: str = "evidence") -> list[int]:
    """Filter indices in the order the Motifs page offers (highest first): ``evidence`` (:func:`evidence_order`),
    ``assoc`` (strongest class association), ``ic`` (total bits), ``ic_per_position``, ``index`` or
    ``class:<class id>`` (association with that class).

    Raises:
        InputError: an unknown order or class.
    """
    motifs = motif_set.motifs
    if how == "evidence":
        return evidence_order(motif_set)
    if how == "index":
        return [m.index for m in motifs]
    if how == "ic":
        return [m.index for m in sorted(motifs, key=lambda m: -m.information_content)]
    if how == "ic_per_position":
        return [m.index for m in sorted(motifs, key=lambda m: -m.information_content / m.width)]
    if how == "assoc":
        return [m.index for m in sorted(motifs, key=lambda m: -(m.strongest_association or ("", -np.inf))[1])]
    cls = how.removeprefix("class:")
    if not how.startswith("class:") or cls not in motif_set.classes:
        raise InputError(f"unknown filter order {how!r}: one of {', '.join(SORTS)} or class:<one of "
                         f"{', '.join(motif_set.classes)}>")  # fmt: skip
    return [m.index for m in sorted(motifs, key=lambda m: -m.class_association.get(cls, -np.inf))]


def filter_table(motif_set: MotifSet, order: Sequence[int] | None = None) -> list[dict[str, object]]:
    """One row per filter, as the Motifs page lists them (class ids, not display names; NaN where a filter has no
    class association): evidence, width, strongest class and z, best known-motif match, composition-only, flags
    (:attr:`FilterMotif.flags`, joined by ``" | "``), information content (total and per position), the filter's
    columns above chance (:meth:`MotifSet.columns_above_chance`; None without a background composition or a
    window), consensus, windows, best window, association with each class.
    ``order`` (e.g. :func:`sort_order`) picks and orders the rows; default: by index."""
    by_index = {m.index: m for m in motif_set.motifs}
    rows = []
    for i in order if order is not None else sorted(by_index):
        m = by_index[i]
        strongest = m.strongest_association
        best = m.best_match
        row: dict[str, object] = {
            "filter": m.index,
            "evidence": EVIDENCE[m.evidence],
            "width": m.width,
            "strongest_class": strongest[0] if strongest else "",
            "strongest_z": strongest[1] if strongest else math.nan,
            "known_motif": best.describe(m.width) if best else "",
            "composition_only": m.composition_only,
            "flags": LIST_SEPARATOR.join(m.flags),
            "ic_bits": m.information_content,
            "ic_per_position": m.information_content / m.width,
            "columns_above_chance": motif_set.columns_above_chance(m),
            "consensus": m.consensus if m.top_windows else "",
            "windows": len(m.top_windows),
            "best_window": m.top_windows[0] if m.top_windows else "",
        }
        row.update({f"assoc_{c}": m.class_association.get(c, math.nan) for c in motif_set.classes})
        rows.append(row)
    return rows


@dataclass(frozen=True)
class MatchSummary:
    """How many filters match a known motif, at which false discovery rate, over how many comparisons."""

    matched: int  # filters with at least one reported match
    filters: int
    comparisons: int  # filter x known-motif comparisons corrected together (every test counts)
    fdr: float

    def __str__(self) -> str:
        return (
            f"{self.matched} of {self.filters} filters match a known localisation motif at a false discovery rate "
            f"of {self.fdr:.0%} (Benjamini-Hochberg over {self.comparisons} filter x motif comparisons)"
        )


def match_summary(motif_set: MotifSet) -> MatchSummary:
    """The numbers the app and ``locviz motifs`` report about known-motif matches."""
    return MatchSummary(
        matched=sum(m.best_match is not None for m in motif_set.motifs),
        filters=len(motif_set.motifs),
        comparisons=sum(len(m.matches) for m in motif_set.motifs),
        fdr=FDR,
    )


class MotifError(BundleError):
    """A motifs file is missing, corrupt or does not belong to the bundle; the message names it."""


# ------------------------------------------------------------------------- compute
def _window_counts(flags: np.ndarray, width: int) -> np.ndarray:
    """(B, T): how many of the (B, T) 0/1 ``flags`` fall in the window of ``width`` centred at each position
    (clipped at the ends)."""
    batch, steps = flags.shape
    half = width // 2
    cum = np.concatenate([np.zeros((batch, 1), np.int64), np.cumsum(flags, axis=1, dtype=np.int64)], axis=1)
    centres = np.arange(steps)
    lo, hi = np.clip(centres - half, 0, steps - 1), np.clip(centres + half, 0, steps - 1)
    return cum[:, hi + 1] - cum[:, lo]


def _valid_centres(tokens: np.ndarray, lengths: np.ndarray, breaks: np.ndarray, width: int) -> np.ndarray:
    """(B, T) bool: a window of ``width`` centred here lies inside the sequence, has no unknown
    residue and does not straddle the junction where the long-sequence policy cut the protein."""
    batch, steps = tokens.shape
    half = width // 2
    bad = (tokens >= UNKNOWN_TOKEN).astype(np.int64)  # unknown residues and padding
    bad_cum = np.concatenate([np.zeros((batch, 1), np.int64), np.cumsum(bad, axis=1)], axis=1)
    brk_cum = np.concatenate([np.zeros((batch, 1), np.int64), np.cumsum(breaks, axis=1)], axis=1)
    centres = np.arange(steps)
    lo, hi = centres - half, centres + half  # inclusive window ends
    inside = (lo >= 0)[None, :] & (hi[None, :] < lengths[:, None])
    lo_c, hi_c = np.clip(lo, 0, steps - 1), np.clip(hi, 0, steps - 1)
    n_bad = bad_cum[:, hi_c + 1] - bad_cum[:, lo_c]
    n_breaks = brk_cum[:, hi_c + 1] - brk_cum[:, lo_c + 1]  # a break at j means j-1 and j are not adjacent
    return inside & (n_bad == 0) & (n_breaks == 0)


def _pfm(windows: Sequence[str], width: int, pseudocount: float) -> np.ndarray:
    """Position frequency matrix; characters other than the 20 residues ('-' past an end, 'X') are not counted."""
    counts = np.zeros((width, len(STANDARD_RESIDUES)), dtype=np.float64)
    index = {aa: i for i, aa in enumerate(STANDARD_RESIDUES)}
    for window in windows:
        for j, aa in enumerate(window):
            if aa in index:
                counts[j, index[aa]] += 1.0
    counts += pseudocount
    return counts / counts.sum(axis=1, keepdims=True)


def _context(sequence: str, centre: int, flank: int) -> str:
    """``sequence[centre - flank : centre + flank + 1]``, padded with '-' past either end."""
    left = "-" * max(0, flank - centre)
    right = "-" * max(0, centre + flank + 1 - len(sequence))
    return left + sequence[max(0, centre - flank) : centre + flank + 1] + right


def _association(maxima: np.ndarray, labels: np.ndarray | None, classes: Sequence[str]) -> list[dict[str, float]]:
    """Per filter: class -> z-score of the class mean of per-protein maxima."""
    n_filters = maxima.shape[1]
    if labels is None:
        return [{} for _ in range(n_filters)]
    mean_all = maxima.mean(axis=0)
    std_all = maxima.std(axis=0)
    out: list[dict[str, float]] = [{} for _ in range(n_filters)]
    for c, name in enumerate(classes):
        members = labels == c
        if not members.any():
            continue
        class_mean = maxima[members].mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(std_all > 0, (class_mean - mean_all) / std_all, 0.0)
        for f in range(n_filters):
            out[f][name] = float(z[f])
    return out


def _top_per_protein(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, F, k) positions of the ``k`` highest scores per protein and filter (any order)."""
    k = min(k, scores.shape[2])
    if k == 1:
        return scores.argmax(axis=2)[..., None]
    return np.argpartition(-scores, k - 1, axis=2)[..., :k]


@dataclass
class _Candidates:
    """Per-protein best windows of every filter, gathered batch by batch: (F, n) arrays after :meth:`stack`."""

    act: list = field(default_factory=list)
    prot: list = field(default_factory=list)
    pos: list = field(default_factory=list)
    low: list = field(default_factory=list)

    def add(self, scores: np.ndarray, low_windows: np.ndarray | None, idx: np.ndarray, k: int) -> None:
        pos = _top_per_protein(scores, k)
        self.act.append(np.take_along_axis(scores, pos, axis=2))
        self.pos.append(pos)
        self.prot.append(np.broadcast_to(np.asarray(idx)[:, None, None], pos.shape))
        if low_windows is not None:
            self.low.append(np.take_along_axis(low_windows, pos, axis=2))

    def stack(self) -> dict[str, np.ndarray]:
        n_filters = self.act[0].shape[1]

        def cat(parts: list) -> np.ndarray:
            return np.concatenate([a.transpose(1, 0, 2).reshape(n_filters, -1) for a in parts], axis=1)

        out = {"act": cat(self.act), "prot": cat(self.prot), "pos": cat(self.pos)}
        if self.low:
            out["low"] = cat(self.low)
        return out


def _ranked(cand: dict[str, np.ndarray], f: int, top_k: int) -> np.ndarray:
    """Candidate columns of filter ``f``: activation > 0, best first (ties: protein, then position), at most top_k."""
    act, prot, pos = cand["act"][f], cand["prot"][f], cand["pos"][f]
    keep = np.flatnonzero(np.isfinite(act) & (act > 0))
    return keep[np.lexsort((pos[keep], prot[keep], -act[keep]))][:top_k]


def compute(
    bundle: ModelBundle,
    records: Sequence[ProteinRecord],
    labels: Sequence[int] | np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    top_k: int = 100,
    max_per_protein: int = 1,
    member: int | None = None,
    progress: bool = False,
    reference: str = "",
    pseudocount: float = PSEUDOCOUNT,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batch_residues: int = DEFAULT_MAX_RESIDUES,
    mask_low_complexity: bool = True,
    match_known: bool = True,
) -> MotifSet:
    """Logos for every first-layer filter of one member from its top-activating windows in ``records``.

    The window of a filter of width ``w`` at model-input position ``p`` is
    residues ``p - w//2 .. p + w//2``. Windows that run past a sequence end,
    hold an unknown residue or straddle the long-sequence cut are skipped; with
    ``mask_low_complexity`` (default), so are windows more than half inside
    low-complexity segments (:func:`low_complexity_mask`). Each protein gives at
    most ``max_per_protein`` windows per filter (so one repetitive protein cannot
    fill a logo) and only activations above zero count. ``labels`` (class indices
    into ``classes``, default the bundle's) adds a class association per filter
    (from each protein's maximum over all positions, masked or not).
    ``match_known`` compares every logo with :data:`locviz.known_motifs.KNOWN_MOTIFS`.
    ``reference`` describes the proteins.
    """
    if top_k < 1 or max_per_protein < 1:
        raise ValueError("top_k and max_per_protein must be at least 1")
    if not records:
        raise ValueError("compute needs at least one reference protein")
    classes = list(classes) if classes is not None else bundle.classes
    label_array = None
    if labels is not None:
        label_array = np.asarray(labels, dtype=np.int64)
        if label_array.shape != (len(records),):
            raise ValueError(f"{len(label_array)} labels for {len(records)} records")
        if label_array.min() < 0 or label_array.max() >= len(classes):
            raise ValueError(f"labels must be class indices between 0 and {len(classes) - 1}")
    ensemble = bundle.model
    member = ensemble.motif_member if member is None else member
    if not 0 <= member < len(ensemble.members):
        raise ValueError(f"member must be between 0 and {len(ensemble.members) - 1}")
    model = ensemble.members[member].eval()
    config = model.config
    n_filters = config.n_filters
    widths = [config.filter_width(f) for f in range(n_filters)]
    groups = {w: np.array([f for f in range(n_filters) if widths[f] == w]) for w in sorted(set(widths))}
    policy = bundle.length_policy
    kept, origin, tokens, breaks, low = [], [], [], [], []
    for record in records:
        seq, positions, _ = policy.crop(record.sequence)
        kept.append(seq)
        origin.append(positions)
        tokens.append(tokenize(seq))
        gaps = np.zeros(len(positions), dtype=np.int64)
        gaps[1:] = np.diff(positions) > 1
        breaks.append(gaps)
        low.append(low_complexity_mask(tokens[-1]))
    maxima = np.zeros((len(records), n_filters), dtype=np.float32)
    eligible, everything = _Candidates(), _Candidates()  # after and before low-complexity masking
    batches = iter_batches(tokens, bundle.device, batch_size, max_batch_residues)
    for idx, batch_tokens, batch_lengths in tqdm(batches, desc="motifs", disable=not progress, unit="batch"):
        with torch.inference_mode():
            acts, _ = model.first_layer(batch_tokens, batch_lengths)
        acts = acts.float().cpu().numpy()  # (B, F, T), zero on padding
        tok = batch_tokens.cpu().numpy()
        lens = batch_lengths.cpu().numpy()
        brk = np.zeros_like(tok)
        lc = np.zeros(tok.shape, dtype=np.int64)
        for b, i in enumerate(idx):
            brk[b, : lens[b]] = breaks[i]
            lc[b, : lens[b]] = low[i]
        maxima[idx] = acts.max(axis=2)
        valid_scores = np.full_like(acts, -np.inf)
        low_windows = np.zeros(acts.shape, dtype=bool)
        for width, group in groups.items():
            valid = _valid_centres(tok, lens, brk, width)
            n_low = _window_counts(lc, width)
            valid_scores[:, group, :] = np.where(valid[:, None, :], acts[:, group, :], -np.inf)
            low_windows[:, group, :] = (n_low > MAX_LOW_COMPLEXITY_SHARE * width)[:, None, :]
        everything.add(valid_scores, low_windows, idx, max_per_protein)
        if mask_low_complexity:
            eligible.add(np.where(low_windows, -np.inf, valid_scores), None, idx, max_per_protein)
    before = everything.stack()
    cand = eligible.stack() if mask_low_complexity else before
    associations = _association(maxima, label_array, classes)
    motifs = []
    for f in range(n_filters):
        width, half = widths[f], widths[f] // 2
        order = _ranked(cand, f, top_k)
        prot, pos = cand["prot"][f, order], cand["pos"][f, order]
        windows = [kept[i][p - half : p + half + 1] for i, p in zip(prot, pos, strict=True)]
        unmasked = _ranked(before, f, top_k)
        motif = FilterMotif(
            index=f,
            width=width,
            frequencies=_pfm(windows, width, pseudocount),
            information_content=0.0,
            top_windows=windows,
            top_activations=[float(a) for a in cand["act"][f, order]],
            class_association=associations[f],
            context_windows=[
                _context(records[i].sequence, int(origin[i][p]), CONTEXT_FLANK) for i, p in zip(prot, pos, strict=True)
            ]
            if width == 1
            else [],
            low_complexity_share=float(before["low"][f, unmasked].mean()) if len(unmasked) else math.nan,
        )
        motif.information_content = float(motif.ic_per_position().sum())
        if match_known:
            motif.matches = match(motif.frequencies, seed=f)
        motifs.append(motif)
    for motif, corrected in zip(motifs, correct([m.matches for m in motifs]), strict=True):
        motif.matches = sorted(corrected, key=lambda x: (x.p_value, -x.score))  # q over every comparison of the set
    return MotifSet(
        model_name=bundle.name,
        member=member,
        classes=classes,
        motifs=motifs,
        reference=reference,
        association_method=ASSOCIATION_METHOD if label_array is not None else "",
        masking_method=MASKING_METHOD if mask_low_complexity else "",
        match_method=MATCH_METHOD if match_known else "",
        known_motifs_version=KNOWN_MOTIFS_VERSION if match_known else 0,
        background=residue_composition(r.sequence for r in records),
        pseudocount=pseudocount,
    )


# ---------------------------------------------------------------------- save / load
def save_motifs(motif_set: MotifSet, path: str | Path) -> Path:
    """Write ``motif_set`` as ``.npz`` of plain arrays (no pickles): numbers as arrays, text as JSON bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": MOTIFS_FORMAT_VERSION,
        "model_name": motif_set.model_name,
        "member": motif_set.member,
        "classes": list(motif_set.classes),
        "reference": motif_set.reference,
        "association_method": motif_set.association_method,
        "masking_method": motif_set.masking_method,
        "match_method": motif_set.match_method,
        "known_motifs_version": motif_set.known_motifs_version,
        "background": None if motif_set.background is None else [float(x) for x in motif_set.background],
        "pseudocount": motif_set.pseudocount,
        "filters": [
            {
                "index": m.index,
                "width": m.width,
                "information_content": m.information_content,
                "top_windows": list(m.top_windows),
                "top_activations": [float(a) for a in m.top_activations],
                "class_association": {k: float(v) for k, v in m.class_association.items()},
                "context_windows": list(m.context_windows),
                "low_complexity_share": None if math.isnan(m.low_complexity_share) else m.low_complexity_share,
                "matches": [x.to_dict() for x in m.matches],
            }
            for m in motif_set.motifs
        ],
    }
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    widths = np.array([m.width for m in motif_set.motifs], dtype=np.int64)
    if motif_set.motifs:
        frequencies = np.concatenate([np.asarray(m.frequencies, dtype=np.float64) for m in motif_set.motifs])
    else:
        frequencies = np.zeros((0, len(STANDARD_RESIDUES)))
    with open(path, "wb") as handle:  # a file handle keeps numpy from appending ".npz" to other names
        np.savez_compressed(handle, meta=blob, widths=widths, frequencies=frequencies)
    return path


def _float_or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def load_motifs(path: str | Path) -> MotifSet:
    """Read a file written by :func:`save_motifs`; :class:`MotifError` if it is missing or corrupt.

    Files of format 1 (before masking and matching) load with those fields empty.
    """
    path = Path(path)
    if not path.is_file():
        raise MotifError(f"no motifs file at {path}; compute it with 'locviz motifs'")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"].astype(np.uint8)).decode("utf-8"))
            if int(meta.get("format_version", 1)) > MOTIFS_FORMAT_VERSION:
                raise MotifError(
                    f"{path} has motifs format {meta['format_version']}, newer than this locviz reads "
                    f"({MOTIFS_FORMAT_VERSION}); update locviz or recompute it with 'locviz motifs'"
                )
            widths = data["widths"]
            frequencies = data["frequencies"]
        filters = meta["filters"]
        if len(filters) != len(widths) or int(widths.sum()) != frequencies.shape[0]:
            raise ValueError("filter table and frequency matrix disagree")
        motifs, row = [], 0
        for entry, width in zip(filters, widths.tolist(), strict=True):
            motifs.append(
                FilterMotif(
                    index=int(entry["index"]),
                    width=int(width),
                    frequencies=frequencies[row : row + width].copy(),
                    information_content=float(entry["information_content"]),
                    top_windows=list(entry["top_windows"]),
                    top_activations=[float(a) for a in entry["top_activations"]],
                    class_association={k: float(v) for k, v in entry["class_association"].items()},
                    context_windows=list(entry.get("context_windows", [])),
                    low_complexity_share=_float_or_nan(entry.get("low_complexity_share")),
                    matches=[MotifMatch.from_dict(x) for x in entry.get("matches", [])],
                )
            )
            row += width
        return MotifSet(
            model_name=meta["model_name"],
            member=int(meta["member"]),
            classes=list(meta["classes"]),
            motifs=motifs,
            reference=meta["reference"],
            association_method=meta.get("association_method", ""),
            masking_method=meta.get("masking_method", ""),
            match_method=meta.get("match_method", ""),
            known_motifs_version=int(meta.get("known_motifs_version", 0)),
            background=np.array(meta["background"], dtype=np.float64) if meta.get("background") else None,
            pseudocount=float(meta.get("pseudocount", PSEUDOCOUNT)),
        )
    except MotifError:
        raise
    except Exception as exc:  # zip, JSON, key and shape errors all mean the same thing to the user
        raise MotifError(f"{path} is not a readable locviz motifs file ({type(exc).__name__}: {exc})") from exc


def bundle_motifs_path(bundle: ModelBundle) -> Path:
    """Where a bundle's motifs live: the card's ``motifs_file`` (relative to the card) or ``NAME.motifs.npz``."""
    info = bundle.card.motifs
    return bundle.card_path.parent / info.file if info else bundle.sibling(".motifs.npz")


def load_bundle_motifs(bundle: ModelBundle) -> MotifSet:
    """The bundle's precomputed motifs, checked against the card's ``motifs_sha256`` when it has one."""
    path = bundle_motifs_path(bundle)
    if not path.is_file():
        raise MotifError(
            f"model '{bundle.name}' has no motifs file at {path}; "
            f"compute it with 'locviz motifs --model {bundle.card_path}'"
        )
    expected = bundle.card.motifs.sha256 if bundle.card.motifs else ""
    if expected:
        actual = sha256_of(path)
        if actual != expected:
            raise MotifError(
                f"checksum mismatch for {path}: the card says sha256 {expected[:12]}..., the file has "
                f"{actual[:12]}...; the file is corrupt or was computed for another model"
            )
    motif_set = load_motifs(path)
    if motif_set.member != bundle.card.motif_member:
        raise MotifError(f"{path} holds the logos of member {motif_set.member}, but model '{bundle.name}' shows the "
                         f"filters of member {bundle.card.motif_member}; recompute them with 'locviz motifs --model "
                         f"{bundle.card_path}'")  # fmt: skip
    if len(motif_set.motifs) != bundle.config.n_filters:
        raise MotifError(
            f"{path} has {len(motif_set.motifs)} filters but model '{bundle.name}' has {bundle.config.n_filters}"
        )
    if motif_set.background is None:  # a file from before backgrounds were stored: the reference set's proteins
        try:
            motif_set.background = reference_background(bundle)
        except MotifError as exc:  # the logos stand without their chance line; homology says the same of the file
            warnings.warn(f"{exc}; the logos are drawn without their chance line", stacklevel=2)
    return motif_set


def reference_background(bundle: ModelBundle) -> np.ndarray | None:
    """Residue composition of the bundle's reference set (its annotated training proteins, the proteins its logos
    come from), read and checksum-checked by :meth:`locviz.homology.Reference.read`; None when the card names no
    reference set."""
    from locviz.homology import Reference  # here: logos need neither DIAMOND nor the support verdict

    section = bundle.card.reference
    if section is None:
        return None
    path = bundle.card_path.parent / section.file
    try:  # read every time: Reference.read re-parses and re-checks a file that changed, and is cached otherwise
        reference = Reference.read(path, section.sha256 or None)
    except BundleError as exc:
        raise MotifError(f"the reference set of model '{bundle.name}' cannot be read ({exc})") from exc
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)  # one composition per version of the file
    if key not in _COMPOSITIONS:
        _COMPOSITIONS[key] = residue_composition(reference.sequences)
    return _COMPOSITIONS[key]


_COMPOSITIONS: dict[tuple[str, int, int], np.ndarray] = {}
