"""Known localisation motifs as position frequency matrices, and a Tomtom-like comparison.

A filter logo is only a motif if it resembles something a cell reads. This module
holds a small, documented set of sorting signals (the ones the known-signal overlay
uses: signal-peptide h-region, transmembrane helix core, KDEL/HDEL, PTS1, mono- and
bipartite NLS, mitochondrial presequence) written as idealised position frequency
matrices, and compares a filter's logo to each of them the way Tomtom does
(Gupta, Stamatoyannopoulos, Bailey & Noble 2007, Genome Biology 8:R24):

* columns are compared by Pearson correlation over the 20 residue frequencies;
* the two matrices are slid past each other without gaps and the best offset is kept,
  the score being the mean correlation over the known motif's *informative* columns
  (wildcard ``X`` columns are not scored) that fall inside the filter window;
  at least ``MIN_OVERLAP`` of them (all of a shorter motif) and at least half of a longer one;
* the null distribution comes from decoy logos made by shuffling the residue labels
  within every column of the filter's own logo (each column keeps its information
  content, residue identity is destroyed), scored with the same best-offset search,
  so the p-value accounts for trying every offset (the p-value uses the best score; the reported
  offset is, among placements within ``TIE`` of it, the one with the most columns compared).
  Decoys are drawn sequentially (Besag & Clifford 1991, Biometrika 78:301-304): sampling stops
  once ``EXCEEDANCES`` decoys score as high (p = h / decoys drawn), else goes on to ``MAX_DECOYS``
  for a comparison that could be reported (r >= ``R_MIN``), so a p-value is resolved down to
  1 / (``MAX_DECOYS`` + 1), below what the multiple-testing correction needs for one discovery;
* every comparison of a motif set (each filter against each known motif) is one test: q-values
  are Benjamini-Hochberg (1995, J R Stat Soc B 57:289-300) over all of them (:func:`correct`);
* a minimum match quality: in at least ``MIN_AGREEMENT`` of the compared columns the logo's
  commonest residue must be one the known pattern names there, so an acidic stretch is not an
  NLS (r can be 0.5 when K is merely less rare than other residues) and SDEL is not KDEL.

A match is reported (:attr:`MotifMatch.significant`) when ``q <= FDR``, ``r >= R_MIN`` and the
agreement holds.

The matrices are idealised from consensus patterns, not fitted to data: they say
what a column *should* hold, so a high correlation means the filter learnt
that residue pattern. Position in the protein (N- or C-terminal) is not part of
the comparison: a filter sees windows, not their place in the protein; ``anchor``
says where the real signal sits so a reader can judge a match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from locviz.errors import InputError, check
from locviz.sequences import STANDARD_RESIDUES

KNOWN_MOTIFS_VERSION = 2  # 2: sequential decoys, Benjamini-Hochberg q-values, minimum column agreement
MIN_OVERLAP = 4
"""Informative columns of a known motif that must lie inside the filter window: at least this many (all of a
shorter motif) and at least half of a longer one, so a 4-column corner of an 11-residue helix is not a match."""
FIRST_DECOYS = 999
"""Decoys drawn for every comparison; most stop here (p resolved, or r below ``R_MIN``)."""
MAX_DECOYS = 99_999
"""Most decoys drawn for one comparison: p resolves down to 1e-5, below FDR / (number of comparisons of a motif
set, about 700), so a single strong match can pass the correction."""
EXCEEDANCES = 10
"""Besag-Clifford ``h``: sampling stops when this many decoys have scored at least as high."""
DECOY_BATCH = 10_000
FDR = 0.05
"""Benjamini-Hochberg false discovery rate over every comparison of a motif set (``q <= FDR``)."""
R_MIN = 0.5
"""Minimum mean column correlation for a reported match, whatever the p-value."""
MIN_AGREEMENT = 0.8
"""Share of compared columns whose commonest logo residue the known pattern names there (all of a 3-5 column
motif but one of five; a 4-column KDEL needs all four)."""
TIE = 0.02
"""Placements scoring within this of the best count as tied; the one with the most overlap is reported."""
METHOD = (
    "Tomtom-like (Gupta et al. 2007): Pearson correlation between residue-frequency columns, mean over the known "
    f"motif's informative columns at the best ungapped offset (at least {MIN_OVERLAP} and half of them "
    "overlapping, all of a shorter motif); p-value from decoys that shuffle the residues within each column of "
    f"the filter's logo, drawn sequentially (Besag & Clifford 1991: {FIRST_DECOYS} first, up to {MAX_DECOYS} "
    f"until {EXCEEDANCES} score as high); q-values by Benjamini-Hochberg over every filter x known-motif "
    f"comparison of the file; reported when q <= {FDR}, r >= {R_MIN} and in at least {MIN_AGREEMENT:.0%} of the "
    "compared columns the logo's commonest residue is one the known pattern names there."
)

_INDEX = {aa: i for i, aa in enumerate(STANDARD_RESIDUES)}
_HYDROPHOBIC_H_REGION = {"L": 0.35, "A": 0.15, "V": 0.1, "I": 0.08, "F": 0.08, "M": 0.04, "W": 0.03, "C": 0.04,
                         "G": 0.04, "S": 0.04, "T": 0.03, "P": 0.02}  # fmt: skip
_TM_CORE = {"L": 0.22, "I": 0.12, "V": 0.12, "A": 0.1, "F": 0.09, "G": 0.07, "M": 0.04, "W": 0.03, "Y": 0.03,
            "S": 0.05, "T": 0.05, "C": 0.03, "P": 0.02}  # fmt: skip
_MITO_HYDROPHOBIC_FACE = {"L": 0.3, "A": 0.2, "F": 0.1, "I": 0.1, "V": 0.1, "M": 0.05, "W": 0.05, "G": 0.05,
                          "Y": 0.05}  # fmt: skip
_MITO_CHARGED_FACE = {"R": 0.45, "K": 0.1, "S": 0.15, "A": 0.1, "T": 0.05, "G": 0.05, "Q": 0.05, "H": 0.05}


@dataclass(frozen=True)
class KnownMotif:
    """One known sorting motif: an idealised position frequency matrix and where it comes from."""

    name: str  # short id shown in the app, e.g. "PTS1"
    title: str  # what it is, with its pattern
    location: str  # the compartment it sends proteins to
    anchor: str  # where the real signal sits in a protein: "N-terminal", "C-terminal" or "internal"
    frequencies: np.ndarray  # (length, 20) over STANDARD_RESIDUES; rows sum to 1; wildcard rows uniform
    informative: np.ndarray  # (length,) bool: columns that are scored (wildcards are not)
    source: str  # citation
    allowed: tuple[str, ...] = ()  # per column: the residues the pattern names there ("" for a wildcard)

    @property
    def length(self) -> int:
        return int(self.frequencies.shape[0])

    @property
    def consensus(self) -> str:
        """Most frequent residue per informative column, ``x`` for wildcards."""
        return "".join(
            STANDARD_RESIDUES[int(np.argmax(row))] if keep else "x"
            for row, keep in zip(self.frequencies, self.informative, strict=True)
        )

    @property
    def compositional(self) -> bool:
        """Every column is scored and the same distribution (a hydrophobic stretch): a match says "made of these
        residues", not a positional pattern. A bipartite NLS (two basic clusters around an unscored spacer) has a
        position: the spacer."""
        rows = self.frequencies[self.informative]
        return bool(self.informative.all() and np.allclose(rows, rows[0]))


@dataclass(frozen=True)
class MotifMatch:
    """The best ungapped alignment of one known motif to one filter logo."""

    name: str  # KnownMotif.name
    score: float  # mean Pearson r over the overlapping informative columns, in [-1, 1]
    offset: int  # filter window column (0-based) where the known motif's first column sits; < 0: before the window
    overlap: int  # informative columns compared
    p_value: float  # share of decoys scoring at least as high (sequential, see the module docstring)
    q_value: float = math.nan  # Benjamini-Hochberg over the comparisons corrected together; NaN: not corrected
    agreement: float = 0.0  # share of compared columns whose commonest logo residue the pattern names there
    decoys: int = 0  # decoys drawn for the p-value

    @property
    def significant(self) -> bool:
        """Reported as a match: q-value, correlation and column agreement all pass (see the module docstring)."""
        return self.q_value <= FDR and self.score >= R_MIN and self.agreement >= MIN_AGREEMENT  # NaN q: False

    def window_positions(self, width: int) -> tuple[int, int]:
        """1-based first and last positions of a ``width``-wide filter window that the known motif covers."""
        return max(self.offset, 0) + 1, min(self.offset + BY_NAME[self.name].length, width)

    @property
    def p_text(self) -> str:
        """The p-value as text; at the sampling floor (no decoy scored as high) it is a bound: ``p <= 1e-05``."""
        if self.decoys and self.p_value <= 1 / (self.decoys + 1) + 1e-15:
            return f"p <= {self.p_value:.0e}"
        return f"p = {self.p_value:.2g}"

    def describe(self, width: int | None = None) -> str:
        """Short text for a table cell: ``PTS1 (r = 0.81, offset +2, q = 0.003)``, or with the filter's ``width``
        ``PTS1 at 3-5 (r = 0.81, q = 0.003)`` (1-based window positions)."""
        if width is None:
            return f"{self.name} (r = {self.score:.2f}, offset {self.offset:+d}, q = {self.q_value:.1g})"
        first, last = self.window_positions(width)
        return f"{self.name} at {first}-{last} (r = {self.score:.2f}, q = {self.q_value:.1g})"

    def to_dict(self) -> dict:
        return {"name": self.name, "score": self.score, "offset": self.offset, "overlap": self.overlap,
                "p_value": self.p_value, "q_value": None if math.isnan(self.q_value) else self.q_value,
                "agreement": self.agreement, "decoys": self.decoys}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping) -> MotifMatch:
        """From :meth:`to_dict`; a file of known-motifs version 1 has no q-value (NaN: never significant)."""
        q = data.get("q_value")
        return cls(str(data["name"]), float(data["score"]), int(data["offset"]), int(data["overlap"]),
                   float(data["p_value"]), math.nan if q is None else float(q), float(data.get("agreement", 0.0)),
                   int(data.get("decoys", 0)))  # fmt: skip


def _column(spec: str | Mapping[str, float] | None) -> np.ndarray:
    """One PFM column: ``None`` is a wildcard (uniform), a string shares the mass equally, a mapping gives
    residue weights (the rest of the mass, if any, spread evenly over the other residues)."""
    column = np.zeros(len(STANDARD_RESIDUES))
    if spec is None:
        return np.full(len(STANDARD_RESIDUES), 1 / len(STANDARD_RESIDUES))
    weights = {aa: 1.0 / len(spec) for aa in spec} if isinstance(spec, str) else dict(spec)
    for aa, weight in weights.items():
        column[_INDEX[aa]] = weight
    rest = 1.0 - column.sum()
    if rest > 1e-9:
        others = column == 0
        column[others] = rest / others.sum()
    return column / column.sum()


def make_motif(
    name: str, title: str, location: str, anchor: str, columns: Sequence[str | Mapping[str, float] | None], source: str
) -> KnownMotif:
    """A :class:`KnownMotif` from column specs (see :func:`_column`); ``None`` columns are wildcards."""
    frequencies = np.stack([_column(c) for c in columns])
    informative = np.array([c is not None for c in columns])
    allowed = tuple("" if c is None else "".join(c) for c in columns)  # a mapping joins its keys
    return KnownMotif(name, title, location, anchor, frequencies, informative, source, allowed)


def _mito_columns(length: int = 11) -> list[Mapping[str, float]]:
    """An ideal amphipathic helix (100 degrees per residue): residues within 60 degrees of the hydrophobic face's
    centre are hydrophobic, the others Arg-rich; Asp and Glu absent throughout."""
    columns = []
    for i in range(length):
        angle = (i * 100) % 360
        on_face = min(angle, 360 - angle) <= 60
        columns.append(_MITO_HYDROPHOBIC_FACE if on_face else _MITO_CHARGED_FACE)
    return columns


KNOWN_MOTIFS: tuple[KnownMotif, ...] = (
    make_motif(
        "SP h-region",
        "signal peptide hydrophobic core (8 residues, Leu-rich)",
        "secretory pathway",
        "N-terminal",
        [_HYDROPHOBIC_H_REGION] * 8,
        "von Heijne 1985, J Mol Biol 184:99-105 (h-region: 7-15 residues, Leu the most common, then Ala, Val, Ile, "
        "Phe); idealised column, rounded, not fitted",
    ),
    make_motif(
        "TM helix",
        "transmembrane helix core (11 residues, hydrophobic)",
        "membranes",
        "internal",
        [_TM_CORE] * 11,
        "Kyte & Doolittle 1982, J Mol Biol 157:105-132 (hydropathy window); residue preferences of TM helix cores "
        "after Ulmschneider & Sansom 2001, BBA 1512:1-14; idealised column, rounded, not fitted",
    ),
    make_motif(
        "KDEL/HDEL",
        "ER retention signal [KH]DEL",
        "ER",
        "C-terminal",
        [{"K": 0.7, "H": 0.25, "R": 0.05}, "D", "E", "L"],
        "Munro & Pelham 1987, Cell 48:899-907 (KDEL); Pelham 1990, Trends Biochem Sci 15:483-486 (HDEL in yeast)",
    ),
    make_motif(
        "PTS1",
        "peroxisomal targeting signal 1 [SAC][KRH]L",
        "peroxisome",
        "C-terminal",
        [{"S": 0.6, "A": 0.3, "C": 0.1}, {"K": 0.6, "R": 0.25, "H": 0.15}, {"L": 0.9, "M": 0.1}],
        "Gould, Keller, Hosken, Wilkinson & Subramani 1989, J Cell Biol 108:1657-1664; Brocard & Hartig 2006, "
        "BBA 1763:1565-1573",
    ),
    make_motif(
        "NLS mono",
        "monopartite nuclear localisation signal K(K/R)X(K/R)",
        "nucleus",
        "internal",
        ["K", "KR", None, "KR"],
        "Chelsky, Ralph & Jonak 1989, Mol Cell Biol 9:2487-2492; SV40 PKKKRKV: Kalderon et al. 1984, Cell 39:499-509",
    ),
    make_motif(
        "NLS bipartite",
        "bipartite NLS core (K/R)(K/R)X10(K/R)(K/R)(K/R)",
        "nucleus",
        "internal",
        ["KR", "KR", *[None] * 10, "KR", "KR", "KR"],
        "Robbins, Dilworth, Laskey & Dingwall 1991, Cell 64:615-623 (nucleoplasmin; two basic residues, a 10-12 "
        "residue spacer, 3 of 5 basic residues, here as three consecutive ones)",
    ),
    make_motif(
        "mito presequence",
        "mitochondrial presequence, Arg-rich amphipathic helix (11 residues)",
        "mitochondrion",
        "N-terminal",
        _mito_columns(),
        "von Heijne 1986, EMBO J 5:1335-1342; Roise & Schatz 1988, J Biol Chem 263:4509-4511 (positively charged, "
        "amphiphilic, no acidic residues); idealised helical wheel, not fitted",
    ),
)
BY_NAME = {m.name: m for m in KNOWN_MOTIFS}


# ------------------------------------------------------------------------- comparison
def _standardise(columns: np.ndarray) -> np.ndarray:
    """Rows to mean 0, standard deviation 1 over the 20 residues (flat rows become zeros): then
    ``(a * b).mean()`` is Pearson's r."""
    columns = np.asarray(columns, dtype=np.float64)
    centred = columns - columns.mean(axis=-1, keepdims=True)
    std = centred.std(axis=-1, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-12)


def _offsets(width: int, known: KnownMotif) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(offset, filter columns, known columns) for every allowed ungapped placement of ``known``."""
    cols = np.flatnonzero(known.informative)
    need = min(len(cols), max(MIN_OVERLAP, -(-len(cols) // 2)))
    out = []
    for offset in range(-known.length + 1, width):
        inside = (offset + cols >= 0) & (offset + cols < width)
        if inside.sum() >= need:
            out.append((offset, offset + cols[inside], np.flatnonzero(inside)))
    return out


def _placement_scores(z_filter: np.ndarray, z_known: np.ndarray, placements: list) -> np.ndarray:
    """(N, P) mean column correlation of every filter in a stack at every placement.

    z_filter: (N, W, 20) standardised; z_known: (K, 20) standardised informative columns.
    """
    corr = z_filter @ z_known.T / z_filter.shape[-1]  # (N, W, K): r of every filter column with every known column
    return np.stack([corr[:, f_cols, k_cols].mean(axis=1) for _, f_cols, k_cols in placements], axis=1)


def _reported_placement(scores: np.ndarray, placements: list) -> int:
    """The best placement; among those within ``TIE`` of the best, the one with the most overlap (a repetitive
    logo scores alike at every offset, and the fullest overlap is the one to show)."""
    near = np.flatnonzero(scores >= scores.max() - TIE)
    return int(max(near, key=lambda i: (len(placements[i][1]), scores[i])))


def _p_value(
    score: float, z: np.ndarray, z_known: np.ndarray, placements: list, rng: np.random.Generator, max_decoys: int
) -> tuple[float, int]:
    """(p, decoys drawn) for a best score, by sequential Monte Carlo (Besag & Clifford 1991).

    Decoys come in batches; at the ``EXCEEDANCES``-th decoy scoring at least ``score`` sampling stops and
    p = h / (decoys drawn). Otherwise p = (1 + n_ge) / (1 + decoys drawn), after ``FIRST_DECOYS`` when the
    score cannot be reported anyway (r < ``R_MIN``), else after ``max_decoys``.
    """
    limit = min(FIRST_DECOYS, max_decoys) if score < R_MIN else max_decoys
    drawn, ge = 0, 0
    while drawn < limit:
        n = min(FIRST_DECOYS if drawn == 0 else DECOY_BATCH, limit - drawn)
        decoys = rng.permuted(np.broadcast_to(z, (n, *z.shape[1:])), axis=2)  # residues shuffled per column
        hits = _placement_scores(decoys, z_known, placements).max(axis=1) >= score - 1e-12  # best offset per decoy
        if ge + int(hits.sum()) >= EXCEEDANCES:
            at = int(np.flatnonzero(hits)[EXCEEDANCES - ge - 1]) + 1
            return EXCEEDANCES / (drawn + at), drawn + at
        ge, drawn = ge + int(hits.sum()), drawn + n
    return (1 + ge) / (1 + drawn), drawn


def agreement(freqs: np.ndarray, known: KnownMotif, offset: int) -> float:
    """Share of the compared columns at ``offset`` whose commonest logo residue the known pattern names there."""
    columns = [(offset + j, known.allowed[j]) for j in np.flatnonzero(known.informative)
               if 0 <= offset + j < len(freqs)]  # fmt: skip
    if not columns:
        return 0.0
    top = [STANDARD_RESIDUES[int(np.argmax(freqs[f]))] for f, _ in columns]
    return sum(t in allowed for t, (_, allowed) in zip(top, columns, strict=True)) / len(columns)


def match(
    frequencies: np.ndarray,
    known_motifs: Sequence[KnownMotif] = KNOWN_MOTIFS,
    max_decoys: int = MAX_DECOYS,
    seed: int = 0,
) -> list[MotifMatch]:
    """Compare one filter logo with every known motif; one :class:`MotifMatch` per motif that fits, best first.

    Arguments:
        frequencies: (width, 20) position frequency matrix over ``STANDARD_RESIDUES``.
        known_motifs: the motifs to compare with (default: :data:`KNOWN_MOTIFS`).
        max_decoys: most decoy logos for one p-value (column-wise residue shuffles of ``frequencies``), >= 1.
        seed: seeds the decoys, so a file is reproducible.

    Returns the matches sorted by p-value then score, with q-values over these comparisons alone
    (a motif set corrects over all its filters with :func:`correct`); motifs longer (in informative
    columns) than the window allows are left out (a width-1 filter matches nothing).

    Raises:
        InputError: ``frequencies`` is not (width, 20) or ``max_decoys`` < 1.
    """
    freqs = np.asarray(frequencies, dtype=np.float64)
    check(
        freqs.ndim == 2 and freqs.shape[1] == len(STANDARD_RESIDUES) and freqs.shape[0] >= 1,
        f"frequencies must have shape (width, {len(STANDARD_RESIDUES)}), got {freqs.shape}",
    )
    check(max_decoys >= 1, f"max_decoys must be >= 1, got {max_decoys}")
    z = _standardise(freqs)[None]  # (1, W, 20)
    out = []
    for k, known in enumerate(known_motifs):
        placements = _offsets(freqs.shape[0], known)
        if not placements:
            continue
        z_known = _standardise(known.frequencies[known.informative])
        scores = _placement_scores(z, z_known, placements)[0]
        best = _reported_placement(scores, placements)
        offset, f_cols, _ = placements[best]
        rng = np.random.default_rng([seed, k])  # one stream per (filter, known motif): order-independent
        p_value, drawn = _p_value(float(scores.max()), z, z_known, placements, rng, max_decoys)
        out.append(MotifMatch(known.name, float(scores[best]), int(offset), len(f_cols), p_value,
                              agreement=agreement(freqs, known, int(offset)), decoys=drawn))  # fmt: skip
    return sorted(correct([out])[0], key=lambda m: (m.p_value, -m.score))


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg (1995) q-values: min over j >= i of p_(j) * m / j, capped at 1 (numpy, no scipy >= 1.11)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.empty_like(p)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def correct(groups: Sequence[Sequence[MotifMatch]]) -> list[list[MotifMatch]]:
    """The same comparisons with Benjamini-Hochberg q-values over all of them (one list per filter).

    Every comparison made is a test, reported or not, so the correction counts them all.
    """
    flat = [m for group in groups for m in group]
    q = iter(benjamini_hochberg([m.p_value for m in flat]).tolist())
    return [[replace(m, q_value=float(next(q))) for m in group] for group in groups]


def best_match(matches: Sequence[MotifMatch]) -> MotifMatch | None:
    """The most convincing reported match (lowest q, then highest r), or None."""
    significant = [m for m in matches if m.significant]
    return min(significant, key=lambda m: (m.q_value, -m.score)) if significant else None


def known_motif(name: str) -> KnownMotif:
    """The known motif called ``name``; :class:`InputError` lists the names otherwise."""
    if name not in BY_NAME:
        raise InputError(f"no known motif called {name!r}; the known motifs are {', '.join(BY_NAME)}")
    return BY_NAME[name]
